"""SKILL.md, exactly as written, from a fresh skill folder: the install line, the emulator, every heredoc.

The commands are read out of SKILL.md itself (not copied here), so the test and the instructions cannot drift
apart. It runs one real ``pip install`` into the new folder (about 30 s with a warm pip cache) and then plays
the agent from a different working directory, where ``python3`` is whatever the machine calls that (issue 21,
item 4). And the skill's venv must come before the system's site-packages (issue 22, item 4).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

#: every test here starts fresh interpreters or waits in real time
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SKILL = (ROOT / "SKILL.md").read_text(encoding="utf-8")
HEREDOC = re.compile(r"^python3 - <<'EOF'\n(.*?)^EOF$", re.M | re.S)
COPY_IGNORE = shutil.ignore_patterns(
    ".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".mypy_cache"
)


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment a person's shell has: none of this test run's venv, python path or xai-oauth settings."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV") and not k.startswith("XAI_")}
    venv_bin = str(Path(sys.prefix) / "bin")
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


def _install_line() -> str:
    block = re.search(r"```bash\n(python3 -m venv SKILL_DIR/\.venv[^\n]*)\n```", SKILL)
    assert block, "SKILL.md has no install line"
    return block.group(1)


def _heredoc(name: str) -> str:
    """The ``python3`` block of SKILL.md that imports ``name`` first."""
    for code in HEREDOC.findall(SKILL):
        if re.search(rf"^from exports import {name}\b", code, re.M):
            return str(code)
    raise AssertionError(f"SKILL.md has no block importing {name}")


def _run_block(code: str, skill: Path, cwd: Path, env: dict[str, str]) -> list[dict[str, object]]:
    """Run a SKILL.md block (SKILL_DIR filled in) the way the agent does; every JSON line it printed."""
    done = subprocess.run(
        ["python3", "-"],
        input=code.replace("SKILL_DIR", str(skill)),
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, done.stdout + done.stderr
    return lines


def test_the_skill_venv_comes_before_the_system_site_packages(tmp_path: Path) -> None:
    """An older copy of a package in the system's site-packages must not shadow the one the skill installed;
    and the checkout beside exports.py still wins over a copy of xai_oauth installed in the venv."""
    skill = tmp_path / "skill"
    site = skill / ".venv" / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    system = tmp_path / "system-site-packages"
    for folder, version in ((site, "venv"), (system, "system")):
        (folder / "shadowed").mkdir(parents=True)
        (folder / "shadowed" / "__init__.py").write_text(f"WHERE = {version!r}\n")
    (site / "xai_oauth").mkdir()
    (site / "xai_oauth" / "__init__.py").write_text("WHERE = 'venv'\n")
    (skill / "xai_oauth").mkdir()
    (skill / "xai_oauth" / "__init__.py").write_text("WHERE = 'checkout'\n")
    shutil.copy(ROOT / "exports.py", skill / "exports.py")
    code = (
        f"import json, sys; sys.path.insert(0, {str(skill)!r}); import exports, shadowed, xai_oauth; "
        "print(json.dumps([shadowed.WHERE, xai_oauth.WHERE]))"
    )
    env = {**_clean_env(), "PYTHONPATH": str(system)}  # PYTHONPATH stands in for the system's site-packages
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert json.loads(done.stdout) == ["venv", "checkout"], done.stderr


def test_skill_md_works_as_written_from_a_fresh_folder_and_any_working_directory(tmp_path: Path) -> None:
    if shutil.which("python3") is None:
        pytest.skip("SKILL.md's blocks call python3, and there is none on PATH")
    skill = tmp_path / "xai-grok-onboarding"
    shutil.copytree(ROOT, skill, ignore=COPY_IGNORE)
    elsewhere = tmp_path / "some-project"
    elsewhere.mkdir()
    env = _clean_env(XAI_OAUTH_HOME=str(tmp_path / "home"), XAI_OAUTH_STORE="file")

    install = subprocess.run(
        ["bash", "-c", _install_line().replace("SKILL_DIR", str(skill))],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]

    command = re.search(r"`(SKILL_DIR/\S+ emulator)`", SKILL)
    assert command, "SKILL.md does not say how to start the emulator"
    emulator = subprocess.Popen(
        command.group(1).replace("SKILL_DIR", str(skill)).split(),
        cwd=elsewhere,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        exported: dict[str, str] = {}
        assert emulator.stdout is not None
        deadline = time.monotonic() + 60
        while "Ctrl-C" not in (line := emulator.stdout.readline()):
            assert line and time.monotonic() < deadline, "the emulator did not print its banner"
            if found := re.match(r"\s*export (\w+)=(\S+)", line):
                exported[found.group(1)] = found.group(2)
        assert "XAI_OAUTH_ISSUER" in exported, exported
        agent = {**env, **exported}

        assert _run_block(_heredoc("status"), skill, elsewhere, agent)[0]["state"] == "logged_out"
        started = _run_block(_heredoc("start"), skill, elsewhere, agent)[0]
        assert started["status"] == "pending", started
        form = urllib.parse.urlencode({"user_code": started["user_code"], "decision": "approve"}).encode()
        with urllib.request.urlopen(f"{exported['XAI_OAUTH_ISSUER']}/device", data=form, timeout=30) as page:
            assert page.status == 200
        connected = _run_block(_heredoc("poll"), skill, elsewhere, agent)[0]
        assert connected.get("status") == "connected", connected
        assert _run_block(_heredoc("status"), skill, elsewhere, agent)[0]["connected"] is True
        answer = _run_block(_heredoc("chat"), skill, elsewhere, agent)[0]
        assert answer["ok"] and answer["content"], answer
        for made in _run_block(_heredoc("image"), skill, elsewhere, agent):
            assert made["ok"], made
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)
        if emulator.stdout is not None:
            emulator.stdout.close()
