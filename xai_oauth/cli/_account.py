"""``xai-oauth status``, ``logout``, ``refresh``, ``usage`` and ``models``: what does a person see of the account?

Each is one export call and a printer for its dict. ``status`` must stay
light: ``exports.status()`` answers from the state files without loading the
HTTP client, and nothing here imports more than the standard library before
an export is called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import exports

from ._output import EXIT_FAILED, EXIT_OK, duration, emit

if TYPE_CHECKING:
    import argparse

__all__ = ["logout", "models", "refresh", "status", "usage"]


def status(args: argparse.Namespace) -> int:
    result = exports.status()

    def human(r: dict[str, Any]) -> None:
        if r["connected"]:
            from .._tiers import TIERS

            tier = TIERS.get(r["tier"]) if isinstance(r["tier"], int) else None
            about = f" - {tier.access}" if tier else ""
            who = f" as {r['account']}" if r.get("account") else ""
            print(f"Signed in{who}: {r['tier_name']} (tier {r['tier']}){about}")
            print(f"Token expires in {duration(r['expires_in'])}, {r.get('storage_note') or 'kept in the keyring'}")
            print(f"Default model: {r['default_model_id'] or 'none (see the notes)'}")
            if isinstance(r.get("usage"), dict) and r["usage"].get("credit_usage_percent") is not None:
                age = duration(r["usage"]["age_seconds"])
                print(f"Usage: {r['usage']['credit_usage_percent']:g}% of this period (read {age} ago)")
        else:
            print(
                {
                    "expired": "Signed in, but the access token has expired (any call refreshes it).",
                    "pending": "A sign-in is waiting for approval.",
                    "reauth_required": f"The sign-in no longer works ({r.get('reason', 'refused')}).",
                    "refresh_unconfirmed": f"A token refresh got no answer ({r.get('reason')}); the next call "
                    "settles it.",
                }.get(r["state"], "Not signed in.")
            )
            if r.get("api_key"):
                print("An API key is set (XAI_API_KEY): xai/<model> works, e.g. xai-oauth chat -m xai/grok-4.3.")
            elif r.get("action"):
                print(f"  → {r['action']}")
        for other in r.get("other_signins") or []:
            print(f"Also signed in: {other['account'] or 'unknown'} at {other['issuer']} (profile {other['profile']})")
        for note in r.get("notes") or []:
            print(f"Note: {note}")

    code = emit(result, args, human)
    usable = result.get("connected") or result.get("api_key")
    return code if code else (EXIT_OK if usable else EXIT_FAILED)


def logout(args: argparse.Namespace) -> int:
    def human(r: dict[str, Any]) -> None:
        if not r.get("was_signed_in"):
            print("Not signed in; nothing to do.")
        else:
            print(
                "Signed out" + (" and revoked at xAI." if r["revoked"] else " (revocation at xAI was not confirmed).")
            )

    return emit(exports.logout(), args, human)


def refresh(args: argparse.Namespace) -> int:
    return emit(
        exports.refresh(force=args.force),
        args,
        lambda r: print(
            ("Renewed" if r["refreshed"] else "Still fresh") + f"; expires in {duration(r['expires_in'])}."
        ),
    )


def usage(args: argparse.Namespace) -> int:
    def show(r: dict[str, Any]) -> None:
        percent = r["credit_usage_percent"]
        used = "unknown" if percent is None else f"{percent:g}%"
        period = r["period"]
        span = f" ({period.get('start', '?')} to {period.get('end', '?')})" if period else ""
        print(f"{r['tier_name']}: {used} of this period's usage used{span}.")
        for key, label in (
            ("on_demand_used_cents", "On-demand used"),
            ("on_demand_cap_cents", "On-demand cap"),
            ("prepaid_balance_cents", "Prepaid balance"),
        ):
            if r.get(key) is not None:
                print(f"{label}: ${r[key] / 100:,.2f}")
        if r.get("unified_billing") is not None:
            print("Unified billing: " + ("yes (one shared pool)" if r["unified_billing"] else "no"))

    return emit(exports.usage(), args, show)


def models(args: argparse.Namespace) -> int:
    def human(r: dict[str, Any]) -> None:
        rows = [
            (m["id"] + (" (default)" if m["id"] == r["default_model_id"] else ""), m["lane"], m["credential"])
            for m in r["models"]
        ]
        media = [*r["image_models"], *r.get("video_models", [])]
        rows += [(m["id"], _media_lane(m["id"]), m["credential"]) for m in media]
        width = max((len(row[0]) for row in rows), default=5)
        print(f"{'MODEL':<{width}}  {'LANE':<16}  PAID BY")
        for model, lane, credential in rows:
            print(f"{model:<{width}}  {lane:<16}  {credential.replace('_', ' ')}")
        for note in r.get("notes", []):
            print(f"note: {note}")

    return emit(exports.models(refresh=getattr(args, "refresh", False)), args, human)


def _media_lane(model: str) -> str:
    """``video`` or ``images``: the listing still groups the video models with the image models."""
    return "video" if "video" in model.rsplit("/", 1)[-1] else "images"
