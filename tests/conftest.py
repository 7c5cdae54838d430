"""Shared fixtures: every test gets its own XAI_OAUTH_HOME and a clean environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from xai_oauth.emulator import Emulator

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point every file xai-oauth writes at a temp dir; never touch the real keyring."""
    for name in list(os.environ):
        if name.startswith(("XAI_", "PYTHON_KEYRING")):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    monkeypatch.setenv("XAI_OAUTH_HOME", str(home))
    monkeypatch.setenv("XAI_OAUTH_STORE", "file")
    return home


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(interval=1.0) as emu:
        yield emu


class Agent:
    """Runs exports the agent's way: a fresh interpreter per call, skill dir on sys.path."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.outputs: list[str] = []

    def __call__(self, expression: str, **env: str) -> dict[str, Any]:
        code = f"import json, sys; sys.path.insert(0, {str(ROOT)!r}); import exports; print(json.dumps(exports.{expression}))"
        done = subprocess.run(
            [sys.executable, "-c", code], env={**self.env, **env}, capture_output=True, text=True, timeout=60
        )
        self.outputs += [done.stdout, done.stderr]
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.fixture
def agent(emulator: Emulator, isolated_home: Path) -> Agent:
    env = {**os.environ, **emulator.environ(), "PYTHONPATH": str(ROOT)}
    return Agent(env)


def user_code_of(result: dict[str, Any]) -> str:
    return str(result["user_code"])


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())
