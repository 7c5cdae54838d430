"""What the server has served, and for whom: requests and tokens per client key and per account, and each account's
last error.

The pool decides which account answers; the access log knows how the
request ended and which client key asked. Neither knows the other's half,
so each request carries one ``Note`` (in a context variable the access log
sets): the pool writes the account, the model, the usage and the errors it
met; the access log, when the answer is done, hands the note to the
``Ledger`` (for ``GET /admin/usage`` and ``/admin/accounts``) and to the
metrics.

A client key is named only by a short fingerprint (a prefix of its
SHA-256), never the key. An error is kept as its code and its scrubbed
message, never the upstream's raw answer.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import time
from collections.abc import AsyncGenerator
from dataclasses import asdict, dataclass, field
from typing import Any

from .._exceptions import XaiOAuthError
from .._redact import scrub
from ..wire._events import Event, Failure, Finish

__all__ = ["Ledger", "Note", "Tally", "counted", "fingerprint", "current_note"]

#: The request being served, if any (set by the access log; the pool writes to it).
current_note: contextvars.ContextVar[Note | None] = contextvars.ContextVar("xai_oauth_note", default=None)


def fingerprint(key: str) -> str:
    """A short name for a client key that says which key without being it (12 hex digits of its SHA-256)."""
    return "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:12]


@dataclass
class Tally:
    """Requests and tokens, summed."""

    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0

    def add(self, note: Note) -> None:
        self.requests += 1
        self.input_tokens += note.input_tokens
        self.output_tokens += note.output_tokens
        self.cached_tokens += note.cached_tokens


@dataclass
class Note:
    """One request as the pool saw it: which account served it, which model, its usage, the errors on the way."""

    account: str | None = None
    model: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    #: seconds from each upstream attempt to its first event (or its refusal)
    upstream_seconds: list[float] = field(default_factory=list)
    #: (profile, code, message) for each refusal or failure met, scrubbed
    errors: list[tuple[str, str, str]] = field(default_factory=list)


async def counted(events: AsyncGenerator[Event, None], profile: str, model: str) -> AsyncGenerator[Event, None]:
    """``events`` from ``profile``'s account, noted on the request's ``Note`` as they pass (when there is one)."""
    note = current_note.get()
    started = time.perf_counter()
    first = True
    async with contextlib.aclosing(events):
        try:
            async for event in events:
                if note is not None:
                    if first:
                        note.upstream_seconds.append(time.perf_counter() - started)
                        note.account, note.model, first = profile, model, False
                    _note_event(note, profile, event)
                yield event
        except XaiOAuthError as error:
            if note is not None:
                if first:
                    note.upstream_seconds.append(time.perf_counter() - started)
                note.errors.append((profile, error.code, scrub(error.message)))
            raise


def _note_event(note: Note, profile: str, event: Event) -> None:
    if isinstance(event, Finish) and event.usage is not None:
        note.input_tokens += event.usage.input_tokens
        note.output_tokens += event.usage.output_tokens
        note.cached_tokens += event.usage.cached_tokens
    elif isinstance(event, Failure):
        note.errors.append((profile, event.code or "upstream_error", scrub(event.message)))


class Ledger:
    """The sums since the server started: per client key (by fingerprint), per account, and last errors."""

    def __init__(self, now: Any = time.time) -> None:
        self.now = now
        self.clients: dict[str, Tally] = {}
        self.accounts: dict[str, Tally] = {}
        self.last_errors: dict[str, dict[str, Any]] = {}

    def record(self, note: Note, client: str | None) -> None:
        """Add one finished request: to its client key's tally, and to its account's when one served it."""
        if client is not None:
            self.clients.setdefault(client, Tally()).add(note)
        if note.account is not None:
            self.accounts.setdefault(note.account, Tally()).add(note)
        for profile, code, message in note.errors:
            self.last_errors[profile] = {"code": code, "message": message, "at": int(self.now())}

    def usage(self) -> dict[str, Any]:
        """``GET /admin/usage``: both tallies as plain dicts."""
        return {
            "clients": {name: asdict(t) for name, t in self.clients.items()},
            "accounts": {name: asdict(t) for name, t in self.accounts.items()},
        }

    def served(self, profile: str) -> dict[str, int]:
        return asdict(self.accounts.get(profile, Tally()))
