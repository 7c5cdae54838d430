"""``python -m xai_oauth.emulator``: serve the emulator, or run the sign-in demo against it."""

from __future__ import annotations

import argparse
import sys
import time

from ._server import Emulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="xai-oauth emulator", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument(
        "--tier",
        type=int,
        default=1,
        help="subscription tier in issued tokens, xAI's enum: 0 Free, 1 SuperGrok, 2 X Basic, 3 X Premium, "
        "4 X Premium+, 5 SuperGrok Heavy, 6 SuperGrok Lite, 7 SuperGrok Plus",
    )
    parser.add_argument("--token-lifetime", type=float, default=6 * 3600, help="access token lifetime, seconds")
    parser.add_argument("--interval", type=float, default=5, help="device flow polling interval, seconds")
    parser.add_argument("--auto-approve", action="store_true", help="approve every sign-in at once")
    parser.add_argument("--api-key", help="an API key the emulated API accepts beside subscription tokens (BYOK)")
    parser.add_argument(
        "--api-bills-oauth",
        action="store_true",
        help="make api.x.ai refuse the subscription's text calls with 429 subscription:free-usage-exhausted, "
        "as many subscribers see (the chat proxy and media stay open)",
    )
    parser.add_argument("--demo", action="store_true", help="run a whole sign-in as an agent would, then exit")
    args = parser.parse_args(argv)

    emulator = Emulator(
        port=args.port,
        tier=args.tier,
        access_token_lifetime=args.token_lifetime,
        interval=1 if args.demo else args.interval,
        auto_approve=args.auto_approve,
        api_key=args.api_key,
        api_bills_oauth=args.api_bills_oauth,
    )
    with emulator:
        if args.demo:
            from ._demo import run_demo

            return run_demo(emulator)
        print(
            f"xAI emulator on {emulator.url}, chat proxy on {emulator.proxy_url} (tier {args.tier}). "
            "Point xai-oauth at it with:"
        )
        for name, value in emulator.environ().items():
            print(f"  export {name}={value}")
        print("Ctrl-C to stop.", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":
    sys.exit(main())
