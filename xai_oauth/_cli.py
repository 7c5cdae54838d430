"""``xai-oauth``: the command for a person at a terminal (also ``python -m xai_oauth``).

Modelled on ``gh auth`` and ``codex login``. Every subcommand is a thin layer
over ``exports`` (so errors arrive as dicts with ``message`` and ``action``,
never as tracebacks) that formats the answer for a person, or prints it as
JSON with ``--json`` (``login --json`` prints JSON Lines: the pending sign-in,
then the outcome). Exit codes: 0 success, 1 failure, 2 sign-in denied, 3
sign-in code expired, 64 usage error (as sysexits' EX_USAGE), 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, TextIO

import exports

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_DENIED, EXIT_EXPIRED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 3, 64, 130
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["emulator"]:  # its options belong to python -m xai_oauth.emulator
        return _emulator(argv[1:])
    parser = _parser()
    if not argv:
        parser.print_help()
        return EXIT_OK
    try:
        args = parser.parse_args(argv)
    except _UsageError as exc:
        parser.print_usage(sys.stderr)
        print(f"xai-oauth: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.debug:
        os.environ["XAI_OAUTH_DEBUG"] = "1"  # error dicts then carry a redacted traceback
    if args.profile:
        os.environ["XAI_OAUTH_PROFILE"] = args.profile  # the exports read their settings from the environment
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        print("\nInterrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `xai-oauth models | head`: the reader left, which is fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


class _UsageError(Exception):
    """A command line argparse could not read: exit EXIT_USAGE, not argparse's 2 (which is 'sign-in denied')."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse would exit 2
        raise _UsageError(message)


DEBUG_HELP = "on errors, also show a traceback (tokens redacted)"


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="xai-oauth",
        description="Sign in to xAI / Grok with your subscription, and use it.",
        epilog="Exit codes: 0 ok, 1 failed, 2 sign-in denied, 3 sign-in code expired, 64 usage error, 130 interrupted.",
    )
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    parser.add_argument(
        "--profile", help="which of several accounts at one issuer (default: XAI_OAUTH_PROFILE, else 'default')"
    )
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND", parser_class=_Parser)

    def command(name: str, run: Any, text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=text, description=text)
        sub.add_argument("--json", action="store_true", help="print the result as JSON")
        # --debug after the command too; SUPPRESS keeps the one given before it
        sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
        sub.set_defaults(run=run)
        return sub

    login = command(
        "login",
        _login,
        "Sign in with the device flow: open the link, approve, done. With --json, prints JSON Lines: "
        "the pending sign-in, then the outcome.",
    )
    login.add_argument("--no-browser", action="store_true", help="do not open a browser; just print the link")
    login.add_argument("--force", action="store_true", help="sign in again even when already signed in")
    command("status", _status, "Show whether you are signed in, with which subscription, until when.")
    command("logout", _logout, "Revoke the sign-in at xAI and forget it here.")
    refresh = command("refresh", _refresh, "Renew the access token now if it is due (or always, with --force).")
    refresh.add_argument("--force", action="store_true", help="renew even when the token is not due yet")
    command("models", _models, "List the models you can use.")
    command("usage", _usage, "Show how much of the subscription's usage you have used this period.")
    chat = command("chat", _chat, "Ask a Grok model something.")
    chat.add_argument(
        "prompt",
        nargs="?",
        help="the question; omitted: read from stdin when it is not a terminal, or --file holds the conversation",
    )
    chat.add_argument("--model", "-m", help="xai-grok/<id> (subscription), xai/<id> (API key); default: your default")
    chat.add_argument("--system", "-s", help="a system message to put first")
    chat.add_argument("--file", "-f", help="a JSON file with a list of chat messages")
    chat.add_argument(
        "--thinking", choices=("low", "medium", "high"), help="reasoning effort (multi-agent: 4 or 16 agents)"
    )
    chat.add_argument("--max-tokens", type=int, help="the longest answer, in tokens")
    chat.add_argument(
        "--search", metavar="web,x", help="let the model search the web and/or X on xAI's side, and list its sources"
    )
    chat.add_argument(
        "--stream",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="print the answer as it arrives (default: when the output is a terminal)",
    )
    image = command("image", _image, "Make images (or edit a picture) and save them as files.")
    image.add_argument("prompt", help="what the picture should show (or, with --edit, how to change it)")
    image.add_argument("--model", "-m", help="xai-grok/<id> or xai/<id> (default: the first image model listed)")
    image.add_argument("-n", type=int, default=1, help="how many images (default 1)")
    image.add_argument("--aspect-ratio", help="e.g. 1:1, 16:9, 9:16 (default: the model's choice)")
    image.add_argument("--edit", metavar="FILE", help="a local picture (PNG, JPEG, WebP) to start from")
    image.add_argument("-o", "--out-dir", help="where to save (default: $XAI_OAUTH_MEDIA_DIR, else ./grok-media)")
    video = command("video", _video, "Make a short video clip and save it, showing progress while xAI renders it.")
    video.add_argument("prompt", nargs="?", help="what the clip should show (omit with --status)")
    video.add_argument("--model", "-m", help="xai-grok/<id> or xai/<id> (default: the first video model listed)")
    video.add_argument("--duration", type=int, help="seconds, 1 to 15 (default: the model's)")
    video.add_argument("--aspect-ratio", help="e.g. 16:9, 9:16, 1:1")
    video.add_argument("--resolution", help="480p or 720p")
    video.add_argument("--image", metavar="FILE", help="a local picture to animate")
    video.add_argument("-o", "--out-dir", help="where to save (default: $XAI_OAUTH_MEDIA_DIR, else ./grok-media)")
    video.add_argument("--no-wait", action="store_true", help="start the job and print its request id at once")
    video.add_argument("--status", metavar="REQUEST_ID", help="go on with a job started before (--no-wait)")
    video.add_argument("--timeout", type=float, default=600, help="seconds to wait before giving up (default 600)")
    commands.add_parser(
        "emulator",
        add_help=False,
        help="Serve the built-in xAI emulator for trying everything offline (--port, --tier, --help).",
    )
    return parser


# -- output -------------------------------------------------------------------


def _emit(result: dict[str, Any], args: argparse.Namespace, human: Any, *, one_line: bool = False) -> int:
    """Print ``result`` as JSON or through ``human``; errors as message + action. Returns the exit code.

    The JSON speaks the command's language too: an action says ``xai-oauth login``, not ``start()``.
    ``one_line`` keeps it on one line (JSON Lines, for ``login --json``).
    """
    result = _in_commands(result)
    if args.json:
        print(json.dumps(result, indent=None if one_line else 2), flush=True)
    elif result.get("ok"):
        human(result)
    if not result.get("ok"):
        if not args.json:
            _print_error(result)
        return (
            EXIT_DENIED
            if result.get("error") == "access_denied"
            else (EXIT_EXPIRED if result.get("error") == "expired" else EXIT_FAILED)
        )
    return EXIT_OK


def _print_error(result: dict[str, Any], stream: TextIO | None = None) -> None:
    stream = stream or sys.stderr
    print(f"error: {result.get('message')}", file=stream)
    if result.get("action"):
        print(f"  → {result['action']}", file=stream)  # _emit already put it in the command's words
    if result.get("traceback"):
        print(result["traceback"], file=stream, end="")


_COMMANDS = {
    "start()": "xai-oauth login",
    "poll()": "xai-oauth login",
    "logout()": "xai-oauth logout",
    "refresh()": "xai-oauth refresh",
    "models()": "xai-oauth models",
    "usage()": "xai-oauth usage",
    "status()": "xai-oauth status",
    "chat()": "xai-oauth chat",
}
#: The fields of an export's dict that talk to a person (and so may name a call).
_SPOKEN = ("message", "action", "note", "storage_note")


def _in_commands(result: dict[str, Any]) -> dict[str, Any]:
    """``result`` with every spoken field in the command's words (``notes`` too)."""
    spoken: dict[str, Any] = {
        name: _for_terminal(result[name]) for name in _SPOKEN if isinstance(result.get(name), str)
    }
    if isinstance(result.get("notes"), list):
        spoken["notes"] = [_for_terminal(n) if isinstance(n, str) else n for n in result["notes"]]
    return {**result, **spoken}


def _for_terminal(action: str) -> str:
    """An export's sentence, with its function names as the commands a person types."""
    for call, command in _COMMANDS.items():
        action = action.replace(call, f"`{command}`")
    return action.replace("Call `", "Run `").replace("call `", "run `")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours} h {rest // 60} min" if hours else f"{rest // 60} min {rest % 60} s"


# -- commands -------------------------------------------------------------------


def _login(args: argparse.Namespace) -> int:
    if not args.force and not _confirm_new_sign_in(args):
        return EXIT_FAILED
    started = exports.start(force=args.force)
    if not started.get("ok"):
        return _emit(started, args, None, one_line=True)
    try:  # from here on, Ctrl-C means "give up": drop the pending sign-in
        _show_link(started, args)
        result = _wait_for_approval(started, quiet=args.json or not sys.stderr.isatty())
    except KeyboardInterrupt:
        from ._account import Account

        Account().cancel_login()
        print("\nCancelled; nothing was saved.", file=sys.stderr)
        return EXIT_INTERRUPTED
    return _emit(
        result,
        args,
        lambda r: print(
            f"Signed in{' as ' + r['account'] if r.get('account') else ''}: {r['tier_name']} (tier {r['tier']}); "
            f"token good for {_duration(r['expires_in'])}, kept in {r['storage']}.\n"
            f"Default model: {r['default_model_id']} (another: xai-oauth chat -m xai-grok/<id>; "
            "list them with xai-oauth models)"
        ),
        one_line=True,
    )


def _confirm_new_sign_in(args: argparse.Namespace) -> bool:
    """Signed in already: a terminal is asked first; elsewhere --force is needed (as gh auth login does)."""
    status = exports.status()
    if not status.get("ok") or status.get("state") in ("logged_out", "pending", None):
        return True
    who = status.get("account") or status.get("tier_name") or "an account"
    if sys.stdin.isatty() and not args.json:
        answer = input(f"You are already signed in as {who}. Sign in again (the current sign-in is replaced)? [y/N] ")
        return answer.strip().lower() in ("y", "yes")
    _emit(
        {
            "ok": False,
            "error": "already_signed_in",
            "message": f"Already signed in as {who}.",
            "action": "Run `xai-oauth login --force` to sign in again, or `xai-oauth logout` first.",
        },
        args,
        None,
        one_line=True,
    )
    return False


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
            _print_qr(url)
    if not args.no_browser and _has_display():
        import webbrowser

        webbrowser.open(url)


def _wait_for_approval(started: dict[str, Any], *, quiet: bool) -> dict[str, Any]:
    """Poll at the server's interval until the sign-in is approved, denied or expired."""
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
                left = _duration(deadline - time.time())
                print(
                    f"\r{SPINNER[frame % len(SPINNER)]} Waiting for approval · code expires in {left} ",
                    end="",
                    file=sys.stderr,
                    flush=True,
                )
                frame += 1
            time.sleep(0.1)


def _print_qr(url: str) -> None:
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


def _status(args: argparse.Namespace) -> int:
    result = exports.status()

    def human(r: dict[str, Any]) -> None:
        if r["connected"]:
            from ._tiers import TIERS

            tier = TIERS.get(r["tier"]) if isinstance(r["tier"], int) else None
            about = f" - {tier.access}" if tier else ""
            who = f" as {r['account']}" if r.get("account") else ""
            print(f"Signed in{who}: {r['tier_name']} (tier {r['tier']}){about}")
            print(f"Token expires in {_duration(r['expires_in'])}, {r.get('storage_note') or 'kept in the keyring'}")
            print(f"Default model: {r['default_model_id']}")
            if isinstance(r.get("usage"), dict) and r["usage"].get("credit_usage_percent") is not None:
                age = _duration(r["usage"]["age_seconds"])
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

    code = _emit(result, args, human)
    usable = result.get("connected") or result.get("api_key")
    return code if code else (EXIT_OK if usable else EXIT_FAILED)


def _logout(args: argparse.Namespace) -> int:
    def human(r: dict[str, Any]) -> None:
        if not r.get("was_signed_in"):
            print("Not signed in; nothing to do.")
        else:
            print(
                "Signed out" + (" and revoked at xAI." if r["revoked"] else " (revocation at xAI was not confirmed).")
            )

    return _emit(exports.logout(), args, human)


def _refresh(args: argparse.Namespace) -> int:
    return _emit(
        exports.refresh(force=args.force),
        args,
        lambda r: print(
            ("Renewed" if r["refreshed"] else "Still fresh") + f"; expires in {_duration(r['expires_in'])}."
        ),
    )


def _usage(args: argparse.Namespace) -> int:
    def show(r: dict[str, Any]) -> None:
        percent = r["credit_usage_percent"]
        used = "unknown" if percent is None else f"{percent:g}%"
        period = r["period"]
        span = f" ({period.get('start', '?')} to {period.get('end', '?')})" if period else ""
        print(f"{r['tier_name']}: {used} of this period's usage used{span}.")

    return _emit(exports.usage(), args, show)


def _models(args: argparse.Namespace) -> int:
    def human(r: dict[str, Any]) -> None:
        rows = [
            (m["id"] + (" (default)" if m["id"] == r["default_model_id"] else ""), m["lane"], m["credential"])
            for m in r["models"]
        ]
        rows += [(m["id"], "images", m["credential"]) for m in r["image_models"]]
        width = max((len(row[0]) for row in rows), default=5)
        print(f"{'MODEL':<{width}}  {'LANE':<16}  PAID BY")
        for model, lane, credential in rows:
            print(f"{model:<{width}}  {lane:<16}  {credential.replace('_', ' ')}")
        for note in r.get("notes", []):
            print(f"note: {note}")

    return _emit(exports.models(), args, human)


def _chat(args: argparse.Namespace) -> int:
    messages: list[dict[str, Any]] = []
    if args.file:
        try:
            with open(args.file, encoding="utf-8") as handle:
                messages = json.load(handle)
        except (OSError, ValueError) as exc:
            return _emit(
                {
                    "ok": False,
                    "error": "invalid_request",
                    "message": f"Could not read {args.file}: {type(exc).__name__}.",
                    "action": "Give a JSON file holding a list of {role, content} messages.",
                },
                args,
                None,
            )
    if args.system:
        messages.insert(0, {"role": "system", "content": args.system})
    prompt = args.prompt
    if prompt is None and not args.file and not sys.stdin.isatty():
        prompt = sys.stdin.read().strip()  # `echo question | xai-oauth chat`
    if prompt:
        messages.append({"role": "user", "content": prompt})
    params: dict[str, Any] = {}
    if args.max_tokens is not None:
        params["max_tokens"] = args.max_tokens
    stream = (sys.stdout.isatty() if args.stream is None else args.stream) and not args.json
    if args.search:
        params["search"] = args.search
    result = exports.chat(
        args.model, messages, stream=stream, thinking={"effort": args.thinking} if args.thinking else None, **params
    )

    def human(r: dict[str, Any]) -> None:
        if not stream:
            print(r["content"])
        if r.get("citations"):
            print("\nSources:")
            for number, cited in enumerate(r["citations"], 1):
                print(f"  [{number}] {cited['title'] + ' - ' if cited.get('title') else ''}{cited['url']}")
        if r.get("note"):
            print(f"note: {r['note']}", file=sys.stderr)

    return _emit(result, args, human)


def _image(args: argparse.Namespace) -> int:
    result = exports.image(
        args.prompt, args.model, n=args.n, aspect_ratio=args.aspect_ratio, image=args.edit, out_dir=args.out_dir
    )

    def human(r: dict[str, Any]) -> None:
        print(f"Saved {len(r['files'])} image{'s' if len(r['files']) != 1 else ''} ({r['model']}):")
        for path in r["files"]:
            print(f"  {path}")
        if r.get("revised_prompt"):
            print(f"The model drew: {r['revised_prompt']}")

    return _emit(result, args, human)


def _video(args: argparse.Namespace) -> int:
    """Start the job (or take up ``--status``), then check at the server's pace with a spinner on stderr."""
    if args.status:
        result = exports.video_status(args.status)
    elif args.prompt:
        result = exports.video(
            args.prompt,
            args.model,
            duration=args.duration,
            aspect_ratio=args.aspect_ratio,
            resolution=args.resolution,
            image=args.image,
            out_dir=args.out_dir,
            wait=False,
        )
    else:
        print("xai-oauth: error: video needs a prompt, or --status REQUEST_ID", file=sys.stderr)
        return EXIT_USAGE
    started, frame = time.monotonic(), 0
    live = sys.stderr.isatty() and not args.json
    while result.get("ok") and result.get("status") == "pending" and not args.no_wait:
        if time.monotonic() - started > args.timeout:
            break
        deadline = time.monotonic() + float(result.get("retry_after") or 5)
        while time.monotonic() < deadline:
            if live:
                elapsed = int(time.monotonic() - started)
                print(
                    f"\r{SPINNER[frame % len(SPINNER)]} xAI is rendering the clip ({elapsed} s)",
                    end="",
                    file=sys.stderr,
                )
                frame += 1
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
        result = exports.video_status(result["request_id"])
    if live:
        print("\r\033[K", end="", file=sys.stderr)

    def human(r: dict[str, Any]) -> None:
        if r["status"] == "done":
            seconds = f", {r['duration']:g} s" if r.get("duration") else ""
            print(f"Saved the clip ({r['model']}{seconds}):\n  {r['file']}")
        else:
            print(f"Still rendering. Check again with: xai-oauth video --status {r['request_id']}")

    return _emit(result, args, human)


def _emulator(rest: list[str]) -> int:
    from .emulator.__main__ import main as serve

    return serve(rest)
