"""What the command and the exports tell a person to do next: commands at the terminal, calls in Python, and
hints that fit where the person stands (an API key already set, a sign-in already working)."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from xai_oauth.cli._output import in_commands
from xai_oauth.emulator import Emulator
from xai_oauth.emulator._demo import approve_in_browser

from .conftest import ROOT, Agent
from .test_cli import Terminal

#: A Python call or keyword argument in a sentence: ``video()``, ``out_dir=``, ``search=["web"]``, ``start(force``.
CALL_SPEAK = re.compile(r"\b[a-z_]+\(|\b[a-z_]+=(?=[\w\"'\[{(])")
#: An option of the command with its value (``--model-map sonnet=grok-4.3``): the command's own words.
OPTION_WITH_VALUE = re.compile(r"--[a-z][a-z-]* \S+")

#: Actions the command can never print, by parameter and how the action begins, because its options cannot
#: produce the fault (each says why).
UNREACHABLE = {
    ("lane", "Leave lane out"): "the command has no --lane; --search picks the Responses lane, which every model takes",
    ("n", "Leave n out"): "chat sends no n (image's -n is checked by argparse)",
    ("thinking", "Use thinking="): "--thinking has argparse choices",
    ("messages", "Pass the question as a string"): "the command checks --file itself (a non-empty list of objects)",
}


@pytest.fixture
def terminal(emulator: Emulator) -> Terminal:
    return Terminal(emulator)


def _text(node: ast.expr | None) -> str | None:
    """A string constant, f-string (holes as ``{}``) or concatenation, as text; None for anything else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)  # type: ignore[misc]
    if isinstance(node, ast.IfExp):
        return " / ".join(t for t in (_text(node.body), _text(node.orelse)) if t)
    return None


def _actions() -> list[tuple[str, str, str | None, str | None]]:
    """Every action the library writes: (where, code, parameter, text), from raises and class defaults."""
    import xai_oauth

    found: list[tuple[str, str, str | None, str | None]] = []
    for name in xai_oauth.__all__:
        error = getattr(xai_oauth, name)
        if isinstance(error, type) and issubclass(error, xai_oauth.XaiOAuthError):
            found.append((name, error.code, None, error.action))
    classes = {name: found[i][1] for i, (name, *_) in enumerate(found)}
    sources = [p for p in sorted((ROOT / "xai_oauth").rglob("*.py")) if not {"server", "emulator"} & set(p.parts)]
    for path in [*sources, ROOT / "exports.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and any(k.arg == "action" for k in node.keywords):
                keywords = {k.arg: k.value for k in node.keywords}
                called = node.func.id if isinstance(node.func, ast.Name) else ""
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                found.append(
                    (where, classes.get(called, ""), _text(keywords.get("parameter")), _text(keywords["action"]))
                )
    return found


def test_no_action_the_command_prints_names_a_python_call() -> None:
    """Every action the library writes, rendered as the command renders it, names commands and options only."""
    speaking = []
    for where, code, parameter, action in _actions():
        if action is None or any(parameter == p and action.startswith(a) for p, a in UNREACHABLE):
            continue
        said = in_commands({"ok": False, "error": code, "action": action, "parameter": parameter})["action"]
        if CALL_SPEAK.search(OPTION_WITH_VALUE.sub("", said)) or said.count("`xai-oauth login`") > 1:
            speaking.append(f"{where} [{code}, {parameter}]: {said}")
    assert speaking == []


def test_the_audit_sees_the_actions_it_must() -> None:
    """The audit above reads the raises it is about (so an empty result means something)."""
    parameters = {parameter for _, _, parameter, _ in _actions()}
    assert {"request_id", "out_dir", "search", "lane", "n", "thinking", "messages"} <= parameters
    for parameter, begins in UNREACHABLE:  # each exemption still names a raise that exists
        assert any(p == parameter and (a or "").startswith(begins) for _, _, p, a in _actions()), parameter


def test_a_video_id_nobody_knows_is_told_in_the_commands_words(terminal: Terminal) -> None:
    assert terminal.login().returncode == 0
    done = terminal("video", "--status", "nosuchid")
    assert done.returncode == 1 and "No video job 'nosuchid'" in done.stderr
    assert "Pass the id that `xai-oauth video` printed" in done.stderr and "video()" not in done.stderr
    as_json = json.loads(terminal("video", "--status", "not an id", "--json").stdout)
    assert as_json["action"].startswith("Pass the id that `xai-oauth video` printed")


def test_options_are_named_as_options(terminal: Terminal, tmp_path: Path) -> None:
    assert terminal.login().returncode == 0
    searched = terminal("chat", "--search", "web,moon", "hi")
    assert searched.returncode == 1 and "→ Pass --search web, --search x or --search web,x." in searched.stderr
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    saved = terminal("image", "a fox", "-o", str(blocked / "inside"))
    assert saved.returncode == 1 and "→ Pass -o a folder you can write to" in saved.stderr, saved.stderr
    for said in (searched.stderr, saved.stderr):
        assert not CALL_SPEAK.search(said.split("→", 1)[1]), said


@pytest.mark.parametrize("held", ["{}", "[]", "[1, 2]", '"hello"'])
def test_a_messages_file_that_holds_no_messages_is_named_as_such(terminal: Terminal, tmp_path: Path, held: str) -> None:
    assert terminal.login().returncode == 0
    conversation = tmp_path / "messages.json"
    conversation.write_text(held)
    for args in (("chat", "--file", str(conversation)), ("chat", "--file", str(conversation), "and this")):
        done = terminal(*args)
        assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
        assert "does not hold a list of {role, content} objects" in done.stderr
        assert "messages=" not in done.stderr


def test_after_logout_a_subscription_model_points_at_the_api_keys_id(
    terminal: Terminal, agent: Agent, emulator: Emulator
) -> None:
    key = {"XAI_API_KEY": "xai-CANARY-KEY-" + "q" * 40}
    emulator.settings.api_key = key["XAI_API_KEY"]
    assert terminal.login().returncode == 0 and terminal("logout").returncode == 0
    said = agent("chat('xai-grok/grok-4.3', 'hi')", **key)
    assert said["error"] == "not_signed_in" and said["use_model"] == "xai/grok-4.3"
    assert "xai/grok-4.3" in said["action"] and "set XAI_API_KEY" not in said["action"]
    told = terminal("chat", "-m", "xai-grok/grok-4.3", "hi", **key)
    assert told.returncode == 1 and "→ Pass -m xai/grok-4.3 to use the API key" in told.stderr, told.stderr
    hint = re.search(r"Pass (-m \S+)", told.stderr)
    assert hint is not None
    followed = terminal("chat", *hint.group(1).split(), "hi", **key)
    assert followed.returncode == 0 and followed.stdout == "You said: hi\n"  # the hint, as printed, works
    without = agent("chat('xai-grok/grok-4.3', 'hi')")  # no key: nothing to point at
    assert without["error"] == "not_signed_in" and "use_model" not in without and "XAI_API_KEY" in without["action"]


def test_start_while_signed_in_answers_as_login_does(terminal: Terminal, agent: Agent, emulator: Emulator) -> None:
    agent.sign_in()
    sent = emulator.stats()
    again = agent("start()")
    assert again["ok"] is False and again["error"] == "already_signed_in"
    assert again["message"] == "Already signed in as person@example.com."
    assert "start(force=True)" in again["action"] and "logout()" in again["action"]
    assert emulator.stats() == sent  # no second device authorization was asked for
    assert agent("status()")["state"] == "connected"
    by_command = terminal("login", "--json", "--no-browser")
    assert json.loads(by_command.stdout)["error"] == again["error"] == "already_signed_in"
    forced = agent("start(force=True)")
    assert forced["ok"] and forced["status"] == "pending"
    approve_in_browser(str(forced["verification_url_with_code"]))
    assert agent("poll(wait=True, timeout=30)")["status"] == "connected"


def test_start_after_the_sign_in_stopped_working_needs_no_force(agent: Agent, emulator: Emulator) -> None:
    started = agent("start()")
    assert emulator.approve(started["user_code"], email="ann@example.com")
    assert agent("poll(wait=True, timeout=30)")["status"] == "connected"
    assert emulator.revoke_account("ann@example.com") == 1  # as when she revokes the app at xAI
    assert agent("refresh(force=True)")["error"] == "reauth_required"
    assert agent("status()")["state"] == "reauth_required"
    started = agent("start()")
    assert started["ok"] and started["status"] == "pending"
