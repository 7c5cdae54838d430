"""Keeping tokens alive: the leeway rule, retries, no resend after send, and ``xai_oauth.Auth``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx2
import jwt
import pytest

from xai_oauth import Account, Auth, Config, NetworkError, RateLimited, ReauthRequired, ServerError
from xai_oauth._exceptions import MalformedResponse
from xai_oauth.store._credential import credential_from_token_response, refresh_leeway

from .conftest import account_dir
from .support.fake_server import FakeAuthServer, FakeClock
from .test_account import TOKEN, access_token, signed_in, token_answer

HTML_503 = httpx2.Response(503, text="<html>down</html>", headers={"content-type": "text/html"})


@pytest.fixture
def account(server: FakeAuthServer, clock: FakeClock) -> Account:
    acct = Account(Config.from_env(), transport=server.transport(), now=clock, sleep=clock.sleep)
    signed_in(acct, server, clock)
    return acct


def jwt_answer(iat: float, lifetime: float, refresh: str = "CANARY-REFRESH-2") -> dict[str, Any]:
    token = jwt.encode({"iat": int(iat), "exp": int(iat + lifetime), "tier": 3}, "k" * 32, algorithm="HS256")
    return {"access_token": token, "token_type": "Bearer", "expires_in": int(lifetime), "refresh_token": refresh}


def fifteen_minute_sign_in(server: FakeAuthServer, clock: FakeClock) -> Account:
    """A sign-in whose access token lives 15 minutes (a JWT with ``iat`` and ``exp``)."""
    from .support.fake_server import device_code_answer

    acct = Account(Config.from_env(), transport=server.transport(), now=clock, sleep=clock.sleep)
    server.queue("/oauth2/device/code", device_code_answer())
    server.queue(TOKEN, (200, jwt_answer(clock(), 900, refresh="CANARY-REFRESH-1")))
    acct.start()
    acct.poll()
    return acct


def stored(home: Path) -> str:
    return (home / "credentials.json").read_text()


class TestLeeway:
    def test_fifteen_minute_token_is_due_only_in_its_last_quarter(self, clock: FakeClock) -> None:
        cred = credential_from_token_response(jwt_answer(clock(), 900), clock())
        assert refresh_leeway(900) == 225
        assert not cred.refresh_due(clock() + 900 - 226)
        assert cred.refresh_due(clock() + 900 - 225)

    def test_six_hour_token_is_due_in_its_last_five_minutes(self, clock: FakeClock) -> None:
        cred = credential_from_token_response(jwt_answer(clock(), 21_600), clock())
        assert refresh_leeway(21_600) == 300
        assert not cred.refresh_due(clock() + 21_600 - 301)
        assert cred.refresh_due(clock() + 21_600 - 300)

    @pytest.mark.parametrize("skew", [-7200, -90, 90, 7200])
    def test_clock_skew_moves_expiry_onto_our_clock(self, clock: FakeClock, skew: float) -> None:
        """The server's clock is ``skew`` s off ours: the token still lives its whole life on ours."""
        cred = credential_from_token_response(jwt_answer(clock() + skew, 900), clock())
        assert cred.expires_at == clock() + 900
        assert not cred.refresh_due(clock() + 600)

    def test_fresh_token_says_when_the_token_falls_due_and_the_mark_moves_with_a_refresh(
        self, server: FakeAuthServer, clock: FakeClock
    ) -> None:
        """What the server holds a token by: its due time (the leeway rule) and a mark of its files."""
        acct = fifteen_minute_sign_in(server, clock)
        mark = acct.on_record()
        token, due = acct.fresh_token()
        assert token == acct.access_token() and due == clock() + 900 - 225
        assert acct.on_record() == mark  # reading changes nothing on disk
        clock.t += 60
        server.queue(TOKEN, (200, jwt_answer(clock(), 900)))
        acct.refresh(force=True)
        assert acct.on_record() != mark
        assert acct.fresh_token()[0] != token
        acct.logout()
        assert acct.on_record() != mark

    def test_a_fifteen_minute_token_is_not_refreshed_on_every_call(
        self, server: FakeAuthServer, clock: FakeClock
    ) -> None:
        acct = fifteen_minute_sign_in(server, clock)
        for _ in range(10):  # a call a minute for 10 minutes, then one at 11 min 14 s
            clock.t += 60
            acct.access_token()
        clock.t += 74
        acct.access_token()
        assert server.count[TOKEN] == 1  # only the sign-in itself
        server.queue(TOKEN, (200, jwt_answer(clock(), 900)))
        clock.t += 1  # 11.25 minutes in: the last quarter begins
        acct.access_token()
        assert server.count[TOKEN] == 2


class TestRetries:
    def test_5xx_and_html_are_retried_with_backoff(
        self, account: Account, server: FakeAuthServer, clock: FakeClock
    ) -> None:
        server.queue(
            TOKEN,
            HTML_503,
            httpx2.Response(200, text="<html>challenge</html>", headers={"content-type": "text/html"}),
            token_answer(clock(), refresh="CANARY-REFRESH-2"),
        )
        assert account.refresh(force=True)["refreshed"] is True
        assert server.count[TOKEN] == 1 + 3 and clock.slept == [0.5, 1.5]

    def test_429_waits_for_retry_after(self, account: Account, server: FakeAuthServer, clock: FakeClock) -> None:
        server.queue(TOKEN, httpx2.Response(429, json={}, headers={"retry-after": "2"}), token_answer(clock()))
        assert account.refresh(force=True)["refreshed"] is True
        assert clock.slept == [2.0]

    def test_a_long_retry_after_is_reported_not_waited(
        self, account: Account, server: FakeAuthServer, clock: FakeClock
    ) -> None:
        server.queue(TOKEN, httpx2.Response(429, json={}, headers={"retry-after": "600"}))
        with pytest.raises(RateLimited) as caught:
            account.refresh(force=True)
        assert caught.value.retry_after == 600 and clock.slept == []

    def test_retries_are_bounded_and_keep_the_credential(
        self, account: Account, server: FakeAuthServer, clock: FakeClock, isolated_home: Path
    ) -> None:
        before = stored(account_dir())
        server.queue(TOKEN, HTML_503, HTML_503, HTML_503, HTML_503)
        with pytest.raises(ServerError):
            account.refresh(force=True)
        assert server.count[TOKEN] == 1 + 3 and stored(account_dir()) == before

    def test_refused_connection_is_retried(self, account: Account, server: FakeAuthServer, clock: FakeClock) -> None:
        server.queue(TOKEN, httpx2.ConnectError("refused"), token_answer(clock()))
        assert account.refresh(force=True)["refreshed"] is True

    @pytest.mark.parametrize("failure", [httpx2.ReadTimeout("slow"), httpx2.RemoteProtocolError("cut off")])
    def test_no_resend_after_the_request_may_have_arrived(
        self, account: Account, server: FakeAuthServer, clock: FakeClock, isolated_home: Path, failure: Exception
    ) -> None:
        before = stored(account_dir())
        server.queue(TOKEN, failure, token_answer(clock()))
        with pytest.raises(NetworkError) as caught:
            account.refresh(force=True)
        assert caught.value.maybe_sent and "refresh()" in caught.value.action
        assert server.count[TOKEN] == 1 + 1 and clock.slept == []  # sent once, never again
        assert stored(account_dir()) == before

    def test_bad_json_is_not_retried(self, account: Account, server: FakeAuthServer, isolated_home: Path) -> None:
        """A 200 with broken JSON came from the token endpoint itself: it may have rotated the token."""
        server.queue(TOKEN, httpx2.Response(200, text='{"access_token": "tru'), (200, {}))
        with pytest.raises(MalformedResponse):
            account.refresh(force=True)
        assert server.count[TOKEN] == 1 + 1


class TestSingleFlight:
    def test_replacing_a_token_already_renewed_elsewhere_sends_nothing(
        self, account: Account, server: FakeAuthServer
    ) -> None:
        result = account.refresh(force=True, replacing="an-older-access-token")
        assert result["refreshed"] is False and server.count[TOKEN] == 1

    def test_replacing_the_stored_token_renews_it(
        self, account: Account, server: FakeAuthServer, clock: FakeClock
    ) -> None:
        server.queue(TOKEN, token_answer(clock(), refresh="CANARY-REFRESH-2"))
        assert account.refresh(force=True, replacing=account.access_token())["refreshed"] is True

    def test_invalid_grant_then_every_call_says_reauth(self, account: Account, server: FakeAuthServer) -> None:
        server.queue(TOKEN, (400, {"error": "invalid_grant"}))
        with pytest.raises(ReauthRequired):
            account.refresh(force=True)
        with pytest.raises(ReauthRequired):
            account.access_token()
        assert server.count[TOKEN] == 2  # the refused token is not sent again


API = "https://api.x.ai/v1"


class FakeApi:
    """Accepts only the bearers in ``good``; answers the others as xAI does."""

    def __init__(
        self, refusal: tuple[int, dict[str, Any]] = (401, {"code": "unauthenticated:bad-credentials"})
    ) -> None:
        self.good: set[str] = set()
        self.refusal = refusal
        self.seen: list[str | None] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        bearer = request.headers.get("authorization")
        self.seen.append(bearer)
        if bearer and bearer.removeprefix("Bearer ") in self.good:
            return httpx2.Response(200, json={"echo": json.loads(request.content or b"null")})
        status, body = self.refusal
        return httpx2.Response(status, json=body)


class TestAuth:
    @pytest.mark.parametrize(
        "refusal",
        [
            (401, {"error": "expired"}),
            (403, {"code": "unauthenticated:bad-credentials", "error": "x"}),
            (403, {"error": {"code": "unauthenticated:expired"}}),
        ],
    )
    def test_auth_failure_forces_one_refresh_and_one_retry(
        self, account: Account, server: FakeAuthServer, clock: FakeClock, refusal: Any
    ) -> None:
        api = FakeApi(refusal)
        renewed = token_answer(clock(), refresh="CANARY-REFRESH-2", access_token=access_token(clock(), marker="B"))
        api.good.add(renewed[1]["access_token"])
        server.queue(TOKEN, renewed)
        with httpx2.Client(transport=httpx2.MockTransport(api), auth=Auth(account)) as client:
            response = client.post(f"{API}/chat/completions", json={"n": 1})
        assert response.status_code == 200 and response.json() == {"echo": {"n": 1}}
        assert server.count[TOKEN] == 2 and len(api.seen) == 2 and api.seen[0] != api.seen[1]

    def test_a_second_refusal_is_returned_not_looped(
        self, account: Account, server: FakeAuthServer, clock: FakeClock
    ) -> None:
        api = FakeApi()
        server.queue(TOKEN, token_answer(clock(), refresh="CANARY-REFRESH-2"))
        with httpx2.Client(transport=httpx2.MockTransport(api), auth=Auth(account)) as client:
            assert client.get(f"{API}/models").status_code == 401
        assert server.count[TOKEN] == 2 and len(api.seen) == 2

    def test_other_403s_are_not_auth_failures(self, account: Account, server: FakeAuthServer) -> None:
        api = FakeApi((403, {"code": "permission-denied:tier", "error": "upgrade"}))
        with httpx2.Client(transport=httpx2.MockTransport(api), auth=Auth(account)) as client:
            assert client.get(f"{API}/models").status_code == 403
        assert server.count[TOKEN] == 1 and len(api.seen) == 1

    def test_bearer_only_goes_to_the_api_origin(self, account: Account) -> None:
        api = FakeApi((200, {}))
        with httpx2.Client(transport=httpx2.MockTransport(api), auth=Auth(account)) as client:
            client.get("https://example.com/v1/models")
            client.get("http://api.x.ai/v1/models")
        assert api.seen == [None, None]

    def test_a_due_token_is_refreshed_before_sending(
        self, account: Account, server: FakeAuthServer, clock: FakeClock
    ) -> None:
        api = FakeApi()
        clock.t += 21_600 - 60
        renewed = token_answer(clock(), refresh="CANARY-REFRESH-2", access_token=access_token(clock(), marker="B"))
        api.good.add(renewed[1]["access_token"])
        server.queue(TOKEN, renewed)
        with httpx2.Client(transport=httpx2.MockTransport(api), auth=Auth(account)) as client:
            assert client.get(f"{API}/models").status_code == 200
        assert len(api.seen) == 1

    def test_async_client(self, account: Account, server: FakeAuthServer, clock: FakeClock) -> None:
        api = FakeApi()
        renewed = token_answer(clock(), refresh="CANARY-REFRESH-2", access_token=access_token(clock(), marker="B"))
        api.good.add(renewed[1]["access_token"])
        server.queue(TOKEN, renewed)

        async def handler(request: httpx2.Request) -> httpx2.Response:
            return api(request)

        async def go() -> int:
            async with httpx2.AsyncClient(transport=httpx2.MockTransport(handler), auth=Auth(account)) as client:
                return (await client.get(f"{API}/models")).status_code

        assert asyncio.run(go()) == 200 and len(api.seen) == 2

    def test_repr_and_errors_carry_no_token(self, account: Account, server: FakeAuthServer) -> None:
        auth = Auth(account)
        token = account.access_token()
        assert token not in repr(auth) and "CANARY" not in repr(auth)
        server.queue(TOKEN, (400, {"error": "invalid_grant", "error_description": f"bad {token}"}))
        with httpx2.Client(transport=httpx2.MockTransport(FakeApi()), auth=auth) as client:
            with pytest.raises(ReauthRequired) as caught:
                client.get(f"{API}/models")
        assert token not in str(caught.value) and token not in repr(caught.value)
