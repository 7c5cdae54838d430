"""Shared fixtures: every test gets its own XAI_OAUTH_HOME and a clean environment."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from xai_oauth._config import Config
from xai_oauth.emulator import Emulator
from xai_oauth.emulator._demo import parse_export, run_export

from .support.fake_server import FakeAuthServer, FakeClock

ROOT = Path(__file__).resolve().parent.parent

# Hypothesis times each example (200 ms) and its data generation by default: on a loaded machine that fails a
# property that holds. A property test asserts what holds, never how fast it ran.
settings.register_profile("suite", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("suite")


#: Fixtures that start fresh interpreters (an agent's call, the command, ``xai-oauth serve``): their tests are slow.
FRESH_INTERPRETERS = {"agent", "keyring_agent", "served", "pool", "terminal"}


def pytest_configure(config: pytest.Config) -> None:
    """Give the processes tests start a working Ctrl-C, however this run was started.

    A command run in the background by a non-interactive shell (``cmd &`` in a script, as CI runners and load
    loops do) starts with SIGINT ignored, and an ignored signal stays ignored across ``exec``: every process a
    test starts would ignore the SIGINT the Ctrl-C tests send it. Any handler here is reset by ``exec``, so the
    children start with the default, as at a terminal.
    """
    import signal

    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tests that start fresh interpreters ``slow``, and run every slow test first.

    ``-m "not slow"`` is the quick loop while working. First, because with xdist the long tests then start
    at once on every worker, instead of one of them starting last and ending the run alone.
    """
    for item in items:
        if FRESH_INTERPRETERS & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point every file xai-oauth writes at a temp dir; never touch the real keyring."""
    for name in list(os.environ):
        if name.startswith(("XAI_", "PYTHON_KEYRING")):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    monkeypatch.setenv("XAI_OAUTH_HOME", str(home))
    monkeypatch.setenv("XAI_OAUTH_STORE", "file")
    monkeypatch.setenv("XAI_OAUTH_MEDIA_DIR", str(tmp_path / "media"))  # never ./grok-media in the checkout
    return home


def account_dir(env: dict[str, str] | None = None) -> Path:
    """The sign-in slot's directory for the settings in ``env`` (default: this process's environment)."""
    return Path(Config.from_env(env).paths.dir)


@pytest.fixture
def server() -> FakeAuthServer:
    """A fake auth server for httpx2.MockTransport unit tests."""
    return FakeAuthServer()


@pytest.fixture
def clock() -> FakeClock:
    """A clock that only moves when told (and when something sleeps on it)."""
    return FakeClock()


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(interval=1.0) as emu:
        yield emu


class Agent:
    """Runs exports the agent's way: a fresh interpreter per call, skill dir on sys.path."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.outputs: list[str] = []

    def sign_in(self, cwd: str | None = None, **env: str) -> dict[str, Any]:
        """start(), approve on the emulator's page as the person's browser would, then poll until connected."""
        from xai_oauth.emulator._demo import approve_in_browser

        started = self("start()", cwd=cwd, **env)
        assert started["ok"], started
        approve_in_browser(str(started["verification_url_with_code"]))
        connected = self("poll(wait=True, timeout=30)", cwd=cwd, **env)
        assert connected.get("status") == "connected", connected
        return connected

    def __call__(self, expression: str, cwd: str | None = None, **env: str) -> dict[str, Any]:
        done = run_export(expression, {**self.env, **env}, timeout=60, cwd=cwd)
        self.outputs += [done.stdout, done.stderr]
        return parse_export(done, expression)


@pytest.fixture
def agent(emulator: Emulator, isolated_home: Path) -> Agent:
    env = {**os.environ, **emulator.environ(), "PYTHONPATH": str(ROOT)}
    return Agent(env)


POSTGRES_REQUIRED = os.environ.get("XAI_OAUTH_TEST_REQUIRE_POSTGRES") == "1"  # read before isolated_home clears XAI_*


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Any]:
    """A PostgreSQL cluster of the test session's own (``tests/support/postgres.py``); skipped, or failed in CI,
    when none can run here."""
    from .support.postgres import PostgresServer, missing

    reason = missing()
    if reason is not None:
        if POSTGRES_REQUIRED:
            pytest.fail(f"XAI_OAUTH_TEST_REQUIRE_POSTGRES=1, but PostgreSQL cannot run here: {reason}")
        pytest.skip(reason)
    with PostgresServer() as server:
        yield server


@pytest.fixture
def pg_url(postgres_server: Any) -> str:
    """The URL of a fresh, empty database (with a password in it, as an operator's would have)."""
    return str(postgres_server.database())
