"""The public surface: exports and xai_oauth expose exactly what is documented; status stays light."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import platformdirs
import pytest

import exports
import xai_oauth
from xai_oauth.store._paths import default_home

from .conftest import ROOT


def test_exports_exposes_exactly_the_documented_functions() -> None:
    assert exports.__all__ == [
        "chat",
        "image",
        "logout",
        "models",
        "poll",
        "refresh",
        "start",
        "status",
        "usage",
        "video",
        "video_status",
    ]
    public = {n for n in vars(exports) if not n.startswith("_") and callable(getattr(exports, n))}
    assert public == set(exports.__all__)


def test_package_all_is_sorted_and_resolves() -> None:
    assert xai_oauth.__all__ == sorted(xai_oauth.__all__)
    for name in xai_oauth.__all__:
        assert getattr(xai_oauth, name) is not None
    with pytest.raises(AttributeError):
        xai_oauth.nothing_here  # noqa: B018


def test_every_error_has_code_and_action() -> None:
    codes = set()
    for name in xai_oauth.__all__:
        obj = getattr(xai_oauth, name)
        if isinstance(obj, type) and issubclass(obj, xai_oauth.XaiOAuthError):
            assert obj.__doc__ and obj.code and obj.action, name
            codes.add(obj.code)
    assert {"access_denied", "expired", "reauth_required", "rate_limited", "no_pending_login", "network"} <= codes


def test_status_fast_path_imports_nothing_heavy() -> None:
    code = (
        f"import sys, json; before = set(sys.modules); sys.path.insert(0, {str(ROOT)!r}); "
        "from exports import status; r = status(); "
        "print(json.dumps([r['state'], sorted(set(sys.modules) - before)]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30).stdout
    state, loaded = json.loads(out)
    assert state == "logged_out"
    ours = [m for m in loaded if m.startswith("xai_oauth")]
    assert ours == [  # the package's folders count: each is one small __init__ with a docstring
        "xai_oauth",
        "xai_oauth._exceptions",
        "xai_oauth._models",
        "xai_oauth._settings",
        "xai_oauth._version",
        "xai_oauth.auth",
        "xai_oauth.auth._slots",
        "xai_oauth.auth._status",
        "xai_oauth.store",
        "xai_oauth.store._errors",
        "xai_oauth.store._files",
        "xai_oauth.store._paths",
        "xai_oauth.store._state",
        "xai_oauth.transport",
        "xai_oauth.transport._version_gate",
    ]
    heavy = {"httpx2", "jwt", "keyring", "platformdirs", "filelock", "pathlib", "typing", "dataclasses"}
    assert not heavy & {m.split(".")[0] for m in loaded}, loaded


@pytest.mark.parametrize("xdg", [None, "/tmp/xdg-data"])
def test_default_home_agrees_with_platformdirs(xdg: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    if xdg is None:
        monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_DATA_HOME", xdg)
    assert default_home() == platformdirs.user_data_dir("xai-oauth", appauthor=False)


def test_a_venv_in_the_skill_folder_serves_the_plain_python3_of_the_heredocs() -> None:
    """PEP 668: the dependencies live in SKILL_DIR/.venv, and ``python3`` (not the venv's) still works."""
    venv = ROOT / ".venv"
    base = getattr(sys, "_base_executable", sys.executable)
    if not venv.is_dir() or base == sys.executable:
        pytest.skip("needs the project's .venv (scripts/setup.sh makes it) and a base interpreter outside it")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    code = (
        f"import json, sys; sys.path.insert(0, {str(ROOT)!r}); from exports import chat; "
        "r = chat('xai/grok-4.3', 'hi'); import httpx2; print(json.dumps([r.get('error'), httpx2.__file__]))"
    )
    done = subprocess.run([base, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    error, httpx2_file = json.loads(done.stdout)
    assert error == "not_signed_in", done.stderr  # got past every import: the dependencies were found
    alone = subprocess.run([base, "-c", "import httpx2"], capture_output=True, env=env)
    if alone.returncode != 0:  # the base interpreter has no httpx2 of its own: it came from the skill's .venv
        assert httpx2_file.startswith(str(venv))
