"""How does a person add an optional extra (``serve``, ``emulator``) to the xai-oauth they are running?

The line names the interpreter that is running, so the packages land where
this ``xai-oauth`` will find them (a skill's ``.venv``, a project's venv),
not in whichever ``pip`` comes first on the PATH. And it names where this
copy came from: a checkout (a source or skill install, editable or on
``sys.path``) is installed from its folder, since no package index holds
xai-oauth; a copy installed from a folder or a URL is installed from there
again (pip records it, PEP 610); only a copy of unknown origin is named by
its distribution name.
"""

from __future__ import annotations

import json
import os
import shlex
import sys

__all__ = ["checkout", "extra_install_line"]

DISTRIBUTION = "xai-oauth"


def extra_install_line(extra: str) -> str:
    """The shell line that installs ``extra`` into the running interpreter."""
    python = shlex.quote(sys.executable or "python3")
    folder = checkout()
    if folder is not None:
        return f"{python} -m pip install -e {shlex.quote(f'{folder}[{extra}]')}"
    origin = _installed_from()
    if origin is not None:
        return f"{python} -m pip install {shlex.quote(f'{DISTRIBUTION}[{extra}] @ {origin}')}"
    return f"{python} -m pip install {shlex.quote(f'{DISTRIBUTION}[{extra}]')}"


def checkout() -> str | None:
    """The source folder this package runs from (its ``pyproject.toml`` names xai-oauth), or None when installed."""
    # this file stands in xai_oauth/cli/: two folders up is the folder that holds the package
    folder = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir))
    try:
        with open(os.path.join(folder, "pyproject.toml"), encoding="utf-8") as handle:
            project = handle.read(4096)
    except OSError:
        return None
    return folder if f'name = "{DISTRIBUTION}"' in project else None


def _installed_from() -> str | None:
    """Where pip installed this distribution from (``direct_url.json``): a folder, an archive or a VCS URL."""
    from importlib import metadata

    try:
        recorded = json.loads(metadata.distribution(DISTRIBUTION).read_text("direct_url.json") or "null")
        url = recorded["url"]
        vcs = recorded.get("vcs_info")
    except (metadata.PackageNotFoundError, ValueError, TypeError, KeyError, AttributeError):
        return None
    if not isinstance(url, str) or not url:
        return None
    if isinstance(vcs, dict) and isinstance(vcs.get("vcs"), str):
        revision = vcs.get("requested_revision") or vcs.get("commit_id")
        return f"{vcs['vcs']}+{url}" + (f"@{revision}" if isinstance(revision, str) and revision else "")
    return url
