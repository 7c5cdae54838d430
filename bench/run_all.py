"""Every benchmark in one run, with a short report: ``python bench/run_all.py`` (writes bench/report.md).

Ratios only, each measured side by side in this run (alternating A/B, medians):
status() vs an empty interpreter, exports.chat() vs the openai SDK, the
router's stream vs plain httpx2, the refresh storm's counts, sign-ins lost to kills, and
a chat call and the storm with a real OS keyring (when GNOME Keyring can run here), and
``xai-oauth serve`` against calling the chat proxy straight and beside LiteLLM's proxy.
"""

from __future__ import annotations

import datetime
import os
import platform
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import bench_chat  # noqa: E402
import bench_keyring  # noqa: E402
import bench_kills  # noqa: E402
import bench_serve  # noqa: E402
import bench_status  # noqa: E402
import bench_storm  # noqa: E402


def main() -> int:
    status = bench_status.measure()
    strict = bench_status.measure(strict=True)
    calls = bench_chat.measure_calls()
    stream = bench_chat.measure_stream()
    storms = bench_storm.measure()
    storms_met = all(bench_storm.met_goal(r) for r in storms)
    kills = bench_kills.measure()
    no_keyring = bench_keyring.missing()
    keyring_calls = None if no_keyring else bench_keyring.measure_calls()
    keyring_storms = [] if no_keyring else bench_keyring.measure_storms()
    served = bench_serve.measure()
    goals = {
        "status() ≤ 2.0× python -c pass": status["status_ratio"] <= 2.0,
        "exports.chat() ≤ 0.3× openai SDK": calls["subscription_ratio"] <= 0.3 and calls["api_key_ratio"] <= 0.3,
        "stream ≤ 1.1× plain httpx2": stream["first_delta_ratio"] <= 1.1 and stream["total_ratio"] <= 1.1,
        "storm 1 / 0 / 0 (forced: N / 0 / 0)": storms_met,
        "exports.chat() with the keyring ≤ 1.15× a bare POST": keyring_calls is not None
        and keyring_calls["keyring_ratio"] <= 1.15,
        "storm with the keyring 1 / 0 / 0": bool(keyring_storms) and all(map(bench_storm.met_goal, keyring_storms)),
        "SIGKILL after the token answer: 0 lost with a rotation grace, 0 lost after the journal write without": all(
            bench_kills.met(result) for result in kills
        ),
        **{f"serve: {goal}": ok for goal, ok in bench_serve.goals(served).items()},
    }
    lines = [
        f"# xai-oauth benchmarks, {datetime.date.today()} ({platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} cores)",
        "",
        "## Goals",
        *[f"- {'met' if ok else 'MISSED'}: {goal}" for goal, ok in goals.items()],
        "",
        "## status() in a fresh process",
        bench_status.report(status),
        "",
        bench_status.report(strict),
        "",
        "## chat",
        bench_chat.report(calls, stream),
        "",
        "## refresh storm",
        bench_storm.report(storms),
        "",
        "## the OS keyring (GNOME Keyring on its own D-Bus session)",
        *(
            [f"not measured: {no_keyring}"]
            if keyring_calls is None
            else [
                bench_keyring.report(keyring_calls),
                "",
                "Refresh storm, keyring store:",
                "",
                bench_storm.report(keyring_storms),
            ]
        ),
        "",
        "## SIGKILL after the token answer",
        bench_kills.report(kills),
        "",
        "## xai-oauth serve",
        bench_serve.report(served),
        "",
    ]
    text = "\n".join(lines)
    with open(os.path.join(HERE, "report.md"), "w", encoding="utf-8") as handle:
        handle.write(text)
    print(text)
    return 0 if all(goals.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
