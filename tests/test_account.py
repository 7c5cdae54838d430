"""Account (the typed API) against a fake server through httpx2.MockTransport, with a fake clock."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import httpx2
import jwt
import pytest

from xai_oauth import Account, Config
from xai_oauth._exceptions import (
    AccessDenied,
    ConfigError,
    DiscoveryError,
    LoginExpired,
    MalformedResponse,
    NetworkError,
    NoPendingLogin,
    NotSignedIn,
    OAuthError,
    RateLimited,
    ReauthRequired,
    ServerError,
)

from .conftest import account_dir
from .support.fake_server import ISSUER, FakeAuthServer, FakeClock, device_code_answer

TOKEN = "/oauth2/token"
DEVICE = "/oauth2/device/code"


def access_token(now: float, lifetime: float = 21_600, tier: Any = 3, marker: str = "A") -> str:
    return jwt.encode(
        {"iat": int(now), "exp": int(now + lifetime), "tier": tier, "m": marker}, "k" * 32, algorithm="HS256"
    )


def token_answer(now: float, refresh: str = "CANARY-REFRESH-1", **over: Any) -> tuple[int, dict[str, Any]]:
    return 200, {
        "access_token": access_token(now),
        "token_type": "Bearer",
        "expires_in": 21_600,
        "refresh_token": refresh,
        "id_token": "CANARY-ID-TOKEN",
        **over,
    }


@pytest.fixture
def account(server: FakeAuthServer, clock: FakeClock) -> Account:
    return Account(Config.from_env(), transport=server.transport(), now=clock, sleep=clock.sleep)


def signed_in(account: Account, server: FakeAuthServer, clock: FakeClock) -> None:
    server.queue(DEVICE, device_code_answer())
    server.queue(TOKEN, token_answer(clock()))
    account.start()
    assert account.poll()["status"] == "connected"


class TestStart:
    def test_returns_link_and_persists_pending_0600(
        self, account: Account, server: FakeAuthServer, isolated_home: Path
    ) -> None:
        server.queue(DEVICE, device_code_answer())
        result = account.start()
        assert result["verification_url_with_code"] == "https://accounts.x.ai/device?user_code=WXYZ-BCDF"
        assert result["status"] == "pending" and result["interval"] == 5 and result["expires_in"] == 900
        pending = account_dir() / "pending.json"
        assert stat.S_IMODE(pending.stat().st_mode) == 0o600
        assert stat.S_IMODE(isolated_home.stat().st_mode) == 0o700
        assert server.requests[-1][1]["scope"].split() == [
            "openid",
            "profile",
            "email",
            "offline_access",
            "grok-cli:access",
            "api:access",
        ]

    def test_second_start_returns_the_waiting_code_and_force_replaces_it(
        self, account: Account, server: FakeAuthServer, isolated_home: Path
    ) -> None:
        server.queue(DEVICE, device_code_answer(), device_code_answer(user_code="NEWC-ODEX", device_code="D2"))
        first = account.start()
        again = account.start()
        assert again["user_code"] == first["user_code"] and again["resumed"] is True
        assert server.count[DEVICE] == 1  # the person's code was not replaced behind their back
        assert account.start(force=True)["user_code"] == "NEWC-ODEX"
        assert json.loads((account_dir() / "pending.json").read_text())["user_code"] == "NEWC-ODEX"

    @pytest.mark.parametrize(
        ("answer", "error"),
        [
            (httpx2.Response(503, text="<html>down</html>", headers={"content-type": "text/html"}), ServerError),
            (
                httpx2.Response(200, text="<html>captcha</html>", headers={"content-type": "text/html"}),
                MalformedResponse,
            ),
            (httpx2.Response(200, text='{"device_code": "x", "user'), MalformedResponse),
            (httpx2.Response(429, json={}, headers={"retry-after": "30"}), RateLimited),
            ((400, {"error": "invalid_scope"}), OAuthError),
            (httpx2.ConnectError("refused"), NetworkError),
            (httpx2.ReadTimeout("slow"), NetworkError),
        ],
    )
    def test_bad_answers_raise_our_errors(
        self, account: Account, server: FakeAuthServer, answer: Any, error: type
    ) -> None:
        server.queue(DEVICE, answer)
        with pytest.raises(error) as caught:
            account.start()
        if error is RateLimited:
            assert caught.value.retry_after == 30

    def test_discovery_off_domain_is_refused_before_any_code_is_sent(self, clock: FakeClock) -> None:
        server = FakeAuthServer(
            {
                "issuer": ISSUER,
                "device_authorization_endpoint": "https://evil.example/d",
                "token_endpoint": f"{ISSUER}/t",
            }
        )
        with pytest.raises(DiscoveryError):
            Account(transport=server.transport(), now=clock).start()
        assert server.count[DEVICE] == 0

    def test_discovery_is_cached(self, account: Account, server: FakeAuthServer) -> None:
        server.queue(DEVICE, device_code_answer(), device_code_answer())
        account.start()
        account.start()
        assert server.count["/.well-known/openid-configuration"] == 1

    def test_http_issuer_off_loopback_is_a_config_error(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("XAI_OAUTH_ISSUER", "http://auth.x.ai")
        with pytest.raises(ConfigError) as refused:
            Config.from_env()
        assert "loopback address (localhost, 127.0.0.0/8 or ::1" in refused.value.message
        monkeypatch.setenv("XAI_OAUTH_ISSUER", "http://127.5.5.5:9")  # all of 127/8 is this machine
        assert Config.from_env().issuer == "http://127.5.5.5:9"


class TestPoll:
    def test_no_pending_login(self, account: Account) -> None:
        with pytest.raises(NoPendingLogin):
            account.poll()

    def test_a_poll_too_soon_waits_out_the_interval_then_asks(
        self, account: Account, server: FakeAuthServer, clock: FakeClock
    ) -> None:
        """Approved 1 s after the last poll: the next poll must say connected, never a "pending" nobody said."""
        server.queue(DEVICE, device_code_answer())
        server.queue(TOKEN, (400, {"error": "authorization_pending"}), token_answer(clock()))
        account.start()
        first = account.poll()
        assert first["status"] == "pending" and first["retry_after"] == 5
        clock.t += 2
        second = account.poll()
        assert second["status"] == "connected"
        assert clock.slept == [3.0] and server.count[TOKEN] == 2  # waited the remaining 3 s, then asked once

    def test_slow_down_is_persisted_across_processes(
        self, account: Account, server: FakeAuthServer, clock: FakeClock, isolated_home: Path
    ) -> None:
        server.queue(DEVICE, device_code_answer())
        server.queue(TOKEN, (400, {"error": "slow_down"}))
        account.start()
        result = account.poll()
        assert result["slowed_down"] and result["interval"] == 10 and result["retry_after"] == 10
        assert json.loads((account_dir() / "pending.json").read_text())["interval"] == 10

    def test_approved_stores_credential_and_drops_pending(
        self, account: Account, server: FakeAuthServer, clock: FakeClock, isolated_home: Path
    ) -> None:
        signed_in(account, server, clock)
        assert not (account_dir() / "pending.json").exists()
        assert stat.S_IMODE((account_dir() / "credentials.json").stat().st_mode) == 0o600
        status = account.status()
        assert status["connected"] and status["tier"] == 3 and status["storage"] == "file"
        assert "CANARY" not in (account_dir() / "state.json").read_text()

    def test_denied_and_expired_are_terminal(self, account: Account, server: FakeAuthServer, clock: FakeClock) -> None:
        server.queue(DEVICE, device_code_answer(), device_code_answer())
        server.queue(TOKEN, (400, {"error": "access_denied"}), (400, {"error": "expired_token"}))
        account.start()
        with pytest.raises(AccessDenied):
            account.poll()
        with pytest.raises(NoPendingLogin):
            account.poll()  # never retried automatically
        account.start()
        with pytest.raises(LoginExpired):
            account.poll()

    def test_local_expiry_needs_no_network(self, account: Account, server: FakeAuthServer, clock: FakeClock) -> None:
        server.queue(DEVICE, device_code_answer())
        account.start()
        clock.t += 901
        with pytest.raises(LoginExpired):
            account.poll()
        assert server.count[TOKEN] == 0

    def test_server_trouble_keeps_the_pending_login(
        self, account: Account, server: FakeAuthServer, clock: FakeClock
    ) -> None:
        server.queue(DEVICE, device_code_answer())
        server.queue(TOKEN, httpx2.Response(502, text="<html>bad gateway</html>"), token_answer(clock()))
        account.start()
        with pytest.raises(ServerError):
            account.poll()
        clock.t += 5
        assert account.poll()["status"] == "connected"

    def test_wait_polls_at_the_interval_with_the_injected_sleeper(
        self, account: Account, server: FakeAuthServer, clock: FakeClock
    ) -> None:
        server.queue(DEVICE, device_code_answer())
        server.queue(
            TOKEN, (400, {"error": "authorization_pending"}), (400, {"error": "slow_down"}), token_answer(clock())
        )
        account.start()
        assert account.poll(wait=True)["status"] == "connected"
        assert clock.slept == [5, 10]

    def test_wait_gives_up_at_timeout(self, account: Account, server: FakeAuthServer, clock: FakeClock) -> None:
        server.queue(DEVICE, device_code_answer())
        server.queue(TOKEN, *[(400, {"error": "authorization_pending"})] * 5)
        account.start()
        result = account.poll(wait=True, timeout=12)
        assert result["status"] == "pending" and result["timed_out"] and server.count[TOKEN] == 3


class TestRefreshAndLogout:
    def test_not_due_means_no_request(self, account: Account, server: FakeAuthServer, clock: FakeClock) -> None:
        signed_in(account, server, clock)
        assert account.refresh()["refreshed"] is False
        assert server.count[TOKEN] == 1

    def test_due_refresh_rotates(self, account: Account, server: FakeAuthServer, clock: FakeClock) -> None:
        signed_in(account, server, clock)
        clock.t += 21_600 - 100
        server.queue(TOKEN, token_answer(clock(), refresh="CANARY-REFRESH-2"))
        assert account.refresh()["refreshed"] is True
        assert server.requests[-1][1]["refresh_token"] == "CANARY-REFRESH-1"
        server.queue(TOKEN, token_answer(clock(), refresh="CANARY-REFRESH-3"))
        account.refresh(force=True)
        assert server.requests[-1][1]["refresh_token"] == "CANARY-REFRESH-2"

    def test_invalid_grant_marks_reauth_and_keeps_credential(
        self, account: Account, server: FakeAuthServer, clock: FakeClock, isolated_home: Path
    ) -> None:
        signed_in(account, server, clock)
        before = (account_dir() / "credentials.json").read_text()
        server.queue(TOKEN, (400, {"error": "invalid_grant"}))
        with pytest.raises(ReauthRequired):
            account.refresh(force=True)
        assert (account_dir() / "credentials.json").read_text() == before
        assert account.status()["state"] == "reauth_required"

    @pytest.mark.parametrize(
        ("answer", "sent", "state"),
        [
            # a CDN's challenge page: the token endpoint never saw it (tried three times)
            (
                httpx2.Response(200, text="<html>challenge</html>", headers={"content-type": "text/html"}),
                3,
                "connected",
            ),
            # the token endpoint (or what stands for it) took the grant and gave nothing usable back
            (httpx2.Response(200, text="{bad json"), 1, "refresh_unconfirmed"),
            ((200, {"token_type": "Bearer"}), 1, "refresh_unconfirmed"),
            (httpx2.ReadTimeout("x"), 1, "refresh_unconfirmed"),
            (httpx2.Response(500, text="oops"), 1, "refresh_unconfirmed"),
            (
                httpx2.Response(502, text="<html>bad gateway</html>", headers={"content-type": "text/html"}),
                1,
                "refresh_unconfirmed",
            ),
        ],
    )
    def test_failed_refresh_never_loses_the_credential(
        self,
        account: Account,
        server: FakeAuthServer,
        clock: FakeClock,
        isolated_home: Path,
        answer: Any,
        sent: int,
        state: str,
    ) -> None:
        signed_in(account, server, clock)
        before = (account_dir() / "credentials.json").read_text()
        server.queue(TOKEN, *[answer] * 3)
        with pytest.raises((MalformedResponse, NetworkError, ServerError)):
            account.refresh(force=True)
        assert server.count[TOKEN] == 1 + sent  # sign-in, then the refresh: never resent when it may have acted
        assert (account_dir() / "credentials.json").read_text() == before
        assert account.status()["state"] == state
        assert not (account_dir() / "journal.json").exists()

    def test_not_signed_in(self, account: Account) -> None:
        with pytest.raises(NotSignedIn):
            account.refresh()

    def test_logout_revokes_and_forgets_everything(
        self, account: Account, server: FakeAuthServer, clock: FakeClock, isolated_home: Path
    ) -> None:
        signed_in(account, server, clock)
        server.queue("/oauth2/revoke", (200, {}))
        assert account.logout() == {"status": "logged_out", "revoked": True, "was_signed_in": True}
        assert server.requests[-1][1] == {
            "client_id": Config().client_id,
            "token": "CANARY-REFRESH-1",
            "token_type_hint": "refresh_token",
        }
        assert not account_dir().exists() and list(isolated_home.rglob("*")) == []  # the lock and folders too
        assert account.logout()["revoked"] is False  # idempotent
        assert account.status()["state"] == "logged_out"

    def test_logout_when_revocation_fails_still_forgets(
        self, account: Account, server: FakeAuthServer, clock: FakeClock, isolated_home: Path
    ) -> None:
        signed_in(account, server, clock)
        server.queue("/oauth2/revoke", httpx2.ConnectTimeout("x"))
        result = account.logout()
        assert result["revoked"] is False and result["notes"]
        assert not (account_dir() / "credentials.json").exists()


def test_corrupt_credential_file_is_set_aside(
    account: Account, server: FakeAuthServer, clock: FakeClock, isolated_home: Path
) -> None:
    signed_in(account, server, clock)
    (account_dir() / "credentials.json").write_text('{"access_token": "trunc')
    from xai_oauth.store._errors import StoreCorrupt

    with pytest.raises(StoreCorrupt):
        account.refresh()
    kept = [p for p in account_dir().iterdir() if p.name.startswith("credentials.json.corrupt-")]
    assert len(kept) == 1 and kept[0].read_text() == '{"access_token": "trunc'


def test_account_repr_has_no_secrets(account: Account, server: FakeAuthServer, clock: FakeClock) -> None:
    signed_in(account, server, clock)
    assert "CANARY" not in repr(account) and os.environ["XAI_OAUTH_HOME"] in repr(account)


class TestIssuerMistakes:
    def test_a_mismatch_names_both_issuers(self, clock: FakeClock) -> None:
        from .support.fake_server import DISCOVERY

        server = FakeAuthServer({**DISCOVERY, "issuer": "https://login.example.com"})
        account = Account(Config.from_env(), transport=server.transport(), now=clock, sleep=clock.sleep)
        with pytest.raises(DiscoveryError) as caught:
            account.start()
        assert "https://auth.x.ai" in caught.value.message and "https://login.example.com" in caught.value.message

    def test_a_connection_failure_names_the_issuer_in_force(self, clock: FakeClock) -> None:
        def refuse(request: httpx2.Request) -> httpx2.Response:
            raise httpx2.ConnectError("refused")

        account = Account(Config.from_env(), transport=httpx2.MockTransport(refuse), now=clock, sleep=clock.sleep)
        with pytest.raises(NetworkError) as caught:
            account.start()
        assert "XAI_OAUTH_ISSUER=https://auth.x.ai" in caught.value.message
