"""The grant journal: a token answer is on disk before anything else happens to it.

xAI rotates the refresh token on every refresh. Between the token endpoint's
answer and the saved credential, the only copy of the new refresh token is in
this process's memory; a kill, a Ctrl-C or a full disk there ends the whole
sign-in (the old token is spent, and a careful provider treats its reuse as
theft). So every grant is written down around the request, the way a database
writes its log before its tables:

1. ``begin``: before the request is sent, ``journal.json`` (0600) records
   which grant is going out and which refresh token it spends (by
   ``fingerprint``, never the token), padded to ``RESERVE`` bytes and fsynced.
   This is also the proof that the disk can take the answer: if it fails,
   nothing is sent. The padding holds the blocks, so the answer still fits
   when the disk fills up meanwhile.
2. ``record``: the moment a 200 arrives, its raw bytes are written in place
   over the reservation and fsynced, before they are parsed.
3. ``close``: once the credential is saved (``settle``), or the outcome is
   known to have issued nothing, the journal goes. An answer recorded but
   not saved (the save failed: a full disk, a locked keyring) stays for the
   next process to adopt.

Whoever takes the lock next and finds a journal (``read_journal``) knows
what happened: an answer to adopt, or a grant that was sent and never
answered (an unknown outcome). ``_grants`` does the adopting.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from ._errors import HomeInsecure, StoreError
from ._files import fsync_dir, loads_strict, read_regular, remove

__all__ = ["RESERVE", "GrantJournal", "JournalEntry", "read_journal"]

#: Bytes held for the answer: a token answer with an ID token is 2-8 KiB.
RESERVE = 64 * 1024


@dataclass(frozen=True)
class JournalEntry:
    """What a journal says. ``answer`` is the raw 200 body, or None when none was recorded."""

    grant: str | None
    issuer: str | None
    replaces: str | None
    sent_at: float | None
    received_at: float | None = None
    answer: bytes | None = field(default=None, repr=False)


class GrantJournal:
    """One grant's journal file, held open from ``begin`` to ``close`` (or ``abandon``)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None
        self._header: dict[str, object] = {}
        self.recorded = False
        self.settled = False

    def begin(self, *, grant: str, issuer: str, replaces: str | None, now: float) -> None:
        """Write the 'sent' record and reserve room for the answer; ``StoreError`` means: do not send."""
        self._header = {"v": 1, "grant": grant, "issuer": issuer, "replaces": replaces, "sent_at": now}
        record = json.dumps(self._header).encode()
        try:
            remove(self.path)
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
            os.write(self._fd, record + b" " * (RESERVE - len(record)))
            os.fsync(self._fd)
        except OSError as exc:
            self.close()
            raise StoreError(
                f"Cannot write to {os.path.dirname(self.path)} ({exc.strerror}); nothing was sent, so the sign-in "
                "is as it was.",
                action="Free some disk space (or fix the directory's permissions), then try again.",
            ) from None
        fsync_dir(os.path.dirname(self.path))

    def record(self, raw: bytes, now: float) -> None:
        """Write a 200 answer over the reservation, durably; if even that fails, carry on without it."""
        if self._fd is None:
            return
        text = raw.decode("utf-8", "surrogateescape")  # any bytes survive the round trip through JSON
        payload = json.dumps({**self._header, "received_at": now, "answer": text}).encode()
        try:
            os.pwrite(self._fd, payload, 0)
            os.ftruncate(self._fd, len(payload))
            os.fsync(self._fd)
        except OSError:
            return  # the caller still saves the credential itself; only the safety net is missing
        self.recorded = True

    def on_arrival(self, now: Callable[[], float]) -> Callable[[int, bytes], None]:
        """The ``Http`` hook: a 200's raw body is recorded the moment it has been read."""

        def arrived(status: int, raw: bytes) -> None:
            if status == 200 and raw.lstrip()[:1] == b"{":  # could be a token answer (a peek, not a parse)
                self.record(raw, now())

        return arrived

    def settle(self) -> None:
        """The answer is saved where it belongs: the journal may go."""
        self.settled = True

    def abandon(self) -> None:
        """Stop without judging: the file stays, and whoever takes the lock next reads what it says."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def close(self) -> None:
        """Delete the journal, unless it holds an answer that was never saved (then the next process adopts it)."""
        self.abandon()
        if self.recorded and not self.settled:
            return
        try:
            remove(self.path)
        except StoreError:
            pass  # a leftover journal is read (and dropped) by the next process under the lock


def read_journal(path: str) -> JournalEntry | None:
    """The journal's entry, or None when there is none.

    A torn or unreadable journal still means "a grant was sent and its answer
    was not kept": an entry with every field None.
    """
    try:
        raw = read_regular(path, 4 * RESERVE, what="token grant journal", follow=False, private=True)
    except FileNotFoundError:
        return None
    except HomeInsecure:
        raise
    except (StoreError, OSError):  # a FIFO, a link or an oversized file is read as nothing, never waited on
        return JournalEntry(None, None, None, None)
    try:
        data = loads_strict(raw)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return JournalEntry(None, None, None, None)

    def text(name: str) -> str | None:
        value = data.get(name)
        return value if isinstance(value, str) else None

    def number(name: str) -> float | None:
        value = data.get(name)
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    answer = text("answer")
    try:
        raw_answer = answer.encode("utf-8", "surrogateescape") if answer is not None else None
    except UnicodeEncodeError:  # not something record() wrote
        raw_answer = None
    return JournalEntry(
        grant=text("grant"),
        issuer=text("issuer"),
        replaces=text("replaces"),
        sent_at=number("sent_at"),
        received_at=number("received_at"),
        answer=raw_answer,
    )
