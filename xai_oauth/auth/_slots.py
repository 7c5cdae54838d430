"""Sign-in slots on this machine: adopting the layout from before slots, and listing the others.

Before 0.2 every file lived straight in the home, whatever the issuer, so a
second issuer saw (and finally broke) the first one's sign-in. Now each
authority and profile has its own directory (``_settings.slot_name``). An old
home is *adopted* for the issuer it was made for: its files move into that
issuer's slot, read from the state file (or the pending sign-in, or the
access token's ``iss``). Files whose issuer cannot be told stay where they
are, are never used for any issuer, and ``logout()`` removes them.

Only ``os`` and ``json`` on the common path (no old files, nothing to list).
"""

import os

from .._settings import DEFAULT_PROFILE, slot_name
from ..store._errors import StoreError
from ..store._files import check_private, ensure_private_dir, read_json, remove
from ..store._paths import Paths
from ..store._state import credential_state

__all__ = ["LEGACY_FILES", "adopt_legacy", "other_signins", "remove_legacy"]

LEGACY_FILES = ("credentials.json", "state.json", "pending.json", "discovery.json")


def _legacy_issuer(home: str) -> "tuple[str, str] | None":
    """(issuer, client_id) the old home's files belong to, or None when nothing tells."""
    legacy = Paths(home)
    for path, key in ((legacy.state, "credential"), (legacy.pending, None)):
        try:
            data = read_json(path, what="old sign-in file")
        except StoreError:
            continue
        record = (data or {}).get(key) if key else data
        if isinstance(record, dict) and isinstance(record.get("issuer"), str) and record.get("client_id"):
            return str(record["issuer"]), str(record["client_id"])
    try:
        credential = read_json(legacy.credentials, what="old credential file")
    except StoreError:
        return None
    issuer = _claim((credential or {}).get("access_token"), "iss")
    client_id = _claim((credential or {}).get("access_token"), "client_id") or _claim(
        (credential or {}).get("access_token"), "aud"
    )
    if issuer and client_id:
        return issuer.rstrip("/"), client_id
    return None


def _claim(token: object, name: str) -> "str | None":
    """One string claim of a JWT, unverified (only to tell which issuer an old file came from)."""
    if not isinstance(token, str) or token.count(".") < 2:
        return None
    import base64
    import json

    payload = token.split(".")[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, TypeError):
        return None
    value = claims.get(name) if isinstance(claims, dict) else None
    return value if isinstance(value, str) and value else None


def adopt_legacy(home: str) -> "str | None":
    """Move an old single-slot home's files into the slot of the issuer they were made for.

    Returns a note saying what happened, or None when there was nothing to
    adopt. Runs under the home's own lock, so concurrent first runs adopt once.
    """
    if not any(os.path.exists(os.path.join(home, name)) for name in LEGACY_FILES):
        return None
    import filelock

    check_private(home)
    with filelock.FileLock(os.path.join(home, ".lock"), timeout=30, mode=0o600):
        present = [name for name in LEGACY_FILES if os.path.exists(os.path.join(home, name))]
        if not present:
            return None  # another process adopted them while we waited
        owner = _legacy_issuer(home)
        if owner is None:
            return (
                f"Old sign-in files in {home} do not say which issuer made them, so no issuer uses them; "
                "logout() removes them."
            )
        issuer, client_id = owner
        slot = Paths(home, slot_name(issuer, client_id, DEFAULT_PROFILE))
        ensure_private_dir(slot.dir)
        for name in present:
            target = os.path.join(slot.dir, name)
            if os.path.exists(target):
                continue  # the slot already has its own: the old copy is not newer knowledge
            try:
                os.replace(os.path.join(home, name), target)
            except OSError as exc:
                raise StoreError(f"Cannot move {name} into {slot.dir} ({exc.strerror}).") from None
        return f"Adopted the sign-in files in {home} for {issuer}."


def remove_legacy(home: str) -> None:
    """Delete an old home's files that no issuer could adopt (``logout()``)."""
    for name in LEGACY_FILES:
        remove(os.path.join(home, name))


def other_signins(paths: Paths, now: float) -> "list[dict[str, object]]":
    """The machine's other sign-ins, as ``gh auth status`` lists hosts: issuer, profile, account, state."""
    try:
        authorities = sorted(os.listdir(paths.accounts))
    except OSError:
        return []
    found: list[dict[str, object]] = []
    for authority in authorities:
        try:
            profiles = sorted(os.listdir(os.path.join(paths.accounts, authority)))
        except OSError:
            continue
        for profile in profiles:
            directory = os.path.join(paths.accounts, authority, profile)
            if os.path.abspath(directory) == os.path.abspath(paths.dir):
                continue
            try:
                state = read_json(os.path.join(directory, "state.json"), what="state file") or {}
            except StoreError:
                continue
            meta = state.get("credential")
            if not isinstance(meta, dict):
                continue
            found.append(
                {
                    "issuer": meta.get("issuer"),
                    "profile": profile,
                    "account": meta.get("account"),
                    "tier_name": meta.get("tier_name"),
                    "state": credential_state(meta, now) or "expired",
                }
            )
    return found
