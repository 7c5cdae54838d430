"""The emulated auth.x.ai over HTTP: discovery, JWKS, device authorization, the token and revocation endpoints,
and the verification page a person sees.

Only the HTTP side: what each endpoint decides lives in ``Authority`` (``_authority``), which raises
``OAuthRefusal`` for an RFC 6749 §5.2 error answer (the server turns it into JSON).
"""

from __future__ import annotations

import html
import time
from urllib.parse import parse_qs, urlsplit

from ._exchange import Exchange

__all__ = ["device_code", "device_form", "device_page", "discovery", "jwks", "revoke", "token"]


def discovery(ex: Exchange, path: str) -> None:
    base = ex.emulator.url
    ex.json(
        200,
        {
            "issuer": base,
            "device_authorization_endpoint": f"{base}/oauth2/device/code",
            "token_endpoint": f"{base}/oauth2/token",
            "revocation_endpoint": f"{base}/oauth2/revoke",
            "jwks_uri": f"{base}/oauth2/jwks",
            "grant_types_supported": ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"],
            "token_endpoint_auth_methods_supported": ["none"],
        },
    )


def jwks(ex: Exchange, path: str) -> None:
    ex.json(200, ex.emulator.authority.jwks())


def device_code(ex: Exchange, path: str) -> None:
    """RFC 8628 §3.1: a device code and the user code the person will check."""
    form = ex.form()
    ex.json(200, ex.emulator.authority.device_authorization(form.get("client_id", ""), form.get("scope", "")))


def token(ex: Exchange, path: str) -> None:
    """The device_code and refresh_token grants; ``on_token_answer`` runs once the answer has left."""
    emulator = ex.emulator
    answer = emulator.authority.token(ex.form())
    time.sleep(emulator.authority.settings.token_answer_delay)
    if emulator.token_answer_gate is not None:
        emulator.token_answer_gate.wait(timeout=300)
    if not ex.misbehave(path, after=True):
        ex.json(200, answer)
        if emulator.on_token_answer is not None:
            emulator.on_token_answer()


def revoke(ex: Exchange, path: str) -> None:
    """RFC 7009: 200 with an empty body, whether or not the token was known."""
    ex.emulator.authority.revoke(ex.form())
    ex.send(200, b"", "text/plain")


def device_page(ex: Exchange, path: str) -> None:
    code = parse_qs(urlsplit(ex.path).query).get("user_code", [""])[0]
    ex.html(200, _verification_page(code))


def device_form(ex: Exchange, path: str) -> None:
    """The verification page's form: the person approves or denies the code."""
    form = ex.form()
    decision = "approved" if form.get("decision") == "approve" else "denied"
    ok = ex.emulator.authority.decide(form.get("user_code", ""), decision)
    ex.html(200 if ok else 400, _result_page(decision if ok else "unknown"))


def _verification_page(user_code: str) -> str:
    code = html.escape(user_code)
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>xAI emulator: approve sign-in</title></head>
<body style="font-family: sans-serif; max-width: 32em; margin: 4em auto">
<h1>Sign in to Grok (emulator)</h1>
<p>An app is asking to use your subscription. Check that this code matches the one it showed you.</p>
<form method="post" action="/device">
<p><label>Code <input name="user_code" value="{code}" style="font-size: 1.5em; letter-spacing: .1em"></label></p>
<button name="decision" value="approve">Approve</button>
<button name="decision" value="deny">Deny</button>
</form></body></html>"""


def _result_page(outcome: str) -> str:
    text = {
        "approved": "Approved. You can close this page and go back to the app.",
        "denied": "Denied. The app will not get access.",
    }.get(outcome, "That code is unknown or expired. Start the sign-in again.")
    return f"<!doctype html><html><body style='font-family: sans-serif'><h1>{html.escape(text)}</h1></body></html>"
