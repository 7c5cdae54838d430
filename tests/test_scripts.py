"""The repository's own scripts: a second set-up with nothing changed does nothing, silently."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_setup_again_with_nothing_changed_installs_nothing_and_says_nothing() -> None:
    stamp = ROOT / ".venv" / ".installed-dev"
    if not stamp.exists():
        pytest.skip("this checkout's .venv was not made by scripts/setup.sh dev (scripts/test.sh makes it)")
    log = ROOT / ".venv" / "setup.log"
    before = (stamp.stat().st_mtime_ns, log.stat().st_mtime_ns if log.exists() else None)
    again = subprocess.run(["bash", "scripts/setup.sh", "dev"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and again.stdout == again.stderr == "", again.stdout + again.stderr
    assert (stamp.stat().st_mtime_ns, log.stat().st_mtime_ns if log.exists() else None) == before  # pip never ran


def _fake_checkout(tmp_path: Path) -> tuple[Path, Path]:
    """The set-up script with the project's pyproject.toml and lock, and a .venv whose python only logs its calls."""
    (tmp_path / "scripts").mkdir()
    for name in ("scripts/setup.sh", "pyproject.toml", "requirements-lock.txt"):
        (tmp_path / name).write_bytes((ROOT / name).read_bytes())
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    calls = tmp_path / "calls.log"
    python.write_text(f'#!/bin/sh\necho "$*" >>"{calls}"\n')
    python.chmod(0o755)
    return tmp_path, calls


def test_setup_installs_from_the_lock_and_again_when_the_lock_changes(tmp_path: Path) -> None:
    checkout, calls = _fake_checkout(tmp_path)

    def setup() -> list[str]:
        calls.unlink(missing_ok=True)
        done = subprocess.run(["bash", "scripts/setup.sh", "dev"], cwd=checkout, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
        return calls.read_text().splitlines() if calls.exists() else []

    first = setup()
    assert any("--require-hashes --no-deps -r requirements-lock.txt" in call for call in first), first
    assert any("--no-deps --no-build-isolation -e ." in call for call in first), first
    assert setup() == []  # nothing changed: pip is not run
    lock = checkout / "requirements-lock.txt"
    lock.write_text(lock.read_text() + "# a new pin\n")
    assert setup() != []  # the stamp covers the lock: a new lock is installed


def _dependencies(extra: str, seen: set[str] | None = None) -> list[str]:
    """Every requirement ``xai-oauth[extra]`` brings, through the extras it names of itself."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    seen = set() if seen is None else seen
    found = list(project["dependencies"]) if not seen else []
    seen.add(extra)
    for requirement in project["optional-dependencies"][extra]:
        if requirement.startswith("xai-oauth["):
            for named in requirement.removeprefix("xai-oauth[").rstrip("]").split(","):
                if named not in seen:
                    found += _dependencies(named, seen)
        else:
            found.append(requirement)
    return found


def test_the_lock_pins_every_dependency_of_the_dev_extra_within_its_range_with_hashes() -> None:
    """A dependency added to pyproject.toml without ``bash scripts/lock.sh`` is caught here, not on a fresh machine."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins: dict[str, str] = {}
    for entry in (ROOT / "requirements-lock.txt").read_text().replace("\\\n", " ").splitlines():
        if entry.strip() and not entry.lstrip().startswith("#"):
            pinned = Requirement(entry.split(" --hash")[0].strip())
            assert "--hash=sha256:" in entry, f"{pinned.name} has no hash in the lock"
            (version,) = [spec.version for spec in pinned.specifier if spec.operator == "=="]
            pins[canonicalize_name(pinned.name)] = version
    wanted = [Requirement(r) for r in _dependencies("dev")]
    assert {"pip", "setuptools", "pytest-xdist", "uv"} <= pins.keys()
    for requirement in wanted:
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in requirements-lock.txt: run bash scripts/lock.sh"
        assert requirement.specifier.contains(pins[name]), f"{name}=={pins[name]} is outside {requirement.specifier}"


@pytest.mark.parametrize(("exit_code", "said"), [(5, "collected no test"), (1, "exited 1"), (0, "")])
def test_ci_fails_loudly_on_a_failure_and_on_no_test(tmp_path: Path, exit_code: int, said: str) -> None:
    """pytest's exit 5 (no test ran) is not a pass: CI's exit is non-zero and says why."""
    (tmp_path / ".ci").mkdir()
    (tmp_path / "scripts").mkdir()
    (tmp_path / ".ci" / "run").write_bytes((ROOT / ".ci" / "run").read_bytes())
    (tmp_path / "scripts" / "test.sh").write_text(f'echo "test.sh $*"\nexit {exit_code}\n')
    done = subprocess.run(["bash", ".ci/run"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == exit_code and "test.sh -q" in done.stdout
    assert said in done.stderr if said else done.stderr == "", done.stderr
