"""What the server served hour by hour, and which requests it served last: the numbers behind the console's
charts, its Requests page, ``GET /admin/history`` and ``GET /admin/requests``.

The access log hands every finished client request here once (``Admin.finish``
calls ``record``), with the ``Note`` the pool wrote on it. Two views are kept:

* **hourly buckets**, per client key, per account and per model: requests,
  input, output and cached tokens, and errors (an answer with status 400 or
  above). They are kept for ``retention`` seconds (30 days unless told), and
  read with ``hours(since, by)``;
* **the latest requests**, a ring of the last ``keep``: time, client key,
  account, model, status, tokens and seconds; read newest first, filtered by
  any of those, with ``recent``.

``record``, ``hours`` and ``recent`` are the whole interface: a store that
keeps the same numbers in a database (so they outlive the process, and
several servers add up) takes this class's place without its callers
changing. Here everything is in memory, under one lock (the event loop
records; a worker thread may read).

Never a prompt, an answer, a key or a token: a client key is named by what
the access log gives (its fingerprint, ``_ledger.fingerprint``), an account
by its profile. A request that no account served is counted under ``-``.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._ledger import Note

__all__ = ["BY", "DAY", "HOUR", "History", "HourRow", "RequestRow", "hour_of"]

HOUR = 3600
DAY = 24 * HOUR
#: What the hourly buckets can be grouped by.
BY = ("key", "account", "model")
#: What ``recent`` can be filtered by (``status`` also takes a class: ``2xx``, ``4xx``, ``5xx``).
FILTERS = ("client", "account", "model", "status")
#: The name a bucket or row carries when the request has none (no account served it, no key was sent).
NONE = "-"


def hour_of(at: float) -> int:
    """The start of the hour ``at`` falls in (epoch seconds, UTC)."""
    return int(at // HOUR) * HOUR


@dataclass(frozen=True)
class HourRow:
    """One hour of one key, account or model."""

    #: the hour's start, epoch seconds
    hour: int
    #: the key's name (its fingerprint for now), the account's profile, or the model id
    name: str
    requests: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    #: answers with status 400 or above
    errors: int


@dataclass(frozen=True)
class RequestRow:
    """One finished client request, as an operator may see it: no prompt, answer, key or token."""

    at: float
    client: str
    account: str
    model: str
    status: int
    input_tokens: int
    output_tokens: int
    seconds: float


class History:
    """Hourly buckets per key, account and model (kept ``retention`` seconds), and the last ``keep`` requests."""

    def __init__(self, *, retention: float = 30 * DAY, keep: int = 1000) -> None:
        if retention <= 0 or keep <= 0:
            raise ValueError("History keeps a positive number of seconds and of requests.")
        self.retention, self.keep = retention, keep
        self._lock = threading.Lock()
        #: hour start -> (by, name) -> [requests, input, output, cached, errors]; hours in the order they came
        self._hours: dict[int, dict[tuple[str, str], list[int]]] = {}
        self._recent: deque[RequestRow] = deque(maxlen=keep)

    def record(self, at: float, client: str | None, note: Note, status: int, seconds: float) -> None:
        """Count one finished request: in its hour's buckets (by key, account and model) and in the ring."""
        names = {"key": client or NONE, "account": note.account or NONE, "model": note.model or NONE}
        counts = (1, note.input_tokens, note.output_tokens, note.cached_tokens, int(status >= 400))
        hour = hour_of(at)
        row = RequestRow(
            at, names["key"], names["account"], names["model"], status, note.input_tokens, note.output_tokens, seconds
        )
        with self._lock:
            buckets = self._hours.get(hour)
            if buckets is None:
                buckets = self._hours[hour] = {}
                self._forget_before(at - self.retention)
            for by, name in names.items():
                bucket = buckets.setdefault((by, name), [0, 0, 0, 0, 0])
                for i, value in enumerate(counts):
                    bucket[i] += value
            self._recent.append(row)

    def hours(self, since: float, by: str) -> list[HourRow]:
        """Every hour from the one ``since`` falls in, grouped ``by`` key, account or model; oldest hour first,
        names sorted within an hour. Hours nothing was served in are left out."""
        if by not in BY:
            raise ValueError(f"History groups by one of {', '.join(BY)}, not {by!r}.")
        start = hour_of(since)
        with self._lock:
            picked = sorted((h, b) for h, b in self._hours.items() if h >= start)
            return [
                HourRow(hour, name, *counts)
                for hour, buckets in picked
                for (grouped, name), counts in sorted(buckets.items())
                if grouped == by
            ]

    def recent(self, limit: int = 300, **filters: str) -> list[RequestRow]:
        """The last ``limit`` requests that match every filter (``client``, ``account``, ``model``, ``status``),
        newest first. An empty filter matches everything."""
        unknown = set(filters) - set(FILTERS)
        if unknown:
            raise ValueError(f"Requests are filtered by {', '.join(FILTERS)}, not {', '.join(sorted(unknown))}.")
        wanted = {k: v.strip() for k, v in filters.items() if v and v.strip()}
        with self._lock:
            rows = list(self._recent)
        found = []
        for row in reversed(rows):
            if all(_matches(row, name, value) for name, value in wanted.items()):
                found.append(row)
                if len(found) >= limit:
                    break
        return found

    def _forget_before(self, cutoff: float) -> None:
        for hour in [h for h in self._hours if h + HOUR <= cutoff]:
            del self._hours[hour]


def _matches(row: RequestRow, name: str, value: str) -> bool:
    if name == "status":
        if len(value) == 3 and value[0].isdigit() and value[1:].lower() == "xx":
            return row.status // 100 == int(value[0])
        return str(row.status) == value
    return str(getattr(row, name)) == value
