"""What ``GET /metrics`` shows, in Prometheus's text format: requests, tokens, upstream latency, accounts cooling.

Each app has a registry of its own (not the library's global one), so a
process may build several apps (the tests do) and each counts only its own
requests. Names follow Prometheus's conventions (``_total`` for counters,
``_seconds`` for durations). Labels are bounded: a status, a model id the
server accepted, a profile name; never a key, a prompt or a client address.

``/metrics`` sits behind the admin door (loopback and the admin key, see
``_admin``): a scraper sends the admin key as a bearer token
(``authorization.credentials_file`` in Prometheus's scrape config).
"""

from __future__ import annotations

from collections.abc import Callable

from ._ledger import Note

__all__ = ["CONTENT_TYPE", "Metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: Upstream latency buckets, in seconds: a first token arrives in well under a second to about a minute.
BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class Metrics:
    """The app's counters, and the text a scrape reads."""

    def __init__(self, cooling: Callable[[], int]) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "xai_oauth_requests",
            "Requests answered, by HTTP status, model and the account (profile) that served them.",
            ("status", "model", "account"),
            registry=self.registry,
        )
        self.tokens = Counter(
            "xai_oauth_tokens",
            "Tokens served, by kind (input, output, cached: the part of input served from xAI's prompt cache).",
            ("kind", "account"),
            registry=self.registry,
        )
        self.upstream = Histogram(
            "xai_oauth_upstream_seconds",
            "Seconds from sending a request upstream to its first event (or its refusal), per attempt.",
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.cooling = Gauge(
            "xai_oauth_accounts_cooling",
            "Accounts of the pool out now (cooling, or waiting for a sign-in).",
            registry=self.registry,
        )
        self.cooling.set_function(lambda: float(cooling()))

    def record(self, note: Note, status: int) -> None:
        """Count one finished request."""
        account = note.account or "-"
        self.requests.labels(str(status), note.model or "-", account).inc()
        for kind in ("input", "output", "cached"):
            amount = getattr(note, f"{kind}_tokens")
            if amount:
                self.tokens.labels(kind, account).inc(amount)
        for seconds in note.upstream_seconds:
            self.upstream.observe(seconds)

    def render(self) -> bytes:
        from prometheus_client import generate_latest

        return generate_latest(self.registry)

    def __repr__(self) -> str:
        return "Metrics()"
