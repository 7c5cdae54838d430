"""``xai-oauth login``: how does a person at a terminal get through the device flow?

Ask before replacing a working sign-in (a terminal is asked; elsewhere
``--force`` is needed, as ``gh auth login`` does and as ``start()`` itself
answers), show the link and code prominently (a QR code too, for a phone
beside a headless server), open a browser when there is a display, and wait
with a spinner at the server's pace. Ctrl-C while waiting
drops the pending sign-in, so nothing half-done is left behind.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import TYPE_CHECKING, Any

import exports

from ..store._interrupts import remembered_interrupts
from ._output import EXIT_INTERRUPTED, EXIT_OK, SPINNER, duration, emit

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable

__all__ = ["login", "print_qr"]


def login(args: argparse.Namespace) -> int:
    force = bool(args.force)
    if not force and sys.stdin.isatty() and not args.json:
        who = _signed_in_as()
        if who is not None:
            answer = input(
                f"You are already signed in as {who}. Sign in again (the current sign-in is replaced)? [y/N] "
            )
            if answer.strip().lower() not in ("y", "yes"):
                # the person's choice, not a failure: exit 0, as gh auth login does when asked not to re-authenticate
                print(f"Kept the current sign-in ({who}).")
                return EXIT_OK
            force = True
    started = exports.start(force=force)  # elsewhere a working sign-in is kept: start() says already_signed_in
    if not started.get("ok"):
        return emit(started, args, None, one_line=True)
    try:  # from here on, Ctrl-C means "give up": drop the pending sign-in
        with remembered_interrupts() as interrupted:
            _show_link(started, args)
            result = _wait_for_approval(started, quiet=args.json or not sys.stderr.isatty(), interrupted=interrupted)
    except KeyboardInterrupt:
        from ..auth._account import Account

        Account().cancel_login()
        print("\nCancelled; nothing was saved.", file=sys.stderr)
        return EXIT_INTERRUPTED
    return emit(
        result,
        args,
        lambda r: print(
            f"Signed in{' as ' + r['account'] if r.get('account') else ''}: {r['tier_name']} (tier {r['tier']}); "
            f"token good for {duration(r['expires_in'])}, kept in {r['storage']}.\n"
            f"Default model: {r['default_model_id'] or 'none (xai-oauth status says why)'} "
            "(another: xai-oauth chat -m xai-grok/<id>; list them with xai-oauth models)"
        ),
        one_line=True,
    )


def _signed_in_as() -> str | None:
    """Who is signed in with a sign-in that still works (it may need a refresh), or None.

    A sign-in that needs a new one (``reauth_required``) is not worth keeping, so nobody is asked about it.
    """
    status = exports.status()
    if not status.get("ok") or status.get("state") not in ("connected", "expired", "refresh_unconfirmed"):
        return None
    return str(status.get("account") or status.get("tier_name") or "an account")


def _show_link(started: dict[str, Any], args: argparse.Namespace) -> None:
    """The link and code, prominently (a QR code too on a terminal), and the browser when there is a display."""
    url, code = started["verification_url_with_code"], started["user_code"]
    if args.json:
        print(json.dumps(started), flush=True)  # JSON lines: the link first, the outcome last
    else:
        print(
            f"\n  Open this link to sign in:\n\n    {url}\n\n  and check that it shows the code:  {code}\n", flush=True
        )
        if sys.stdout.isatty():
            print_qr(url)
    if not args.no_browser and _has_display():
        import webbrowser

        webbrowser.open(url)


def _wait_for_approval(
    started: dict[str, Any], *, quiet: bool, interrupted: Callable[[], None] = lambda: None
) -> dict[str, Any]:
    """Poll at the server's interval until the sign-in is approved, denied or expired.

    ``interrupted`` raises a Ctrl-C that landed where Python dropped it (see ``remembered_interrupts``).
    """
    deadline = time.time() + float(started["expires_in"])
    frame = 0
    while True:
        result = exports.poll()
        if not result.get("ok") or result.get("status") != "pending":
            if not quiet:
                print("\r\033[K", end="", file=sys.stderr)
            return result
        wake = time.time() + float(result.get("retry_after") or started["interval"])
        while time.time() < wake:
            if not quiet:
                left = duration(deadline - time.time())
                print(
                    f"\r{SPINNER[frame % len(SPINNER)]} Waiting for approval · code expires in {left} ",
                    end="",
                    file=sys.stderr,
                    flush=True,
                )
                frame += 1
            interrupted()
            time.sleep(0.1)


def print_qr(url: str) -> None:
    """The link as a QR code, for a phone when this terminal is on a headless server."""
    try:
        import segno
    except ImportError:
        return
    segno.make(url, error="l").terminal(compact=True)
    print()


def _has_display() -> bool:
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
