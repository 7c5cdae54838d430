"""Hostile files, numbers and URLs: what a repository, a planted file or a server can hand us must not hang,
exhaust memory, crash as ``internal``, or send the subscription's bearer to a local gateway (issue 21)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import exports
from xai_oauth._config import Config
from xai_oauth._exceptions import ConfigError, XaiOAuthError
from xai_oauth._numbers import bounded
from xai_oauth._redact import forget_secrets, redact, remember_secret, scrub
from xai_oauth._routes import is_subscription_url, require_https, same_origin, split_url
from xai_oauth._settings import ENV_FILE_CAP, Settings, read_env_file
from xai_oauth.store._backends import AccessTokenCache
from xai_oauth.store._errors import StoreError
from xai_oauth.store._files import read_json, write_json
from xai_oauth.transport._retry import retry_delay

ROOT = Path(__file__).resolve().parent.parent
fifo_only = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")


def finishes(fn: Callable[[], Any], seconds: float = 10.0) -> Any:
    """``fn()``'s result; fails the test (instead of hanging it) when ``fn`` is still running after ``seconds``."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s: it hung"
    if "error" in box:
        raise box["error"]
    return box["value"]


# --- files opened safely (items 2 and 18) -------------------------------------------------------------------


@fifo_only
def test_a_fifo_as_the_working_directory_env_file_does_not_hang_status(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    os.mkfifo(repo / ".env.xai")
    monkeypatch.chdir(repo)
    result = finishes(lambda: exports.status())
    assert result["ok"] is True
    assert any("FIFO" in note and ".env.xai" in note for note in result["notes"])


def test_a_dev_zero_link_as_the_env_file_neither_hangs_nor_fills_memory(tmp_path: Path) -> None:
    """In a child with 1 GiB of address space: before the fix it read /dev/zero until MemoryError (``internal``)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".env.xai").symlink_to("/dev/zero")
    code = (
        "import json, resource, sys; resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30)); "
        f"sys.path.insert(0, {str(ROOT)!r}); import exports; print(json.dumps(exports.status()))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=repo, env=dict(os.environ), capture_output=True, text=True, timeout=60
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["ok"] is True, result
    assert any("character device" in note for note in result["notes"])


def test_an_env_file_over_the_cap_is_not_read_and_is_named(tmp_path: Path) -> None:
    big = tmp_path / ".env.xai"
    big.write_text("XAI_API_KEY=xai-" + "k" * 40 + "\n" + "#" * ENV_FILE_CAP + "\n")
    problems: list[str] = []
    assert read_env_file(str(big), trusted=False, problems=problems) == {}
    assert problems and str(ENV_FILE_CAP) in problems[0]


def test_an_api_key_from_the_working_directory_is_said_in_status_without_its_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "xai-" + "Q7rT" * 12
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".env.xai").write_text(f"XAI_API_KEY={key}\n")
    monkeypatch.chdir(repo)
    result = exports.status()
    said = [note for note in result.get("notes", []) if "XAI_API_KEY" in note]
    assert said and str(repo / ".env.xai") in said[0] and "API key" in said[0]
    text = json.dumps(result)
    assert key not in text and key[-4:] not in text


def test_an_api_key_set_in_the_environment_is_not_blamed_on_the_working_directory(tmp_path: Path) -> None:
    (tmp_path / ".env.xai").write_text("XAI_API_KEY=xai-from-the-repository-0000\n")
    settings = Settings({"XAI_API_KEY": "xai-mine-000000000000", "XAI_OAUTH_HOME": str(tmp_path / "h")}, str(tmp_path))
    assert not any("API key in use" in note for note in settings.notes())


@fifo_only
def test_a_fifo_as_the_access_token_cache_is_ignored_and_left_alone(tmp_path: Path) -> None:
    """A damaged cache is no loss (the keyring has the token): no hang, no error, and nothing deleted."""
    path = tmp_path / "access-token.json"
    os.mkfifo(path)
    meta = {"storage": "keyring", "expires_at": 2e9, "lifetime": 3600}
    assert finishes(lambda: AccessTokenCache(str(path)).token(meta, 1e9)) is None
    assert path.exists()


@fifo_only
@pytest.mark.parametrize("name", ["state.json", "pending.json", "credentials.json"])
def test_a_fifo_in_the_home_is_a_clear_store_error_not_a_hang(tmp_path: Path, name: str) -> None:
    os.mkfifo(tmp_path / name, 0o600)
    with pytest.raises(StoreError, match="FIFO"):
        finishes(lambda: read_json(str(tmp_path / name), what="file"))
    assert (tmp_path / name).exists()


@fifo_only
def test_a_fifo_as_the_journal_is_read_as_a_torn_entry_not_waited_on(tmp_path: Path) -> None:
    from xai_oauth.store._journal import JournalEntry, read_journal

    os.mkfifo(tmp_path / "journal.json", 0o600)
    assert finishes(lambda: read_journal(str(tmp_path / "journal.json"))) == JournalEntry(None, None, None, None)


def test_a_home_file_over_the_cap_or_a_link_is_refused(tmp_path: Path) -> None:
    write_json(str(tmp_path / "big.json"), {"x": "y" * 100})
    with pytest.raises(StoreError, match="more than the 50"):
        read_json(str(tmp_path / "big.json"), cap=50)
    (tmp_path / "link.json").symlink_to(tmp_path / "big.json")
    with pytest.raises(StoreError, match="symbolic link"):
        read_json(str(tmp_path / "link.json"))


def test_a_recovery_time_no_clock_reaches_does_not_make_status_internal(isolated_home: Path) -> None:
    paths = Config.from_env().paths
    write_json(paths.state, {"recovered": {"received_at": 1e308, "grant": "refresh_token"}})
    result = exports.status()
    assert result.get("error") != "internal", result


# --- loopback trusted only when the issuer is loopback (item 3) ---------------------------------------------


def test_a_real_sign_in_never_sends_its_bearer_to_a_loopback_base_url() -> None:
    config = Config(base_url="http://127.0.0.1:4000/v1", route="api")
    assert not is_subscription_url("http://127.0.0.1:4000/v1/chat/completions", issuer=config.issuer)
    with pytest.raises(ConfigError, match="not an xAI host"):
        config.subscription_api_url  # noqa: B018 - what chat(route api), image() and video_status() send to
    with pytest.raises(ConfigError, match="XAI_OAUTH_BASE_URL"):
        Config(oauth_base_url="http://localhost:4000/v1")


def test_the_emulator_keeps_loopback_because_its_issuer_is_loopback() -> None:
    config = Config(
        issuer="http://127.0.0.1:8765",
        base_url="http://127.0.0.1:8765/v1",
        oauth_base_url="http://127.0.0.1:8765/proxy/v1",
        route="api",
    )
    assert config.subscription_api_url == "http://127.0.0.1:8765/v1"
    assert is_subscription_url("https://api.x.ai/v1", issuer=config.issuer)


def test_auth_gives_no_bearer_to_a_loopback_gateway_for_a_real_sign_in() -> None:
    """The developer's ``Auth`` on an httpx2 client: a request to a local gateway leaves without the bearer."""
    httpx2 = pytest.importorskip("httpx2")
    from xai_oauth.api._auth import Auth

    class NoTokenHere:
        config = Config(base_url="http://127.0.0.1:4000/v1")

        def access_token(self) -> str:
            raise AssertionError("the token was asked for: it was about to be sent")

    auth = Auth(NoTokenHere())  # type: ignore[arg-type]
    sent = next(auth.sync_auth_flow(httpx2.Request("POST", "http://127.0.0.1:4000/v1/responses")))
    assert "authorization" not in sent.headers
    assert auth._applies_to(httpx2.Request("POST", "https://cli-chat-proxy.grok.com/v1/responses"))


# --- numbers (items 9 and 10) ---------------------------------------------------------------------------------


@given(
    st.one_of(st.floats(), st.integers(min_value=-(10**400), max_value=10**400), st.text(max_size=30), st.booleans())
)
def test_bounded_is_total_and_finite(value: object) -> None:
    number = bounded(value, 0.0, 1e6)
    assert number is None or (math.isfinite(number) and 0.0 <= number <= 1e6)


@pytest.mark.parametrize("value", ["1e400", "inf", "nan", "-1", "0", str(10**400)])
def test_a_timeout_setting_out_of_range_is_config_invalid(value: str) -> None:
    for name in ("XAI_OAUTH_KEYRING_TIMEOUT", "XAI_OAUTH_READ_TIMEOUT"):
        with pytest.raises(ConfigError, match=name):
            Config.from_env({name: value})
    with pytest.raises(ConfigError):
        Config(keyring_timeout=float("inf"))


@given(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.none()))
def test_a_retry_after_that_is_not_finite_is_never_reported_or_waited(retry_after: float | None) -> None:
    from xai_oauth.transport._api_errors import api_error

    error = api_error(429, {}, credential="subscription", model="xai-grok/m", retry_after=retry_after)
    said = error.details.get("retry_after")
    assert said is None or math.isfinite(said)
    wait = retry_delay(429, attempt=0, retry_after=retry_after)
    assert wait is None or 0 <= wait <= 10


def test_an_export_dict_never_holds_infinity(monkeypatch: pytest.MonkeyPatch) -> None:
    """``json.dumps`` prints ``Infinity`` (not JSON) for inf: the face turns every non-finite number into null."""

    class Boom(XaiOAuthError):
        code = "rate_limited"

    monkeypatch.setattr(exports, "_describe", lambda exc: {"ok": False, "retry_after": float("inf"), "n": [math.nan]})
    text = json.dumps(exports._failure(Boom("x")), allow_nan=False)
    assert json.loads(text) == {"ok": False, "retry_after": None, "n": [None]}


# --- URLs (item 11) ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["https://[x", "https://[evil.com].x.ai/a.png", "https://api.x.ai:99999/v1", "http://[::1"]
)
def test_a_url_setting_that_cannot_be_read_is_config_invalid(url: str) -> None:
    with pytest.raises(ConfigError):
        require_https("XAI_BASE_URL", url)
    with pytest.raises(ConfigError):
        Config(base_url=url)
    assert not is_subscription_url(url, issuer="https://auth.x.ai")
    assert not same_origin(url, url)


@given(st.text(max_size=60), st.sampled_from(["https://", "http://", "https://[", "http://[::1]", ""]))
def test_url_checks_are_total(tail: str, head: str) -> None:
    url = head + tail
    split_url(url)
    is_subscription_url(url, issuer="https://auth.x.ai")
    is_subscription_url(url, issuer=url)
    same_origin(url, "https://api.x.ai")
    try:
        require_https("XAI_BASE_URL", url)
    except ConfigError:
        pass


# --- Config(profile=...) (item 14) -----------------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["/abs/path", "../up", ".hidden", "", "a" * 65, "w/x"])
def test_a_config_profile_is_validated_like_the_setting(profile: str, isolated_home: Path) -> None:
    with pytest.raises(ConfigError, match="XAI_OAUTH_PROFILE"):
        Config(profile=profile)
    with pytest.raises(ConfigError, match="XAI_OAUTH_PROFILE"):
        Settings({"XAI_OAUTH_PROFILE": profile or "."}).profile  # noqa: B018
    assert Config(profile="work").paths.dir.startswith(str(isolated_home))


# --- redaction by value (item 16) ------------------------------------------------------------------------------


@pytest.fixture
def canaries() -> Any:
    values = ["3f2b8c1e-9a4d-4e7b-b0c6-5d1e2f3a4b5c", "deadbeefcafef00d1234567890abcdef", "0123456789abcdef"]
    for value in values:
        remember_secret(value)
    yield values
    forget_secrets()


def test_remembered_secrets_are_scrubbed_whatever_their_shape(canaries: list[str]) -> None:
    for value in canaries:
        text = f"the server said: token {value} is not valid; {value.upper()} neither"
        assert value not in scrub(text) and value not in redact(text)
    assert "grok-4.20-multi-agent-0309" in scrub("model grok-4.20-multi-agent-0309")


def test_tokens_loaded_from_a_store_are_remembered(tmp_path: Path) -> None:
    from xai_oauth.store._backends import FileStore

    forget_secrets()
    token = "11111111-2222-3333-4444-555555555555"
    write_json(
        str(tmp_path / "c.json"),
        {
            "access_token": token,
            "refresh_token": "abcdef0123456789",
            "expires_at": 2e9,
            "lifetime": 3600.0,
            "issued_at": 1e9,
        },
    )
    assert FileStore(str(tmp_path / "c.json")).load() is not None
    try:
        assert token not in scrub(f"echo {token}") and "abcdef0123456789" not in scrub("abcdef0123456789!")
    finally:
        forget_secrets()


def test_a_config_api_key_is_remembered() -> None:
    forget_secrets()
    try:
        Config(api_key="0a1b2c3d4e5f6a7b")
        assert "0a1b2c3d4e5f6a7b" not in scrub("key 0a1b2c3d4e5f6a7b refused")
    finally:
        forget_secrets()


def test_short_values_are_not_remembered() -> None:
    remember_secret("abc")
    try:
        assert scrub("abc def") == "abc def"
    finally:
        forget_secrets()
