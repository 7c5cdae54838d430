"""Real coding agents, headless, against ``xai-oauth serve`` and the emulator: Codex CLI and Claude Code.

The SDK tests (``test_server.py``) prove the formats; these prove that the
programs people actually point at the server work with it, as they are
released. Each agent is pinned (``support.agents.CLIENTS``), installed once
into a cache outside the checkout, and run in a temporary folder with its own
HOME, its settings taken from the server's banner (what a person copies), and
nothing to reach but loopback.

Skipped, with the reason, only where an agent cannot run at all (no Node 20
with npm, or no npm registry to install from). ``.ci/run`` sets
``XAI_OAUTH_TEST_REQUIRE_AGENTS=1``, and then a missing agent fails instead.

The emulator's "model" echoes the last user message, and answers with a tool
call when that message holds ``[[call NAME {json args}]]`` and NAME is one of
the request's tools; after the tool's result it says ``Tool NAME said: ...``.
So each agent is asked once for an answer and once to write a file with its
own tool (Claude Code's ``Write``, Codex's ``exec_command``): the file on disk
proves the whole round trip, call out and result back, in the agent's format.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from xai_oauth.emulator import Emulator

from .support.agents import Missing, client, run
from .support.served import Served, signed_in_server

#: every test here starts fresh interpreters or waits in real time
pytestmark = pytest.mark.slow

REQUIRED = os.environ.get("XAI_OAUTH_TEST_REQUIRE_AGENTS") == "1"  # read before isolated_home clears XAI_*


def installed(name: str) -> Path:
    try:
        return client(name)
    except Missing as why:
        if REQUIRED:
            pytest.fail(f"XAI_OAUTH_TEST_REQUIRE_AGENTS=1, but {name} cannot run here: {why}")
        pytest.skip(f"{name} cannot run here: {why}")


@pytest.fixture
def served(emulator: Emulator, isolated_home: Path) -> Iterator[Served]:
    with signed_in_server(emulator) as running:
        yield running


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    """The agent's own HOME, and the folder it works in."""
    home, work = tmp_path / "agent-home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    return home, work


def said(done: subprocess.CompletedProcess[str]) -> str:
    return f"exit {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr[-4000:]}"


# -- Codex CLI: the Responses wire API ------------------------------------------------------------------------------


def codex_settings(banner: str) -> tuple[str, str]:
    """The banner's Codex ``config.toml`` block, and the variable it names for the key."""
    lines = banner.splitlines()
    start = next(n for n, line in enumerate(lines) if line.strip().startswith("Codex CLI"))
    block = []
    for line in lines[start + 1 :]:
        if not line.startswith("    "):
            break
        block.append(line)
    variable = re.search(r"export (\w+)=", lines[start])
    assert variable, lines[start]
    return textwrap.dedent("\n".join(block)) + "\n", variable.group(1)


def codex(served: Served, folders: tuple[Path, Path], prompt: str, *options: str) -> subprocess.CompletedProcess[str]:
    executable = installed("codex")
    home, work = folders
    config, variable = codex_settings(served.banner)
    (home / ".codex").mkdir()
    (home / ".codex" / "config.toml").write_text(config)
    env = {"HOME": str(home), "CODEX_HOME": str(home / ".codex"), variable: served.key}
    return run([str(executable), "exec", "--skip-git-repo-check", *options, prompt], env=env, cwd=work)


def test_codex_answers_through_the_server(served: Served, emulator: Emulator, folders: tuple[Path, Path]) -> None:
    done = codex(served, folders, "what is two plus two?")
    assert done.returncode == 0, said(done)
    # Codex offers its web_search tool, which the server turns into xAI's search: the emulator's answer says so
    assert "Searched the web for: what is two plus two?" in done.stdout, said(done)
    sent = [r for r in emulator.api_requests if r["path"].endswith(("/responses", "/chat/completions"))]
    assert sent and all(r["credential"] == "subscription" and r["origin"] == "proxy" for r in sent)
    tools = sent[-1]["body"]["tools"]
    names = {t.get("name") for t in tools if t.get("type") == "function"}
    assert "exec_command" in names  # Codex's shell tool, carried as a function
    assert any("__" in name for name in names)  # a tool of type namespace, flattened to its functions
    assert {"type": "web_search"} in [{"type": t["type"]} for t in tools if t["type"] != "function"]


# -- Claude Code: Anthropic Messages ---------------------------------------------------------------------------------


def claude(served: Served, folders: tuple[Path, Path], prompt: str) -> subprocess.CompletedProcess[str]:
    executable = installed("claude")
    home, work = folders
    line = next(line for line in served.banner.splitlines() if "ANTHROPIC_BASE_URL=" in line)
    env = dict(pair.split("=", 1) for pair in line.split("export ", 1)[1].split(" ", 1)[0:1])
    assert env == {"ANTHROPIC_BASE_URL": served.origin}, line
    # a key given with --api-key is the person's own and the banner shows a placeholder for it
    env |= {"ANTHROPIC_API_KEY": served.key, "HOME": str(home), "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}
    # CI runs as root, where Claude Code refuses to bypass permissions; accepting edits is enough to write files
    command = [str(executable), "-p", prompt, "--permission-mode", "acceptEdits"]
    return run(command, env=env, cwd=work)


def test_claude_code_answers_through_the_server(served: Served, emulator: Emulator, folders: tuple[Path, Path]) -> None:
    done = claude(served, folders, "what is two plus two?")
    assert done.returncode == 0, said(done)
    out = done.stdout
    assert "You said: " in out and out.rstrip().endswith("what is two plus two?"), said(done)
    sent = [r for r in emulator.api_requests if r["path"].endswith(("/responses", "/chat/completions"))]
    assert sent and all(r["credential"] == "subscription" for r in sent)
    assert all(r["body"]["model"].startswith("grok-") for r in sent)  # its claude-* names, mapped by family


def test_claude_code_writes_a_file_with_its_tool(
    served: Served, emulator: Emulator, folders: tuple[Path, Path]
) -> None:
    target = folders[1] / "made.txt"
    arguments = json.dumps({"file_path": str(target), "content": "written by Claude Code through xai-oauth\n"})
    done = claude(served, folders, f"Write the file. [[call Write {arguments}]]")
    assert done.returncode == 0, said(done)
    assert target.read_text() == "written by Claude Code through xai-oauth\n", said(done)
    assert "Tool Write said: " in done.stdout, said(done)
    last = emulator.api_requests[-1]["body"]
    turns = last.get("messages") or last.get("input") or []
    assert any(t.get("role") == "tool" or t.get("type") == "function_call_output" for t in turns)


def test_codex_runs_a_command_with_its_tool(served: Served, emulator: Emulator, folders: tuple[Path, Path]) -> None:
    target = folders[1] / "made.txt"
    arguments = json.dumps({"cmd": "printf 'written by Codex through xai-oauth' > made.txt"})
    # the emulator's model runs only the command in the prompt; Codex's own sandbox (bubblewrap) needs user
    # namespaces that a CI container may not allow, so the run goes without it, in the test's folder
    bypass = "--dangerously-bypass-approvals-and-sandbox"
    done = codex(served, folders, f"Make the file. [[call exec_command {arguments}]]", bypass)
    assert done.returncode == 0, said(done)
    assert target.read_text() == "written by Codex through xai-oauth", said(done)
    assert "Tool exec_command said: " in done.stdout, said(done)


# -- when an agent may be skipped --------------------------------------------------------------------------------


def fake_tools(folder: Path, node: str, npm_install: int, npm_ping: int) -> None:
    folder.mkdir()
    (folder / "node").write_text(f"#!/bin/sh\necho {node}\n")
    (folder / "npm").write_text(
        f'#!/bin/sh\n[ "$1" = ping ] && exit {npm_ping}\necho npm said no >&2\nexit {npm_install}\n'
    )
    for tool in ("node", "npm"):
        (folder / tool).chmod(0o755)


@pytest.mark.parametrize(
    ("node", "install", "ping", "outcome"),
    [
        (None, 0, 0, "Node.js and npm are not on PATH"),
        ("v18.19.0", 0, 0, "older than the 20"),
        ("v20.20.2", 1, 1, "npm registry cannot be reached"),
        ("v20.20.2", 1, 0, "failed"),  # the registry answers, so a failed install is an error, never a skip
    ],
)
def test_an_agent_is_skipped_only_where_it_cannot_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, node: str | None, install: int, ping: int, outcome: str
) -> None:
    if node:
        fake_tools(tmp_path / "bin", node, install, ping)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    expected: type[Exception] = RuntimeError if outcome == "failed" else Missing
    with pytest.raises(expected, match=outcome):
        client("codex")
    assert not (tmp_path / "cache" / "xai-oauth-test-clients" / "@openai+codex@0.171.0").exists()
