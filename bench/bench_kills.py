"""Kill runs: SIGKILL a refresh at a random moment 0-5 ms after its token answer arrived; count lost sign-ins.

Against the emulator as a strict provider (no rotation grace, reuse
detection on). Goal: 0 lost. ``adopted from journal`` counts the kills that
landed before the save, where only the journal had the new refresh token.
"""

from __future__ import annotations

import sys

from xai_oauth.emulator import Emulator
from xai_oauth.emulator._kills import KillResult, run_kills

KILLS = 200


def measure(kills: int = KILLS) -> KillResult:
    with Emulator(interval=1.0) as emulator:
        return run_kills(emulator, kills)


def report(result: KillResult) -> str:
    return "\n".join(
        [
            "| SIGKILLs | killed after the answer | lost sign-ins | adopted from journal | after the save | goal |",
            "|---|---|---|---|---|---|",
            f"| {result.kills} | 0-{result.window_ms:g} ms | {result.lost} | {result.adopted_from_journal} | "
            f"{result.after_save} | 0 lost {'met' if result.lost == 0 else 'MISSED'} |",
        ]
    )


if __name__ == "__main__":
    outcome = measure()
    print(report(outcome))
    sys.exit(0 if outcome.lost == 0 else 1)
