"""The keyring store against a real Secret Service: GNOME Keyring on its own D-Bus session.

The fakes in ``support/fake_keyrings.py`` prove our logic; these prove the
contract with the thing a Linux desktop really runs: backend discovery picks
it, entries are created, rotated and deleted, a locked keyring is met at the
probe rather than after a token was spent, and a chat call never opens it.
Every process here is a fresh interpreter, as an agent runs us.

Skipped, with the reason, where gnome-keyring-daemon cannot run;
``scripts/test.sh`` installs it when it can, and ``.ci/run`` sets
``XAI_OAUTH_TEST_REQUIRE_KEYRING=1`` so that CI fails instead of skipping.
"""

from __future__ import annotations

import gc
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import pytest

from xai_oauth._config import Config
from xai_oauth.emulator import Emulator
from xai_oauth.emulator._storm import run_storm
from xai_oauth.store._backends import SERVICE, KeyringStore, keyring_usable

from .conftest import Agent, account_dir
from .support.secret_service import SecretService, missing
from .test_stores import StoreContract

#: every test here starts fresh interpreters or waits in real time
pytestmark = pytest.mark.slow

REQUIRED = os.environ.get("XAI_OAUTH_TEST_REQUIRE_KEYRING") == "1"  # read before isolated_home clears XAI_*
KEYRING_MODULES = ("keyring", "secretstorage", "jeepney")


@pytest.fixture
def secret_service(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[SecretService]:
    """A fresh GNOME Keyring, and this process's keyring pointed at it.

    In this process the backend is set by hand: discovery here would also
    find the fake backends other test modules define (keyring collects every
    loaded subclass). Fresh processes, as the agent's are, discover it.
    """
    reason = missing()
    if reason:
        if REQUIRED:
            pytest.fail(f"XAI_OAUTH_TEST_REQUIRE_KEYRING=1, but no Secret Service can run: {reason}")
        pytest.skip(f"no real Secret Service here: {reason}")
    from keyring.backends.SecretService import Keyring as SecretServiceKeyring

    previous = keyring.get_keyring()
    with SecretService() as service, monkeypatch.context() as env:
        env.setenv("DBUS_SESSION_BUS_ADDRESS", service.address)
        env.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # no keyringrc.cfg of the person's
        keyring.set_keyring(SecretServiceKeyring())
        try:
            yield service
        finally:
            keyring.set_keyring(previous)


@pytest.fixture
def keyring_agent(secret_service: SecretService, agent: Agent, tmp_path: Path) -> Agent:
    """The agent's fresh processes, reaching the test keyring with the default store (auto)."""
    agent.env.update(
        {
            **secret_service.environ,
            "XDG_CONFIG_HOME": str(tmp_path / "config"),
            "XAI_OAUTH_STORE": "auto",
        }
    )
    return agent


def stored(agent: Agent) -> dict[str, Any] | None:
    """The keyring entry of the agent's sign-in, read as any other keyring client would."""
    raw = keyring.get_password(SERVICE, Config.from_env(agent.env).keyring_account)
    return json.loads(raw) if raw is not None else None


def files_holding(home: Path, secret: str) -> list[str]:
    return [str(p) for p in home.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


def modules_after_chat(agent: Agent) -> list[str]:
    """The keyring-related modules a fresh process has loaded after one chat call."""
    result = agent(
        "chat('xai-grok/grok-4.3', 'hello') | {'loaded': sorted(m for m in sys.modules "
        f"if m.split('.')[0] in {KEYRING_MODULES!r})}}"
    )
    assert result["ok"], result
    return result["loaded"]  # type: ignore[no-any-return]


class TestRealKeyringStore(StoreContract):
    """The same contract the file store and the in-memory keyring meet, against GNOME Keyring."""

    @pytest.fixture(autouse=True)
    def _service(self, secret_service: SecretService) -> None:
        self.service = secret_service

    def make(self, tmp_path: Path) -> KeyringStore:
        return KeyringStore(f"cid@https://auth.x.ai/{tmp_path.name}", timeout=10)

    def test_a_fresh_process_discovers_it(self) -> None:
        code = "import keyring; print(type(keyring.get_keyring()).__module__)"
        found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        assert found.stdout.strip() == "keyring.backends.SecretService"
        assert keyring_usable(10) is None

    # keyring's SecretService backend raises KeyringLocked before its `with closing(connection)`, so the
    # D-Bus socket of that call is left to the garbage collector: collected here, its warning expected.
    @pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
    def test_a_locked_keyring_is_unusable_at_the_probe(self) -> None:
        self.service.lock()
        assert "KeyringLocked" in (keyring_usable(10) or "")
        gc.collect()
        self.service.unlock()
        assert keyring_usable(10) is None


def test_sign_in_keeps_the_refresh_token_in_the_keyring_alone(keyring_agent: Agent, isolated_home: Path) -> None:
    connected = keyring_agent.sign_in()
    assert connected["storage"] == "keyring" and "storage_note" not in connected
    entry = stored(keyring_agent)
    assert entry is not None and entry["refresh_token"]
    slot = account_dir(keyring_agent.env)
    assert not (slot / "credentials.json").exists()
    cache = slot / "access-token.json"
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert json.loads(cache.read_text())["access_token"] == entry["access_token"]
    assert files_holding(isolated_home, entry["refresh_token"]) == []  # the long-lived secret: keyring only
    assert files_holding(isolated_home, entry["id_token"]) == []
    assert keyring_agent("status()")["storage"] == "keyring"


def test_a_chat_call_never_opens_the_keyring(keyring_agent: Agent, secret_service: SecretService) -> None:
    keyring_agent.sign_in()
    assert modules_after_chat(keyring_agent) == []
    secret_service.lock()  # a locked keyring does not stop calls while the access token lives
    assert modules_after_chat(keyring_agent) == []


def test_an_old_sign_in_without_the_cache_gets_one_on_its_first_call(keyring_agent: Agent) -> None:
    keyring_agent.sign_in()
    cache = account_dir(keyring_agent.env) / "access-token.json"
    cache.unlink()  # as 0.1 left it
    assert "keyring" in modules_after_chat(keyring_agent)
    assert cache.exists()
    assert modules_after_chat(keyring_agent) == []


def test_strict_keyring_store_writes_no_token_to_any_file(keyring_agent: Agent, isolated_home: Path) -> None:
    keyring_agent.env["XAI_OAUTH_STORE"] = "keyring"
    assert keyring_agent.sign_in()["storage"] == "keyring"
    assert keyring_agent("chat('xai-grok/grok-4.3', 'hello')")["ok"]
    assert keyring_agent("refresh(force=True)")["refreshed"] is True
    entry = stored(keyring_agent)
    assert entry is not None
    assert not (account_dir(keyring_agent.env) / "access-token.json").exists()
    for secret in (entry["access_token"], entry["refresh_token"], entry["id_token"]):
        assert files_holding(isolated_home, secret) == []


def test_choosing_the_strict_keyring_store_later_removes_the_cached_token(keyring_agent: Agent) -> None:
    keyring_agent.sign_in()
    cache = account_dir(keyring_agent.env) / "access-token.json"
    assert cache.exists()
    keyring_agent.env["XAI_OAUTH_STORE"] = "keyring"
    assert keyring_agent("chat('xai-grok/grok-4.3', 'hello')")["ok"]
    assert not cache.exists()


def test_refresh_rotates_the_entry_and_the_cache(keyring_agent: Agent) -> None:
    keyring_agent.sign_in()
    before = stored(keyring_agent)
    assert keyring_agent("refresh(force=True)")["refreshed"] is True
    after = stored(keyring_agent)
    assert before is not None and after is not None
    assert after["refresh_token"] != before["refresh_token"] and after["access_token"] != before["access_token"]
    cache = json.loads((account_dir(keyring_agent.env) / "access-token.json").read_text())
    assert cache["access_token"] == after["access_token"]
    assert modules_after_chat(keyring_agent) == []  # the renewed token, from the cache


def test_a_locked_keyring_stops_a_refresh_and_loses_nothing(
    keyring_agent: Agent, secret_service: SecretService
) -> None:
    keyring_agent.sign_in()
    before = stored(keyring_agent)
    secret_service.lock()
    refused = keyring_agent("refresh(force=True)")
    assert refused["ok"] is False and refused["error"] == "keyring_unavailable", refused
    assert keyring_agent("status()")["state"] == "connected"
    secret_service.unlock()
    assert stored(keyring_agent) == before  # nothing spent, nothing lost
    assert keyring_agent("refresh(force=True)")["refreshed"] is True


def test_a_locked_keyring_at_sign_in_falls_back_to_the_file(
    keyring_agent: Agent, secret_service: SecretService, isolated_home: Path
) -> None:
    secret_service.lock()
    connected = keyring_agent.sign_in()
    assert connected["storage"] == "file" and "KeyringLocked" in connected["storage_note"]
    assert (account_dir(keyring_agent.env) / "credentials.json").exists()
    assert not (account_dir(keyring_agent.env) / "access-token.json").exists()
    assert keyring_agent("chat('xai-grok/grok-4.3', 'hello')")["ok"]
    secret_service.unlock()
    assert secret_service.items(SERVICE) == []


def test_strict_keyring_store_refuses_a_locked_keyring_before_any_code_is_spent(
    keyring_agent: Agent, secret_service: SecretService
) -> None:
    keyring_agent.env["XAI_OAUTH_STORE"] = "keyring"
    secret_service.lock()
    refused = keyring_agent("start()")
    assert refused["ok"] is False and refused["error"] == "keyring_unavailable", refused
    assert "nothing was written in plaintext" in refused["message"]


def test_logout_leaves_no_entry(keyring_agent: Agent, secret_service: SecretService) -> None:
    keyring_agent.sign_in()
    assert len(secret_service.items(SERVICE)) == 1
    logged_out = keyring_agent("logout()")
    assert logged_out["revoked"] is True
    assert secret_service.items(SERVICE) == []
    assert not (account_dir(keyring_agent.env) / "access-token.json").exists()
    assert keyring_agent("status()")["state"] == "logged_out"


@pytest.mark.parametrize(("processes", "forced"), [(8, False), (4, True)])
def test_refresh_storm_with_the_keyring(
    emulator: Emulator, secret_service: SecretService, processes: int, forced: bool
) -> None:
    keyring_env = {**secret_service.environ, "XAI_OAUTH_STORE": "auto"}
    result = run_storm(emulator, processes, forced=forced, extra_env=keyring_env)
    expected = processes if forced else 1
    assert (result.refresh_requests, result.refused, result.failures) == (expected, 0, 0), result
    assert result.grant_works_after
    assert secret_service.items(SERVICE)  # the storm's sign-in lived in the keyring
