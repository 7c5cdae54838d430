"""Sign-out leaves no trace: the home lists as it did before the sign-in, lock file and folders included,
and removing the slot's lock file while holding it never lets two processes hold the lock at once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from xai_oauth import Account, Config
from xai_oauth.emulator import Emulator

from .conftest import ROOT
from .support.served import sign_in
from .test_cli import Terminal


def listing(home: Path) -> list[str]:
    """Every file and folder under ``home`` (an absent home lists as empty)."""
    return sorted(str(path.relative_to(home)) for path in home.rglob("*")) if home.exists() else []


@pytest.mark.parametrize("home_before", ["absent", "holding a settings file"])
def test_the_home_after_logout_lists_as_before_the_sign_in(
    emulator: Emulator, isolated_home: Path, tmp_path: Path, home_before: str
) -> None:
    key = "xai-CANARY-KEY-" + "t" * 40
    emulator.settings.api_key = key
    emulator.settings.video_retry_after = 0.05
    if home_before != "absent":
        isolated_home.mkdir(mode=0o700)
        (isolated_home / ".env.xai").write_text("XAI_DEFAULT_MODEL=xai-grok/grok-4.3\n")
    before = listing(isolated_home)
    terminal = Terminal(emulator)
    media = str(tmp_path / "media")
    assert terminal.login().returncode == 0
    for args in (
        ("chat", "hi"),  # the subscription: a conversation key
        ("chat", "-m", "xai/grok-4.3", "hi"),  # the API key beside it
        ("models", "--refresh"),
        ("usage",),
        ("refresh", "--force"),
        ("image", "a fox", "-o", media),
        ("video", "a fox", "--no-wait", "-o", media),  # a job on record
    ):
        done = terminal(*args, XAI_API_KEY=key)
        assert done.returncode == 0, (args, done.stderr)
    assert len(listing(isolated_home)) > len(before) + 4  # the sign-in did leave its files
    assert terminal("logout").returncode == 0
    assert listing(isolated_home) == before
    for stream in ("--no-stream", "--stream"):  # asking the subscription afterwards is refused, writing nothing
        refused = terminal("chat", stream, "-m", "xai-grok/grok-4.3", "hi", XAI_API_KEY=key)
        assert refused.returncode == 1 and "-m xai/grok-4.3" in refused.stderr, refused.stderr
    assert listing(isolated_home) == before


def test_logout_of_one_profile_leaves_the_others_folders(emulator: Emulator, isolated_home: Path) -> None:
    env = {**os.environ, **emulator.environ()}
    sign_in(emulator, {**env, "XAI_OAUTH_PROFILE": "ann"})
    sign_in(emulator, {**env, "XAI_OAUTH_PROFILE": "bob"})
    with Account(Config.from_env({**env, "XAI_OAUTH_PROFILE": "ann"})) as ann:
        slot = Path(ann.paths.dir)
        assert ann.logout()["was_signed_in"] is True
    assert not slot.exists() and (slot.parent / "bob" / "credentials.json").exists()
    with Account(Config.from_env({**env, "XAI_OAUTH_PROFILE": "bob"})) as bob:
        assert bob.status()["state"] == "connected"
        assert bob.refresh(force=True)["refreshed"] is True  # its lock, beside the removed one, still works


def test_a_lock_taken_on_a_file_its_holder_removed_is_let_go(tmp_path: Path) -> None:
    """The one window sign-out's removal opens: a waiter opened the lock file, then the holder removed it.

    Locking that descriptor succeeds (nobody holds the removed file), but guards nothing: a newcomer opens the
    file the path names now. So it must count as "removed" (and be released), never as "locked".
    """
    pytest.importorskip("fcntl")
    from xai_oauth.store._lockfile import exclusive, try_lock

    path = str(tmp_path / ".lock")
    with exclusive(path, 5) as removable:
        assert removable
        opened_before = os.open(path, os.O_RDWR)  # a waiter between its open and its lock
        assert try_lock(opened_before, path) == "busy"
        os.unlink(path)  # what sign-out does, holding the lock
    try:
        assert try_lock(opened_before, path) == "removed"  # the path names no file now
        with exclusive(path, 5):  # the newcomer's file, made again
            assert try_lock(opened_before, path) == "removed"  # the path names another file
            replaced = os.open(path, os.O_RDWR)
            assert try_lock(replaced, path) == "busy"  # the new file is the one that is held
            os.close(replaced)
    finally:
        os.close(opened_before)


WAITER = """
import sys
from xai_oauth import Account
print("waiting", flush=True)
with Account() as account, account._session.locked(timeout=60):
    print("entered", flush=True)
    sys.stdin.readline()
"""


def test_a_process_waiting_while_the_lock_file_is_removed_then_holds_it_alone(
    emulator: Emulator, isolated_home: Path
) -> None:
    """A process that waits for the slot's lock while sign-out holds (and removes) it gets the lock afterwards,
    and holds it alone: a newcomer's one try fails until it lets go."""
    from xai_oauth.store._errors import StoreBusy

    env = {**os.environ, **emulator.environ()}
    sign_in(emulator, env)
    leaving, newcomer = Account(Config.from_env(env)), Account(Config.from_env(env))
    waiter = subprocess.Popen(
        [sys.executable, "-c", WAITER],
        env={**env, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert waiter.stdin is not None and waiter.stdout is not None
    try:
        with leaving._session.locked() as removable:  # held before the waiter asks, so it waits
            assert removable and waiter.stdout.readline() == "waiting\n"
            os.unlink(leaving.paths.lock)  # what sign-out does, holding the lock
        assert waiter.stdout.readline() == "entered\n"
        assert os.path.exists(leaving.paths.lock)  # the waiter locked the file a newcomer opens
        with pytest.raises(StoreBusy), newcomer._session.locked(timeout=0):  # one try, no waiting
            pass  # the newcomer must not get the lock while the waiter holds it
    finally:
        waiter.communicate("go\n", timeout=60)
    with newcomer._session.locked(timeout=60):
        pass
    for account in (leaving, newcomer):
        account.close()


def test_a_slot_folder_removed_between_making_it_and_locking_is_made_again(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sign-out removes the slot's empty folder; a process that had just made it (and not yet locked) goes on."""
    from xai_oauth.auth import _session

    account = Account()
    made = _session.ensure_private_dir
    removed: list[str] = []

    def made_then_removed(path: str) -> None:
        made(path)
        if path == account.paths.dir and not removed:  # a sign-out's rmdir lands right here, once
            os.rmdir(path)
            removed.append(path)

    monkeypatch.setattr(_session, "ensure_private_dir", made_then_removed)
    with account._session.locked() as removable:
        assert removable and os.path.exists(account.paths.lock)
    assert removed == [account.paths.dir]
    account.close()
