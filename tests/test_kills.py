"""Real processes, real signals, a real full disk: a rotated refresh token survives all of them.

Mostly against the emulator as a strict provider (no rotation grace: a
rotated-away refresh token sent again revokes the grant), so any lost token
shows up as a lost sign-in.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from xai_oauth import Account, Config
from xai_oauth.emulator import Emulator
from xai_oauth.emulator._kills import run_kills, spawn_refresh

from .conftest import Agent

#: every test here starts fresh interpreters or waits in real time
pytestmark = pytest.mark.slow

KILLS = 50
#: rounds killed where the child waits between the journal write and the save: that moment is always tested
HELD = 3


def test_sigkill_after_the_answer_was_journaled_loses_no_sign_in(emulator: Emulator) -> None:
    """Strict provider: a kill between the answer's arrival and its journal write may lose it (no client can close
    that window, only keep it short); every kill after the write must lose nothing."""
    result = run_kills(emulator, KILLS, held=HELD)
    assert result.lost_after_journal == 0, result
    assert result.adopted_from_journal >= HELD, result  # each held kill's credential adopted from the journal
    assert result.lost_before_journal <= result.killed_before_journal, result
    assert emulator.stats().get("reuse_detected", 0) == result.lost, result


def test_sigkill_with_the_providers_rotation_grace_never_loses_a_sign_in(emulator: Emulator) -> None:
    """With the grace xAI's own client assumes (about a minute), wherever the kill lands, nothing is lost."""
    result = run_kills(emulator, KILLS, rotation_grace=60.0, held=HELD)
    assert result.lost == 0, result
    assert result.adopted_from_journal >= HELD, result
    assert emulator.stats().get("reuse_detected", 0) == 0


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupt_while_the_answer_is_in_flight_waits_for_the_save(
    agent: Agent, emulator: Emulator, sig: signal.Signals
) -> None:
    agent.sign_in()
    emulator.settings.rotation_grace = 0.0
    emulator.token_answer_gate = answer_may_leave = threading.Event()  # the provider rotates; the answer waits
    env = agent.env
    before = emulator.stats().get("refreshes", 0)
    child = spawn_refresh(env, linger=0)
    deadline = time.monotonic() + 60  # a hang guard
    while emulator.stats().get("refreshes", 0) == before:  # the grant reached the provider
        assert time.monotonic() < deadline and child.poll() is None, child.communicate()
        time.sleep(0.01)
    child.send_signal(sig)  # while the answer is held: the signal lands in flight however slow the machine
    answer_may_leave.set()
    out, err = child.communicate(timeout=60)
    assert child.returncode != 0, err  # the signal was honoured ...
    assert b"A" in out  # ... after the answer arrived
    emulator.token_answer_gate = None
    with Account(Config.from_env(env)) as account:
        assert account.status()["state"] == "connected"
        assert account.refresh(force=True)["refreshed"]  # the rotated token was saved, not dropped
    assert emulator.stats().get("reuse_detected", 0) == 0


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs, where this machine lets us mount one (root with mount rights)."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(
            f"cannot mount a tmpfs here ({done.stderr.strip() or 'not root'}); "
            "test_crash_safety.py::TestFullDisk injects ENOSPC instead"
        )
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(directory: Path) -> Path:
    """Write until the disk is full; the filler file, to delete for space again."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler


def test_a_full_disk_sends_nothing_and_keeps_the_sign_in(agent: Agent, emulator: Emulator, small_disk: Path) -> None:
    home = small_disk / "home"
    agent.sign_in(XAI_OAUTH_HOME=str(home))
    emulator.settings.rotation_grace = 0.0
    before = emulator.stats().get("refresh_requests", 0)
    filler = fill(small_disk)
    refused = agent("refresh(force=True)", XAI_OAUTH_HOME=str(home))
    assert refused["error"] == "store_error" and "nothing was sent" in refused["message"], refused
    assert emulator.stats().get("refresh_requests", 0) == before
    assert agent("status()", XAI_OAUTH_HOME=str(home))["state"] == "connected"
    filler.unlink()
    assert agent("refresh(force=True)", XAI_OAUTH_HOME=str(home))["refreshed"] is True
    assert emulator.stats().get("reuse_detected", 0) == 0
    stored = json.loads(next(home.glob("accounts/*/*/credentials.json")).read_text())
    assert stored["refresh_token"] in emulator.authority.secrets()


def test_concurrent_polls_all_answer_connected_and_start_keeps_the_code(agent: Agent, emulator: Emulator) -> None:
    """Eight agents poll the one sign-in at once: one wins the grant, the others read the same connection."""
    from concurrent.futures import ThreadPoolExecutor

    started = agent("start()")
    again = agent("start()")
    assert again["user_code"] == started["user_code"] and again["resumed"] is True
    assert emulator.stats()["device_authorizations"] == 1
    emulator.approve(str(started["user_code"]))
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: agent("poll()"), range(8)))
    assert [r.get("status") for r in results] == ["connected"] * 8, results
    assert emulator.stats()["grants_issued"] == 1


def test_a_gateway_502_after_the_provider_acted_is_settled_within_the_grace(agent: Agent, emulator: Emulator) -> None:
    from xai_oauth.emulator import Fault

    agent.sign_in()
    emulator.inject(Fault("/oauth2/token", status=502, after=True))
    unconfirmed = agent("refresh(force=True)")
    assert unconfirmed["error"] == "refresh_unconfirmed" and "refresh()" in unconfirmed["action"]
    status = agent("status()")
    assert status["state"] == "refresh_unconfirmed" and not status["connected"] and "HTTP 502" in status["reason"]
    assert agent("refresh()")["refreshed"] is True  # the old token once more, inside xAI's grace
    assert agent("status()")["state"] == "connected"
    assert emulator.stats()["grace_reuse"] == 1 and emulator.stats().get("reuse_detected", 0) == 0
    blob = "\n".join(agent.outputs)  # the unconfirmed path's messages, reasons and notes: no secret rides along
    assert not [secret for secret in emulator.authority.secrets() if secret in blob]
