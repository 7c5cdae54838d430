"""Which accounts of the pool are out, until when and why: kept in the home, so a restart and a second server agree.

A cooldown is one account's (one sign-in slot's) reason to be skipped: a
429 for as long as its ``Retry-After``, spent usage until the period ends,
a grant that needs a new sign-in until there is one, or one model its tier
does not include (``earned`` turns a refusal into one). The reasons are
kept, never reduced to "unavailable", so an operator can see why each
account is out.

The file is ``<home>/pool/cooldowns.json`` (0600, replaced atomically),
written under a lock of its own (``cooldowns.lock``): a slot's lock can be
held for ~25 s by a refresh, and recording a 429 must not wait for that.
Choosing an account must cost no I/O, so the table lives in memory and the
file is looked at (one ``stat``) at most every ``recheck`` seconds, and read
again only when its modification time changed.

A ``reauth_required`` cooldown has no end time: it ends when the slot's
state file shows a credential saved after the cooldown began and not
marked for a new sign-in, which is what ``xai-oauth login --profile NAME``
writes (a refused grant cannot be refreshed, so nothing else writes one).

A file we cannot use (not JSON, an entry of the wrong shape, a number no
cooldown of ours has: not finite, or ending more than ``MAX_AHEAD`` from
now) is damaged: it is set aside (``.corrupt-*``) and holds no account out.
A lock or file that cannot be opened (a symbolic link, a FIFO) is left for a
person to look at; a cooldown is then in force in this process only. Either
way the pool goes on serving: the problem is logged once and kept in
``problem``, which the management API's account rows and ``xai-oauth pool``
show, until the file is written again.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from .._exceptions import XaiOAuthError
from .._numbers import bounded
from .._redact import scrub
from ..store._errors import StoreError
from ..store._files import corrupt, ensure_private_dir, read_json, write_json

__all__ = ["Cooldown", "Cooldowns", "earned"]

_log = logging.getLogger("xai_oauth.server")

#: Seconds out for a 429 that does not say how long.
RATE_WAIT = 60.0
#: Seconds out for spent usage when /billing does not say when the period ends, and the longest we believe.
PERIOD_WAIT = 3600.0
MAX_PERIOD_WAIT = 8 * 86400.0
#: Seconds an account skips a model its tier does not include (an upgrade shows within the hour).
TIER_WAIT = 3600.0

#: Seconds between looks at the file (a ``stat``); the table is read again only when it changed.
RECHECK = 0.5
#: The lock is short work (read, merge, write): a wait this long means something is wrong.
LOCK_TIMEOUT = 10.0
#: The most a cooldown file may hold, in bytes (a table of a few accounts is a few kilobytes).
MAX_BYTES = 1 << 20
#: Seconds ahead a kept cooldown may end: more than any made here (``MAX_PERIOD_WAIT``, a day's Retry-After).
MAX_AHEAD = 31 * 86400.0


@dataclass(frozen=True)
class Cooldown:
    """One account out of the pool: which slot, why, until when (None: until a new sign-in), for which model."""

    slot: str
    reason: str
    until: float | None
    #: ``tier_denied``: the one model this account skips (None: every model)
    model: str | None = None
    #: what the upstream said, scrubbed (shown to operators and in the all-out error)
    message: str = ""
    since: float = 0.0

    def over(self, now: float) -> bool:
        return self.until is not None and self.until <= now

    def blocks(self, model: str | None) -> bool:
        return self.model is None or self.model == model

    @classmethod
    def from_json(cls, data: object, now: float) -> Cooldown | None:
        """A cooldown from the file, or None for an entry no cooldown of ours looks like (the file is damaged).

        Its times must be finite and end within ``MAX_AHEAD`` of ``now``:
        ``1e308`` is a float, but no clock or ``Retry-After`` reaches it.
        """
        if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in ("slot", "reason")):
            return None
        until, since = (data.get(k) for k in ("until", "since"))
        kept = [None if v is None or isinstance(v, str) else bounded(v, 0.0, now + MAX_AHEAD) for v in (until, since)]
        if any(v is not None and k is None for v, k in zip((until, since), kept, strict=True)):
            return None
        model, message = data.get("model"), data.get("message", "")
        if (model is not None and not isinstance(model, str)) or not isinstance(message, str):
            return None
        return cls(data["slot"], data["reason"], kept[0], model, message, kept[1] or 0.0)


def earned(slot: str, error: XaiOAuthError, model: str, now: float, period_end: Callable[[], float | None]) -> Cooldown:
    """The cooldown ``error`` earns the account in ``slot``; ``period_end`` may read /billing (a worker thread)."""
    message = scrub(error.message)
    spent = str(error.details.get("server_code") or "").startswith("subscription:")
    if error.code == "tier_denied":
        return Cooldown(slot, "tier_denied", now + TIER_WAIT, model, message, now)
    if error.code in ("reauth_required", "not_signed_in"):
        return Cooldown(slot, error.code, None, None, message, now)
    if error.code == "no_credits" or spent:
        end = period_end()
        until = min(end, now + MAX_PERIOD_WAIT) if end is not None and end > now else now + PERIOD_WAIT
        return Cooldown(slot, "usage_exhausted" if spent else "no_credits", until, None, message, now)
    wait = error.details.get("retry_after")
    wait = float(wait) if isinstance(wait, (int, float)) and wait > 0 else RATE_WAIT
    return Cooldown(slot, "rate_limited", now + wait, None, message, now)


class Cooldowns:
    """The pool's cooldown table: in memory for choosing, in the home for restarts and other servers.

    ``saved_at(slot)`` reads a slot's state file: when its credential was
    last saved (``refreshed_at``), or None when nobody is signed in there or
    it needs a new sign-in. It is asked only about accounts out for
    ``reauth_required``, on the recheck.
    """

    def __init__(
        self,
        home: str,
        *,
        saved_at: Callable[[str], float | None] = lambda slot: None,
        now: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        recheck: float = RECHECK,
    ) -> None:
        self.dir = os.path.join(home, "pool")
        self.path = os.path.join(self.dir, "cooldowns.json")
        self._saved_at, self.now, self._monotonic, self.recheck = saved_at, now, monotonic, recheck
        self._table: list[Cooldown] = []
        self._seen_mtime: int | None = None
        self._looked = -float("inf")
        self._mutex = threading.Lock()
        #: why the file could not be used, last time it was read or written (None: it could)
        self.problem: StoreError | None = None

    # -- reading (the hot path: memory, and a stat now and then) -------------

    def active(self) -> list[Cooldown]:
        """Every cooldown in force now."""
        self._refresh()
        now = self.now()
        return [c for c in self._table if not c.over(now)]

    def blocking(self, slot: str, model: str | None) -> Cooldown | None:
        """Why ``slot`` may not serve ``model`` now, or None when it may."""
        for cooldown in self.active():
            if cooldown.slot == slot and cooldown.blocks(model):
                return cooldown
        return None

    def _refresh(self) -> None:
        if self._monotonic() - self._looked < self.recheck:
            return
        with self._mutex:
            self._looked = self._monotonic()
            try:
                mtime: int | None = os.stat(self.path).st_mtime_ns
            except OSError:
                mtime = None
            if mtime != self._seen_mtime:
                self._table, self._seen_mtime = self._read(), mtime
            self._table = [c for c in self._table if not self._signed_in_again(c)]

    def _signed_in_again(self, cooldown: Cooldown) -> bool:
        if cooldown.reason != "reauth_required":
            return False
        saved = self._saved_at(cooldown.slot)
        return saved is not None and saved > cooldown.since

    def _read(self) -> list[Cooldown]:
        """The file's cooldowns; none from a file that is damaged or cannot be read (see the module docstring)."""
        try:
            data = read_json(self.path, what="pool cooldown file")
            entries = data.get("cooldowns") if data is not None else []
            now = self.now()
            table = [Cooldown.from_json(entry, now) for entry in entries] if isinstance(entries, list) else [None]
            kept = [c for c in table if c is not None]
            if len(kept) != len(table):
                raise corrupt(self.path, "pool cooldown file", "holds an entry no cooldown of this server looks like")
        except StoreError as error:  # no account is held out by a file nobody can read
            self.problem = error
            _log.warning("pool: %s The pool goes on serving; no account is held out by that file.", error.message)
            return []
        return kept

    # -- writing (off the event loop: a lock and an fsync) --------------------

    def record(self, cooldown: Cooldown) -> None:
        """Put ``cooldown`` in force here at once, then in the file (replacing the slot's cooldown for that model)."""
        with self._mutex:
            self._table = [*self._replaced(self._table, cooldown), cooldown]
        self._update(lambda table: [*self._replaced(table, cooldown), cooldown])

    def clear(self, slot: str) -> None:
        """End every cooldown of ``slot`` (an operator's reset)."""
        with self._mutex:
            self._table = [c for c in self._table if c.slot != slot]
        self._update(lambda table: [c for c in table if c.slot != slot])

    @staticmethod
    def _replaced(table: list[Cooldown], new: Cooldown) -> list[Cooldown]:
        return [c for c in table if not (c.slot == new.slot and c.model == new.model)]

    def _update(self, change: Callable[[list[Cooldown]], list[Cooldown]]) -> None:
        import filelock

        lock = filelock.FileLock(os.path.join(self.dir, "cooldowns.lock"), timeout=LOCK_TIMEOUT, mode=0o600)
        try:
            ensure_private_dir(self.dir)
            with lock:
                now = self.now()
                table = [c for c in change(self._read()) if not c.over(now)]
                write_json(self.path, {"cooldowns": [_plain(c) for c in table]})
                mtime = os.stat(self.path).st_mtime_ns
        except filelock.Timeout:
            self.problem = StoreError(f"The pool's cooldown file {self.path} stayed locked for {LOCK_TIMEOUT:g} s.")
            raise self.problem from None
        except StoreError as error:
            self.problem = error
            raise
        except OSError as error:  # the lock is a link, a FIFO, a directory...: for a person to look at
            self.problem = StoreError(f"The pool's cooldown lock {lock.lock_file} cannot be taken ({error.strerror}).")
            raise self.problem from None
        with self._mutex:
            self._table, self._seen_mtime, self.problem = table, mtime, None


def _plain(cooldown: Cooldown) -> dict[str, Any]:
    return {k: v for k, v in asdict(cooldown).items() if v is not None}
