"""The three processes the server benchmark measures between: the emulator, ``xai-oauth serve``, LiteLLM's proxy.

Each runs in its own interpreter (so none shares a GIL or an event loop with
the client that times it), on 127.0.0.1 with a free port, and stops by itself:
SIGINT, then SIGKILL after a few seconds. ``peak_rss_mb`` reads the kernel's
high-water mark (``VmHWM``) of the process and its children, so a server that
forks workers is not flattered.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


class Process:
    """A child process started for the benchmark; ``stop`` ends it (and only it) by its id."""

    def __init__(self, command: list[str], env: dict[str, str], cwd: str | None = None) -> None:
        self.popen = subprocess.Popen(
            command,
            env={**env, "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=cwd or str(ROOT),
            start_new_session=True,
        )
        self.lines: list[str] = []
        # drained all along, so a chatty process (an access log per request) never blocks on a full pipe
        threading.Thread(target=self._drain, daemon=True).start()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def _drain(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            if len(self.lines) < 2000:
                self.lines.append(line)

    def read_until(self, marker: str, seconds: float = 120) -> str:
        """The output up to the line holding ``marker``; RuntimeError with the output if it never comes."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and self.popen.poll() is None:
            if any(marker in line for line in self.lines):
                return self.output
            time.sleep(0.05)
        if any(marker in line for line in self.lines):
            return self.output
        self.stop()
        raise RuntimeError(f"{self.popen.args[:4]} did not start:\n{self.output}")

    def peak_rss_mb(self) -> float:
        """The peak resident memory (VmHWM) of the process and its children, in MB."""
        total = 0
        for pid in [self.popen.pid, *_children(self.popen.pid)]:
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
            total += int(found.group(1)) if found else 0
        return total / 1024

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)  # its own session: only what this process started
                self.popen.wait()


def _children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (from /proc/<pid>/task/*/children)."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                kids = [int(k) for k in (task / "children").read_text().split()]
            except OSError:
                continue
            found += kids
            todo += kids
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Emulated:
    """The emulator's process, with the environment that points xai-oauth at it and its control token."""

    def __init__(self, process: Process) -> None:
        self.process = process
        banner = process.read_until("Ctrl-C to stop.")
        self.env = dict(re.findall(r"export (\w+)=(\S+)", banner))
        self.url = self.env["XAI_OAUTH_ISSUER"]
        self.api_url = self.env["XAI_BASE_URL"]
        self.api_key = self.env["XAI_API_KEY"]
        self.control_token = re.search(r"X-Emulator-Token: (\S+)", banner).group(1)  # type: ignore[union-attr]

    def settings(self, **values: object) -> None:
        request = urllib.request.Request(
            f"{self.url}/_emulator/settings",
            data=json.dumps(values).encode(),
            headers={"Content-Type": "application/json", "X-Emulator-Token": self.control_token},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 200


#: ``python -m xai_oauth.emulator`` with a listen backlog of 256 instead of socketserver's 5: with 5, 64 new
#: connections at once are partly reset by the kernel (on the straight side as much as through the server), and
#: the concurrency row would measure the emulator's accept queue, not the server.
_EMULATOR_WITH_BACKLOG = (
    "import sys; from xai_oauth.emulator import _server; _server._QuietServer.request_queue_size = 256; "
    "from xai_oauth.cli._emulator import main; sys.exit(main({args!r}))"
)


@contextmanager
def emulator(api_key: str) -> Iterator[Emulated]:
    """The emulator in its own process on a free port, approving every sign-in at once."""
    args = ["--auto-approve", "--interval", "1", "--api-key", api_key]
    command = [sys.executable, "-c", _EMULATOR_WITH_BACKLOG.format(args=args)]
    process = Process(command, dict(os.environ))
    try:
        yield Emulated(process)
    finally:
        process.stop()


def signed_in_env(emulated: Emulated, home: str) -> dict[str, str]:
    """Sign in through the emulator (auto-approved) into ``home``; the environment that uses that sign-in."""
    from xai_oauth import Account, Config

    env = {**os.environ, **emulated.env, "XAI_OAUTH_HOME": home, "XAI_OAUTH_STORE": "file"}
    with Account(Config.from_env(env)) as account:
        account.start()
        assert account.poll(wait=True, timeout=30)["status"] == "connected"
    return env


@contextmanager
def served(env: dict[str, str], client_key: str) -> Iterator[tuple[Process, str]]:
    """``python -m xai_oauth serve --port 0 --api-key K``: the process and its origin."""
    command = [sys.executable, "-m", "xai_oauth", "serve", "--port", "0", "--api-key", client_key]
    process = Process(command, {**env, "PYTHONPATH": str(ROOT)})
    try:
        banner = process.read_until("Ctrl-C to stop.")
        port = re.search(r"http://127\.0\.0\.1:(\d+)/v1", banner).group(1)  # type: ignore[union-attr]
        yield process, f"http://127.0.0.1:{port}"
    finally:
        process.stop()


def litellm_missing() -> str | None:
    """Why LiteLLM's proxy cannot be measured here, or None."""
    if not (VENV_BIN / "litellm").exists():
        return "the `litellm` command is not installed (bash scripts/setup.sh bench installs litellm[proxy])"
    return None


@contextmanager
def litellm(api_url: str, api_key: str, master_key: str, model: str) -> Iterator[tuple[Process, str]]:
    """LiteLLM's proxy, its openai-compatible provider pointed at the emulator's API with its API key."""
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "config.yaml"
        config.write_text(
            f"model_list:\n  - model_name: {model}\n    litellm_params:\n      model: openai/{model}\n"
            f"      api_base: {api_url}\n      api_key: {api_key}\n"
            f"general_settings:\n  master_key: {master_key}\n"
            "litellm_settings:\n  telemetry: false\n  drop_params: true\n"
        )
        env = {
            **os.environ,
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "LITELLM_LOG": "ERROR",
            "HOME": folder,
            "NO_PROXY": "127.0.0.1,localhost",
        }
        command = [str(VENV_BIN / "litellm"), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)]
        process = Process(command, env, cwd=folder)
        origin = f"http://127.0.0.1:{port}"
        try:
            _wait_until(process, lambda: _answers_200(f"{origin}/health/liveliness"), "LiteLLM's proxy", 180)
            yield process, origin
        finally:
            process.stop()


def _wait_until(process: Process, ready: Callable[[], bool], what: str, seconds: float) -> None:
    """Until ``ready()`` (an ``OSError`` counts as not yet); RuntimeError if ``process`` exits or time runs out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise RuntimeError(f"{what} exited:\n{process.output}")
        try:
            if ready():
                return
        except OSError:
            pass
        time.sleep(0.2)
    process.stop()
    raise RuntimeError(f"{what} did not start in time")


def _answers_200(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as answer:
        return bool(answer.status == 200)


def _listens(port: int) -> bool:
    socket.create_connection(("127.0.0.1", port), timeout=1).close()
    return True


@contextmanager
def passthrough(url: str, headers: dict[str, str], client: str = "httpx2") -> Iterator[tuple[Process, str]]:
    """``passthrough_app`` on uvicorn (as ``xai-oauth serve`` runs it), handing ``url``'s bytes on untouched."""
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        call = Path(folder) / "call.json"
        call.write_text(json.dumps({"url": url, "headers": headers}))
        command = [sys.executable, "-m", "uvicorn", "--app-dir", str(ROOT / "bench"), "passthrough_app:app"]
        command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log"]
        process = Process(command, {**os.environ, "PASSTHROUGH_CALL": str(call), "PASSTHROUGH_CLIENT": client})
        try:
            _wait_until(process, lambda: _listens(port), "the pass-through", 60)
            yield process, f"http://127.0.0.1:{port}"
        finally:
            process.stop()
