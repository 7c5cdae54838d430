"""``xai-oauth``: the command for a person at a terminal (also ``python -m xai_oauth``).

Modelled on ``gh auth`` and ``codex login``. Every subcommand is a thin layer
over ``exports`` (so errors arrive as dicts with ``message`` and ``action``,
never as tracebacks) that formats the answer for a person, or prints it as
JSON with ``--json`` (``login --json`` prints JSON Lines: the pending sign-in,
then the outcome). Exit codes: 0 success, 1 failure, 2 sign-in denied, 3
sign-in code expired, 64 usage error (as sysexits' EX_USAGE), 130 interrupted.

This module reads the command line and dispatches; the rooms beside it:
``_cli_output`` (how the command speaks: JSON or text, errors, exit codes),
``_cli_login`` (the device flow at a terminal), ``_cli_account`` (status,
logout, refresh, usage, models) and ``_cli_ask`` (chat, image, video).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from .._version import __version__
from . import _account as account
from . import _ask as ask
from . import _login as signin
from ._output import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, UsageError

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    _print_anything()
    if argv[:1] == ["emulator"]:  # its options belong to python -m xai_oauth.emulator
        return _emulator(argv[1:])
    parser = _parser()
    if not argv:
        parser.print_help()
        return EXIT_OK
    args: argparse.Namespace | None = None
    try:
        args = _parse(parser, argv)
        if args.debug:
            os.environ["XAI_OAUTH_DEBUG"] = "1"  # error dicts then carry a redacted traceback
        if args.profile:
            os.environ["XAI_OAUTH_PROFILE"] = args.profile  # the exports read their settings from the environment
        return int(args.run(args))
    except UsageError as exc:
        at_fault = exc.parser or getattr(args, "command_parser", None) or parser
        at_fault.print_usage(sys.stderr)
        print(f"{at_fault.prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("\nInterrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `xai-oauth models | head`: the reader left, which is fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def _print_anything() -> None:
    """Text from a server can hold what no encoding can print (a lone surrogate in a model id, a citation URL,
    a ``revised_prompt``, a usage period): it is shown escaped (``\\udc80``), never as a traceback (issue 21
    item 12). The same for a terminal whose encoding is narrower than the text (``LANG=C``).
    """
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """``argv`` read; words no parser knows are blamed on the command they follow, with that command's usage.

    argparse hands every unknown word up to the top parser, which would print
    the top-level usage for ``xai-oauth chat --bogus``.
    """
    args, unknown = parser.parse_known_args(argv)
    command: argparse.ArgumentParser | None = getattr(args, "command_parser", None)
    if unknown:
        name = command.prog.rsplit(" ", 1)[-1] if command else ""
        after = argv[argv.index(name) + 1 :] if name in argv else []
        at_fault = command if command and all(word in after for word in unknown) else parser
        at_fault.error(f"unrecognized arguments: {' '.join(unknown)}")
    if command is None:  # checked here, not by argparse, so that `xai-oauth --bogus` is told about --bogus
        parser.error("the following arguments are required: COMMAND")
    return args


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse would print the top-level usage and exit 2
        raise UsageError(message, self)


DEBUG_HELP = "on errors, also show a traceback (tokens redacted)"
PROFILE_HELP = "which of several accounts at one issuer (default: XAI_OAUTH_PROFILE, else 'default')"


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="xai-oauth",
        description="Sign in to xAI / Grok with your subscription, and use it.",
        epilog="Exit codes: 0 ok, 1 failed, 2 sign-in denied, 3 sign-in code expired, 64 usage error, 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"xai-oauth {__version__}")
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    parser.add_argument("--profile", type=_profile, help=PROFILE_HELP)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)

    def command(name: str, run: Any, text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=text, description=text)
        sub.add_argument("--json", action="store_true", help="print the result as JSON")
        # --debug and --profile after the command too; SUPPRESS keeps the one given before it
        sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
        sub.add_argument("--profile", type=_profile, default=argparse.SUPPRESS, help=PROFILE_HELP)
        sub.set_defaults(run=run, command_parser=sub)
        return sub

    login = command(
        "login",
        signin.login,
        "Sign in with the device flow: open the link, approve, done. With --json, prints JSON Lines: "
        "the pending sign-in, then the outcome.",
    )
    login.add_argument("--no-browser", action="store_true", help="do not open a browser; just print the link")
    login.add_argument("--force", action="store_true", help="sign in again even when already signed in")
    command("status", account.status, "Show whether you are signed in, with which subscription, until when.")
    command("logout", account.logout, "Revoke the sign-in at xAI and forget it here.")
    refresh = command("refresh", account.refresh, "Renew the access token now if it is due (or always, with --force).")
    refresh.add_argument("--force", action="store_true", help="renew even when the token is not due yet")
    models = command("models", account.models, "List the models you can use.")
    models.add_argument("--refresh", action="store_true", help="ask xAI even when the listing is under a minute old")
    command("usage", account.usage, "Show how much of the subscription's usage you have used this period.")
    chat = command("chat", ask.chat, "Ask a Grok model something.")
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
    chat.add_argument("--max-tokens", type=_positive, help="the longest answer, in tokens")
    chat.add_argument(
        "--search", metavar="web,x", help="let the model search the web and/or X on xAI's side, and list its sources"
    )
    chat.add_argument(
        "--stream",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="print the answer as it arrives (default: when the output is a terminal)",
    )
    image = command("image", ask.image, "Make images (or edit a picture) and save them as files.")
    image.add_argument("prompt", help="what the picture should show (or, with --edit, how to change it)")
    image.add_argument("--model", "-m", help="xai-grok/<id> or xai/<id> (default: the first image model listed)")
    image.add_argument("-n", type=_image_count, default=1, help="how many images (default 1)")
    image.add_argument(
        "--aspect-ratio", type=_aspect_ratio, help="e.g. 1:1, 16:9, 9:16, auto (default: the model's choice)"
    )
    image.add_argument("--edit", metavar="FILE", help="a local picture (PNG, JPEG, WebP) to start from")
    image.add_argument("-o", "--out-dir", help="where to save (default: $XAI_OAUTH_MEDIA_DIR, else ./grok-media)")
    video = command("video", ask.video, "Make a short video clip and save it, showing progress while xAI renders it.")
    video.add_argument("prompt", nargs="?", help="what the clip should show (omit with --status)")
    video.add_argument("--model", "-m", help="xai-grok/<id> or xai/<id> (default: the first video model listed)")
    video.add_argument("--duration", type=_video_seconds, help="seconds, 1 to 15 (default: the model's)")
    video.add_argument("--aspect-ratio", type=_aspect_ratio, help="e.g. 16:9, 9:16, 1:1")
    video.add_argument("--resolution", type=_resolution, help="480p or 720p")
    video.add_argument("--image", metavar="FILE", help="a local picture to animate")
    video.add_argument("-o", "--out-dir", help="where to save (default: $XAI_OAUTH_MEDIA_DIR, else ./grok-media)")
    video.add_argument("--no-wait", action="store_true", help="start the job and print its request id at once")
    video.add_argument("--status", metavar="REQUEST_ID", help="go on with a job started before (--no-wait)")
    video.add_argument("--timeout", type=float, default=600, help="seconds to wait before giving up (default 600)")
    pool = command(
        "pool",
        _pool,
        "Show the pool's accounts as a table: from the server running here (its management API), else from the home.",
    )
    pool.add_argument("--port", type=int, default=8787, help="the running server's port (default 8787)")
    serve = commands.add_parser(
        "serve",
        help="Serve the subscription as a local OpenAI- and Anthropic-compatible endpoint, for the tools you use.",
        description="Serve the subscription as a local OpenAI- and Anthropic-compatible endpoint (it needs the "
        "serve extra; when it is missing, the command prints the line that installs it here).",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine)")
    serve.add_argument("--port", type=int, default=8787, help="port to listen on (default 8787; 0: a free one)")
    serve.add_argument(
        "--api-key",
        action="append",
        type=_key,
        help="a client key tools must send (repeatable; default: one kept in the home)",
    )
    serve.add_argument("--model-map", help="claude-* names to Grok models, e.g. sonnet=grok-4.3,haiku=<fast model>")
    serve.add_argument(
        "--profile",
        dest="profiles",
        action="append",
        type=_profile,
        help="serve this signed-in profile (repeat it to pool several)",
    )
    serve.add_argument("--all-profiles", action="store_true", help="pool every signed-in profile at the issuer")
    serve.add_argument(
        "--strategy",
        choices=("fill-first", "round-robin", "headroom"),
        default="fill-first",
        help="how a pool places a new conversation: fill-first (default), round-robin, or headroom (the account that "
        "has used the least of its period); a conversation then stays on its account",
    )
    serve.add_argument(
        "--admin-key",
        type=_key,
        help="the management API's key (default: XAI_OAUTH_ADMIN_KEY, else one kept in the home)",
    )
    serve.add_argument(
        "--admin-from-anywhere",
        action="store_true",
        help="let /admin and /metrics answer callers on other machines (default: this machine only)",
    )
    serve.add_argument(
        "--forwarded-allow-ips",
        metavar="IPS",
        help="proxies whose X-Forwarded-For names the client (comma-separated addresses or networks, * for any; "
        "default: none, the connection's own peer is the client)",
    )
    serve.add_argument("--head-timeout", type=_seconds, help="seconds to send a request's head (10)")
    serve.add_argument("--body-timeout", type=_seconds, help="seconds to send a request's body (60)")
    serve.add_argument("--max-connections", type=_connections, help="connections open at once (default 256)")
    serve.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
    serve.set_defaults(run=_serve, command_parser=serve)
    commands.add_parser(
        "emulator",
        add_help=False,
        help="Serve the built-in xAI emulator for trying everything offline (--port, --tier, --help).",
    )
    return parser


def _image_count(text: str) -> int:
    from ..api._media_rules import MAX_IMAGES  # here, not at the top: most commands never read -n

    return _whole(text, MAX_IMAGES)


def _video_seconds(text: str) -> int:
    from ..api._media_rules import MAX_VIDEO_SECONDS

    return _whole(text, MAX_VIDEO_SECONDS)


def _positive(text: str) -> int:
    """A whole number from 1 up: refused here, before anything is sent, rather than by the API."""
    return _whole(text, None)


def _aspect_ratio(text: str) -> str:
    """``W:H`` in whole numbers (or ``auto``); which ratios a model takes is the API's to say."""
    width, colon, height = text.partition(":")
    if text != "auto" and not (colon and _digits(width) and _digits(height)):
        raise argparse.ArgumentTypeError(f"must be WIDTH:HEIGHT in whole numbers, such as 16:9, got {text!r}")
    return text


def _resolution(text: str) -> str:
    """Lines and a ``p``, such as ``720p``."""
    if not (text.endswith("p") and _digits(text[:-1])):
        raise argparse.ArgumentTypeError(f"must be a height in lines and a p, such as 720p, got {text!r}")
    return text


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit() and int(text) > 0


def _profile(text: str) -> str:
    """A profile name the home can hold; otherwise argparse names --profile in its usage error."""
    from .._settings import PROFILE_RULE, is_profile_name

    if not is_profile_name(text):
        raise argparse.ArgumentTypeError(f"must be {PROFILE_RULE}, got {text!r}")
    return text


def _key(text: str) -> str:
    """A key long enough to guard a port. Never echoed: a key is refused without being printed."""
    from ..server._keys import MIN_KEY_LENGTH

    key = text.strip()
    if not key:
        raise argparse.ArgumentTypeError("is empty: give a long random key, or leave the option out")
    if len(key) < MIN_KEY_LENGTH:
        raise argparse.ArgumentTypeError(f"is shorter than {MIN_KEY_LENGTH} characters: give a long random key")
    return key


def _whole(text: str, high: int | None) -> int:
    """A whole number from 1 to ``high`` (or up); otherwise argparse names the option in its usage error."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1 or (high is not None and value > high):
        within = f"from 1 to {high}" if high is not None else "from 1 up"
        raise argparse.ArgumentTypeError(f"must be a whole number {within}, got {text!r}")
    return value


def _seconds(text: str) -> float:
    """A number of seconds above 0 and at most a day; otherwise argparse names the option in its usage error."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value <= 86400:
        raise argparse.ArgumentTypeError(f"must be a number of seconds above 0 and at most 86400, got {text!r}")
    return value


def _connections(text: str) -> int:
    return _whole(text, 1 << 20)


def _serve(args: argparse.Namespace) -> int:
    from ._serve import serve  # Starlette and uvicorn load only for this command

    return serve(args)


def _pool(args: argparse.Namespace) -> int:
    from ._pool import pool

    return pool(args)


def _emulator(rest: list[str]) -> int:
    from ._emulator import main as serve

    return serve(rest)
