"""The refresh storm at N = 4, 8, 16: refreshes at the token endpoint, refusals, failures.

Each row signs in once against the emulator (rotating refresh tokens, reuse
detection on), then N fresh processes meet the token together: either an
expired token that each needs (goal: 1 refresh, 0 refused, 0 failed), or a
forced refresh each (goal: N refreshes, 0 refused, 0 failed).
"""

from __future__ import annotations

import sys

from xai_oauth.emulator import Emulator
from xai_oauth.emulator._storm import StormResult, run_storm

SIZES = (4, 8, 16)


def measure(sizes: tuple[int, ...] = SIZES) -> list[StormResult]:
    results = []
    with Emulator(interval=1.0) as emulator:
        for forced in (False, True):
            for n in sizes:
                results.append(run_storm(emulator, n, forced=forced))
    return results


def met_goal(result: StormResult) -> bool:
    expected = result.processes if result.forced else 1
    return (result.refresh_requests, result.refused, result.failures, result.grant_works_after) == (
        expected,
        0,
        0,
        True,
    )


def report(results: list[StormResult]) -> str:
    lines = [
        "| storm | N | refreshes at token endpoint | refused | failed | late starters | grant works after | goal |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        kind = "forced refresh()" if r.forced else "expired token, models()"
        goal = f"{r.processes if r.forced else 1}/0/0"
        lines.append(
            f"| {kind} | {r.processes} | {r.refresh_requests} | {r.refused} | {r.failures} | {r.late_starters} | "
            f"{'yes' if r.grant_works_after else 'NO'} | {goal} {'met' if met_goal(r) else 'MISSED'} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    outcome = measure()
    print(report(outcome))
    sys.exit(0 if all(met_goal(r) for r in outcome) else 1)
