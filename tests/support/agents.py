"""Real coding agents for the tests: which versions, where they are installed, and how one runs headless.

Codex CLI and Claude Code are Node programs from the npm registry. Each is
pinned to an exact version (``CLIENTS``), so that a new release cannot turn
the suite red, and installed once into a cache folder outside the checkout
(``cache_root()``: ``$XDG_CACHE_HOME/xai-oauth-test-clients``, else
``~/.cache/...``), one folder per ``<package>@<version>``. An install goes to
a temporary sibling first and is renamed into place, under a file lock, so an
interrupted or concurrent install never leaves a half-installed client.

``client()`` answers with the client's executable or with the reason it
cannot run here. Only two reasons count (no Node 20+ with npm, or an npm
registry that cannot be reached); any other failed install is an error the
test reports, not a skip.

``run()`` starts a client with only the environment it is given (its own
HOME, no proxy variables), in a folder of the test's, with no stdin and a
timeout, so an agent cannot reach past loopback, read the person's own
settings, or hang the suite.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CLIENTS", "RUN_TIMEOUT", "Client", "Missing", "cache_root", "client", "run"]

#: Seconds an agent may take for one headless run (seconds are typical against the emulator).
RUN_TIMEOUT = 120.0
INSTALL_TIMEOUT = 600.0
NODE_MAJOR = 20


@dataclass(frozen=True)
class Client:
    """An npm package pinned to one version, and the executable it installs."""

    package: str
    version: str
    command: str

    @property
    def spec(self) -> str:
        return f"{self.package}@{self.version}"


CLIENTS = {
    "codex": Client("@openai/codex", "0.171.0", "codex"),
    "claude": Client("@anthropic-ai/claude-code", "2.1.332", "claude"),
}


class Missing(Exception):
    """The client cannot run on this machine; the message says why (a reason to skip, where skipping is allowed)."""


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "xai-oauth-test-clients"


def client(name: str) -> Path:
    """The executable of ``CLIENTS[name]``, installed first when missing; ``Missing`` where it cannot be."""
    wanted = CLIENTS[name]
    _check_node()
    folder = cache_root() / wanted.spec.replace("/", "+")
    executable = folder / "node_modules" / ".bin" / wanted.command
    if not executable.exists():
        folder.parent.mkdir(parents=True, exist_ok=True)
        with open(folder.parent / ".install.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not executable.exists():  # another process may have installed it while we waited
                _install(wanted, folder)
    version = subprocess.run(
        [str(executable), "--version"], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )
    if wanted.version not in version.stdout:
        raise RuntimeError(f"{executable} --version said {version.stdout!r} {version.stderr!r}, not {wanted.version}")
    return executable


def _check_node() -> None:
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        raise Missing("Node.js and npm are not on PATH (the coding agents are npm packages; install Node 20+)")
    shown = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30).stdout
    found = re.match(r"v(\d+)\.", shown)
    if not found or int(found.group(1)) < NODE_MAJOR:
        raise Missing(f"Node {shown.strip() or '?'} is older than the {NODE_MAJOR} the coding agents need")


def _install(wanted: Client, folder: Path) -> None:
    staging = Path(tempfile.mkdtemp(prefix=".installing-", dir=folder.parent))
    try:
        (staging / "package.json").write_text('{"private": true}\n')
        done = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--no-save", "--loglevel=error", wanted.spec],
            cwd=staging,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
        if done.returncode != 0:
            reachable = subprocess.run(["npm", "ping"], capture_output=True, text=True, timeout=120)
            if reachable.returncode != 0:
                raise Missing(f"the npm registry cannot be reached to install {wanted.spec}: {reachable.stderr[-300:]}")
            raise RuntimeError(f"npm install {wanted.spec} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        if folder.exists():
            shutil.rmtree(folder)
        staging.rename(folder)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def run(command: list[str], *, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """``command`` with exactly ``env`` (plus PATH, so node is found), in ``cwd``, no stdin, ``RUN_TIMEOUT``."""
    environ = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "NO_PROXY": "127.0.0.1", **env}
    try:
        return subprocess.run(
            command, env=environ, cwd=cwd, capture_output=True, text=True, timeout=RUN_TIMEOUT, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired as late:  # killed; what it said so far is what the failing test shows
        out, err = (_text(late.stdout), _text(late.stderr) + f"\n[killed after {RUN_TIMEOUT:.0f} s]")
        return subprocess.CompletedProcess(command, -9, out, err)


def _text(raw: str | bytes | None) -> str:
    return raw.decode(errors="replace") if isinstance(raw, bytes) else raw or ""
