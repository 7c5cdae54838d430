"""What the command accepts, and how it refuses the rest: --profile anywhere, usage errors (64) named as such.

Each refusal is checked in a real ``python -m xai_oauth`` process, and where
the old behaviour was to send something or start something, that nothing was
sent or started.
"""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from xai_oauth.cli._main import _parse, _parser
from xai_oauth.emulator import Emulator

from .conftest import ROOT
from .support.served import sign_in
from .test_cli import Terminal


@pytest.fixture
def terminal(emulator: Emulator) -> Terminal:
    return Terminal(emulator)


# -- --profile, before the command and after it ----------------------------------------------------------


def _commands() -> list[str]:
    """The command's subcommands, as its parser knows them (the emulator's options are its own)."""
    chooser = _parser()._subparsers._group_actions[0]  # type: ignore[union-attr]
    return [name for name in chooser.choices if name != "emulator"]  # type: ignore[union-attr]


def test_every_command_takes_profile_after_it_too() -> None:
    parser = _parser()
    names = _commands()
    assert {"login", "status", "logout", "refresh", "models", "usage", "chat", "image", "video", "pool"} <= set(names)
    for name in names:
        extra = ["a fox"] if name == "image" else []
        after = _parse(parser, [name, *extra, "--profile", "work"])
        before = _parse(parser, ["--profile", "home", name, *extra])
        if name == "serve":  # serve's --profile names the profiles to serve (a pool of one here)
            assert after.profiles == ["work"] and before.profile == "home"
        else:
            assert (after.profile, before.profile) == ("work", "home"), name


def test_profile_after_the_command_signs_in_and_uses_that_profile(terminal: Terminal, emulator: Emulator) -> None:
    assert terminal.login("--profile", "work").returncode == 0  # `xai-oauth login --profile work`
    after = terminal("status", "--profile", "work")
    assert after.returncode == 0 and "Signed in as person@example.com" in after.stdout, after.stderr
    assert "Signed in as person@example.com" in terminal("--profile", "work", "status").stdout
    assert "Not signed in." in terminal("status").stdout  # the default profile is another sign-in
    assert terminal("chat", "--profile", "work", "-m", "xai-grok/grok-4.3", "hi").stdout == "You said: hi\n"
    assert "revoked" in terminal("logout", "--profile", "work").stdout
    assert "Not signed in." in terminal("status", "--profile", "work").stdout


def _documented_commands() -> list[str]:
    """Every `xai-oauth ... --profile ...` command the README, SKILL.md and the package's own words show."""
    texts = [(ROOT / "README.md").read_text(), (ROOT / "SKILL.md").read_text()]
    texts += [path.read_text() for path in sorted((ROOT / "xai_oauth").rglob("*.py"))]
    found = []
    for text in texts:
        joined = re.sub(r"\s*\n\s*", " ", text)  # a command wrapped onto the next line is still one command
        found += [c.strip() for c in re.findall(r"`xai-oauth ([^`]*--profile[^`]*)`", joined)]
    return found


def test_every_command_shown_with_profile_parses() -> None:
    """Docs and messages tell people to run `xai-oauth login --profile NAME`: each such command must parse."""
    shown = _documented_commands()
    assert any(command.startswith("login --profile") for command in shown), shown
    assert any(command.startswith("serve --profile") for command in shown), shown
    for command in shown:
        words = [re.sub(r"[{}<>]", "", word) for word in shlex.split(command)]
        _parse(_parser(), words)  # raises UsageError (the test fails) when the command line would not run


def test_serves_own_advice_for_an_unknown_profile_works(terminal: Terminal, emulator: Emulator) -> None:
    """serve names the command that fixes a profile nobody signed in to; running it as printed signs that one in."""
    assert terminal.login().returncode == 0
    refused = terminal("serve", "--port", "0", "--profile", "default", "--profile", "nosuch")
    assert refused.returncode == 1
    advice = re.search(r"`xai-oauth (login [^`]+)`", refused.stderr)
    assert advice is not None, refused.stderr
    words = shlex.split(advice.group(1))
    assert terminal.login(*words[1:]).returncode == 0  # Terminal.login runs `login --no-browser <the rest>`
    assert "Signed in as" in terminal("status", "--profile", "nosuch").stdout


@pytest.mark.parametrize(
    "args",
    [("--profile", "../evil", "status"), ("status", "--profile", "../evil"), ("serve", "--profile", "../evil")],
)
def test_a_profile_that_is_no_folder_name_is_a_usage_error_naming_the_option(
    terminal: Terminal, args: tuple[str, ...]
) -> None:
    done = terminal(*args)
    assert done.returncode == 64, done.stderr
    assert "argument --profile: must be 1-64 letters" in done.stderr and "'../evil'" in done.stderr
    assert "XAI_OAUTH_PROFILE" not in done.stderr


# -- numbers and shapes refused before anything is sent ----------------------------------------------------


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("chat", "--max-tokens", "-5", "hi"), "argument --max-tokens: must be a whole number from 1 up, got '-5'"),
        (("chat", "--max-tokens", "0", "hi"), "argument --max-tokens"),
        (("image", "a fox", "--aspect-ratio", "banana"), "argument --aspect-ratio: must be WIDTH:HEIGHT"),
        (("video", "a fox", "--aspect-ratio", "16/9"), "argument --aspect-ratio"),
        (("video", "a fox", "--resolution", "4k"), "argument --resolution: must be a height in lines and a p"),
    ],
)
def test_out_of_range_options_are_refused_before_sending(
    terminal: Terminal, emulator: Emulator, args: tuple[str, ...], named: str
) -> None:
    assert terminal.login().returncode == 0
    sent = len(emulator.api_requests)
    done = terminal(*args)
    assert done.returncode == 64 and named in done.stderr, done.stderr
    assert done.stderr.startswith(f"usage: xai-oauth {args[0]} ")
    assert len(emulator.api_requests) == sent


def test_shapes_the_api_takes_still_pass(terminal: Terminal, emulator: Emulator, tmp_path: Path) -> None:
    assert terminal.login().returncode == 0
    made = terminal("image", "a fox", "--aspect-ratio", "16:9", "-o", str(tmp_path))
    assert made.returncode == 0, made.stderr
    assert emulator.api_requests[-1]["body"]["aspect_ratio"] == "16:9"
    assert terminal("chat", "--max-tokens", "5", "hi").returncode == 0


# -- the emulator command ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "named"), [(("--port", "70000"), "--port"), (("--tier", "banana"), "--tier")])
def test_the_emulators_usage_errors_are_64(terminal: Terminal, args: tuple[str, ...], named: str) -> None:
    done = terminal("emulator", *args)
    assert done.returncode == 64 and f"argument {named}" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("taken", ["its port", "the proxy's port"])
def test_the_emulator_on_a_taken_port_says_so_in_one_message(terminal: Terminal, taken: str) -> None:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    try:
        port = holder.getsockname()[1] - (1 if taken == "the proxy's port" else 0)
        done = terminal("emulator", "--port", str(port))
    finally:
        holder.close()
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.splitlines()
    assert lines[0].startswith(f"error: Cannot listen on 127.0.0.1:{port}") and len(lines) == 2
    assert "Pick another --port" in lines[1] and done.stdout == ""


# -- serve: what cannot work is refused before anything listens --------------------------------------------


def _serve_refused(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``xai-oauth serve`` expected to refuse at once; a server that starts instead is stopped and fails the test."""
    child = subprocess.Popen(
        [sys.executable, "-m", "xai_oauth", "serve", "--port", "0", *args],
        env={**env, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = child.communicate(timeout=60)  # a hang guard: a refusal comes at once
    except subprocess.TimeoutExpired:
        child.kill()
        out, err = child.communicate()
        pytest.fail(f"serve started instead of refusing: {out[:300]}")
    return subprocess.CompletedProcess(child.args, child.returncode, out, err)


@pytest.mark.parametrize(
    ("args", "environ", "named"),
    [
        (("--host", "0.0.0.0", "--api-key", ""), {}, "argument --api-key: is empty"),
        (("--host", "0.0.0.0", "--api-key", "   "), {}, "argument --api-key: is empty"),
        (("--api-key", ""), {}, "argument --api-key: is empty"),  # on loopback too
        (("--host", "0.0.0.0"), {"XAI_OAUTH_SERVE_KEYS": ","}, "A key from XAI_OAUTH_SERVE_KEYS is empty"),
        (("--host", "0.0.0.0"), {"XAI_OAUTH_SERVE_KEYS": " "}, "A key from XAI_OAUTH_SERVE_KEYS is empty"),
        ((), {"XAI_OAUTH_SERVE_KEYS": "k" * 20 + ","}, "A key from XAI_OAUTH_SERVE_KEYS is empty"),
        (("--api-key", "short"), {}, "argument --api-key: is shorter than 16 characters"),
        (("--host", "0.0.0.0"), {}, "--host 0.0.0.0 is reachable from other machines"),
        (("--model-map", "sonnet"), {}, "--model-map takes name=model pairs"),
        (("--admin-key", " "), {}, "argument --admin-key: is empty"),
    ],
)
def test_serve_refuses_what_cannot_work_as_a_usage_error(
    emulator: Emulator, isolated_home: Path, args: tuple[str, ...], environ: dict[str, str], named: str
) -> None:
    env = {**os.environ, **emulator.environ(), **environ}
    sign_in(emulator, env)  # signed in: only the options stand between the command and a listening server
    done = _serve_refused(env, *args)
    assert done.returncode == 64, done.stderr
    assert done.stderr.startswith("usage: xai-oauth serve ") and named in done.stderr, done.stderr
    assert done.stdout == "" and not (isolated_home / "serve-key").exists()  # no key made, none printed


def test_a_missing_serve_extra_names_this_interpreter_and_this_checkout(terminal: Terminal) -> None:
    without_uvicorn = (
        "import sys; sys.modules['uvicorn'] = None; from xai_oauth.cli._main import main; sys.exit(main())"
    )
    done = subprocess.run(
        [sys.executable, "-c", without_uvicorn, "serve"], env=terminal.env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    line = f"{shlex.quote(sys.executable)} -m pip install -e {shlex.quote(f'{ROOT}[serve]')}"
    assert line in done.stderr, done.stderr
    assert "pip install 'xai-oauth[serve]'" not in done.stderr  # no package index holds xai-oauth
    assert "\nserve = [" in (ROOT / "pyproject.toml").read_text()  # the extra the line names exists there


def test_an_install_from_elsewhere_is_named_by_where_pip_got_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside a checkout the line installs from where pip recorded this copy came from (PEP 610)."""
    import json
    from importlib import metadata

    from xai_oauth.cli import _install

    recorded: dict[str, object] = {}

    class Installed:
        def read_text(self, name: str) -> str | None:
            return json.dumps(recorded) if name == "direct_url.json" and recorded else None

    monkeypatch.setattr(_install, "checkout", lambda: None)
    monkeypatch.setattr(metadata, "distribution", lambda name: Installed())
    python = shlex.quote(sys.executable)
    assert _install.extra_install_line("serve") == f"{python} -m pip install 'xai-oauth[serve]'"
    recorded.update(url="file:///src/xai-oauth", dir_info={})
    assert _install.extra_install_line("serve") == f"{python} -m pip install 'xai-oauth[serve] @ file:///src/xai-oauth'"
    recorded.update(url="https://github.com/o/xai-oauth", vcs_info={"vcs": "git", "commit_id": "abc123"})
    assert (
        _install.extra_install_line("serve")
        == f"{python} -m pip install 'xai-oauth[serve] @ git+https://github.com/o/xai-oauth@abc123'"
    )


def test_skill_md_installs_the_serve_extra_into_the_skills_own_python() -> None:
    skill = (ROOT / "SKILL.md").read_text()
    assert 'SKILL_DIR/.venv/bin/python -m pip install -q -e "SKILL_DIR[serve]"' in skill
    assert not re.search(r"(?<!-m )pip install -e \"SKILL_DIR\[serve\]\"", skill)


def test_a_refused_key_is_never_printed(emulator: Emulator, isolated_home: Path) -> None:
    env = {**os.environ, **emulator.environ()}
    short, listed = "CANARY-SHORT1", "CANARY-LISTED-KEY-0123456789"
    for args, environ in (
        (("--api-key", short), {}),
        (("--admin-key", short), {}),
        ((), {"XAI_OAUTH_SERVE_KEYS": f"{listed},,"}),
        ((), {"XAI_OAUTH_SERVE_KEYS": f"{listed},{short}"}),
    ):
        done = _serve_refused({**env, **environ}, *args)
        assert done.returncode == 64, done.stderr
        assert short not in done.stderr + done.stdout and listed not in done.stderr + done.stdout
