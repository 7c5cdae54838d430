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

from xai_oauth.store._backends import AccessTokenCache, FileStore, KeyringStore, keyring_usable
from xai_oauth.store._credential import Credential
from xai_oauth.store._errors import KeyringUnavailable, StoreCorrupt, StoreError
from xai_oauth.store._files import write_json

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
        from xai_oauth.store._backends import FileStore
        from xai_oauth.store._credential import Credential
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


class TestAccessTokenCache:
    """The access token beside a keyring-stored credential: served only while it is that credential's and fresh."""

    NOW = 1.9e9  # CRED expires at 2e9, with a 6-hour lifetime: fresh

    def cache(self, tmp_path: Path) -> AccessTokenCache:
        cache = AccessTokenCache(str(tmp_path / "d" / "access-token.json"))
        cache.save(CRED)
        return cache

    def meta(self, **changes: object) -> dict[str, object]:
        return {"storage": "keyring", "expires_at": CRED.expires_at, **changes}

    def test_serves_the_fresh_token_of_the_recorded_credential(self, tmp_path: Path) -> None:
        assert self.cache(tmp_path).token(self.meta(), self.NOW) == "CANARY-ACCESS"

    def test_holds_the_access_token_alone_0600(self, tmp_path: Path) -> None:
        cache = self.cache(tmp_path)
        text = Path(cache.path).read_text()
        assert "CANARY-REFRESH" not in text and "CANARY-ID" not in text
        assert stat.S_IMODE(os.stat(cache.path).st_mode) == 0o600
        assert "CANARY" not in repr(cache)

    def test_another_credentials_cache_is_not_used(self, tmp_path: Path) -> None:
        # a crash between the cache and the state write, or a late writer that read an older credential
        assert self.cache(tmp_path).token(self.meta(expires_at=CRED.expires_at + 3600), self.NOW) is None

    def test_a_token_due_for_refresh_is_not_served(self, tmp_path: Path) -> None:
        assert self.cache(tmp_path).token(self.meta(), CRED.expires_at - 60) is None

    @pytest.mark.parametrize(
        "meta",
        [{"storage": "file"}, {"reauth_required": True}, {"unconfirmed": {"since": 1}}, {"storage": None}],
    )
    def test_only_a_sound_keyring_credential_uses_it(self, tmp_path: Path, meta: dict[str, object]) -> None:
        assert self.cache(tmp_path).token(self.meta(**meta), self.NOW) is None

    @pytest.mark.parametrize("content", ["{", "[]", '{"access_token": 5, "expires_at": 2e9, "lifetime": 1}', ""])
    def test_a_damaged_cache_is_dropped_quietly(self, tmp_path: Path, content: str) -> None:
        cache = self.cache(tmp_path)
        Path(cache.path).write_text(content)
        assert cache.token(self.meta(), self.NOW) is None
        assert content.startswith('{"access_token') or list((tmp_path / "d").iterdir()) == []  # not set aside

    def test_a_failed_write_leaves_no_older_token_behind(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        cache = self.cache(tmp_path)

        def full_disk(path: str, data: dict[str, object]) -> None:
            raise StoreError("No space left on device")

        monkeypatch.setattr("xai_oauth.store._backends.write_json", full_disk)
        cache.save(Credential("NEWER", "R2", expires_at=3e9, lifetime=21600, issued_at=1e9))  # never raises
        assert not Path(cache.path).exists()
