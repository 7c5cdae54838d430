"""The non-secret state file, ``state.json``: what status() reads offline.

    {"credential": {"storage", "issuer", "client_id", "tier", "tier_name",
                    "expires_at", "lifetime", "reauth_required", "reauth_reason"},
     "keyring_unusable": "<why we fell back to the file>",
     "models": {"fetched_at", "models", "image_models", "default_model_id"}}

Tokens never go here; this file exists so that status() needs neither the
keyring nor any heavy import.
"""

from ._files import read_json, write_json
from ._paths import Paths

__all__ = ["credential_state", "read_state", "write_state"]


def read_state(paths: Paths) -> "dict[str, object]":
    """The state, ``{}`` when there is none; ``StoreCorrupt`` (file set aside) when damaged."""
    return read_json(paths.state, what="state file") or {}


def write_state(paths: Paths, state: "dict[str, object]") -> None:
    write_json(paths.state, state)


def credential_state(meta: "dict[str, object]", now: float) -> "str | None":
    """``reauth_required``, ``connected`` or ``expired`` for a state file's ``credential`` record.

    None when the record has no usable expiry; each caller says what that means for it.
    """
    if meta.get("reauth_required"):
        return "reauth_required"
    expires_at = meta.get("expires_at")
    if isinstance(expires_at, (int, float)):
        return "connected" if now < expires_at else "expired"
    return None
