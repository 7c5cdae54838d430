"""Kill runs: SIGKILL a refresh at a random moment 0-5 ms after its token answer arrived; count lost sign-ins.

Two providers: strict (no rotation grace, reuse detection on: the worst
case) and one with the rotation grace xAI's own client assumes (60 s).
Goals: 0 lost with the grace, wherever the kill lands; 0 lost among strict
kills that land after the answer was journaled. Strict kills between the
answer's arrival and its journal write can lose the sign-in (no client can
close that window); they are counted and reported, not hidden.
``adopted from journal`` counts the kills that landed before the save, where
only the journal had the new refresh token.
"""

from __future__ import annotations

import sys

from xai_oauth.emulator import Emulator
from xai_oauth.emulator._kills import KillResult, run_kills

KILLS = 200
GRACE = 60.0


def measure(kills: int = KILLS) -> list[KillResult]:
    with Emulator(interval=1.0) as emulator:
        return [run_kills(emulator, kills), run_kills(emulator, kills, rotation_grace=GRACE)]


def met(result: KillResult) -> bool:
    return (result.lost if result.rotation_grace else result.lost_after_journal) == 0


def report(results: list[KillResult]) -> str:
    lines = [
        "| provider | SIGKILLs | killed after the answer | killed before it was journaled | lost (before / after the "
        "journal write) | adopted from journal | after the save | goal |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        provider = f"rotation grace {result.rotation_grace:g} s" if result.rotation_grace else "strict (no grace)"
        goal = "0 lost" if result.rotation_grace else "0 lost after the journal write"
        lines.append(
            f"| {provider} | {result.kills} | 0-{result.window_ms:g} ms | {result.killed_before_journal} | "
            f"{result.lost_before_journal} / {result.lost_after_journal} | {result.adopted_from_journal} | "
            f"{result.after_save} | {goal} {'met' if met(result) else 'MISSED'} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    outcome = measure()
    print(report(outcome))
    sys.exit(0 if all(met(result) for result in outcome) else 1)
