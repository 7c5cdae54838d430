"""The console's parts without a browser: the history it draws from, its charts' geometry, its sessions, its
door, and the whole app over ASGI (https, wrong Host, other sites' changes, headers).

The browser story is ``test_console_browser.py``; these pin the rules it
relies on, each on the smallest piece that holds it, with a fake clock where
time decides.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from xai_oauth.emulator import Emulator
from xai_oauth.server._admin_actions import parse_since, runs_out_at
from xai_oauth.server._guard import Refusal
from xai_oauth.server._history import DAY, HOUR, History, HourRow
from xai_oauth.server._keys import ClientKeys
from xai_oauth.server._ledger import Note
from xai_oauth.server.console._charts import MAX_SERIES, OTHER, compact, stacked_bars
from xai_oauth.server.console._door import CONTENT_SECURITY_POLICY, allowed_hosts
from xai_oauth.server.console._sessions import LOGIN_TOKEN_SECONDS, MAX_SESSIONS, Sessions, csrf_ok, set_cookie
from xai_oauth.server.console._views import account_card, traffic

from .support.served import CLIENT_KEY, ROOT, sign_in

ADMIN_KEY = "console-admin-key-" + "a" * 24
CONSOLE_DIR = ROOT / "xai_oauth" / "server" / "console"
#: The digest of the templates and static files the committed screenshots show (written with them).
SCREENSHOT_DIGEST = ROOT / "docs" / "console-screenshots.sha256"
SCREENSHOTS = (ROOT / "docs" / "console-overview.png", ROOT / "docs" / "console-accounts.png")
T0 = 1_750_000_000.0 - (1_750_000_000.0 % HOUR)


def note(
    account: str | None = "ann", model: str | None = "grok-4.3", tokens: tuple[int, int, int] = (10, 5, 2)
) -> Note:
    return Note(account=account, model=model, input_tokens=tokens[0], output_tokens=tokens[1], cached_tokens=tokens[2])


# -- History --------------------------------------------------------------------------------------------------


def test_history_counts_each_hour_by_key_account_and_model() -> None:
    history = History()
    history.record(T0 + 10, "sha256:aaa", note(), 200, 0.5)
    history.record(T0 + 20, "sha256:aaa", note(model="grok-4-fast"), 429, 0.1)
    history.record(T0 + HOUR + 5, None, note(account=None, model=None, tokens=(0, 0, 0)), 503, 0.2)
    assert history.hours(T0, "key") == [
        HourRow(int(T0), "sha256:aaa", 2, 20, 10, 4, 1),
        HourRow(int(T0 + HOUR), "-", 1, 0, 0, 0, 1),
    ]
    assert [(r.name, r.requests) for r in history.hours(T0, "model")] == [("grok-4-fast", 1), ("grok-4.3", 1), ("-", 1)]
    assert [r.hour for r in history.hours(T0 + HOUR + 30, "account")] == [int(T0 + HOUR)]  # from the hour it falls in
    with pytest.raises(ValueError):
        history.hours(T0, "prompt")


def test_history_forgets_hours_older_than_its_retention_and_keeps_a_bounded_ring() -> None:
    history = History(retention=2 * DAY, keep=3)
    for day in range(5):
        history.record(T0 + day * DAY, "k", note(), 200, 0.1)
    assert [r.hour for r in history.hours(0, "key")] == [int(T0 + d * DAY) for d in (2, 3, 4)]
    assert [r.at for r in history.recent()] == [T0 + d * DAY for d in (4, 3, 2)]  # newest first, three kept
    with pytest.raises(ValueError):
        History(retention=0)


def test_recent_requests_filter_by_any_field_and_status_class() -> None:
    history = History()
    history.record(T0, "k1", note(account="ann"), 200, 1.25)
    history.record(T0 + 1, "k2", note(account="bob", model="grok-4-fast"), 429, 0.5)
    history.record(T0 + 2, "k1", note(account="bob"), 502, 0.5)
    assert [r.at for r in history.recent(account="bob")] == [T0 + 2, T0 + 1]
    assert [r.status for r in history.recent(status="4xx")] == [429]
    assert [r.status for r in history.recent(status="502", client="k1")] == [502]
    assert [r.model for r in history.recent(model="grok-4.3", account="")] == ["grok-4.3", "grok-4.3"]
    assert len(history.recent(limit=1)) == 1
    row = history.recent(client="k1", account="ann")[0]
    assert (row.input_tokens, row.output_tokens, row.seconds) == (10, 5, 1.25)
    with pytest.raises(ValueError):
        history.recent(prompt="x")


# -- the meter's outlook, spans -------------------------------------------------------------------------------


def test_runs_out_at_extrapolates_the_period_so_far() -> None:
    period = {"start": "2026-01-01T00:00:00Z", "end": "2026-01-08T00:00:00Z"}
    start = 1767225600.0  # 2026-01-01T00:00:00Z
    assert runs_out_at(50.0, period, start + 2 * DAY) == start + 4 * DAY  # half in two days: out on day four
    assert runs_out_at(10.0, period, start + 2 * DAY) is None  # would take 20 days: lasts the week
    assert runs_out_at(100.0, period, start + DAY) == start + DAY
    for percent, shape in ((None, period), (0, period), (50, {}), (50, {"start": "soon"}), (float("nan"), period)):
        assert runs_out_at(percent, shape, start + DAY) is None


def test_parse_since_reads_spans_and_refuses_nonsense() -> None:
    assert parse_since("24h", 1000.0 * DAY) == 999.0 * DAY
    assert parse_since("7d", 100.0 * DAY) == 93.0 * DAY
    assert parse_since("90m", 10_000.0) == 10_000.0 - 5400
    assert parse_since(None, 5.0 * DAY) == 4.0 * DAY
    for text in ("-1h", "x", "0", "nanh", "infd"):
        with pytest.raises(Refusal):
            parse_since(text, 1e9)


# -- charts ---------------------------------------------------------------------------------------------------


def test_stacked_bars_stack_by_name_scale_to_a_nice_top_and_merge_the_rest_as_other() -> None:
    rows = [HourRow(int(T0), f"m{i}", 10 + i, 0, 0, 0, 0) for i in range(MAX_SERIES + 2)]
    rows.append(HourRow(int(T0 + HOUR), "m0", 3, 0, 0, 0, 0))
    chart = stacked_bars(
        rows,
        start_hour=int(T0),
        hours=24,
        value=lambda r: r.requests,
        title="t",
        hour_label=str,
        tick_label=lambda h: None,
    )
    names = [s.name for s in chart.series]
    assert len(names) == MAX_SERIES and names[-1] == OTHER and names[0] == "m7"
    assert chart.total == sum(r.requests for r in rows)
    first_hour = [b for b in chart.bars if b.x < chart.left + (chart.right - chart.left) / 24]
    assert len(first_hour) == MAX_SERIES  # five named and one "other" in the first hour
    top = float(chart.y_ticks[-1].label)
    assert top == 200 and sum(r.requests for r in rows[:-1]) <= top  # 108 in the first hour: the top is 200
    plot = chart.bottom - chart.top
    assert sum(b.height for b in first_hour) == pytest.approx(plot * 108 / 200, abs=0.1)
    assert len(chart.paths) == MAX_SERIES and len(chart.columns) == 2  # one path per series, one column per hour
    assert chart.columns[1].title.endswith("m0: 3")
    assert compact(1234) == "1.2k" and compact(2_500_000) == "2.5M" and compact(7) == "7"


def test_traffic_spans_and_error_rate(tmp_path: Path) -> None:
    history = History()
    now = T0 + 30 * 60
    history.record(now - 3 * DAY, "k", note(), 200, 0.1)  # in 7 days, not in 24 hours
    history.record(now - 60, "k", note(), 200, 0.1)
    history.record(now - 30, "k", note(), 500, 0.1)
    day, week = traffic(history, "24h", "model", now), traffic(history, "7d", "key", now)
    assert (day.total_requests, day.errors, day.error_rate) == (2, 1, 0.5)
    assert week.total_requests == 3 and week.totals[0]["name"] == "k" and len(week.requests.x_ticks) >= 6
    assert day.tokens.total == 2 * 15
    assert traffic(history, "bogus", "prompt", now).span == "24h"


def test_an_account_card_says_when_the_period_runs_out_and_counts_down_a_cooldown() -> None:
    row = {
        "profile": "ann",
        "account": "ann@example.com",
        "tier": "SuperGrok",
        "usage_percent": 40.0,
        "usage_period": {"type": "USAGE_PERIOD_TYPE_WEEKLY", "end": "2026-01-08T00:00:00Z"},
        "usage_runs_out_at": T0 + 2 * DAY,
        "cooldowns": [{"reason": "rate_limited", "until": T0 + 125, "message": "slow down"}],
    }
    card = account_card(row, T0)
    assert card["period"] == "weekly" and "runs out" in card["outlook"]
    assert card["cooldowns"][0]["left"] == "2 min 5 s" and card["cooldowns"][0]["reason"] == "rate_limited"
    lasting = account_card({**row, "usage_runs_out_at": None}, T0)
    assert "lasts the period" in lasting["outlook"]
    assert "No reading" in account_card({"profile": "x"}, T0)["outlook"]


# -- sessions and the door ------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def test_sessions_end_when_they_expire_or_log_out_and_login_tokens_are_signed_and_expire() -> None:
    clock = Clock()
    sessions = Sessions(now=clock, lifetime=100)
    cookie, session = sessions.open()
    assert sessions.find(cookie) is session and sessions.find(cookie + "x") is None and sessions.find(None) is None
    assert csrf_ok(session, session.csrf) and not csrf_ok(session, "") and not csrf_ok(session, session.csrf[:-1])
    clock.now += 100
    assert sessions.find(cookie) is None  # expired
    cookie, _ = sessions.open()
    sessions.close(cookie)
    assert sessions.find(cookie) is None  # logged out
    token = sessions.login_token()
    assert sessions.login_token_ok(token)
    issued, _, signature = token.partition(".")
    assert not sessions.login_token_ok(f"{int(issued) + 1}.{signature}")  # a forged time
    assert not Sessions(now=clock).login_token_ok(token)  # another process's secret
    clock.now += LOGIN_TOKEN_SECONDS + 1
    assert not sessions.login_token_ok(token)
    cookies = [sessions.open()[0] for _ in range(MAX_SESSIONS + 5)]
    assert sessions.find(cookies[0]) is None and sessions.find(cookies[-1]) is not None  # bounded


def test_the_cookie_is_httponly_strict_scoped_expiring_and_secure_only_over_https() -> None:
    plain = set_cookie("v", max_age=60, secure=False)
    assert "HttpOnly" in plain and "SameSite=Strict" in plain and "Path=/console" in plain and "Max-Age=60" in plain
    assert "Secure" not in plain and set_cookie("v", max_age=60, secure=True).endswith("; Secure")


def test_allowed_hosts_are_the_listening_address_and_for_loopback_its_names() -> None:
    assert allowed_hosts(("127.0.0.1", 8787), "http") == {"127.0.0.1:8787", "localhost:8787", "[::1]:8787"}
    assert allowed_hosts(("::1", 8787), "http") == {"[::1]:8787", "127.0.0.1:8787", "localhost:8787"}
    assert allowed_hosts(("192.168.1.5", 80), "http") == {"192.168.1.5:80", "192.168.1.5"}
    assert allowed_hosts(None, "http") == frozenset()


# -- the whole app over ASGI ----------------------------------------------------------------------------------


@pytest.fixture
def app(emulator: Emulator, isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """What ``create_app`` needs: the settings, and two accounts (ann, bob) signed in at the emulator (whose
    settings are this process's too, as a server's are: a new sign-in reads them)."""
    from xai_oauth import Account, Config
    from xai_oauth.server._app import ServeSettings

    for name, value in emulator.environ().items():
        monkeypatch.setenv(name, value)
    env = {**os.environ, **emulator.environ()}
    accounts = []
    for profile in ("ann", "bob"):
        sign_in(emulator, {**env, "XAI_OAUTH_PROFILE": profile}, email=f"{profile}@example.com")
        accounts.append(Account(Config.from_env({**env, "XAI_OAUTH_PROFILE": profile})))
    settings = ServeSettings(
        keys=ClientKeys((CLIENT_KEY,), "test", True), admin_keys=ClientKeys((ADMIN_KEY,), "test", True)
    )
    yield settings, accounts
    for account in accounts:
        account.close()


def run(app: Any, base: str, steps: Any) -> Any:
    """``steps(client)`` against a fresh app on one event loop (its upstream client closed after)."""
    from xai_oauth.server._app import create_app
    from xai_oauth.transport._http import AsyncHttp

    async def go() -> Any:
        http = AsyncHttp()
        served = create_app(*app, http=http)
        transport = httpx2.ASGITransport(served, client=("127.0.0.1", 40000))
        try:
            async with httpx2.AsyncClient(transport=transport, base_url=base) as client:
                return await steps(client)
        finally:
            await http.aclose()
            for member in served.admin.pool.members:  # an account signed in here (the fixture closes its own)
                member.upstream.account.close()

    return asyncio.run(go())


async def log_in(client: Any) -> str:
    """Log in; the session's CSRF token."""
    page = await client.get("/console/login")
    token = re.search(r'name="login_token" value="([^"]+)"', page.text).group(1)
    done = await client.post("/console/login", data={"login_token": token, "admin_key": ADMIN_KEY})
    assert done.status_code == 303, done.text
    overview = await client.get("/console/")
    return re.search(r'name="csrf-token" content="([^"]+)"', overview.text).group(1)


def test_over_https_the_cookie_is_secure_and_every_page_carries_the_security_headers(app: Any) -> None:
    async def steps(client: Any) -> None:
        await log_in(client)
        for path in ("/console/", "/console/accounts", "/console/requests", "/console/settings", "/console/login"):
            answer = await client.get(path, follow_redirects=True)
            assert answer.status_code == 200, (path, answer.text[:300])
            assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
            assert "unsafe-inline" not in CONTENT_SECURITY_POLICY and "unsafe-eval" not in CONTENT_SECURITY_POLICY
            assert answer.headers["x-content-type-options"] == "nosniff"
            assert answer.headers["referrer-policy"] == "no-referrer" and answer.headers["x-frame-options"] == "DENY"
            assert not [k for k in answer.headers if k.lower().startswith("access-control-")]
            assert "<script>" not in answer.text and " on" + "click=" not in answer.text  # no inline script

    run(app, "https://127.0.0.1", steps)

    async def login_only(client: Any) -> list[str]:
        page = await client.get("/console/login")
        token = re.search(r'name="login_token" value="([^"]+)"', page.text).group(1)
        done = await client.post("/console/login", data={"login_token": token, "admin_key": ADMIN_KEY})
        return done.headers.get_list("set-cookie")

    [secure] = run(app, "https://127.0.0.1", login_only)
    [plain] = run(app, "http://127.0.0.1", login_only)
    assert secure.endswith("; Secure") and "HttpOnly" in secure and "SameSite=Strict" in secure
    assert "Secure" not in plain


def test_a_wrong_host_a_preflight_and_another_sites_post_are_refused(app: Any) -> None:
    async def steps(client: Any) -> dict[str, int]:
        csrf = await log_in(client)
        wrong = await client.get("/console/", headers={"Host": "evil.example:80"})
        preflight = await client.options("/console/accounts/ann/reset")
        form = {"csrf": csrf}
        cross = await client.post("/console/accounts/ann/reset", data=form, headers={"Origin": "http://evil.example"})
        fetched = await client.post("/console/accounts/ann/reset", data=form, headers={"Sec-Fetch-Site": "cross-site"})
        no_token = await client.post("/console/accounts/ann/reset", data={})
        wrong_token = await client.post("/console/accounts/ann/reset", data={"csrf": csrf + "x"})
        same = await client.post(
            "/console/accounts/ann/reset",
            data=form,
            headers={"Origin": "http://127.0.0.1", "Sec-Fetch-Site": "same-origin"},
        )
        login = await client.post("/console/login", data={"admin_key": ADMIN_KEY})  # no login token
        return {
            "wrong": wrong.status_code,
            "preflight": preflight.status_code,
            "cross": cross.status_code,
            "fetched": fetched.status_code,
            "no_token": no_token.status_code,
            "wrong_token": wrong_token.status_code,
            "same": same.status_code,
            "login": login.status_code,
        }

    statuses = run(app, "http://127.0.0.1", steps)
    assert statuses == {
        "wrong": 421,
        "preflight": 405,
        "cross": 403,
        "fetched": 403,
        "no_token": 403,
        "wrong_token": 403,
        "same": 303,
        "login": 403,
    }


def test_history_and_requests_in_the_json_api_say_what_the_console_shows(app: Any) -> None:
    async def steps(client: Any) -> tuple[Any, ...]:
        body = {"model": "grok-4.3", "messages": [{"role": "user", "content": "hello"}]}
        chat = await client.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {CLIENT_KEY}"})
        admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
        hours = await client.get("/admin/history?by=model&since=24h", headers=admin)
        recent = await client.get("/admin/requests?model=grok-4.3", headers=admin)
        bad = await client.get("/admin/history?by=prompt", headers=admin)
        keyless = await client.get("/admin/requests", headers={"Authorization": f"Bearer {CLIENT_KEY}"})
        csrf = await log_in(client)
        page = await client.get("/console/requests?model=grok-4.3")
        usage = await client.post("/console/accounts/ann/usage", data={"csrf": csrf}, follow_redirects=True)
        return chat, hours, recent, bad, keyless, page, usage

    chat, hours, recent, bad, keyless, page, usage = run(app, "http://127.0.0.1", steps)
    assert chat.status_code == 200, chat.text
    [hour] = hours.json()["hours"]
    assert hour["name"] == "grok-4.3" and hour["requests"] == 1 and hour["output_tokens"] > 0
    [row] = recent.json()["requests"]
    assert row["account"] == "ann" and row["status"] == 200 and row["client"].startswith("sha256:")
    assert CLIENT_KEY not in recent.text and bad.status_code == 400 and keyless.status_code == 401
    assert row["client"] in page.text and ">ann<" in page.text
    assert "read again from xAI: 12.5 %" in usage.text


def test_a_sign_in_two_tabs_wait_for_ends_well_in_both(app: Any, emulator: Emulator) -> None:
    """Two pages waiting for one approval: the first to ask adds the account, the second hears it is in the pool."""

    async def steps(client: Any) -> list[Any]:
        csrf = await log_in(client)
        started = await client.post("/console/accounts", data={"csrf": csrf, "profile": "cat"})
        assert started.headers["location"] == "/console/accounts/cat/signin"
        page = await client.get("/console/accounts/cat/signin")
        code = re.search(r'<strong class="code">([^<]+)</strong>', page.text).group(1)
        headers = {"X-CSRF-Token": csrf, "Accept": "application/json"}
        waiting = (await client.post("/console/accounts/cat/poll", headers=headers)).json()
        assert emulator.approve(code, email="cat@example.com")
        first = (await client.post("/console/accounts/cat/poll", headers=headers)).json()
        second = (await client.post("/console/accounts/cat/poll", headers=headers)).json()
        return [waiting, first, second, "device_code" in page.text]

    waiting, first, second, shows_device_code = run(app, "http://127.0.0.1", steps)
    assert waiting["status"] == "pending" and "next" not in waiting
    assert first["status"] == "connected" and "joined the pool as cat" in first["message"]
    assert second == {"status": "connected", "message": "cat is in the pool.", "next": "/console/accounts"}
    assert not shows_device_code


# -- the committed screenshots --------------------------------------------------------------------------------


def pages_digest() -> str:
    """SHA-256 over the console's templates and static files (names and bytes): what a screenshot shows."""
    digest = hashlib.sha256()
    for path in sorted([*(CONSOLE_DIR / "templates").rglob("*"), *(CONSOLE_DIR / "static").rglob("*")]):
        if path.is_file():
            digest.update(path.relative_to(CONSOLE_DIR).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def test_the_screenshots_in_docs_show_the_pages_as_they_are() -> None:
    """The README's pictures are taken again whenever a template or a static file changes."""
    assert all(path.is_file() for path in SCREENSHOTS), "docs/console-*.png are missing"
    recorded = SCREENSHOT_DIGEST.read_text().strip() if SCREENSHOT_DIGEST.is_file() else ""
    assert recorded == pages_digest(), (
        "The console's templates or static files changed since docs/console-*.png were taken: "
        "run scripts/console-screenshots.sh and commit the pictures it writes."
    )
