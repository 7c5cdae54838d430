"""Sign-out: revoke the refresh token (RFC 7009), then forget every trace of the slot.

Every trace: the credential, its caches, the conversation key, the slot's
lock file and its folders, so the home lists as it did before the sign-in.
Idempotent, and local clean-up never waits on the network or a keyring:
a failed revocation or an unusable keyring becomes a note, and the files
still go. A refresh token is only revoked at the issuer that issued it
(``_identity.check_issuer``).
"""

from __future__ import annotations

import glob
import os
from typing import Any

from .._exceptions import XaiOAuthError
from ..store._backends import keyring_usable
from ..store._credential import Credential
from ..store._errors import KeyringUnavailable, StoreError
from ..store._files import remove
from ._grants import adopt_journal
from ._identity import check_issuer
from ._session import Session
from ._slots import remove_legacy
from ._vault import Vault, readable_credential

__all__ = ["REVOKE_TIMEOUT", "logout"]

#: Seconds for the revocation request: sign-out must stay quick when the issuer is slow or away.
REVOKE_TIMEOUT = 3.0


def logout(session: Session, vault: Vault) -> dict[str, Any]:
    """Revoke, then forget every trace of this slot: credential (keyring and file), leftovers, caches.

    Idempotent; a failing revocation or keyring never stops the local
    clean-up. Temp files of interrupted writes and set-aside damaged
    credentials go too; a set-aside credential whose refresh token can
    still be read is revoked first. ``revoked`` is True only when the
    server confirmed the revocation of the live sign-in.
    """
    paths = session.paths
    revoked = False
    notes: list[str] = []
    with session.locked() as removable:
        try:
            state = adopt_journal(session, vault)  # an interrupted refresh's newer token is the one to revoke
            credential, _ = vault.load(state)
        except StoreError as exc:
            state, credential = {}, None
            notes.append(exc.message)
        meta = state.get("credential") if isinstance(state.get("credential"), dict) else None
        was_signed_in = credential is not None or meta is not None or os.path.exists(paths.pending)
        if credential is not None and credential.refresh_token:
            revoked = _revoke_issued(session, credential, meta or {}, notes)
        for kept in glob.glob(glob.escape(paths.credentials) + ".corrupt-*"):
            leftover = readable_credential(kept)
            if leftover is not None and leftover.refresh_token:
                _revoke_issued(session, leftover, meta or {}, notes)
        _forget_keyring_entry(vault, meta, notes)
        # the video jobs too: left behind, video_status() would quietly go on with the API key
        for path in (
            paths.credentials,
            paths.access_token,
            paths.pending,
            paths.state,
            paths.discovery,
            paths.journal,
            paths.models_checked,
            paths.conversation_key,  # the next sign-in's conversations get ids of their own
        ):
            remove(path)
        remove(paths.videos)
        for pattern in ("*.tmp-*", "*.corrupt-*"):
            for leftover_path in glob.glob(os.path.join(glob.escape(paths.dir), pattern)):
                remove(leftover_path)
        remove_legacy(paths.home)  # old files no issuer could adopt
        if removable:  # while held: a process that opened it meanwhile sees it gone and locks the new one
            remove(paths.lock)
    _remove_empty_dirs(paths)
    result: dict[str, Any] = {"status": "logged_out", "revoked": revoked, "was_signed_in": was_signed_in}
    if notes:
        result["notes"] = notes
    return result


def _remove_empty_dirs(paths: Any) -> None:
    """The slot's folder, its issuer's and ``accounts/`` when nothing else is left in them: no trace of the sign-in.

    A folder another process has just put something in stays (rmdir refuses
    a folder that is not empty), and one that process was about to use is
    made again by ``ensure_private_dir``.
    """
    for folder in (paths.dir, os.path.dirname(paths.dir), paths.accounts):
        if os.path.abspath(folder) == os.path.abspath(paths.home):
            return
        try:
            os.rmdir(folder)
        except OSError:
            return


def _forget_keyring_entry(vault: Vault, meta: dict[str, Any] | None, notes: list[str]) -> None:
    """Delete this slot's keyring entry: the live one, or a stale one left by a fall-back to the file.

    A keyring that is not there (or ``XAI_OAUTH_STORE=file``) is left alone
    quietly: nothing can be stored where nothing works.
    """
    if (meta or {}).get("storage") != "keyring":
        if vault.config.store == "file" or keyring_usable(vault.config.keyring_timeout) is not None:
            return
    try:
        vault.keyring.delete()
    except KeyringUnavailable as exc:
        if (meta or {}).get("storage") == "keyring":
            notes.append(exc.message)


def _revoke_issued(session: Session, credential: Credential, meta: dict[str, Any], notes: list[str]) -> bool:
    """Revoke ``credential``'s refresh token at its own issuer; never at another."""
    try:
        check_issuer(session, credential, meta)
    except XaiOAuthError as exc:
        notes.append(f"Revocation skipped: {exc.message}")
        return False
    assert credential.refresh_token is not None
    return _revoke(session, credential.refresh_token, notes)


def _revoke(session: Session, refresh_token: str, notes: list[str]) -> bool:
    """RFC 7009 revocation of the refresh token, short timeout, never raising."""
    try:
        endpoints = session.endpoints()
        if not endpoints.revocation_endpoint:
            return False
        answer = session.http.post_form(
            endpoints.revocation_endpoint,
            session.client_form(token=refresh_token, token_type_hint="refresh_token"),
            timeout=REVOKE_TIMEOUT,
        )
    except XaiOAuthError as exc:
        notes.append(f"Revocation skipped: {exc.message}")
        return False
    if answer.status != 200:
        notes.append(f"Revocation answered HTTP {answer.status}; the local sign-in was removed anyway.")
    return bool(answer.status == 200)
