"""Trust boundaries: which file may say what, one slot per authority, the home check, storage consent, logout.

Each test stands for one way an attacker or an unlucky setup got a credential
somewhere it should not go; most run the agent's way against the emulator.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from xai_oauth.emulator import Emulator
from xai_oauth.emulator._demo import approve_in_browser

from .conftest import ROOT, Agent, account_dir
from .support.capture import CapturingServer
from .support.fake_server import FakeAuthServer, FakeClock

API_KEY = "xai-TRUSTCANARYKEY0123456789abcdefghijkl"


def test_a_repository_env_file_cannot_send_any_credential_elsewhere(
    emulator: Emulator, isolated_home: Path, tmp_path: Path
) -> None:
    """The worst hole: a .env.xai in the working directory named the host that got the JWT and the API key."""
    emulator.settings.api_key = API_KEY
    isolated_home.mkdir(mode=0o700, parents=True, exist_ok=True)
    (isolated_home / ".env.xai").write_text("".join(f"{k}={v}\n" for k, v in emulator.environ().items()))
    repo = tmp_path / "someone-elses-repo"
    repo.mkdir()
    with CapturingServer() as trap:
        (repo / ".env.xai").write_text(
            f"XAI_BASE_URL={trap.url}/v1\nXAI_OAUTH_BASE_URL={trap.url}/v1\nXAI_OAUTH_ISSUER={trap.url}\n"
            f"XAI_OAUTH_ROUTE=api\nXAI_API_KEY={API_KEY}\n"
        )
        env = {k: v for k, v in os.environ.items() if k not in emulator.environ()}
        agent = Agent({**env, "PYTHONPATH": str(ROOT)})
        agent.sign_in(cwd=str(repo))
        for call in (
            "models()",
            "chat('xai-grok/grok-4.3', 'hi')",
            "chat('xai/grok-4.3', 'hi')",
            "chat('xai-grok/grok-4.3', 'hi', stream=True)",
            "refresh(force=True)",
        ):
            assert agent(call, cwd=str(repo))["ok"], call
        status = agent("status()", cwd=str(repo))
        assert agent("logout()", cwd=str(repo))["revoked"] is True
        assert trap.received == []
    ignored = status["notes"][0]
    assert all(name in ignored for name in ("XAI_BASE_URL", "XAI_OAUTH_BASE_URL", "XAI_OAUTH_ISSUER"))
    assert API_KEY not in json.dumps(status)


def test_the_subscription_bearer_never_goes_to_an_api_key_gateway(agent: Agent, emulator: Emulator) -> None:
    """XAI_BASE_URL may name any gateway for an API key; the subscription's token is refused before sending.

    (An attempt to send would be a ``network`` error: the gateway host does not resolve.)
    """
    agent.sign_in()
    gateway = {"XAI_BASE_URL": "https://gateway.example/v1", "XAI_OAUTH_ROUTE": "api"}
    result = agent("chat('xai-grok/grok-4.3', 'hi')", **gateway)
    assert result["error"] == "config_invalid" and "gateway" in result["message"]
    assert agent("chat('xai/grok-4.3', 'hi')", XAI_API_KEY=API_KEY, **gateway)["error"] == "network"


def test_two_issuers_never_see_use_or_overwrite_each_other(agent: Agent, emulator: Emulator) -> None:
    assert agent.sign_in()["account"] == "person@example.com"
    with Emulator(interval=1.0) as second:
        other = second.environ()
        before = agent("status()", **other)
        assert before["state"] == "logged_out"
        assert before["other_signins"] == [
            {
                "issuer": emulator.url,
                "profile": "default",
                "account": "person@example.com",
                "tier_name": "SuperGrok",
                "state": "connected",
            }
        ]
        assert agent("refresh(force=True)", **other)["error"] == "not_signed_in"
        second.settings.email = "second@example.com"
        assert agent.sign_in(**other)["account"] == "second@example.com"
        assert agent("refresh(force=True)")["refreshed"] is True  # the first sign-in is whole
        assert agent("status()")["account"] == "person@example.com"
        assert second.stats().get("refresh_requests", 0) == 0 and emulator.stats().get("refresh_refused", 0) == 0
        assert agent("logout()", **other)["revoked"] is True
        assert agent("status()")["state"] == "connected"


def test_an_old_home_is_adopted_for_the_issuer_it_was_made_for(
    agent: Agent, emulator: Emulator, isolated_home: Path
) -> None:
    agent.sign_in()
    slot = account_dir(agent.env)
    for name in ("credentials.json", "state.json"):
        shutil.move(str(slot / name), str(isolated_home / name))  # the layout before slots
    with Emulator(interval=1.0) as second:
        assert agent("status()", **second.environ())["state"] == "logged_out"
    assert not (isolated_home / "credentials.json").exists() and (slot / "credentials.json").exists()
    assert agent("status()")["state"] == "connected" and agent("refresh(force=True)")["refreshed"] is True


def test_profiles_keep_several_accounts_at_one_issuer(agent: Agent, emulator: Emulator) -> None:
    agent.sign_in()
    emulator.settings.email = "work@example.com"
    assert agent.sign_in(XAI_OAUTH_PROFILE="work")["account"] == "work@example.com"
    assert agent("status()")["account"] == "person@example.com"
    assert [s["account"] for s in agent("status()")["other_signins"]] == ["work@example.com"]
    assert agent("logout()", XAI_OAUTH_PROFILE="work")["revoked"] is True
    assert agent("status()")["state"] == "connected"
    assert agent("status()", XAI_OAUTH_PROFILE="../escape")["error"] == "config_invalid"


def test_keyring_means_keyring_checked_before_a_code_is_spent(agent: Agent, emulator: Emulator) -> None:
    no_keyring = {"XAI_OAUTH_STORE": "keyring", "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    refused = agent("start()", **no_keyring)
    assert refused["error"] == "keyring_unavailable" and "plaintext" in refused["message"]
    assert emulator.stats().get("device_authorizations", 0) == 0


def test_auto_says_plaintext_wherever_storage_is_shown(agent: Agent, emulator: Emulator) -> None:
    fallback = {"XAI_OAUTH_STORE": "auto", "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    connected = agent.sign_in(**fallback)
    assert connected["storage"] == "file" and connected["storage_note"].startswith("kept in a plaintext file ")
    status = agent("status()", **fallback)
    assert status["storage_note"].startswith(f"kept in a plaintext file {account_dir(agent.env)}/credentials.json: ")
    assert "no usable keyring backend" in status["storage_note"]


def test_an_insecure_home_is_refused_with_the_exact_fix(agent: Agent, emulator: Emulator, isolated_home: Path) -> None:
    agent.sign_in()
    slot = account_dir(agent.env)
    os.chmod(slot, 0o777)
    refused = agent("status()")
    assert refused["error"] == "home_insecure" and refused["action"].endswith(f"chmod go-w '{slot}'")
    assert agent("chat('xai-grok/grok-4.3', 'hi')")["error"] == "home_insecure"
    os.chmod(slot, 0o700)
    if os.geteuid() != 0:
        pytest.skip("chown to another user needs root")
    os.chown(slot / "state.json", 65534, -1)
    refused = agent("status()")
    assert refused["error"] == "home_insecure" and f"chown {os.geteuid()} '{slot / 'state.json'}'" in refused["action"]
    os.chown(slot / "state.json", os.geteuid(), -1)
    (isolated_home / ".env.xai").write_text("XAI_BASE_URL=https://elsewhere.example/v1\n")
    os.chmod(isolated_home / ".env.xai", 0o666)
    assert agent("status()")["error"] == "home_insecure"
    assert stat.S_IMODE(slot.stat().st_mode) == 0o700  # nothing was "fixed" behind the person's back


def test_logout_leaves_nothing_and_revokes_set_aside_credentials(
    agent: Agent, emulator: Emulator, tmp_path: Path
) -> None:
    keyring_file = tmp_path / "keyring.json"
    slot = account_dir(agent.env)
    agent.sign_in()
    shutil.copy(slot / "credentials.json", slot / "credentials.json.corrupt-1")  # grant 1, still live
    again = agent("start(force=True)")  # grant 2 replaces it (a plain start() keeps a working sign-in)
    approve_in_browser(str(again["verification_url_with_code"]))
    assert agent("poll(wait=True, timeout=30)")["status"] == "connected"
    (slot / "state.json.tmp-1-abcd").write_text('{"half": "written"}')
    account = f"{emulator.environ()['XAI_OAUTH_ISSUER']}"
    keyring_file.write_text(json.dumps({f"xai-oauth/b1a00492-073a-47ea-816f-4c329264a828@{account}": "{}"}))
    assert emulator.stats()["live_grants"] == 2
    with_keyring = {
        "XAI_OAUTH_STORE": "auto",
        "PYTHON_KEYRING_BACKEND": "tests.support.fake_keyrings.FileKeyring",
        "FAKE_KEYRING_FILE": str(keyring_file),
    }
    result = agent("logout()", **with_keyring)
    assert result == {"ok": True, "status": "logged_out", "revoked": True, "was_signed_in": True}
    assert emulator.stats()["live_grants"] == 0
    assert not slot.exists()  # its lock and folder too
    assert json.loads(keyring_file.read_text()) == {}
    assert agent("logout()") == {"ok": True, "status": "logged_out", "revoked": False, "was_signed_in": False}


def test_a_refresh_token_is_sent_only_to_the_issuer_that_issued_it(server: FakeAuthServer, clock: FakeClock) -> None:
    from xai_oauth import Account, ConfigError

    from .test_account import TOKEN, signed_in

    account = Account(transport=server.transport(), now=clock, sleep=clock.sleep)
    signed_in(account, server, clock)
    credentials = account_dir() / "credentials.json"
    planted = {**json.loads(credentials.read_text()), "issuer": "https://auth.elsewhere.example"}
    credentials.write_text(json.dumps(planted))
    sent = server.count[TOKEN]
    with pytest.raises(ConfigError, match="only ever sent to the issuer that issued it"):
        account.refresh(force=True)
    assert server.count[TOKEN] == sent


def test_auth_adds_the_bearer_only_on_xai_hosts(server: FakeAuthServer, clock: FakeClock) -> None:
    import httpx2

    from xai_oauth import Account, Auth, Config

    from .test_account import signed_in

    seen: dict[str, str | None] = {}

    def api(request: httpx2.Request) -> httpx2.Response:
        seen[request.url.host] = request.headers.get("Authorization")
        return httpx2.Response(200, json={})

    gateway = Config.from_env({**os.environ, "XAI_BASE_URL": "https://gateway.example/v1"})
    account = Account(gateway, transport=server.transport(), now=clock, sleep=clock.sleep)
    signed_in(account, server, clock)
    with httpx2.Client(auth=Auth(account), transport=httpx2.MockTransport(api)) as client:
        client.get("https://gateway.example/v1/models")
        client.get("https://api.x.ai/v1/models")
    assert seen == {"gateway.example": None, "api.x.ai": None}
