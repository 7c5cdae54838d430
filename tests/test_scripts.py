"""The repository's own scripts: a second set-up with nothing changed does nothing, silently."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_setup_again_with_nothing_changed_installs_nothing_and_says_nothing() -> None:
    stamp = ROOT / ".venv" / ".installed-dev"
    if not stamp.exists():
        pytest.skip("this checkout's .venv was not made by scripts/setup.sh dev (scripts/test.sh makes it)")
    log = ROOT / ".venv" / "setup.log"
    before = (stamp.stat().st_mtime_ns, log.stat().st_mtime_ns if log.exists() else None)
    again = subprocess.run(["bash", "scripts/setup.sh", "dev"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and again.stdout == again.stderr == "", again.stdout + again.stderr
    assert (stamp.stat().st_mtime_ns, log.stat().st_mtime_ns if log.exists() else None) == before  # pip never ran
