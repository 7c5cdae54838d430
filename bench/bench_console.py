"""Each console page's load time from a local server holding 30 days of history: ``python bench/bench_console.py``.

The server is the real app (``create_app``) on uvicorn in this process, on a
loopback socket, with three accounts signed in at the emulator. Its
``History`` is filled first with 30 days of traffic (every hour: several
keys, accounts and models; the ring of recent requests full). Each page is
then fetched over HTTP with a logged-in session, alternately with
``/healthz`` (the same socket round trip with no page behind it), and the
medians and 95th percentiles are reported, with each page's ratio to
``/healthz``. The goal: every page under 100 ms.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import re
import statistics
import sys
import tempfile
import threading
import time
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

DAYS = 30
REQUESTS_PER_HOUR = 24
ADMIN_KEY = "bench-admin-key-" + "a" * 24
CLIENT_KEY = "bench-client-key-" + "c" * 24
GOAL_MS = 100.0
PAGES = (
    "/console/",
    "/console/?span=7d&by=key",
    "/console/?span=7d&by=account",
    "/console/accounts",
    "/console/requests",
    "/console/requests?model=grok-4-fast&status=2xx",
    "/console/settings",
)


def fill(history: Any, now: float, days: int = DAYS, seed: int = 1) -> int:
    """``days`` of traffic ending ``now``: five keys, three accounts, four models, a few errors."""
    from xai_oauth.server._ledger import Note

    rng = random.Random(seed)
    keys = [f"sha256:{i:012x}" for i in range(5)]
    accounts, models = ["ann", "bob", "cat"], ["grok-4.3", "grok-4-fast", "grok-code-fast-1", "grok-4.20"]
    count = 0
    for hour in range(days * 24, 0, -1):
        for _ in range(REQUESTS_PER_HOUR):
            at = now - hour * 3600 + rng.random() * 3600
            note = Note(rng.choice(accounts), rng.choice(models), rng.randint(100, 9000), rng.randint(10, 2000))
            history.record(at, rng.choice(keys), note, 200 if rng.random() > 0.03 else 429, rng.random() * 8)
            count += 1
    return count


def _serve(app: Any) -> tuple[Any, int, threading.Thread]:
    import socket

    import uvicorn

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    return server, listener.getsockname()[1], thread


def _get(port: int, path: str, cookie: str = "") -> tuple[int, bytes, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    start = time.perf_counter()
    conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
    answer = conn.getresponse()
    body = answer.read()
    took = time.perf_counter() - start
    conn.close()
    return answer.status, body, took


def _log_in(port: int) -> str:
    status, page, _ = _get(port, "/console/login")
    token = re.search(rb'name="login_token" value="([^"]+)"', page).group(1).decode()  # type: ignore[union-attr]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body = f"login_token={token}&admin_key={ADMIN_KEY}"
    conn.request("POST", "/console/login", body=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    answer = conn.getresponse()
    answer.read()
    cookie = answer.getheader("set-cookie", "").split(";")[0]
    conn.close()
    return cookie


def measure(rounds: int = 30) -> dict[str, Any]:
    from xai_oauth import Account, Config
    from xai_oauth.emulator import Emulator
    from xai_oauth.server._app import ServeSettings, create_app
    from xai_oauth.server._keys import ClientKeys

    with tempfile.TemporaryDirectory() as home, Emulator(interval=1.0) as emulator:
        env = {**os.environ, **emulator.environ(), "XAI_OAUTH_HOME": home, "XAI_OAUTH_STORE": "file"}
        accounts = []
        for profile in ("ann", "bob", "cat"):
            account = Account(Config.from_env({**env, "XAI_OAUTH_PROFILE": profile}))
            started = account.start()
            emulator.approve(started["user_code"], email=f"{profile}@example.com")
            account.poll()
            accounts.append(account)
        settings = ServeSettings(
            keys=ClientKeys((CLIENT_KEY,), "bench", True), admin_keys=ClientKeys((ADMIN_KEY,), "bench", True)
        )
        app = create_app(settings, accounts)
        history = app.admin.history
        recorded = fill(history, time.time())
        server, port, thread = _serve(app)
        try:
            cookie = _log_in(port)
            samples: dict[str, list[float]] = {path: [] for path in ("/healthz", *PAGES)}
            sizes: dict[str, int] = {}
            for round_ in range(rounds + 3):  # three rounds to warm up (templates compile on first use)
                for path in PAGES:
                    for target in ("/healthz", path):
                        status, body, took = _get(port, target, cookie if target != "/healthz" else "")
                        if status != 200:
                            raise RuntimeError(f"{target} answered {status}: {body[:200]!r}")
                        if round_ >= 3:
                            samples[target].append(took * 1000)
                            sizes[target] = len(body)
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            for account in accounts:
                account.close()
    healthz = statistics.median(samples["/healthz"])
    pages = {
        path: {
            "median_ms": round(statistics.median(values), 2),
            "p95_ms": round(sorted(values)[int(len(values) * 0.95) - 1], 2),
            "ratio_to_healthz": round(statistics.median(values) / healthz, 1),
            "kilobytes": round(sizes[path] / 1024, 1),
        }
        for path, values in samples.items()
        if path != "/healthz"
    }
    return {
        "days_of_history": DAYS,
        "requests_recorded": recorded,
        "healthz_median_ms": round(healthz, 2),
        "pages": pages,
        "goal_ms": GOAL_MS,
        "met_goal": all(p["p95_ms"] < GOAL_MS for p in pages.values()),
    }


if __name__ == "__main__":
    print(json.dumps(measure(), indent=2))
