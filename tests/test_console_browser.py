"""The console in a real browser: Debian's Chromium driven by Playwright, against a real ``xai-oauth serve``
process and the emulator, as a person looking after the pool would use it.

The story: log in with the admin key, see two accounts, add a third by
device sign-in (approved on the emulator's page, in the same browser), send
requests with the openai SDK and find them on the Requests page and in the
chart, and end a cooldown the emulator caused. The checks: another origin's
page cannot change anything, a change without the CSRF token is refused, the
cookie's flags, a wrong Host is refused, logging out ends the session, and no
page holds a token, a key, a device code, a prompt, an answer or the state
store's password.

Every page is photographed (desktop and phone width) into the test's own
folder. With ``XAI_OAUTH_UPDATE_SCREENSHOTS=1`` the overview's and the
accounts' pictures are written to ``docs/`` with the digest of the templates
they show, which ``test_console.py`` compares (``scripts/console-screenshots.sh``).

Skipped, with the reason, where Chromium or Playwright is missing;
``.ci/run`` sets ``XAI_OAUTH_TEST_REQUIRE_BROWSER=1`` so that CI fails instead.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from xai_oauth.emulator import Emulator, Fault
from xai_oauth.server._ledger import fingerprint

from .support.served import ROOT, Served, serve, sign_in
from .test_console import SCREENSHOT_DIGEST, pages_digest

REQUIRED = os.environ.get("XAI_OAUTH_TEST_REQUIRE_BROWSER") == "1"  # read before isolated_home clears XAI_*
UPDATE = os.environ.get("XAI_OAUTH_UPDATE_SCREENSHOTS") == "1"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ADMIN_KEY = "console-admin-key-" + "b" * 24
STORE_PASSWORD = "pg-canary-" + "p" * 20
STORE_URL = f"postgresql://console:{STORE_PASSWORD}@127.0.0.1:9/xai"
PROMPT = "console canary prompt: the quick brown fox jumps over the lazy dog"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
JSON = "application/json"


def missing() -> str | None:
    """Why no browser can run here, or None."""
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is not installed (scripts/os-packages.sh installs Debian's chromium as root)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install -e '.[test]')"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    reason = missing()
    if reason:
        if REQUIRED:
            pytest.fail(f"XAI_OAUTH_TEST_REQUIRE_BROWSER=1, but no browser can run: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def pool(emulator: Emulator, isolated_home: Path) -> Iterator[Served]:
    """ann and bob signed in at the emulator, served by ``xai-oauth serve`` with an admin key; the state
    store's URL carries a password, as an operator's PostgreSQL URL would."""
    env = {**os.environ, **emulator.environ(), "XAI_OAUTH_STORE_URL": STORE_URL}
    for profile in ("ann", "bob"):
        sign_in(emulator, {**env, "XAI_OAUTH_PROFILE": profile}, email=f"{profile}@example.com")
    with serve(env, "--profile", "ann", "--profile", "bob", "--admin-key", ADMIN_KEY) as running:
        yield running


class Pages:
    """Every page's HTML as the browser saw it, and its screenshots."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.html: dict[str, str] = {}
        folder.mkdir(parents=True, exist_ok=True)

    def keep(self, page: Any, name: str) -> None:
        page.wait_for_load_state("load")
        self.html[name] = page.content()
        page.screenshot(path=str(self.folder / f"{name}.png"), full_page=True)


def log_in(page: Any, served: Served) -> None:
    page.goto(served.origin + "/console/")
    page.wait_for_url("**/console/login")
    page.get_by_label("Admin key").fill(ADMIN_KEY)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/console/")


def card(page: Any, profile: str) -> Any:
    return page.locator("article.card").filter(has=page.get_by_role("heading", name=profile, exact=True))


def admin_json(served: Served, path: str) -> Any:
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {ADMIN_KEY}"})
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


def sub_of(emulator: Emulator, email: str) -> str:
    return next(g.sub for g in emulator.authority.grants.values() if g.email == email)


def test_log_in_see_the_pool_add_an_account_follow_a_request_and_end_a_cooldown(
    browser: Any, pool: Served, emulator: Emulator, tmp_path: Path
) -> None:
    import openai
    from playwright.sync_api import expect

    shots = Pages(tmp_path / "screenshots")
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.goto(pool.origin + "/console/")
    shots.keep(page, "login")
    log_in(page, pool)  # 1. the admin key opens it
    assert page.locator("article.card").count() == 2  # 2. two accounts, who they are
    assert "ann@example.com" in card(page, "ann").inner_text() and "bob@example.com" in card(page, "bob").inner_text()

    page.get_by_role("link", name="Accounts").click()  # 3. a third, by device sign-in
    page.get_by_label("Profile name").fill("cat")
    page.get_by_role("button", name="Start sign-in").click()
    page.wait_for_url("**/console/accounts/cat/signin")
    assert page.locator("svg.qr-code").count() == 1
    link = page.locator(".steps a").get_attribute("href")
    assert link and "user_code=" in link
    shots.keep(page, "signin")
    phone = browser.new_context(viewport=PHONE, storage_state=context.storage_state())
    on_phone = phone.new_page()
    on_phone.goto(page.url)
    shots.keep(on_phone, "signin-phone")
    on_phone.close()  # its script would wait for the approval too (two tabs: tests/test_console.py)
    approver = phone.new_page()  # the person's phone: the link, then Approve on the emulator's page
    approver.goto(link)
    approver.get_by_role("button", name="Approve").click()
    approver.close()
    page.wait_for_url("**/console/accounts", timeout=60_000)  # the page noticed by itself
    expect(page.locator(".flash", has_text="joined the pool as cat")).to_be_visible()
    assert page.locator("article.card").count() == 3
    assert [r["profile"] for r in admin_json(pool, "/admin/accounts")["accounts"]] == ["ann", "bob", "cat"]
    for profile in ("ann", "bob", "cat"):  # each account's usage meter, read from xAI (/billing) again
        card(page, profile).get_by_role("button", name="Read usage again").click()
        page.wait_for_url("**/console/accounts")
        expect(page.locator(".flash", has_text=f"Usage of {profile} read again from xAI: 12.5 %")).to_be_visible()
    assert card(page, "ann").locator("meter").get_attribute("value") == "12.5"
    assert "lasts the period" in card(page, "ann").inner_text()  # 12.5 % in two days of a week

    client = pool.keep(openai.OpenAI(base_url=pool.base_url, api_key=pool.key, max_retries=0))  # 4. a request
    answers = []
    for model in ("grok-4.3", "grok-4.3", "grok-4-fast"):
        answer = client.chat.completions.create(model=model, messages=[{"role": "user", "content": PROMPT}])
        answers.append(answer.choices[0].message.content or "")

    page.get_by_role("link", name="Requests").click()  # 5. on the Requests page and in the chart
    rows = page.locator("table.requests tbody tr")
    assert rows.count() == 3
    newest = rows.first.inner_text()
    assert "grok-4-fast" in newest and "ann" in newest and "200" in newest and fingerprint(pool.key) in newest
    page.get_by_label("Model").select_option("grok-4.3")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**model=grok-4.3**")
    assert rows.count() == 2
    shots.keep(page, "requests")
    page.get_by_role("link", name="Overview").click()
    [hour] = page.locator("svg.bars").first.locator(".hours title").all_text_contents()  # all in this hour
    assert hour.endswith("grok-4.3: 2 · grok-4-fast: 1"), hour
    assert "0.0 %" in page.locator(".rate").inner_text()
    page.get_by_role("link", name="by key").click()
    [hour] = page.locator("svg.bars").first.locator(".hours title").all_text_contents()
    assert hour.endswith(f"{fingerprint(pool.key)}: 3"), hour
    page.get_by_role("link", name="7 days").click()
    page.get_by_role("link", name="by model").click()
    shots.keep(page, "overview-7d")

    ann = sub_of(emulator, "ann@example.com")  # 7. a cooldown the emulator caused, ended from the page
    emulator.inject(
        Fault("/v1/chat/completions", status=429, account=ann, retry_after=600, body="{}", content_type=JSON)
    )
    client.chat.completions.create(model="grok-4.3", messages=[{"role": "user", "content": PROMPT}])  # bob answers
    page.get_by_role("link", name="24 hours").click()
    assert "Out: rate_limited" in card(page, "ann").inner_text()
    expect(page.locator(".rate")).to_contain_text("(0 of 4 requests")  # the client got its answer: no error
    shots.keep(page, "overview")
    page.get_by_role("link", name="Accounts").click()
    assert re.search(r"back in (9|10) min", card(page, "ann").inner_text())
    shots.keep(page, "accounts")
    with_phone = phone.new_page()
    for name, path in (("overview-phone", "/console/"), ("accounts-phone", "/console/accounts")):
        with_phone.goto(pool.origin + path)
        width = with_phone.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{name} scrolls sideways at phone width ({width} px)"
        shots.keep(with_phone, name)
    card(page, "ann").get_by_role("button", name="Reset cooldown").click()
    page.wait_for_url("**/console/accounts")
    expect(page.locator(".flash", has_text="The cooldowns of ann are over")).to_be_visible()
    assert "Out:" not in card(page, "ann").inner_text() and "Serving" in card(page, "ann").inner_text()
    assert admin_json(pool, "/admin/accounts")["accounts"][0]["cooldowns"] == []

    page.get_by_role("link", name="Settings").click()
    assert "postgresql://console@127.0.0.1:9/xai" in page.content()
    assert "1.0.6 (built-in)" in page.locator(".settings").inner_text()  # the version the proxy is told
    shots.keep(page, "settings")
    page.get_by_role("link", name="Overview").click()
    shots.keep(page, "overview-after")
    phone.close()
    context.close()

    scan(shots.html, pool, emulator, answers)
    if UPDATE:
        docs = ROOT / "docs"
        docs.mkdir(exist_ok=True)
        shutil.copy(shots.folder / "overview.png", docs / "console-overview.png")
        shutil.copy(shots.folder / "accounts.png", docs / "console-accounts.png")
        SCREENSHOT_DIGEST.write_text(pages_digest() + "\n")


def scan(pages: dict[str, str], served: Served, emulator: Emulator, answers: list[str]) -> None:
    """No page holds a token, a key, a device code, the prompt, an answer or the state store's password."""
    home = Path(os.environ["XAI_OAUTH_HOME"])
    secrets = {ADMIN_KEY, served.key, STORE_PASSWORD, PROMPT, *emulator.authority.devices}
    secrets |= {g.refresh_token for g in emulator.authority.grants.values()}
    for path in [*home.rglob("credentials.json"), *home.rglob("access-token.json")]:
        secrets |= set(_tokens(json.loads(path.read_text())))
    secrets |= {a for a in answers if len(a) >= 16}
    assert sum(s.startswith("ey") for s in secrets) >= 3  # the access tokens (JWTs) of ann, bob and cat are in it
    assert len(emulator.authority.devices) >= 3 and any(len(a) >= 16 for a in answers)
    seen = "\n".join(pages.values())
    assert len(pages) >= 8 and "ann@example.com" in seen  # the scan read real pages
    leaked = {name: [s[:8] for s in secrets if s in html] for name, html in pages.items()}
    assert not any(leaked.values()), leaked


def _tokens(data: Any) -> Iterator[str]:
    """Every string kept under a key that names a token, anywhere in ``data``."""
    if isinstance(data, dict):
        for name, value in data.items():
            if isinstance(value, str) and "token" in name:
                yield value
            else:
                yield from _tokens(value)
    elif isinstance(data, list):
        for item in data:
            yield from _tokens(item)


class _Attacker(BaseHTTPRequestHandler):
    """A page of another origin (another loopback port): it posts a form to the console and tries to read it."""

    target = ""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        page = f"""<!doctype html><html><head><title>waiting</title></head><body>
<form id="f" method="post" action="{self.target}/console/accounts/ann/remove">
<input type="hidden" name="csrf" value="guessed"></form>
<script>
fetch("{self.target}/console/", {{credentials: "include"}})
  .then(function (r) {{ return r.text(); }})
  .then(function () {{ document.title = "read"; }}, function () {{ document.title = "blocked"; }})
  .then(function () {{ document.getElementById("f").submit(); }});
</script></body></html>"""
        body = page.encode()
        self.send_response(200)
        self.send_header("content-type", "text/html")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def raw(served: Served, method: str, path: str, headers: dict[str, str], body: str = "") -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
    try:
        conn.request(method, path, body=body or None, headers=headers)
        answer = conn.getresponse()
        return answer.status, answer.read().decode()
    finally:
        conn.close()


def test_another_origin_no_token_a_wrong_host_and_the_cookie_are_all_handled(browser: Any, pool: Served) -> None:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.goto(pool.origin + "/console/login")  # from the keyboard: the key's field has the focus, Enter logs in
    page.keyboard.type(ADMIN_KEY)
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/")
    page.keyboard.press("Tab")  # the first stop is the link that skips to the content
    assert page.evaluate("document.activeElement.textContent") == "Skip to the content"
    [cookie] = context.cookies()
    assert cookie["name"] == "xai_oauth_console" and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/console" and not cookie["secure"]  # plain http here; Secure over https
    assert time.time() + 3600 < cookie["expires"] <= time.time() + 8 * 3600 + 60
    csrf = page.locator('meta[name="csrf-token"]').get_attribute("content")

    _Attacker.target = pool.origin
    attacker = ThreadingHTTPServer(("127.0.0.1", 0), _Attacker)
    thread = threading.Thread(target=attacker.serve_forever, daemon=True)
    thread.start()
    try:
        other = context.new_page()  # the same browser, logged in, visits another origin's page
        with other.expect_response(lambda r: r.url.endswith("/remove")) as answered:
            other.goto(f"http://127.0.0.1:{attacker.server_address[1]}/")
        assert answered.value.status == 403
        assert other.title() != "read"  # the cross-origin read was blocked (no CORS)
    finally:
        attacker.shutdown()
        attacker.server_close()
    assert [r["profile"] for r in admin_json(pool, "/admin/accounts")["accounts"]] == ["ann", "bob"]

    no_token = context.request.post(pool.origin + "/console/accounts/ann/remove", form={"profile": "ann"})
    wrong = context.request.post(pool.origin + "/console/accounts/ann/remove", form={"csrf": "x" * 43})
    assert no_token.status == 403 and wrong.status == 403
    assert [r["profile"] for r in admin_json(pool, "/admin/accounts")["accounts"]] == ["ann", "bob"]

    session = f"xai_oauth_console={cookie['value']}"
    for host in (f"evil.example:{pool.port}", f"127.0.0.1.nip.io:{pool.port}", "localhost:1"):
        assert raw(pool, "GET", "/console/", {"Host": host, "Cookie": session})[0] == 421
    assert raw(pool, "GET", "/console/", {"Host": f"localhost:{pool.port}", "Cookie": session})[0] == 200
    form = f"csrf={csrf}"
    headers = {
        "Host": f"evil.example:{pool.port}",
        "Cookie": session,
        "Content-Type": "application/x-www-form-urlencoded",
    }
    assert raw(pool, "POST", "/console/accounts/ann/remove", headers, form)[0] == 421

    page.get_by_role("button", name="Log out").click()  # logging out ends the session, even for a copied cookie
    page.wait_for_url("**/console/login")
    assert context.cookies() == []
    assert raw(pool, "GET", "/console/", {"Host": f"127.0.0.1:{pool.port}", "Cookie": session})[0] == 303
    assert raw(pool, "GET", "/console/", {"Host": f"127.0.0.1:{pool.port}"})[0] == 303
    context.close()
