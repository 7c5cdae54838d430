"""The credential stores: one contract for both, keyring fallback, crash-safe files."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend

from xai_oauth._exceptions import KeyringUnavailable, StoreCorrupt
from xai_oauth._files import write_json
from xai_oauth._store import FileStore, KeyringStore, keyring_usable
from xai_oauth._tokens import Credential

from .support.fake_keyrings import HangingKeyring, RaisingKeyring

ROOT = Path(__file__).resolve().parent.parent
CRED = Credential(
    "CANARY-ACCESS", "CANARY-REFRESH", expires_at=2e9, lifetime=21600, issued_at=1e9, id_token="CANARY-ID"
)


class MemoryKeyring(KeyringBackend):
    priority = 5  # type: ignore[assignment]

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        from keyring.errors import PasswordDeleteError

        if self.items.pop((service, username), None) is None:
            raise PasswordDeleteError("none")


@pytest.fixture
def use_keyring(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    previous = keyring.get_keyring()

    def install(backend: KeyringBackend) -> KeyringBackend:
        keyring.set_keyring(backend)
        return backend

    yield install
    keyring.set_keyring(previous)


class StoreContract:
    """What every credential store must do (after keyring's testing/backend.py)."""

    def make(self, tmp_path: Path) -> FileStore | KeyringStore:
        raise NotImplementedError

    def test_empty_load_is_none(self, tmp_path: Path) -> None:
        assert self.make(tmp_path).load() is None

    def test_round_trip(self, tmp_path: Path) -> None:
        store = self.make(tmp_path)
        store.save(CRED)
        assert store.load() == CRED

    def test_save_replaces(self, tmp_path: Path) -> None:
        store = self.make(tmp_path)
        store.save(CRED)
        newer = Credential("A2", "R2", expires_at=3e9, lifetime=1, issued_at=1)
        store.save(newer)
        assert store.load() == newer

    def test_delete_is_idempotent(self, tmp_path: Path) -> None:
        store = self.make(tmp_path)
        store.save(CRED)
        store.delete()
        store.delete()
        assert store.load() is None

    def test_repr_has_no_secret(self, tmp_path: Path) -> None:
        store = self.make(tmp_path)
        store.save(CRED)
        assert "CANARY" not in repr(store)


class TestFileStore(StoreContract):
    def make(self, tmp_path: Path) -> FileStore:
        return FileStore(str(tmp_path / "d" / "credentials.json"))

    def test_created_0600_in_0700_dir(self, tmp_path: Path) -> None:
        store = self.make(tmp_path)
        store.save(CRED)
        assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(tmp_path / "d").st_mode) == 0o700

    @pytest.mark.parametrize("content", ['{"access_token": "x"', "[]", '{"access_token": 5}', ""])
    def test_corrupt_file_is_set_aside(self, tmp_path: Path, content: str) -> None:
        store = self.make(tmp_path)
        store.save(CRED)
        Path(store.path).write_text(content)
        with pytest.raises(StoreCorrupt):
            store.load()
        assert not Path(store.path).exists()
        assert [p.read_text() for p in (tmp_path / "d").glob("credentials.json.corrupt-*")] == [content]


class TestKeyringStore(StoreContract):
    @pytest.fixture(autouse=True)
    def _memory(self, use_keyring) -> None:  # type: ignore[no-untyped-def]
        use_keyring(MemoryKeyring())

    def make(self, tmp_path: Path) -> KeyringStore:
        return KeyringStore("cid@https://auth.x.ai", timeout=2)

    def test_usable(self) -> None:
        assert keyring_usable(2) is None


def test_hanging_keyring_is_bounded(use_keyring) -> None:  # type: ignore[no-untyped-def]
    use_keyring(HangingKeyring())
    store = KeyringStore("a", timeout=0.2)
    for call in (store.load, lambda: store.save(CRED), store.delete):
        with pytest.raises(KeyringUnavailable, match="did not answer within 0.2 s"):
            call()


def test_raising_keyring_never_repeats_backend_text(use_keyring) -> None:  # type: ignore[no-untyped-def]
    use_keyring(RaisingKeyring())
    store = KeyringStore("a", timeout=2)
    with pytest.raises(KeyringUnavailable) as caught:
        store.save(CRED)
    assert "CANARY" not in str(caught.value) and "KeyringError" in str(caught.value)


def test_a_locked_keyring_is_unusable_at_the_probe(use_keyring) -> None:  # type: ignore[no-untyped-def]
    from keyring.errors import KeyringLocked

    class LockedKeyring(MemoryKeyring):
        def get_password(self, service: str, username: str) -> str | None:
            raise KeyringLocked("Failed to unlock the collection!")

    use_keyring(LockedKeyring())
    assert keyring_usable(2) == "The system keyring failed (probe: KeyringLocked)."


def test_no_backend_is_reported_unusable(use_keyring) -> None:  # type: ignore[no-untyped-def]
    from keyring.backends import fail

    use_keyring(fail.Keyring())
    assert "no usable keyring backend" in (keyring_usable(2) or "")


def test_write_killed_midway_leaves_old_credential_readable(tmp_path: Path) -> None:
    """A process SIGKILLed while writing (after the temp file is written, before the rename)."""
    path = tmp_path / "credentials.json"
    FileStore(str(path)).save(CRED)
    child = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(ROOT)!r})
        from xai_oauth._store import FileStore
        from xai_oauth._tokens import Credential
        os.fsync = lambda fd: os.kill(os.getpid(), signal.SIGKILL)  # die mid-write
        FileStore({str(path)!r}).save(Credential("NEW" * 100000, "R", expires_at=1, lifetime=1, issued_at=1))
    """)
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, timeout=30)
    assert done.returncode == -signal.SIGKILL
    assert FileStore(str(path)).load() == CRED  # old one intact
    FileStore(str(path)).save(CRED)  # and a later write still works beside the leftover temp file


def test_write_json_never_exposes_a_wider_mode(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        write_json(str(tmp_path / "x" / "f.json"), {"a": 1})
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "x" / "f.json").st_mode) == 0o600
