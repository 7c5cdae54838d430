"""The pure protocol steps: no sockets, no disk, time passed in."""

from __future__ import annotations

import jwt
import pytest

from xai_oauth._exceptions import AccessDenied, DiscoveryError, LoginExpired, MalformedResponse, OAuthError
from xai_oauth._redact import redact, scrub
from xai_oauth._tiers import describe_tier
from xai_oauth.auth._device_rules import Approved, Waiting, begin, step
from xai_oauth.auth._discovery import registrable_domain, validate_discovery
from xai_oauth.store._credential import Credential, credential_from_token_response, refresh_leeway

ISSUER = "https://auth.x.ai"


def device_answer(**over: object) -> dict[str, object]:
    return {
        "device_code": "DEV",
        "user_code": "ABCD-EFGH",
        "verification_uri": "https://accounts.x.ai/device",
        "expires_in": 600,
        "interval": 5,
        **over,
    }


def login(**over: object):  # type: ignore[no-untyped-def]
    return begin(device_answer(**over), now=1000.0, issuer=ISSUER, client_id="cid")


class TestBegin:
    def test_builds_link_with_code_when_server_gives_none(self) -> None:
        pending = login()
        assert pending.verification_url_with_code == "https://accounts.x.ai/device?user_code=ABCD-EFGH"
        assert pending.expires_at == 1600.0 and pending.interval == 5.0 and pending.next_poll_at == 1000.0

    def test_prefers_verification_uri_complete(self) -> None:
        pending = login(verification_uri_complete="https://accounts.x.ai/device?code=X")
        assert pending.verification_url_with_code == "https://accounts.x.ai/device?code=X"

    def test_missing_interval_is_five_seconds_and_strings_are_numbers(self) -> None:
        answer = device_answer(expires_in="300")
        del answer["interval"]
        pending = begin(answer, now=0.0, issuer=ISSUER, client_id="c")
        assert pending.interval == 5.0 and pending.expires_at == 300.0
        assert begin(device_answer(interval="7"), now=0, issuer=ISSUER, client_id="c").interval == 7.0

    @pytest.mark.parametrize("field", ["device_code", "user_code", "verification_uri"])
    def test_missing_fields_are_malformed(self, field: str) -> None:
        answer = device_answer()
        del answer[field]
        with pytest.raises(MalformedResponse):
            begin(answer, now=0, issuer=ISSUER, client_id="c")

    @pytest.mark.parametrize("bad", ["soon", -1, True, [5]])
    def test_bad_numbers_are_malformed(self, bad: object) -> None:
        with pytest.raises(MalformedResponse):
            login(interval=bad)

    def test_device_code_not_in_repr(self) -> None:
        assert "DEV" not in repr(login())


class TestStep:
    def test_pending_schedules_next_poll_one_interval_later(self) -> None:
        outcome = step(login(), 400, {"error": "authorization_pending"}, now=1010.0)
        assert isinstance(outcome, Waiting) and not outcome.slowed_down
        assert outcome.login.next_poll_at == 1015.0

    def test_slow_down_adds_five_seconds(self) -> None:
        outcome = step(login(), 400, {"error": "slow_down"}, now=1010.0)
        assert isinstance(outcome, Waiting) and outcome.slowed_down
        assert outcome.login.interval == 10.0 and outcome.login.next_poll_at == 1020.0
        again = step(outcome.login, 400, {"error": "slow_down"}, now=1020.0)
        assert isinstance(again, Waiting) and again.login.interval == 15.0

    def test_access_denied_carries_account_gate_code(self) -> None:
        with pytest.raises(AccessDenied) as caught:
            step(login(), 400, {"error": "access_denied"}, now=1001)
        assert caught.value.details["code"] == "AccountAccessDenied"
        assert "console.x.ai" in caught.value.action

    def test_expired_token(self) -> None:
        with pytest.raises(LoginExpired) as caught:
            step(login(), 400, {"error": "expired_token"}, now=1001)
        assert caught.value.action == "call start() again"

    def test_other_oauth_error_and_no_error(self) -> None:
        with pytest.raises(OAuthError) as caught:
            step(login(), 401, {"error": "invalid_client", "error_description": "bad client"}, now=1)
        assert caught.value.oauth_error == "invalid_client"
        with pytest.raises(MalformedResponse):
            step(login(), 400, {"message": "nope"}, now=1)

    def test_approved(self) -> None:
        outcome = step(login(), 200, {"access_token": "opaque", "token_type": "bearer", "expires_in": 60}, now=1000)
        assert isinstance(outcome, Approved)
        assert outcome.credential.expires_at == 1060 and outcome.credential.refresh_token is None


def make_jwt(**claims: object) -> str:
    return jwt.encode(claims, "k" * 32, algorithm="HS256")


class TestCredential:
    def test_expiry_from_jwt_moved_onto_our_clock(self) -> None:
        # The server's clock is 10 minutes ahead of ours: exp - iat still gives 6 h from now.
        token = make_jwt(iat=10_600, exp=10_600 + 21_600, tier=3)
        cred = credential_from_token_response({"access_token": token, "token_type": "Bearer"}, now=10_000)
        assert cred.expires_at == 10_000 + 21_600 and cred.lifetime == 21_600
        assert cred.tier == (3, "X Premium")

    def test_expiry_from_exp_alone_or_expires_in(self) -> None:
        assert credential_from_token_response({"access_token": make_jwt(exp=5000)}, now=1000).expires_at == 5000
        cred = credential_from_token_response({"access_token": "x", "expires_in": "900"}, now=1000)
        assert cred.expires_at == 1900 and cred.lifetime == 900

    def test_rejects_non_bearer_and_missing_token(self) -> None:
        with pytest.raises(MalformedResponse):
            credential_from_token_response({"access_token": "x", "token_type": "mac"}, now=0)
        with pytest.raises(MalformedResponse):
            credential_from_token_response({"token_type": "Bearer"}, now=0)

    def test_leeway_scales_with_lifetime(self) -> None:
        assert refresh_leeway(900) == 225  # 15-minute token: its last 3.75 minutes
        assert refresh_leeway(21_600) == 300  # 6-hour token: its last 5 minutes
        short = Credential("a", "r", expires_at=1900, lifetime=900, issued_at=1000)
        assert not short.refresh_due(1000) and not short.refresh_due(1674)
        assert short.refresh_due(1675)
        long = Credential("a", "r", expires_at=21_600, lifetime=21_600, issued_at=0)
        assert not long.refresh_due(21_299) and long.refresh_due(21_300)

    def test_refresh_keeps_old_refresh_token_when_not_rotated(self) -> None:
        old = Credential("a", "r1", expires_at=1, lifetime=1, issued_at=0, id_token="id1")
        new = old.succeeded_by(Credential("b", None, expires_at=2, lifetime=1, issued_at=1))
        assert (new.access_token, new.refresh_token, new.id_token) == ("b", "r1", "id1")

    def test_round_trip_and_repr(self) -> None:
        cred = Credential("SECRET-A", "SECRET-R", expires_at=5, lifetime=5, issued_at=0, id_token="SECRET-I")
        assert Credential.from_dict(cred.to_dict()) == cred
        assert "SECRET" not in repr(cred)
        with pytest.raises(ValueError):
            Credential.from_dict({"access_token": "", "expires_at": 1})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # the official enum (xai-org/grok-build, jwt_tier_claim / prod_auth.SubscriptionTier)
        (0, (0, "Free")),
        (1, (1, "SuperGrok")),
        (2, (2, "X Basic")),
        ("3", (3, "X Premium")),
        (4.0, (4, "X Premium+")),
        (5, (5, "SuperGrok Heavy")),
        (6, (6, "SuperGrok Lite")),
        (7, (7, "SuperGrok Plus")),
        (12, (12, "tier 12")),  # a tier added tomorrow is shown, never an error
        (None, (None, "unknown")),
        (-1, (None, "unknown")),
        ("x", (None, "unknown")),
        (True, (None, "unknown")),
        (2.5, (None, "unknown")),
        ({}, (None, "unknown")),
    ],
)
def test_tiers_tolerate_odd_values(value: object, expected: tuple[object, str]) -> None:
    assert describe_tier(value) == expected


def test_tier_missing_from_token_is_unknown() -> None:
    cred = credential_from_token_response({"access_token": make_jwt(exp=9)}, now=0)
    assert cred.tier == (None, "unknown")


class TestDiscoveryPinning:
    def doc(self, issuer: str = ISSUER, **over: object) -> dict[str, object]:
        return {
            "issuer": issuer,
            "device_authorization_endpoint": f"{issuer}/oauth2/device/code",
            "token_endpoint": f"{issuer}/oauth2/token",
            **over,
        }

    def test_accepts_issuer_host_and_sibling_subdomains(self) -> None:
        endpoints = validate_discovery(self.doc(revocation_endpoint="https://api.x.ai/revoke"), ISSUER)
        assert endpoints.revocation_endpoint == "https://api.x.ai/revoke" and endpoints.jwks_uri is None

    @pytest.mark.parametrize(
        "url",
        [
            "http://auth.x.ai/token",
            "https://evil.example/token",
            "https://x.ai.evil.example/token",
            "https://evilx.ai/token",
            "https://user:pw@auth.x.ai/token",
            "",
            None,
            7,
        ],
    )
    def test_rejects_off_domain_insecure_or_missing(self, url: object) -> None:
        with pytest.raises(DiscoveryError):
            validate_discovery(self.doc(token_endpoint=url), ISSUER)

    def test_issuer_must_match(self) -> None:
        with pytest.raises(DiscoveryError):
            validate_discovery(self.doc(issuer="https://auth.x.ai/other"), ISSUER)

    def test_loopback_issuer_allows_http_only_on_its_own_host(self) -> None:
        local = "http://127.0.0.1:8123"
        assert validate_discovery(self.doc(local), local).token_endpoint.startswith(local)
        with pytest.raises(DiscoveryError):
            validate_discovery(self.doc(local, token_endpoint="http://10.0.0.1/token"), local)

    def test_loopback_spellings_are_named_as_the_same_machine_but_different_issuers(self) -> None:
        with pytest.raises(DiscoveryError) as spelled:
            validate_discovery(self.doc("http://127.0.0.1:8123"), "http://localhost:8123")
        assert "http://localhost:8123" in spelled.value.message and "'http://127.0.0.1:8123'" in spelled.value.message
        assert "same machine" in spelled.value.message and "127.0.0.1:8123" in spelled.value.action
        with pytest.raises(DiscoveryError) as elsewhere:
            validate_discovery(self.doc(issuer="https://auth.x.ai/other"), ISSUER)
        assert "same machine" not in elsewhere.value.message
        with pytest.raises(DiscoveryError) as off_host:
            validate_discovery(
                self.doc("http://127.0.0.1:8123", token_endpoint="http://10.0.0.1/t"), "http://127.0.0.1:8123"
            )
        assert "not on 127.0.0.1" in off_host.value.message

    def test_registrable_domain(self) -> None:
        assert registrable_domain("auth.x.ai") == "x.ai"
        assert registrable_domain("a.b.example.co.uk") == "example.co.uk"
        assert registrable_domain("x.ai") == "x.ai"


def test_scrub_removes_token_shapes() -> None:
    jwt_text = make_jwt(sub="s")
    out = scrub(f"bad token {jwt_text} and rt_{'a' * 40} end")
    assert jwt_text not in out and "a" * 40 not in out and out.startswith("bad token [redacted]")
    assert len(scrub("word " * 100)) <= 200


def test_scrub_keeps_model_ids_paths_and_names_readable() -> None:
    readable = (
        "The model grok-4.20-multi-agent-0309 does not exist; see "
        "/home/person/.local/share/xai-oauth/accounts/b1a00492-073a-47ea-816f-4c329264a828@https%3A%2F%2Fauth.x.ai"
        "/default/credentials.json (ReadTimeout, grok-code-fast-1, grok-imagine-video, test_failed_refresh_never_lose0)"
    )
    assert redact(readable) == readable


@pytest.mark.parametrize(
    "secret",
    [
        "xai-" + "z" * 40,  # an API key, even an all-lower-case one
        "rt_" + "Ab3" * 12,  # a refresh token: random-looking
        "4f9c2a7d1e8b6f3a0c5d9e2b7a1f4c8d6e3b0a9f2c5d8e1b",  # a long unbroken run (a hex device code)
        "dc_Zk8-Qm2_Lp9xVt4-Rw7yNb3Hs6",  # url-safe base64 with separators
    ],
)
def test_scrub_hides_token_shapes(secret: str) -> None:
    assert secret not in redact(f"the server said: {secret} was refused") and "[redacted]" in scrub(secret)
