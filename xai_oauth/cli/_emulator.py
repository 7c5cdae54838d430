"""``xai-oauth emulator`` (and ``python -m xai_oauth.emulator``): serve the emulator, or run the demo against it."""

from __future__ import annotations

import argparse
import secrets
import sys
import time
from typing import NoReturn

from .._tiers import TIERS, describe_tier
from ..emulator._control import TOKEN_HEADER
from ..emulator._server import HIGHEST_PORT, Emulator
from ._output import EXIT_FAILED, EXIT_USAGE, print_error

DESCRIPTION = (
    "Serve an emulated auth.x.ai, api.x.ai and subscription chat proxy on 127.0.0.1, to try xai-oauth "
    "offline; or, with --demo, run a whole sign-in against it the way an agent does."
)


def _port(text: str) -> int:
    """A port the emulator can serve on: the chat proxy takes the next one, so 65535 has no room."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= HIGHEST_PORT:
        raise argparse.ArgumentTypeError(
            f"must be between 0 and {HIGHEST_PORT} (the chat proxy takes the next port), got {port}"
        )
    return port


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse exits 2, which means "sign-in denied" to the command
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    tiers = ", ".join(f"{level} {tier.name}" for level, tier in sorted(TIERS.items()))
    parser = _Parser(prog="xai-oauth emulator", description=DESCRIPTION)
    parser.add_argument(
        "--port",
        type=_port,
        default=0,
        metavar="PORT",
        help=f"port on 127.0.0.1, 0-{HIGHEST_PORT}; the chat proxy takes PORT+1 (default: free ones)",
    )
    parser.add_argument(
        "--tier", type=int, default=1, metavar="N", help=f"subscription tier in issued tokens (default 1): {tiers}"
    )
    parser.add_argument(
        "--token-lifetime",
        type=float,
        default=6 * 3600,
        metavar="SECONDS",
        help="access token lifetime (default 6 hours)",
    )
    parser.add_argument(
        "--interval", type=float, default=5, metavar="SECONDS", help="device flow polling interval (default 5)"
    )
    parser.add_argument("--auto-approve", action="store_true", help="approve every sign-in at once")
    keys = parser.add_mutually_exclusive_group()
    keys.add_argument(
        "--api-key",
        metavar="KEY",
        help="the API key (BYOK) the emulated API accepts beside subscription tokens (default: a fresh random one)",
    )
    keys.add_argument("--no-api-key", action="store_true", help="accept no API key, only subscription tokens")
    parser.add_argument(
        "--api-bills-oauth",
        action="store_true",
        help="make api.x.ai refuse the subscription's text calls with 429 subscription:free-usage-exhausted, "
        "as many subscribers see (the chat proxy and media stay open)",
    )
    parser.add_argument("--demo", action="store_true", help="run a whole sign-in as an agent would, then exit")
    return parser


def banner(emulator: Emulator) -> list[str]:
    """What a person needs to use the emulator: every ``export`` line, and how to approve without a browser."""
    level, name = describe_tier(emulator.settings.tier)
    lines = [
        f"xAI emulator on {emulator.url}, chat proxy on {emulator.proxy_url} "
        f"(tier {level}, {name}). Point xai-oauth at it with:",
        *(f"  export {name}={value}" for name, value in emulator.environ().items()),
    ]
    if emulator.settings.auto_approve:
        lines.append("Every sign-in is approved at once (--auto-approve).")
    else:
        lines += [
            "Approve a sign-in in the browser (the link xai-oauth shows), or without one by posting its form:",
            f"  curl -d user_code=<CODE> -d decision=approve {emulator.url}/device",
        ]
    lines += [
        "Test control (/_emulator/approve, inject, settings, stats) wants this header and a JSON body:",
        f"  {TOKEN_HEADER}: {emulator.control_token}",
        "Ctrl-C to stop.",
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    api_key = None if args.no_api_key else args.api_key or "xai-emulator-" + secrets.token_hex(16)
    try:
        emulator = Emulator(
            port=args.port,
            tier=args.tier,
            access_token_lifetime=args.token_lifetime,
            interval=1 if args.demo else args.interval,
            auto_approve=args.auto_approve,
            api_key=api_key,
            api_bills_oauth=args.api_bills_oauth,
        )
    except OSError as exc:  # the port (or the chat proxy's, the next one) is taken: say so, as serve does
        where = (
            f"127.0.0.1:{args.port}, or on {args.port + 1} beside it for the chat proxy" if args.port else "127.0.0.1"
        )
        print_error(
            {
                "message": f"Cannot listen on {where} ({exc.strerror}).",
                "action": "Pick another --port (0 takes free ones), or stop what is using it.",
            }
        )
        return EXIT_FAILED
    with emulator:
        if args.demo:
            from ..emulator._demo import run_demo

            return run_demo(emulator)
        print("\n".join(banner(emulator)), flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":
    sys.exit(main())
