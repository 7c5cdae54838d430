"""``xai-oauth serve`` for tests: the real command in its own process, against an emulator, on a free port."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

C = TypeVar("C")
ROOT = Path(__file__).resolve().parents[2]
CLIENT_KEY = "test-client-key-" + "k" * 24


class Served:
    """A running server: its base URLs, its client key, and its output so far."""

    def __init__(self, process: subprocess.Popen[str], port: int, banner: str) -> None:
        self.process, self.port, self.banner = process, port, banner
        self.origin = f"http://127.0.0.1:{port}"
        self.base_url = self.origin + "/v1"
        self.key = CLIENT_KEY
        self._lines: list[str] = []
        self._clients: list[Any] = []
        # Drain the server's output as it comes: a full pipe would block its access log, and with it the server.
        self._drain = threading.Thread(target=self._read, daemon=True)
        self._drain.start()

    def keep(self, client: C) -> C:
        """``client`` (an SDK client), closed when the server stops: pooled sockets never outlive the test."""
        self._clients.append(client)
        return client

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.append(line)

    def output(self) -> str:
        """Everything the server printed (complete once it has stopped: ``stop()`` first to read it all)."""
        if self.process.poll() is not None:
            self._drain.join(timeout=10)
        return self.banner + "".join(self._lines)

    def stop(self) -> None:
        """Stop the server as Ctrl-C does (then kill it, if it hangs), and read the rest of its output."""
        for client in self._clients:
            client.close()
        self._clients.clear()
        if self.process.poll() is None:
            self.process.send_signal(2)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._drain.join(timeout=10)


@contextmanager
def serve(env: dict[str, str], *args: str, key: str | None = CLIENT_KEY) -> Iterator[Served]:
    """Start ``xai-oauth serve --port 0`` and wait for its banner; stop it (SIGINT, then kill) afterwards."""
    command = [sys.executable, "-m", "xai_oauth", "serve", "--port", "0", *args]
    if key:
        command += ["--api-key", key]
    env = {**env, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=str(ROOT)
    )
    assert process.stdout is not None
    banner, deadline = "", time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        banner += line
        if "Ctrl-C to stop." in line:
            break
    found = re.search(r"http://127\.0\.0\.1:(\d+)/v1", banner)
    if not found:
        process.kill()
        raise RuntimeError(f"the server did not start: {banner}{process.stdout.read()}")
    served = Served(process, int(found.group(1)), banner)
    try:
        yield served
    finally:
        served.stop()
        process.stdout.close()


def sign_in(emulator: object, env: dict[str, str], *, email: str | None = None, tier: int = 1) -> None:
    """Sign in the profile ``env`` names; with ``email``, as that person of the emulator (their own account)."""
    from xai_oauth import Account, Config

    with Account(Config.from_env(env)) as account:
        started = account.start()
        emulator.approve(started["user_code"], **({"email": email, "tier": tier} if email else {}))  # type: ignore[attr-defined]
        assert account.poll()["status"] == "connected"


@contextmanager
def signed_in_server(emulator: object, *args: str) -> Iterator[Served]:
    """The emulator's account signed in (the test's own XAI_OAUTH_HOME), then ``serve`` for it."""
    env = {**os.environ, **emulator.environ()}  # type: ignore[attr-defined]
    sign_in(emulator, env)
    with serve(env, *args) as running:
        yield running
