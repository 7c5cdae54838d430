"""The device authorization grant (RFC 8628) against this slot: start, poll, cancel, and the pending record.

``start`` asks for a code and keeps the pending sign-in on disk, so any later
process (agents run us as many short ones) can ``poll`` it. The protocol's
decisions (pending, slow down, approved, refused) are the pure ``_device.step``;
this module does the disk, the lock and the network around it. An approved
answer is completed by ``_grants.sign_in``, journaled like every token grant.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from .._exceptions import AlreadySignedIn, LoginExpired, MalformedResponse, NoPendingLogin, OAuthError, XaiOAuthError
from ..store._errors import StoreCorrupt
from ..store._files import read_json, remove, write_json
from ..store._state import storage_note
from ._grants import TOKEN_ANSWER_BYTES, TOKEN_DEADLINE, adopt_journal, grant_in_flight, sign_in
from ._session import Session
from ._status import listed_default
from ._vault import Vault, read_state_or_empty

if TYPE_CHECKING:
    from ._device_rules import PendingLogin

__all__ = ["RESUME_MIN_SECONDS", "cancel_login", "poll", "read_pending", "start"]

#: A pending sign-in with less time left than this is not handed out again by start(): too little to approve it.
RESUME_MIN_SECONDS = 60.0


def start(session: Session, vault: Vault, force: bool = False) -> dict[str, Any]:
    """Begin a device authorization (RFC 8628 §3.1) and persist it for a later poll().

    A sign-in already waiting (with at least a minute left) is returned
    again, same code, marked ``resumed``: an agent that calls start() twice,
    or two agents at once, must not replace the code the person is typing.
    A working sign-in is not replaced either (``AlreadySignedIn``, as
    ``xai-oauth login`` answers); one that needs a new sign-in
    (``reauth_required``) is. ``force`` asks for a new code anyway.
    """
    vault.require_keyring()
    config = session.config
    with session.locked():
        now = session.now()
        login = None if force else read_pending(session)
        if login is not None and login.expires_at - now >= RESUME_MIN_SECONDS:
            return {**_started(login, now), "resumed": True}
        kept = read_state_or_empty(session.paths).get("credential")
        if not force and isinstance(kept, dict) and not kept.get("reauth_required"):
            who = kept.get("account") if isinstance(kept.get("account"), str) else None
            raise AlreadySignedIn(f"Already signed in{' as ' + who if who else ''}.")
        endpoints = session.endpoints()
        answer = session.http.post_form(
            endpoints.device_authorization_endpoint,
            session.client_form(scope=config.scope),
            timeout=TOKEN_DEADLINE,
            max_bytes=TOKEN_ANSWER_BYTES,
        )
        body = answer.json_object("device authorization endpoint")
        if answer.status != 200:
            raise OAuthError.from_body("device authorization endpoint", answer.status, body)
        from ._device_rules import begin

        now = session.now()
        login = begin(body, now=now, issuer=config.issuer, client_id=config.client_id)
        write_json(session.paths.pending, login.to_dict())
    return _started(login, now)


def read_pending(session: Session) -> PendingLogin | None:
    """The waiting sign-in, if any; a damaged one is dropped (``NoPendingLogin`` says so)."""
    from ._device_rules import PendingLogin

    try:
        data = read_json(session.paths.pending, what="pending sign-in")
        return PendingLogin.from_dict(data) if data else None
    except (StoreCorrupt, ValueError):
        remove(session.paths.pending)
        raise NoPendingLogin("The pending sign-in was damaged and has been dropped.") from None


def poll(session: Session, vault: Vault, wait: bool = False, timeout: float | None = None) -> dict[str, Any]:
    """Check the pending sign-in: once by default, or until done (``wait=True``, up to ``timeout`` s).

    "Once" means the server is asked once: a poll sooner than the interval
    allows first waits out the rest of it (never more than one interval),
    so "pending" is only ever what the server said.
    """
    deadline = None if timeout is None else session.now() + timeout
    while True:
        result = _poll_once(session, vault)
        too_soon = result.pop("_too_soon", False)
        if not (wait or too_soon) or result["status"] != "pending":
            return result
        delay = float(result["retry_after"])
        if wait and deadline is not None and session.now() + delay > deadline:
            return {**result, "timed_out": True}
        session.sleep(delay)


def _poll_once(session: Session, vault: Vault) -> dict[str, Any]:
    from ._device_rules import DEVICE_GRANT, Approved, step

    paths = session.paths
    with session.locked():
        state = adopt_journal(session, vault)
        login = read_pending(session)
        if login is None:
            meta = state.get("credential")
            if isinstance(meta, dict) and not meta.get("reauth_required"):
                return _connected(session, state)  # another poll (or an earlier one) finished this sign-in
            raise NoPendingLogin("There is no sign-in waiting for approval.")
        now = session.now()
        if login.expired(now):
            remove(paths.pending)
            raise LoginExpired("The sign-in code expired before it was approved.")
        if now < login.next_poll_at:
            return {**_pending(login, now), "_too_soon": True}
        # Record the poll before sending it: a crash mid-request still keeps the interval.
        write_json(paths.pending, login.polled(now).to_dict())
        store = vault.ready_store(state)
        endpoints = session.endpoints()
        with grant_in_flight(session, DEVICE_GRANT, spends=None) as journal:
            answer = session.http.post_form(
                endpoints.token_endpoint,
                session.client_form(grant_type=DEVICE_GRANT, device_code=login.device_code),
                timeout=TOKEN_DEADLINE,
                max_bytes=TOKEN_ANSWER_BYTES,
                on_arrival=journal.on_arrival(session.now),
            )
            body = answer.json_object("token endpoint")
            try:
                outcome = step(login, answer.status, body, now=now)
            except XaiOAuthError as exc:
                if not isinstance(exc, MalformedResponse):
                    remove(paths.pending)  # terminal: the device code is spent
                raise
            if isinstance(outcome, Approved):
                sign_in(session, vault, outcome.credential, state, store)
                journal.settle()
                return _connected(session, state)
        write_json(paths.pending, outcome.login.to_dict())
        return {**_pending(outcome.login, now), **({"slowed_down": True} if outcome.slowed_down else {})}


def _connected(session: Session, state: dict[str, Any]) -> dict[str, Any]:
    """poll()'s answer for a finished sign-in, from the state file: the same whichever poll finished it."""
    meta = state["credential"]
    now = session.now()
    default, no_default = listed_default(state)
    expires_at = float(meta.get("expires_at") or now)
    result: dict[str, Any] = {
        "status": "connected",
        "account": meta.get("account"),
        "tier": meta.get("tier"),
        "tier_name": meta.get("tier_name", "unknown"),
        "expires_at": int(expires_at),
        "expires_in": max(0, int(expires_at - now)),
        "storage": meta.get("storage"),
        "default_model_id": default,
    }
    if no_default:
        result["notes"] = [no_default]
    if meta.get("storage") == "file":
        result["storage_note"] = storage_note(session.paths, meta)
    return result


def cancel_login(session: Session) -> bool:
    """Drop the pending sign-in (the person gave up); True when there was one."""
    with session.locked():
        existed = os.path.exists(session.paths.pending)
        remove(session.paths.pending)
    return existed


def _started(login: PendingLogin, now: float) -> dict[str, Any]:
    return {
        "status": "pending",
        "verification_url_with_code": login.verification_url_with_code,
        "verification_url": login.verification_url,
        "user_code": login.user_code,
        "expires_in": int(login.expires_at - now),
        "expires_at": int(login.expires_at),
        "interval": login.interval,
    }


def _pending(login: PendingLogin, now: float) -> dict[str, Any]:
    return {
        "status": "pending",
        "retry_after": round(login.retry_after(now), 1),
        "interval": login.interval,
        "user_code": login.user_code,
        "verification_url_with_code": login.verification_url_with_code,
        "expires_in": int(login.expires_at - now),
    }
