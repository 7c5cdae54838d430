"""A token grant in flight: its journal, adopting what an interrupted one left, and recording unknown outcomes.

A grant (the device code's or a refresh token's) is spent the moment the
server acts on it, so its answer must never be lost to a crash or a kill:
``grant_in_flight`` writes a journal before the request and the answer's
bytes into it as they arrive (``_journal``), with SIGINT and SIGTERM held
until the answer is saved. The next process to take the lock settles what a
journal left (``adopt_journal``): a recorded answer newer than the stored
credential is saved, a refresh sent and never answered is marked
``unconfirmed``, so status() can say so and the next call tries once more.
``sign_in`` completes a new sign-in, whether its answer came live or from a
journal. Callers hold the lock (``Session.locked``) throughout.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .._exceptions import MalformedResponse, XaiOAuthError
from ..store._backends import CredentialStore
from ..store._credential import Credential, credential_from_token_response, fingerprint
from ..store._files import loads_strict, remove
from ..store._state import write_state
from ._identity import identity
from ._session import Session
from ._vault import Vault, read_state_or_empty

if TYPE_CHECKING:  # the journal is imported where used: most calls never meet one
    from ..store._journal import GrantJournal, JournalEntry

__all__ = [
    "TOKEN_ANSWER_BYTES",
    "TOKEN_DEADLINE",
    "adopt_journal",
    "grant_in_flight",
    "mark_reauth",
    "mark_unconfirmed",
    "sign_in",
]

#: Seconds for a whole token-endpoint answer. Each read is bounded by it too, so even a server that drips
#: bytes releases the lock within about twice this: other processes wait at most LOCK_TIMEOUT for it.
TOKEN_DEADLINE = 12.0
#: A token answer is a few KiB; a megabyte is not one.
TOKEN_ANSWER_BYTES = 1024 * 1024


@contextlib.contextmanager
def grant_in_flight(session: Session, grant: str, *, spends: str | None) -> Iterator[GrantJournal]:
    """Journal a token grant around its request, with SIGINT and SIGTERM held until the answer is saved.

    The journal's first write doubles as the proof that the disk can take
    the answer: when it fails, the grant is not sent (``StoreError``).
    """
    from ..store._interrupts import deferred_interrupts
    from ..store._journal import GrantJournal

    journal = GrantJournal(session.paths.journal)
    with deferred_interrupts():
        journal.begin(
            grant=grant,
            issuer=session.config.issuer,
            replaces=fingerprint(spends) if spends else None,
            now=session.now(),
        )
        try:
            yield journal
        except XaiOAuthError:
            journal.close()  # raised knowingly, with the outcome settled (or recorded as unconfirmed)
            raise
        except BaseException:
            journal.abandon()  # anything else (an interrupt off the main thread, a bug): the next process judges
            raise
        journal.close()


def adopt_journal(session: Session, vault: Vault) -> dict[str, Any]:
    """Under the lock: settle what a grant journal left behind; the (possibly updated) state.

    A recorded answer newer than the stored credential is validated and
    saved (``state["recovered"]`` says so for status()); a refresh that was
    sent and never answered becomes ``unconfirmed``. Then the journal goes,
    unless saving what it holds failed (it stays for the next try).
    """
    state = read_state_or_empty(session.paths)
    if not os.path.exists(session.paths.journal):
        return state  # the usual case, without importing the journal's module
    from ..store._journal import read_journal
    from ._device_rules import DEVICE_GRANT

    entry = read_journal(session.paths.journal)
    if entry is None:
        return state
    if entry.answer is not None and entry.issuer == session.config.issuer:
        _adopt(session, vault, entry, state)
    elif entry.grant != DEVICE_GRANT:
        mark_unconfirmed(session, state, "the process that sent it stopped before an answer was saved")
    remove(session.paths.journal)
    return state


def _adopt(session: Session, vault: Vault, entry: JournalEntry, state: dict[str, Any]) -> None:
    """Save the answer a journal holds, unless the stored credential has moved on since it was sent."""
    from ._device_rules import DEVICE_GRANT

    received_at = entry.received_at or session.now()
    try:
        body = loads_strict(entry.answer or b"")
        if not isinstance(body, dict):
            raise ValueError("not an object")
        issued = replace(credential_from_token_response(body, received_at), issuer=entry.issuer)
    except (ValueError, MalformedResponse):
        if entry.grant != DEVICE_GRANT:
            mark_unconfirmed(session, state, "its answer could not be read back from the journal")
        return
    current, store = vault.load(state)
    if entry.grant == DEVICE_GRANT:
        if current is not None and current.issued_at >= (entry.sent_at or 0):
            return  # a later sign-in already saved
        sign_in(session, vault, issued, state, vault.preferred_store(state))
    else:
        spent = current.refresh_token if current is not None else None
        if spent is None or fingerprint(spent) != entry.replaces:
            return  # the stored credential moved on (or was logged out): the journal is stale
        vault.save(current.succeeded_by(issued), state, store)  # type: ignore[union-attr]
    state["recovered"] = {"at": session.now(), "received_at": received_at, "grant": entry.grant}
    write_state(session.paths, state)


def sign_in(
    session: Session, vault: Vault, credential: Credential, state: dict[str, Any], store: CredentialStore
) -> None:
    """Save a new sign-in's credential (the pending one is then done), then learn who it is."""
    credential = replace(credential, issuer=session.config.issuer)
    offline_identity = identity(session, credential, online=False)
    vault.save(credential, state, store, account=offline_identity)
    remove(session.paths.pending)
    if offline_identity is None or "@" not in offline_identity:  # tokens are safe: now ask userinfo
        state["credential"]["account"] = identity(session, credential) or offline_identity
        write_state(session.paths, state)


def mark_unconfirmed(session: Session, state: dict[str, Any], why: str) -> None:
    """Record a grant that was sent with no known outcome: status() says so, the next call tries once more."""
    meta = state.get("credential")
    if isinstance(meta, dict):
        meta["unconfirmed"] = {"since": session.now(), "why": why}
        write_state(session.paths, state)


def mark_reauth(session: Session, state: dict[str, Any], reason: str) -> None:
    """Keep the credential, but record that it no longer works, so status() can say why."""
    meta = state.get("credential")
    if isinstance(meta, dict):
        meta["reauth_required"] = True
        meta["reauth_reason"] = reason
        write_state(session.paths, state)
