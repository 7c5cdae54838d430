"""The ``xai-oauth`` command, driven in subprocesses against the emulator, as a person would use it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from xai_oauth.emulator import Emulator
from xai_oauth.emulator._demo import approve_in_browser

from .conftest import ROOT, account_dir


class Terminal:
    """Runs ``python -m xai_oauth ...`` with the emulator's environment; keeps every output for the canary scan."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.env = {**os.environ, **emulator.environ(), "PYTHONPATH": str(ROOT)}
        self.outputs: list[str] = []

    def __call__(self, *args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "xai_oauth", *args],
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=60,
            input=stdin,
        )
        self.outputs += [done.stdout, done.stderr]
        return done

    def at_a_terminal(self, *args: str, typed: str = "") -> subprocess.CompletedProcess[str]:
        """The command with a terminal on stdin (a pty), as a person runs it, ``typed`` already waiting there."""
        import pty

        person, command = pty.openpty()
        try:
            os.write(person, typed.encode())
            done = subprocess.run(
                [sys.executable, "-m", "xai_oauth", *args],
                env=self.env,
                stdin=command,
                capture_output=True,
                text=True,
                timeout=60,
            )
        finally:
            os.close(person)
            os.close(command)
        self.outputs += [done.stdout, done.stderr]
        return done

    def login(self, *args: str, decide: str = "approve") -> subprocess.CompletedProcess[str]:
        """``xai-oauth login --no-browser``: read the link it prints, decide on the page, wait for the exit."""
        child = subprocess.Popen(
            [sys.executable, "-m", "xai_oauth", "login", "--no-browser", *args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        url = ""
        while not url:
            line = child.stdout.readline()
            assert line, "login exited before printing the link"
            self.outputs.append(line)
            if "user_code=" in line:
                url = json.loads(line)["verification_url_with_code"] if line.startswith("{") else line.strip()
        code = url.split("user_code=")[1]
        if decide == "approve":
            approve_in_browser(url)
        elif decide == "deny":
            self.emulator.deny(code)
        else:
            self.emulator.expire(code)
        out, err = child.communicate(timeout=60)
        self.outputs += [out, err]
        return subprocess.CompletedProcess(child.args, child.returncode, out, err)


@pytest.fixture
def terminal(emulator: Emulator) -> Terminal:
    return Terminal(emulator)


def test_login_status_models_chat_refresh_logout(terminal: Terminal, emulator: Emulator) -> None:
    login = terminal.login()
    assert login.returncode == 0, login.stderr
    assert "Signed in as person@example.com: SuperGrok (tier 1)" in login.stdout

    status = terminal("status")
    assert status.returncode == 0
    assert "Signed in as person@example.com: SuperGrok (tier 1) - subscription" in status.stdout
    assert "Default model: xai-grok/grok-4.3" in status.stdout
    assert json.loads(terminal("status", "--json").stdout)["state"] == "connected"

    models = terminal("models")
    assert models.returncode == 0 and models.stdout.splitlines()[0].split() == ["MODEL", "LANE", "PAID", "BY"]
    lanes = {line.split()[0]: line.split()[1] for line in models.stdout.splitlines()[1:]}
    assert lanes["xai-grok/grok-imagine-image"] == "images" and lanes["xai-grok/grok-imagine-video"] == "video"
    assert "xai-grok/grok-4.3 (default)" in models.stdout and "responses" in models.stdout
    assert json.loads(terminal("models", "--json").stdout)["default_model_id"] == "xai-grok/grok-4.3"

    answer = terminal("chat", "hello from the terminal")
    assert answer.returncode == 0 and answer.stdout == "You said: hello from the terminal\n"
    streamed = terminal("chat", "--stream", "-m", "xai-grok/grok-4.20-multi-agent-0309", "--thinking", "high", "plan")
    assert streamed.stdout == "16 agents considered: plan\n"
    as_json = json.loads(terminal("chat", "--json", "--system", "terse", "hi").stdout)
    assert as_json["content"] == "You said: hi" and emulator.api_requests[-1]["body"]["messages"][0]["role"] == "system"

    assert "Renewed" in terminal("refresh", "--force").stdout
    logout = terminal("logout")
    assert logout.returncode == 0 and "revoked" in logout.stdout
    after = terminal("status")
    assert after.returncode == 1 and "Not signed in." in after.stdout and "xai-oauth login" in after.stdout


def test_login_json_lines(terminal: Terminal) -> None:
    """One JSON object a line: the pending sign-in (read by Terminal.login), then the outcome."""
    login = terminal.login("--json")
    assert login.returncode == 0
    assert [json.loads(line)["status"] for line in login.stdout.splitlines()] == ["connected"]
    hint = json.loads(login.stdout)["switch_hint"]  # this tool has no /model command
    assert "/model" not in hint and "`xai-oauth chat --model xai-grok/grok-4.3`" in hint
    again = terminal("login", "--json", "--no-browser")  # not a terminal: --force is needed
    assert again.returncode == 1 and json.loads(again.stdout)["error"] == "already_signed_in"
    assert "xai-oauth login --force" in json.loads(again.stdout)["action"]
    assert terminal.login("--force").returncode == 0


def test_usage_errors_help_and_debug_anywhere(terminal: Terminal) -> None:
    bare = terminal()
    assert bare.returncode == 0 and "commands:" in bare.stdout and "Exit codes" in bare.stdout
    wrong = terminal("chat", "--thinking", "max", "hi")
    assert wrong.returncode == 64 and "invalid choice" in wrong.stderr  # not 2, which means "sign-in denied"
    assert terminal("no-such-command").returncode == 64
    late = terminal(
        "chat", "-m", "xai/grok-4.3", "hi", "--debug", XAI_BASE_URL="http://127.0.0.1:9/v1", XAI_API_KEY="xai-k"
    )
    assert late.returncode == 1 and "Traceback" in late.stderr


def test_logout_with_nothing_signed_in(terminal: Terminal) -> None:
    done = terminal("logout")
    assert done.returncode == 0 and done.stdout == "Not signed in; nothing to do.\n" and done.stderr == ""


def test_an_api_key_alone_is_enough(terminal: Terminal) -> None:
    key = {"XAI_API_KEY": "xai-CANARY-KEY-" + "k" * 40}
    terminal.emulator.settings.api_key = key["XAI_API_KEY"]
    status = terminal("status", **key)
    assert status.returncode == 0 and "Not signed in." in status.stdout and "API key is set" in status.stdout
    told = json.loads(terminal("status", "--json", **key).stdout)["action"]
    assert "API key works" in told and "set XAI_API_KEY" not in told  # it is set already
    asked = terminal("chat", stdin="piped question\n", **key)  # no -m: the key's default; the prompt from stdin
    assert asked.returncode == 0 and asked.stdout == "You said: piped question\n", asked.stderr


def test_every_output_names_commands_not_calls(terminal: Terminal, isolated_home: Path) -> None:
    """Actions, messages and notes, in text and JSON: the command speaks commands (the exports speak calls)."""
    import re

    nobody = terminal("refresh", "--json")
    assert nobody.returncode == 1 and "xai-oauth login" in json.loads(nobody.stdout)["action"]
    isolated_home.mkdir(parents=True, exist_ok=True)
    (isolated_home / "state.json").write_text("{}")  # an old home's file that names no issuer: a note
    said = [terminal(*args) for args in (("status",), ("status", "--json"), ("usage", "--json"), ("chat", "hi"))]
    assert "xai-oauth logout" in said[0].stdout  # the note, rewritten
    assert terminal.login().returncode == 0
    said += [terminal("chat", "--json", "-m", "xai-grok/grok-9", "hi"), terminal("status", "--json")]
    said.append(terminal("models", "--json", XAI_API_KEY="sk-not-an-xai-key"))
    calls = re.compile(r"\b(start|poll|logout|refresh|models|usage|status|chat)\(\)")
    for done in said:
        assert not calls.search(done.stdout + done.stderr), done.stdout + done.stderr


@pytest.mark.parametrize(("decide", "exit_code", "error"), [("deny", 2, "access_denied"), ("expire", 3, "expired")])
def test_login_refused_or_expired_exit_codes(terminal: Terminal, decide: str, exit_code: int, error: str) -> None:
    login = terminal.login("--json", decide=decide)
    assert login.returncode == exit_code and json.loads(login.stdout)["error"] == error


def test_chat_from_a_file(terminal: Terminal, tmp_path: Path) -> None:
    assert terminal.login().returncode == 0
    conversation = tmp_path / "messages.json"
    conversation.write_text(
        json.dumps(
            [
                {"role": "user", "content": "first"},
                {"role": "assistant", "content": "ok"},
                {"role": "user", "content": "from a file"},
            ]
        )
    )
    assert terminal("chat", "--file", str(conversation)).stdout == "You said: from a file\n"
    conversation.write_text("{not json")
    broken = terminal("chat", "--file", str(conversation))
    assert broken.returncode == 1 and broken.stderr.startswith("error: Could not read")


def test_errors_show_message_and_action_never_a_traceback(terminal: Terminal) -> None:
    nobody = terminal("chat", "hi")
    assert nobody.returncode == 1 and nobody.stdout == ""
    assert nobody.stderr.startswith("error: ") and "→ Run `xai-oauth login`" in nobody.stderr
    assert "Traceback" not in nobody.stderr
    offline = terminal(
        "models",
        XAI_OAUTH_ISSUER="http://127.0.0.1:9",
        XAI_BASE_URL="http://127.0.0.1:9/v1",
        XAI_API_KEY="xai-CANARY-KEY-" + "z" * 40,
    )
    assert offline.returncode == 1 and "Traceback" not in offline.stderr and "error: " in offline.stderr


def test_debug_shows_a_redacted_traceback(terminal: Terminal) -> None:
    key = "xai-CANARY-KEY-" + "z" * 40
    debug = terminal(
        "--debug", "chat", "-m", "xai/grok-4.3", "hi", XAI_BASE_URL="http://127.0.0.1:9/v1", XAI_API_KEY=key
    )
    assert debug.returncode == 1 and "Traceback" in debug.stderr and "NetworkError" in debug.stderr
    assert key not in debug.stderr


def test_emulator_command_serves_and_its_banner_is_enough_to_sign_in(tmp_path: Path) -> None:
    """Every export line (the API key too), and the approval without a browser, taken from the banner alone."""
    child = subprocess.Popen(
        [sys.executable, "-m", "xai_oauth", "emulator", "--tier", "4", "--interval", "0.2"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert child.stdout is not None
        banner = [child.stdout.readline() for _ in range(8)]
        assert "xAI emulator on http://127.0.0.1:" in banner[0] and "(tier 4, X Premium+)" in banner[0]
        exports = dict(line.split("export ", 1)[1].strip().split("=", 1) for line in banner if "export " in line)
        assert set(exports) == {"XAI_OAUTH_ISSUER", "XAI_BASE_URL", "XAI_OAUTH_BASE_URL", "XAI_API_KEY"}
        curl = next(line for line in banner if line.strip().startswith("curl "))
        form_url = curl.split()[-1]
        env = {
            **os.environ,
            **exports,
            "PYTHONPATH": str(ROOT),
            "XAI_OAUTH_HOME": str(tmp_path),
            "XAI_OAUTH_STORE": "file",
        }
        login = subprocess.Popen(
            [sys.executable, "-m", "xai_oauth", "login", "--json", "--no-browser"],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert login.stdout is not None
        pending = json.loads(login.stdout.readline())
        from urllib.request import urlopen

        words = curl.split()
        form = "&".join(words[i + 1] for i, word in enumerate(words) if word == "-d")
        form = form.replace("<CODE>", pending["user_code"])
        urlopen(form_url, data=form.encode(), timeout=5).read()
        outcome = json.loads(login.communicate(timeout=60)[0].splitlines()[-1])
        assert login.returncode == 0 and outcome["status"] == "connected"
        by_key = subprocess.run(
            [sys.executable, "-m", "xai_oauth", "chat", "--json", "-m", "xai/grok-4.3", "hi"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert json.loads(by_key.stdout)["content"] == "You said: hi", by_key.stderr  # the printed key works
    finally:
        child.terminate()
        child.communicate(timeout=10)


def test_emulator_help_is_plain_and_complete() -> None:
    from xai_oauth.cli._emulator import _parser

    parser = _parser()
    assert "``" not in parser.format_help()
    undocumented = [action.dest for action in parser._actions if not action.help]
    assert undocumented == []


def test_no_secret_in_any_command_output(terminal: Terminal, emulator: Emulator) -> None:
    assert terminal.login().returncode == 0
    for args in (
        ("status",),
        ("status", "--json"),
        ("models", "--json"),
        ("usage",),
        ("usage", "--json"),
        ("--profile", "work", "status"),
        ("refresh", "--force", "--json"),
        ("chat", "--json", "x"),
        ("--debug", "chat", "-m", "xai-grok/grok-9", "x"),
        ("logout", "--json"),
    ):
        terminal(*args)
    secrets: list[Any] = emulator.authority.secrets()
    for output in terminal.outputs:
        for secret in secrets:
            assert secret not in output


def test_ctrl_c_during_login_leaves_nothing_behind(terminal: Terminal, isolated_home: Path) -> None:
    import signal

    child = subprocess.Popen(
        [sys.executable, "-m", "xai_oauth", "login", "--no-browser"],
        env=terminal.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    while "user_code=" not in child.stdout.readline():
        pass
    assert (account_dir(terminal.env) / "pending.json").exists()
    child.send_signal(signal.SIGINT)
    try:
        _, err = child.communicate(timeout=60)  # a hang guard: a lost Ctrl-C kept it polling
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == 130 and "Cancelled" in err and "Traceback" not in err
    assert (
        not (account_dir(terminal.env) / "pending.json").exists()
        and not (account_dir(terminal.env) / "credentials.json").exists()
    )


def test_qr_code_of_the_link(capsys: pytest.CaptureFixture[str]) -> None:
    from xai_oauth.cli._login import print_qr

    print_qr("https://accounts.x.ai/device?user_code=ABCD-EFGH")
    drawn = capsys.readouterr().out
    assert len(drawn.splitlines()) > 10 and ("▀" in drawn or "█" in drawn)


def test_profiles_usage_and_who_is_signed_in(terminal: Terminal, emulator: Emulator) -> None:
    assert terminal.login().returncode == 0
    status = terminal("status")
    assert "Signed in as person@example.com: SuperGrok (tier 1)" in status.stdout
    assert "kept in a plaintext file" in status.stdout and "XAI_OAUTH_STORE=file" in status.stdout
    for said in (status.stdout, terminal("status", "--json").stdout):
        assert said.count("credentials.json") == 1, said  # the plaintext file is named once
    usage = terminal("usage")
    assert usage.returncode == 0 and "SuperGrok: 12.5% of this period's usage used" in usage.stdout
    assert "Usage: 12.5% of this period" in terminal("status").stdout
    other = terminal("--profile", "work", "status")
    assert other.returncode == 1 and "Not signed in." in other.stdout
    assert f"Also signed in: person@example.com at {emulator.url} (profile default)" in other.stdout


def test_images_video_and_search_from_the_command(terminal: Terminal, emulator: Emulator, tmp_path: Path) -> None:
    emulator.settings.video_retry_after = 0.05
    assert terminal.login().returncode == 0
    media = str(tmp_path / "media")
    made = terminal("image", "a red fox", "-n", "2", "-o", media)
    assert made.returncode == 0 and made.stdout.startswith("Saved 2 images (xai-grok/grok-imagine-image):")
    assert all(Path(line.strip()).is_file() for line in made.stdout.splitlines()[1:3])
    clip = terminal("video", "a fox running", "-o", media)
    assert clip.returncode == 0 and "Saved the clip (xai-grok/grok-imagine-video, 6 s):" in clip.stdout, clip.stderr
    assert Path(clip.stdout.splitlines()[-1].strip()).read_bytes()[4:8] == b"ftyp"
    started = json.loads(terminal("video", "a fox", "--no-wait", "--json").stdout)  # to XAI_OAUTH_MEDIA_DIR
    assert started["status"] == "pending"
    carried = json.loads(terminal("video", "--status", started["request_id"], "--json").stdout)
    assert carried["status"] == "done" and Path(carried["file"]).parent == tmp_path / "media"
    assert terminal("video").returncode == 64
    searched = terminal("chat", "--search", "web,x", "what is new?")
    assert searched.returncode == 0 and (
        "\nSearched: what is new?\nSources:\n  [1] xAI documentation - https://docs.x.ai/docs/overview"
        in searched.stdout
    )
    for output in terminal.outputs:
        for secret in emulator.authority.secrets():
            assert secret not in output


def test_version(terminal: Terminal) -> None:
    import xai_oauth

    done = terminal("--version")
    assert done.returncode == 0 and done.stdout == f"xai-oauth {xai_oauth.__version__}\n" and done.stderr == ""


@pytest.mark.parametrize(
    ("args", "usage", "named"),
    [
        (("chat", "--bogus", "hi"), "usage: xai-oauth chat ", "unrecognized arguments: --bogus"),
        (("chat", "--thinking", "max", "hi"), "usage: xai-oauth chat ", "argument --thinking"),
        (("image", "a fox", "-n", "0"), "usage: xai-oauth image ", "argument -n: must be a whole number from 1 to 10"),
        (("video", "a fox", "--duration", "-3"), "usage: xai-oauth video ", "argument --duration: must be a whole"),
        (("video",), "usage: xai-oauth video ", "video needs a PROMPT, or --status REQUEST_ID"),
        (("--bogus", "status"), "usage: xai-oauth [", "unrecognized arguments: --bogus"),
        (("--bogus",), "usage: xai-oauth [", "unrecognized arguments: --bogus"),  # not "COMMAND is required"
    ],
)
def test_usage_errors_name_the_option_under_the_commands_own_usage(
    terminal: Terminal, args: tuple[str, ...], usage: str, named: str
) -> None:
    done = terminal(*args)
    assert done.returncode == 64 and done.stderr.startswith(usage) and named in done.stderr, done.stderr
    assert "Pass " not in done.stderr and "=0" not in done.stderr  # the Python call's wording


def test_chat_needs_a_question_before_anything_is_sent(terminal: Terminal, emulator: Emulator) -> None:
    assert terminal.login().returncode == 0
    sent = len(emulator.api_requests)
    asked = terminal.at_a_terminal("chat")  # a terminal, no prompt: nothing to read, nothing to wait for
    assert asked.returncode == 64 and asked.stderr.startswith("usage: xai-oauth chat ")
    assert "chat needs a PROMPT" in asked.stderr
    for args, stdin in ((("chat", "  "), ""), (("chat", "-s", "terse"), ""), (("chat",), "\n")):
        empty = terminal(*args, stdin=stdin)
        assert empty.returncode == 64 and "empty" in empty.stderr and "usage: xai-oauth chat " in empty.stderr
    assert len(emulator.api_requests) == sent  # no message with no content went out


def test_declining_a_new_sign_in_keeps_the_current_one_and_says_so(terminal: Terminal) -> None:
    assert terminal.login().returncode == 0
    kept = terminal.at_a_terminal("login", "--no-browser", typed="n\n")
    assert kept.returncode == 0 and "Kept the current sign-in (person@example.com)." in kept.stdout, kept
    assert "user_code=" not in kept.stdout
    assert "Signed in as person@example.com" in terminal("status").stdout


def test_a_missing_dependency_names_the_real_skill_folder(terminal: Terminal) -> None:
    without_httpx2 = "import sys; sys.modules['httpx2'] = None; from xai_oauth.cli._main import main; sys.exit(main())"
    done = subprocess.run(
        [sys.executable, "-c", without_httpx2, "chat", "-m", "xai/grok-4.3", "hi"],
        env={**terminal.env, "XAI_API_KEY": "xai-k"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "'httpx2' is not installed" in done.stderr, done.stderr
    assert f"python3 -m venv {ROOT}/.venv" in done.stderr and "SKILL_DIR" not in done.stderr


def test_an_issuer_without_a_scheme_is_named_as_such(terminal: Terminal) -> None:
    done = terminal("models", XAI_OAUTH_ISSUER="127.0.0.1:8765")
    assert done.returncode == 1
    assert (
        "XAI_OAUTH_ISSUER must be a URL starting with https:// (or http:// on this machine's loopback)" in done.stderr
    )


def test_status_from_the_command_loads_no_client(terminal: Terminal) -> None:
    """The command's status is as light as the export's: no HTTP client, no JWT, no keyring."""
    code = (
        "import sys; from xai_oauth.cli._main import main; main(['status']); "
        "print(*sorted(sys.modules), file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", code], env=terminal.env, capture_output=True, text=True, timeout=60)
    loaded = set(done.stderr.split())
    assert "xai_oauth.cli._account" in loaded  # the modules were listed
    heavy = {
        "httpx2",
        "jwt",
        "keyring",
        "xai_oauth.api._client",
        "xai_oauth.auth._account",
        "xai_oauth.api._media_rules",
    }
    assert not loaded & heavy
