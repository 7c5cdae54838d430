"""status() in a fresh process, as a ratio to an empty interpreter (``python3 -c pass``).

Both are run alternately (A, B, A, B, ...) in the same run and compared by
their medians, so machine load hits both alike. Two forms of status are
timed: the bare call, and the agent's whole heredoc (which also imports json
to print). Both run on the base interpreter (not a venv: an editable
install's ``.pth`` finder slows every start-up and would flatter the ratio)
with the skill dir on ``sys.path``, exactly as an agent runs it; status()
needs nothing outside the standard library. ``--strict`` adds ``-S`` (no
site at all) to both sides, which makes the baseline smaller still. Bytecode caching is left on
(``PYTHONDONTWRITEBYTECODE`` removed for the children), as after any pip
install; ``--no-bytecode`` measures the recompile-every-time case too.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASELINE = "pass"
BARE = f"import sys; sys.path.insert(0, {ROOT!r}); from exports import status; status()"
AGENT = f"import json, sys; sys.path.insert(0, {ROOT!r}); from exports import status; print(json.dumps(status()))"


PYTHON = getattr(sys, "_base_executable", sys.executable)


def _time(code: str, env: dict[str, str], flags: tuple[str, ...]) -> float:
    start = time.perf_counter()
    subprocess.run([PYTHON, *flags, "-c", code], env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def measure(rounds: int = 40, bytecode: bool = True, strict: bool = False) -> dict[str, float]:
    flags = ("-S",) if strict else ()
    with tempfile.TemporaryDirectory() as home:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["XAI_OAUTH_HOME"] = home
        if not bytecode:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
        samples: dict[str, list[float]] = {"baseline": [], "bare": [], "agent": []}
        for _ in range(3):  # warm the OS file cache
            for code in (BASELINE, BARE, AGENT):
                _time(code, env, flags)
        for _ in range(rounds):
            samples["baseline"].append(_time(BASELINE, env, flags))
            samples["bare"].append(_time(BARE, env, flags))
            samples["agent"].append(_time(AGENT, env, flags))
    medians = {name: statistics.median(values) * 1000 for name, values in samples.items()}
    return {
        "baseline_ms": medians["baseline"],
        "status_ms": medians["bare"],
        "agent_block_ms": medians["agent"],
        "status_ratio": medians["bare"] / medians["baseline"],
        "agent_block_ratio": medians["agent"] / medians["baseline"],
        "strict": float(strict),
    }


def report(result: dict[str, float]) -> str:
    return (
        f"status() fresh process{' (-S)' if result['strict'] else ''}: {result['status_ms']:.1f} ms "
        f"vs python -c pass {result['baseline_ms']:.1f} ms "
        f"= {result['status_ratio']:.2f}x (goal <= 2.0x); the agent's whole heredoc incl. json: "
        f"{result['agent_block_ms']:.1f} ms = {result['agent_block_ratio']:.2f}x"
    )


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    print(
        report(
            measure(
                int(args[0]) if args else 40, bytecode="--no-bytecode" not in sys.argv, strict="--strict" in sys.argv
            )
        )
    )
