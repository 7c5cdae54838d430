"""The non-secret state file, ``state.json``: what status() reads offline.

    {"credential": {"storage", "issuer", "client_id", "tier", "tier_name",
                    "expires_at", "lifetime", "reauth_required", "reauth_reason"},
     "keyring_unusable": "<why we fell back to the file>",
     "models": {"fetched_at", "models", "image_models", "video_models", "default_model_id", "origin"},
     "models_failed": {"fetched_at", "code", "message"}}

``models_failed`` says why the subscription's last listing was refused
(cleared by the next one that works): status() then names no default model
it cannot vouch for.

Tokens never go here; this file exists so that status() needs neither the
keyring nor any heavy import.
"""

from ._files import corrupt, read_json, write_json
from ._paths import Paths

__all__ = ["RECOVER_LOCK_TIMEOUT", "credential_state", "read_state", "storage_note", "write_state"]

#: status() waits this long for a grant in flight elsewhere before answering without settling its journal.
RECOVER_LOCK_TIMEOUT = 1.0

_NUMBER = (int, float)
#: What each field must be when present (None is always allowed): a state file is read by every call,
#: so one of the wrong shape is set aside once instead of failing every call after.
_SHAPES: "dict[str, object]" = {
    "credential": dict,
    "keyring_unusable": str,
    "models": dict,
    "models_failed": dict,
    "usage": dict,
    "recovered": dict,
}
_CREDENTIAL_SHAPES: "dict[str, object]" = {
    "storage": str,
    "storage_reason": str,
    "issuer": str,
    "client_id": str,
    "profile": str,
    "account": str,
    "tier": int,
    "tier_name": str,
    "expires_at": _NUMBER,
    "lifetime": _NUMBER,
    "reauth_required": bool,
    "refreshable": bool,
    "reauth_reason": str,
    "refreshed_at": _NUMBER,
    "signed_in_at": _NUMBER,
    "unconfirmed": dict,
}
_STAMPED: "dict[str, object]" = {"fetched_at": _NUMBER}
_FAILED_SHAPES: "dict[str, object]" = {"fetched_at": _NUMBER, "code": str, "message": str}
_RECOVERED_SHAPES: "dict[str, object]" = {"at": _NUMBER, "received_at": _NUMBER, "grant": str}


def _fits(record: "dict[str, object]", shapes: "dict[str, object]") -> bool:
    for name, kind in shapes.items():
        value = record.get(name)
        if value is None:
            continue
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):  # type: ignore[arg-type]
            return False
        if isinstance(value, (int, float)) and not isinstance(value, bool) and not abs(value) < 1e11:
            return False  # a time (or tier) no clock reaches; also keeps int(...) and float(...) from overflowing
    return True


def read_state(paths: Paths) -> "dict[str, object]":
    """The state, ``{}`` when there is none; ``StoreCorrupt`` (file set aside) when damaged or mis-shaped."""
    state = read_json(paths.state, what="state file") or {}
    credential, models, usage, recovered, failed = (
        state.get(k) for k in ("credential", "models", "usage", "recovered", "models_failed")
    )
    if (
        not _fits(state, _SHAPES)
        or (isinstance(recovered, dict) and not _fits(recovered, _RECOVERED_SHAPES))
        or (isinstance(credential, dict) and not _fits(credential, _CREDENTIAL_SHAPES))
        or (isinstance(models, dict) and not (_valid_listing(models) and _fits(models, _STAMPED)))
        or (isinstance(usage, dict) and not _fits(usage, _STAMPED))
        or (isinstance(failed, dict) and not _fits(failed, _FAILED_SHAPES))
    ):
        raise corrupt(paths.state, "state file", "did not have the expected shape")
    return state


def _valid_listing(models: "dict[str, object]") -> bool:
    listed = [models.get("models"), models.get("image_models"), models.get("video_models")]
    return all(
        entry is None
        or (isinstance(entry, list) and all(isinstance(m, dict) and isinstance(m.get("id"), str) for m in entry))
        for entry in listed
    ) and isinstance(models.get("default_model_id"), (str, type(None)))


def write_state(paths: Paths, state: "dict[str, object]") -> None:
    write_json(paths.state, state)


def storage_note(paths: Paths, meta: "dict[str, object]") -> str:
    """What status() and poll() say of a credential kept in the file, and why it is there."""
    return f"kept in a plaintext file {paths.credentials}: {meta.get('storage_reason') or 'chosen'}"


def credential_state(meta: "dict[str, object]", now: float) -> "str | None":
    """``reauth_required``, ``refresh_unconfirmed``, ``connected`` or ``expired`` for a ``credential`` record.

    None when the record has no usable expiry; each caller says what that means for it.
    """
    if meta.get("reauth_required"):
        return "reauth_required"
    if meta.get("unconfirmed"):
        return "refresh_unconfirmed"
    expires_at = meta.get("expires_at")
    if isinstance(expires_at, (int, float)):
        return "connected" if now < expires_at else "expired"
    return None
