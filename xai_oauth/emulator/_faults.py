"""Which canned misbehaviour the next request to a path meets: the ``Fault`` a test injects.

A fault may aim at one account (``account``: its ``sub`` or email), so a test
of a pool of sign-ins can make one account cool while the others serve.

Its own module because both the server (which keeps the injected faults) and the routes (which play them) need
it, and the control endpoints build one from JSON.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

__all__ = ["Fault"]


@dataclass
class Fault:
    """A canned misbehaviour for the next ``times`` requests to ``path``."""

    path: str
    status: int = 503
    body: str = "<html><body><h1>503 Service Unavailable</h1></body></html>"
    content_type: str = "text/html"
    times: int = 1
    #: seconds to wait before answering (or before dropping), as a slow upstream does; a client that hangs up
    #: meanwhile is noticed, as xAI would, and counted (``Emulator.hung_up``)
    delay: float = 0.0
    drop: bool = False  # close the connection without an answer
    after: bool = False  # let the request reach the authority first (then misbehave)
    #: for streamed answers (with ``after``): end the stream halfway, cleanly (no terminal event)
    #: or, with ``drop``, by cutting the connection mid-chunk
    cut_stream: bool = False
    #: only requests whose bearer is this account's (its ``sub`` or email); None: every request
    account: str | None = None
    #: the ``Retry-After`` a 429 carries, in seconds (None: 1)
    retry_after: float | None = None
    #: the answer's ``x-should-retry`` header (``true`` / ``false``), as xAI's chat proxy sends on 429 and 5xx
    should_retry: str | None = None
    #: seconds between ``: keep-alive`` comments of a 200 event stream that never sends an event or ends
    #: (until the client hangs up, or 5 minutes): the hang a stream deadline must end
    keep_alive: float = 0.0
    #: in-process tests only: ``delay`` ends early once this is set (the test saw what it waited for)
    release: threading.Event | None = None

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Fault:
        """A fault from a control request's JSON; ``ValueError`` naming the field that is missing or wrong."""
        kinds = {"path": str, "status": int, "body": str, "content_type": str, "times": int}
        kinds.update({"delay": float, "drop": bool, "after": bool, "cut_stream": bool, "account": str})
        kinds.update({"retry_after": float, "should_retry": str, "keep_alive": float})
        if not isinstance(data.get("path"), str):
            raise ValueError("path is required, as a string")
        for name, value in data.items():
            kind = kinds.get(name)
            if kind is None:
                raise ValueError(f"unknown field {name!r}")
            numeric = kind is float and isinstance(value, int)
            if (isinstance(value, bool) and kind is not bool) or not (isinstance(value, kind) or numeric):
                raise ValueError(f"{name} must be a {kind.__name__}")
        return cls(**data)  # type: ignore[arg-type]
