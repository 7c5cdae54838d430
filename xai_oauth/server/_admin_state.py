"""What the management API keeps while the server runs: the ledger, the metrics, the hourly history, and the
sign-ins it started; and each account's row as an operator sees it.

The access log hands every finished request to ``Admin.finish``; the routes
(``_admin``) and the console read from here through ``_admin_actions``.
Rows carry profile names, e-mail addresses, tiers, counts, reasons and
scrubbed messages; never a token, a key or a device code.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from .._exceptions import XaiOAuthError
from ._errors import problem_for
from ._guard import Scope
from ._history import History
from ._keys import presented_key
from ._ledger import Ledger, Note, fingerprint
from ._metrics import Metrics

if TYPE_CHECKING:
    from ..auth._account import Account
    from ..transport._http import AsyncHttp
    from ._pool import Member, Pool

__all__ = ["Admin"]


class Admin:
    """What the management API keeps: the ledger, the metrics, and the sign-ins it started (by profile)."""

    def __init__(self, pool: Pool, http: AsyncHttp, timeout: float | None, history: History | None = None) -> None:
        self.pool, self.http, self.timeout = pool, http, timeout
        self.ledger = Ledger()
        self.history = history or History()
        self.metrics = Metrics(cooling=self.cooling)
        self.signins: dict[str, Account] = {}

    def cooling(self) -> int:
        """How many of the pool's accounts are out for every model now."""
        out = {c.slot for c in self.pool.cooldowns.active() if c.model is None}
        return sum(1 for m in self.pool.members if m.slot in out)

    def finish(self, scope: Scope, note: Note, status: int, seconds: float = 0.0) -> None:
        """Count one client request, when its answer is done (the access log calls this)."""
        path = str(scope.get("path", ""))
        if not path.startswith("/v1/") or status in (401, 403):
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", ())}
        key = presented_key(headers)
        client = fingerprint(key) if key else None
        self.ledger.record(note, client)
        self.metrics.record(note, status)
        self.history.record(time.time(), client, note, status, seconds)

    def member(self, profile: str) -> Member | None:
        return next((m for m in self.pool.members if m.profile == profile), None)

    def accounts(self, refresh: bool) -> list[dict[str, Any]]:
        """One row per account of the pool (runs in a worker thread: it reads files, and /billing on ``refresh``)."""
        rows = []
        for member in list(self.pool.members):
            account = member.upstream.account
            row: dict[str, Any] = {"profile": member.profile}
            try:
                status = account.status()
                row.update(account=status.get("account"), state=status.get("state"), tier=status.get("tier_name"))
                usage = status.get("usage") or {}
                row.update(usage_percent=usage.get("credit_usage_percent"), usage_age_seconds=usage.get("age_seconds"))
                row.update(usage_period=usage.get("period") or None)
                if refresh:
                    from ..api._client import Client

                    reading = Client(account).usage()
                    row.update(usage_percent=reading.get("credit_usage_percent"), usage_age_seconds=0)
                    row.update(usage_period=reading.get("period") or None)
            except XaiOAuthError as error:
                row["error"] = {"code": error.code, "message": problem_for(error).message}
            row["cooldowns"] = [_shown(asdict(c)) for c in self.pool.cooldowns.active() if c.slot == member.slot]
            damaged = self.pool.cooldowns.problem  # the file's trouble: which accounts are out is known here only
            if damaged is not None:
                row["cooldowns_problem"] = {"code": damaged.code, "message": damaged.message}
            rows.append(row)
        return rows


def _shown(cooldown: dict[str, Any]) -> dict[str, Any]:
    cooldown.pop("slot", None)
    return {k: v for k, v in cooldown.items() if v not in (None, "")}
