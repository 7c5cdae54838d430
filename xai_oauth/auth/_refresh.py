"""The token keeper (RFC 6749 §6): a usable access token on every call, refreshed once across processes.

``access_token`` is the hot path of every chat call: a fresh token comes from
the store (or, with the keyring, from the access-token cache) with no
request. ``refresh`` renews a due token single-flight across processes: under
the lock the credential is read again, so a process that waited while another
refreshed uses the new token instead of spending the rotated one. The grant
itself is sent the careful way (``_grants``): journaled, never sent twice when
its outcome is unknown. ``recover`` settles a journal an interrupted grant left.
``_grants`` is imported where used: a chat call with a fresh token needs none of it.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .._exceptions import MalformedResponse, NetworkError, NotSignedIn, OAuthError, ReauthRequired, RefreshUnconfirmed
from ..store._credential import Credential, credential_from_token_response, refresh_leeway
from ..store._errors import StoreBusy
from ..transport._retry import UNKNOWN_OUTCOME, retry_delay
from ._session import LOCK_TIMEOUT, Session
from ._vault import Vault, read_state_or_empty

if TYPE_CHECKING:
    from ..store._journal import GrantJournal
    from ..store._paths import Paths

__all__ = ["access_token", "fresh_token", "on_record", "recover", "refresh"]


def access_token(session: Session, vault: Vault) -> str:
    """A usable access token, refreshed first when due (or unconfirmed). Secret: never print it.

    With the keyring as the store, a fresh token comes from the access
    token cache and the keyring is not opened (see ``AccessTokenCache``).
    """
    return fresh_token(session, vault)[0]


def fresh_token(session: Session, vault: Vault) -> tuple[str, float]:
    """``access_token``, and when it falls due (the session's clock): until then a long-lived caller may hold it.

    The local server keeps the token in memory until that time, or until a
    file it was read from changes (``on_record``): another process's refresh
    or sign-out is seen on the next request, with no read of the store.
    """
    recover(session, vault)  # a grant was interrupted: settle it first
    state = read_state_or_empty(session.paths)
    meta: dict[str, Any] = state["credential"] if isinstance(state.get("credential"), dict) else {}
    cached = vault.access.token(meta, session.now()) if session.config.store == "auto" else None
    if cached is not None:
        return cached, _due(meta)
    credential, store = vault.load(state)
    if credential is None:
        raise NotSignedIn("Nobody is signed in.")
    if credential.refresh_due(session.now()) or meta.get("reauth_required") or meta.get("unconfirmed"):
        refresh(session, vault)  # saves, and caches, the renewed token
        credential, _ = vault.load(read_state_or_empty(session.paths))
        if credential is None:
            raise NotSignedIn("Nobody is signed in.")
    elif store is vault.keyring and meta.get("expires_at") == credential.expires_at:
        # none was cached (signed in by 0.1, or lost): cache it for the next call; or, with
        # XAI_OAUTH_STORE=keyring set since, remove the copy an earlier setting left
        vault.cache_access_token(credential, store)
    return credential.access_token, credential.expires_at - refresh_leeway(credential.lifetime)


def _due(meta: dict[str, Any]) -> float:
    """When the credential the state file describes falls due; at once when the record says too little."""
    expires_at, lifetime = meta.get("expires_at"), meta.get("lifetime")
    if not isinstance(expires_at, (int, float)) or not isinstance(lifetime, (int, float)):
        return 0.0
    return float(expires_at) - refresh_leeway(float(lifetime))


def on_record(paths: Paths) -> tuple[object, ...]:
    """A cheap mark of every file a token is read from (``os.stat``): equal marks, nothing changed on disk.

    The state file (every save, refresh and sign-out rewrites it), the
    stores beside it, the grant journal, and the home's remembered Grok
    CLI version. Size, inode and modification time in nanoseconds: a
    rewrite is a new file (``write_json`` renames one in), so it has a
    new inode even within one clock tick.
    """
    marks: list[object] = []
    for path in (paths.state, paths.credentials, paths.access_token, paths.journal, paths.client_version):
        try:
            found = os.stat(path)
        except OSError:
            marks.append(None)
        else:
            marks.append((found.st_ino, found.st_size, found.st_mtime_ns))
    return tuple(marks)


def recover(session: Session, vault: Vault, timeout: float = LOCK_TIMEOUT) -> None:
    """Settle a grant journal if one is there (see ``_grants.adopt_journal``); a busy lock leaves it for later."""
    if not os.path.exists(session.paths.journal):
        return
    from ._grants import adopt_journal

    try:
        with session.locked(timeout):
            adopt_journal(session, vault)
    except StoreBusy:
        pass  # a grant is in flight right now; its own process settles it


def refresh(session: Session, vault: Vault, force: bool = False, *, replacing: str | None = None) -> dict[str, Any]:
    """Renew the access token with the (rotating) refresh token when due, or always with ``force``.

    Single-flight across processes: under the lock the credential is read
    again, so a process that waited while another refreshed finds a fresh
    token and uses it instead of spending the already-rotated refresh token.
    ``replacing`` is the access token a caller found refused (a 401): when
    the stored one is already a different, fresh token, another process
    renewed it meanwhile and nothing is sent, even with ``force``.

    The grant is sent the careful way (``_grants.grant_in_flight``), and a
    grant whose outcome is unknown is recorded (status() says
    ``refresh_unconfirmed``) and never sent twice in one call; the next
    call tries once more.
    """
    from ._grants import adopt_journal, grant_in_flight, mark_reauth, mark_unconfirmed
    from ._identity import check_issuer

    with session.locked():
        state = adopt_journal(session, vault)
        credential, store = vault.load(state)
        if credential is None:
            raise NotSignedIn("Nobody is signed in.")
        meta = state.get("credential") or {}
        if meta.get("reauth_required"):
            raise ReauthRequired(f"The sign-in is no longer valid ({meta.get('reauth_reason') or 'refused'}).")
        unconfirmed = meta.get("unconfirmed") if isinstance(meta.get("unconfirmed"), dict) else None
        now = session.now()
        renewed_elsewhere = replacing is not None and credential.access_token != replacing
        if not unconfirmed and (renewed_elsewhere or not force) and not credential.refresh_due(now):
            return _refresh_result(credential, now, refreshed=False)
        if not credential.refresh_token:
            mark_reauth(session, state, "no refresh token was issued")
            raise ReauthRequired("The stored sign-in has no refresh token.")
        check_issuer(session, credential, meta)
        store = vault.ready_store(state, store)
        with grant_in_flight(session, "refresh_token", spends=credential.refresh_token) as journal:
            answer = _send_refresh_grant(session, credential.refresh_token, journal, state)
            try:
                body = answer.json_object("token endpoint")
                if answer.status != 200:
                    if body.get("error") == "invalid_grant":
                        raise _refused(session, state, unconfirmed)
                    raise OAuthError.from_body("token endpoint", answer.status, body)
                issued = credential_from_token_response(body, now)
            except MalformedResponse:
                if answer.status == 200 and not answer.is_html:  # the endpoint acted; what it issued is unreadable
                    mark_unconfirmed(session, state, "the token endpoint's answer was not a usable token")
                    journal.settle()  # nothing in it to adopt: the mark says it all
                raise
            renewed = credential.succeeded_by(replace(issued, issuer=session.config.issuer))
            vault.save(renewed, state, store)  # before the lock is released: nobody can read the spent token
            journal.settle()
        return _refresh_result(renewed, now, refreshed=True)


def _refused(session: Session, state: dict[str, Any], unconfirmed: dict[str, Any] | None) -> ReauthRequired:
    """invalid_grant: the sign-in is over. Say why, naming the unanswered refresh when that is the cause."""
    from ._grants import mark_reauth

    if unconfirmed:
        since = time.strftime("%H:%M:%S", time.localtime(float(unconfirmed.get("since") or 0)))
        reason = f"a refresh sent at {since} got no answer ({unconfirmed.get('why')}), and xAI now refuses the "
        reason += "refresh token it replaced"
    else:
        reason = "the refresh token was refused"
    mark_reauth(session, state, reason)
    return ReauthRequired(
        f"xAI ended the sign-in: {reason}."
        if unconfirmed
        else "xAI refused the refresh token (revoked, used elsewhere, or expired)."
    )


def _send_refresh_grant(session: Session, refresh_token: str, journal: GrantJournal, state: dict[str, Any]) -> Any:
    """POST the refresh grant; retry only answers that prove the server did not act on it.

    A 429, a 503, an HTML challenge page or a refused connection is retried
    with backoff (``_retry``). Anything that may have reached the server
    and brought no usable answer (a read timeout, a cut connection, a
    gateway's 500/502/504, an answer too large to read) is recorded as
    unconfirmed and raised as ``RefreshUnconfirmed``, never sent again
    here: the token may already be rotated, and a rotated token sent twice
    ends the whole grant at careful providers. A 200 is in the journal
    before it is parsed.
    """
    from ..transport._http import parse_retry_after
    from ._grants import TOKEN_ANSWER_BYTES, TOKEN_DEADLINE, mark_unconfirmed

    url = session.endpoints().token_endpoint
    form = session.client_form(grant_type="refresh_token", refresh_token=refresh_token)
    attempt = 0
    while True:
        try:
            answer = session.http.post_form(
                url,
                form,
                timeout=TOKEN_DEADLINE,
                max_bytes=TOKEN_ANSWER_BYTES,
                on_arrival=journal.on_arrival(session.now),
            )
        except (NetworkError, MalformedResponse) as exc:
            if isinstance(exc, MalformedResponse) or exc.maybe_sent:
                mark_unconfirmed(session, state, exc.message)
                raise RefreshUnconfirmed(
                    f"The refresh request reached the token endpoint but no usable answer came back "
                    f"({exc.message}); it was not sent again, because the refresh token may already be rotated."
                ) from None
            wait = retry_delay(None, attempt=attempt)
            if wait is None:
                raise
        else:
            if answer.status in UNKNOWN_OUTCOME:
                why = f"HTTP {answer.status} after the request was passed on"
                mark_unconfirmed(session, state, why)
                raise RefreshUnconfirmed(
                    f"The token endpoint answered {why}; xAI may have rotated the refresh token, so it was "
                    "not sent again.",
                    http_status=answer.status,
                )
            wait = retry_delay(
                answer.status,
                attempt=attempt,
                html=answer.is_html,
                retry_after=parse_retry_after(answer.headers.get("retry-after")),
            )
            if wait is None:
                return answer
        session.sleep(wait)
        attempt += 1


def _refresh_result(credential: Credential, now: float, *, refreshed: bool) -> dict[str, Any]:
    return {
        "refreshed": refreshed,
        "expires_at": int(credential.expires_at),
        "expires_in": int(credential.expires_in(now)),
    }
