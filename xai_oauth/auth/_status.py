"""status(): where the sign-in stands, answered offline from the state files.

This is the fast path an agent hits in a fresh process, so it imports only
the standard library's ``os``, ``time`` and ``json`` and our own light
modules: no httpx2, no jwt, no keyring, no platformdirs.
"""

import os
import time

from .._models import DEFAULT_MODEL_ID, pick_default, sendable
from ..store._errors import StoreCorrupt
from ..store._files import check_private, read_json
from ..store._paths import Paths
from ..store._state import RECOVER_LOCK_TIMEOUT, credential_state, read_state, storage_note

__all__ = ["current_status", "listed_default", "read_status"]

_ACTIONS = {
    "expired": "The access token has expired; call refresh() (any API call does this for you).",
    "reauth_required": "Call logout() and then start() to sign in again.",
    "refresh_unconfirmed": "A token refresh was sent but its answer never arrived; call refresh() once to settle it "
    "(xAI still honours the old token for a short grace). If that says reauth_required, call logout() and start().",
    "pending": "A sign-in is waiting for approval: after the person approves, call poll().",
    "logged_out": "Call start() to sign in with a subscription, or set XAI_API_KEY.",
}


def current_status(now: "float | None" = None) -> "dict[str, object]":
    """status() for the settings in force: the environment, the home's .env.xai, the working directory's."""
    from .._settings import KEY_PREFIX, Settings
    from ._slots import adopt_legacy

    settings = Settings()
    adopted = adopt_legacy(settings.home)
    notes = settings.notes() + ([adopted] if adopted else [])
    key = settings.get("XAI_API_KEY").strip()
    if key and not key.startswith(KEY_PREFIX):
        notes.append(
            f"XAI_API_KEY does not start with '{KEY_PREFIX}', as xAI keys do: is it a key for another service?"
        )
    paths = Paths(settings.home, settings.slot)
    if os.path.exists(paths.journal):  # rare: a token grant was interrupted; settle it (the heavy path)
        from .._config import Config
        from .._exceptions import XaiOAuthError
        from ._refresh import recover
        from ._session import Session
        from ._vault import Vault

        try:
            session = Session(Config.from_env())
            recover(session, Vault(session), timeout=RECOVER_LOCK_TIMEOUT)
        except XaiOAuthError as exc:
            notes.append(f"An interrupted token grant could not be settled yet: {exc.message}")
    from ..transport._version_gate import version_note

    notes.append(version_note(settings.get("XAI_OAUTH_CLIENT_VERSION").strip() or None, paths))
    return read_status(paths, now, notes=notes, api_key=bool(settings.get("XAI_API_KEY")))


def read_status(
    paths: "Paths | None" = None,
    now: "float | None" = None,
    *,
    notes: "list[str] | None" = None,
    api_key: bool = False,
) -> "dict[str, object]":
    """The status dict (see ``exports.status``). Raises ``StoreCorrupt`` for a damaged state file.

    ``notes`` (what the settings or an adoption want said) and ``api_key``
    (whether one is set; never the key) come from the caller, who read the settings.
    """
    paths = paths or Paths()
    t = time.time() if now is None else now
    for directory in (paths.home, paths.dir):
        check_private(directory)
    state = read_state(paths)
    cred = state.get("credential")
    cred = cred if isinstance(cred, dict) else None
    models = state.get("models")
    models = models if isinstance(models, dict) else {}
    default_model, no_default = listed_default(state) if cred else (None, None)

    try:
        pending = read_json(paths.pending, what="pending sign-in")
    except StoreCorrupt:
        pending = None
    pending_expires = pending.get("expires_at") if pending else None
    pending_live = isinstance(pending_expires, (int, float)) and t < pending_expires

    expires_at = cred.get("expires_at") if cred else None
    kind = (credential_state(cred, t) if cred else None) or ("pending" if pending_live else "logged_out")
    renew_on_next_call = kind == "expired" and bool(cred and cred.get("refreshable"))
    if renew_on_next_call:
        kind = "connected"  # an expired access token with a refresh token behind it is still a working sign-in

    result: dict[str, object] = {
        "ok": True,
        "connected": kind == "connected",
        "state": kind,
        "tier": cred.get("tier") if cred else None,
        "tier_name": cred.get("tier_name", "unknown") if cred else None,
        "expires_at": int(expires_at) if isinstance(expires_at, (int, float)) else None,
        "expires_in": max(0, int(expires_at - t)) if isinstance(expires_at, (int, float)) else None,
        "storage": cred.get("storage") if cred else None,
        "default_model_id": default_model,
        "api_key": api_key,
    }
    if cred and cred.get("account"):
        result["account"] = cred["account"]
    if cred and cred.get("issuer"):
        result["issuer"] = cred["issuer"]
    if cred and cred.get("storage") == "file":
        result["storage_note"] = storage_note(paths, cred)  # it names the file: once is enough
    if isinstance(models.get("models"), list):
        result["models"] = models["models"]  # the shape models() gives: id, lane, credential
    usage = state.get("usage")
    if cred and isinstance(usage, dict) and isinstance(usage.get("fetched_at"), (int, float)):
        result["usage"] = {
            "credit_usage_percent": usage.get("credit_usage_percent"),
            "period": usage.get("period"),
            "age_seconds": max(0, int(t - usage["fetched_at"])),
        }
    if kind == "reauth_required" and cred and cred.get("reauth_reason"):
        result["reason"] = cred["reauth_reason"]
    unconfirmed = cred.get("unconfirmed") if cred else None
    if kind == "refresh_unconfirmed" and isinstance(unconfirmed, dict):
        result["reason"] = unconfirmed.get("why")
    recovered = state.get("recovered")
    if isinstance(recovered, dict) and isinstance(recovered.get("received_at"), (int, float)):
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(recovered["received_at"]))
        what = "sign-in" if recovered.get("grant") != "refresh_token" else "token refresh"
        notes = [*(notes or []), f"Recovered a {what} answered at {when} whose process stopped before saving it."]
    if pending_live and pending:
        result["pending"] = {
            "user_code": pending.get("user_code"),
            "verification_url_with_code": pending.get("verification_url_with_code"),
            "expires_at": int(pending_expires),  # type: ignore[call-overload]
        }
    if no_default:
        notes = [*(notes or []), no_default]
    if renew_on_next_call:
        result["refresh_due"] = True
        notes = [*(notes or []), "The access token has expired; the next call renews it with the refresh token."]
    if kind == "logged_out" and api_key:
        result["action"] = "The API key works now (xai/<model>); call start() to sign in with a subscription too."
    elif kind in _ACTIONS:
        result["action"] = _ACTIONS[kind]
    from ._slots import other_signins

    others = other_signins(paths, t)
    if others:
        result["other_signins"] = others
    if notes:
        result["notes"] = notes
    return result


def listed_default(state: "dict[str, object]") -> "tuple[str | None, str | None]":
    """The default model a signed-in status() and poll() name, and, when none, why (a note).

    Only what the subscription's listing can vouch for: none when its last
    listing was refused or had no chat models (a default it does not serve
    would only send the person to a second failure); xAI's usual default
    when it was never listed; never an id no request could carry.
    """
    failed = state.get("models_failed")
    if isinstance(failed, dict):
        said = failed.get("message") or "refused"
        return None, f"No default model: the subscription's models could not be listed ({failed.get('code')}): {said}"
    models = state.get("models")
    listed = models.get("models") if isinstance(models, dict) else None
    if not isinstance(models, dict) or not isinstance(listed, list):
        return DEFAULT_MODEL_ID, None
    default = models.get("default_model_id")
    if not sendable(default):
        default = pick_default([m["id"] for m in listed if isinstance(m, dict) and isinstance(m.get("id"), str)])
    if default is None:
        return None, "No default model: the subscription's last listing had no chat models (see models())."
    return str(default), None
