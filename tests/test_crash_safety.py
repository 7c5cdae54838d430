"""A rotated refresh token is never lost: the journal, unknown outcomes, full disks, hostile files, deadlines.

Unit level (httpx2.MockTransport, a fake clock). The same promises are tested
against the emulator with real processes, real signals and a real full disk in
``test_kills.py``.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

import exports
from xai_oauth import Account, Config
from xai_oauth._exceptions import MalformedResponse, NetworkError, ReauthRequired, RefreshUnconfirmed
from xai_oauth.auth._vault import Vault
from xai_oauth.store._errors import StoreBusy, StoreError
from xai_oauth.transport._http import Http

from .conftest import account_dir
from .support.fake_server import FakeAuthServer, FakeClock
from .test_account import DEVICE, TOKEN, access_token, device_code_answer, token_answer


@pytest.fixture
def account(server: FakeAuthServer, clock: FakeClock) -> Account:
    return Account(Config.from_env(), transport=server.transport(), now=clock, sleep=clock.sleep)


@pytest.fixture
def signed_in(account: Account, server: FakeAuthServer, clock: FakeClock) -> Account:
    server.queue(DEVICE, device_code_answer())
    server.queue(TOKEN, token_answer(clock()))
    account.start()
    assert account.poll()["status"] == "connected"
    return account


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs (no except, no finally that matters)."""


def stored_refresh_token() -> str:
    return str(json.loads((account_dir() / "credentials.json").read_text())["refresh_token"])


def fresh(server: FakeAuthServer, clock: FakeClock) -> Account:
    """A new process's Account over the same home."""
    return Account(Config.from_env(), transport=server.transport(), now=clock, sleep=clock.sleep)


class TestJournal:
    def test_an_answer_that_arrived_is_adopted_after_the_process_died(
        self, signed_in: Account, server: FakeAuthServer, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        server.queue(TOKEN, token_answer(clock(), refresh="CANARY-REFRESH-2"))

        def die(*args: Any, **kwargs: Any) -> None:
            raise Killed

        with monkeypatch.context() as patch, pytest.raises(Killed):
            patch.setattr(Vault, "save", die)  # the answer arrived; the process dies before saving
            signed_in.refresh(force=True)
        assert stored_refresh_token() == "CANARY-REFRESH-1"  # the store still has the spent token ...
        assert (account_dir() / "journal.json").stat().st_mode & 0o777 == 0o600  # ... the journal the new one

        status = fresh(server, clock).status()
        assert status["state"] == "connected"
        assert any("Recovered a token refresh" in note for note in status["notes"])
        assert stored_refresh_token() == "CANARY-REFRESH-2" and not (account_dir() / "journal.json").exists()
        assert server.count[TOKEN] == 2  # nothing was sent again

    def test_a_stale_journal_never_overwrites_a_newer_credential(
        self, signed_in: Account, server: FakeAuthServer, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        server.queue(TOKEN, token_answer(clock(), refresh="CANARY-REFRESH-2"))
        with monkeypatch.context() as patch:
            patch.setattr("xai_oauth.store._journal.GrantJournal.close", lambda self: None)  # saved, then died
            signed_in.refresh(force=True)
        assert (account_dir() / "journal.json").exists()
        server.queue(TOKEN, token_answer(clock(), refresh="CANARY-REFRESH-3"))
        fresh(server, clock).refresh(force=True)  # the journal names REFRESH-1 as spent: stale, dropped
        assert stored_refresh_token() == "CANARY-REFRESH-3"
        assert not (account_dir() / "journal.json").exists()

    def test_killed_in_flight_reads_unconfirmed_and_the_next_call_tries_once_more(
        self, signed_in: Account, server: FakeAuthServer, clock: FakeClock
    ) -> None:
        server.queue(TOKEN, Killed())  # the process dies while the request is out
        with pytest.raises(Killed):
            signed_in.refresh(force=True)
        status = fresh(server, clock).status()
        assert status["state"] == "refresh_unconfirmed" and not status["connected"]
        assert "refresh()" in status["action"]
        server.queue(TOKEN, token_answer(clock(), refresh="CANARY-REFRESH-2"))  # within xAI's grace
        assert fresh(server, clock).access_token()
        assert fresh(server, clock).status()["state"] == "connected"
        assert stored_refresh_token() == "CANARY-REFRESH-2"

    def test_an_unconfirmed_refresh_then_refused_says_what_happened(
        self, signed_in: Account, server: FakeAuthServer, clock: FakeClock
    ) -> None:
        server.queue(
            TOKEN, httpx2.Response(504, text="<html>gateway timeout</html>"), (400, {"error": "invalid_grant"})
        )
        with pytest.raises(RefreshUnconfirmed) as first:
            signed_in.refresh(force=True)
        assert first.value.code == "refresh_unconfirmed" and server.count[TOKEN] == 2
        with pytest.raises(ReauthRequired) as second:
            signed_in.refresh()
        assert "got no answer" in second.value.message and "HTTP 504" in second.value.message
        assert signed_in.status()["state"] == "reauth_required"

    def test_a_torn_journal_is_an_unknown_outcome(
        self, signed_in: Account, server: FakeAuthServer, clock: FakeClock
    ) -> None:
        (account_dir() / "journal.json").write_bytes(b'{"v": 1, "grant": "refresh_tok')
        os.chmod(account_dir() / "journal.json", 0o600)
        assert fresh(server, clock).status()["state"] == "refresh_unconfirmed"


class TestFullDisk:
    def test_nothing_is_sent_when_the_journal_cannot_be_written(
        self, signed_in: Account, server: FakeAuthServer, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def full(fd: int, data: bytes) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

        with monkeypatch.context() as patch, pytest.raises(StoreError) as caught:
            patch.setattr("xai_oauth.store._journal.os.write", full)
            signed_in.refresh(force=True)
        assert "nothing was sent" in caught.value.message and server.count[TOKEN] == 1
        assert signed_in.status()["state"] == "connected" and stored_refresh_token() == "CANARY-REFRESH-1"

    def test_a_save_that_fails_after_the_answer_leaves_it_in_the_journal(
        self, signed_in: Account, server: FakeAuthServer, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        server.queue(TOKEN, token_answer(clock(), refresh="CANARY-REFRESH-2"))

        def full(path: str, data: Any) -> None:
            raise StoreError(f"Cannot write {path} (No space left on device).")

        with monkeypatch.context() as patch, pytest.raises(StoreError):
            patch.setattr("xai_oauth.store._backends.write_json", full)
            signed_in.refresh(force=True)
        # space again:
        assert fresh(server, clock).access_token()
        assert stored_refresh_token() == "CANARY-REFRESH-2" and server.count[TOKEN] == 2


class TestAnswersOutOfRange:
    @pytest.mark.parametrize(
        "answer",
        [
            '{"access_token": "%s", "token_type": "Bearer", "expires_in": 1e400}',
            '{"access_token": "%s", "token_type": "Bearer", "expires_in": NaN}',
            '{"access_token": "%s", "token_type": "Bearer", "expires_in": 99999999999}',
        ],
    )
    def test_absurd_expiry_is_bad_response_and_nothing_is_saved(
        self, signed_in: Account, server: FakeAuthServer, clock: FakeClock, answer: str
    ) -> None:
        opaque = "CANARY-OPAQUE-ACCESS"  # not a JWT: expires_in is all there is
        server.queue(TOKEN, httpx2.Response(200, text=answer % opaque))
        with pytest.raises(MalformedResponse):
            signed_in.refresh(force=True)
        assert stored_refresh_token() == "CANARY-REFRESH-1"
        assert signed_in.status()["ok"]

    @pytest.mark.parametrize("exp", [1e308, 10**400])
    def test_absurd_exp_claim_is_bad_response(
        self, signed_in: Account, server: FakeAuthServer, clock: FakeClock, exp: Any
    ) -> None:
        import base64

        payload = base64.urlsafe_b64encode(json.dumps({"exp": exp, "tier": 1}).encode()).rstrip(b"=").decode()
        token = f"eyJhbGciOiJIUzI1NiJ9.{payload}.c2ln"
        server.queue(TOKEN, (200, {"access_token": token, "token_type": "Bearer"}))
        with pytest.raises(MalformedResponse):
            signed_in.refresh(force=True)
        assert signed_in.status()["state"] == "refresh_unconfirmed"  # the endpoint acted; the old token may still do


DEEP = "[" * 200_000 + "]" * 200_000


class TestHostileFiles:
    @pytest.mark.parametrize("name", ["state.json", "pending.json", "discovery.json", "credentials.json"])
    @pytest.mark.parametrize(
        "content", [DEEP, '{"a": ' * 100_000 + "1" + "}" * 100_000, '{"expires_at": 1e999}', "[1, 2]"]
    )
    def test_every_export_answers_and_logout_works(
        self, signed_in: Account, server: FakeAuthServer, clock: FakeClock, name: str, content: str
    ) -> None:
        path = account_dir() / name
        path.write_text(content)
        os.chmod(path, 0o600)
        for call in (exports.status, exports.poll, exports.refresh):
            result = call()
            assert result.get("error") != "internal", (call.__name__, result)
        assert exports.logout()["ok"]
        assert exports.status()["state"] == "logged_out"

    @pytest.mark.parametrize(
        "state",
        [
            {"credential": []},
            {"credential": {"expires_at": "soon"}},
            {"credential": {"expires_at": 10**400}},
            {"credential": {"tier": {"x": 1}, "expires_at": 1}},
            {"models": {"models": "grok"}},
            {"usage": {"fetched_at": [1]}},
        ],
    )
    def test_a_state_file_of_the_wrong_shape_is_set_aside(self, signed_in: Account, state: dict[str, Any]) -> None:
        path = account_dir() / "state.json"
        path.write_text(json.dumps(state))
        assert exports.status()["error"] == "store_corrupt"  # said once, with where the file went
        assert not path.exists() and list(account_dir().glob("state.json.corrupt-*"))
        assert exports.status()["ok"]

    def test_a_pending_sign_in_of_the_wrong_shape_is_dropped(self, account: Account) -> None:
        path = account_dir()
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        pending = {"device_code": {"x": 1}, "user_code": "A", "expires_at": "nan"}
        (path / "pending.json").write_text(json.dumps(pending))
        os.chmod(path / "pending.json", 0o600)
        assert exports.poll()["error"] == "no_pending_login"


class TestDeadlinesAndCaps:
    def test_a_dripping_server_meets_the_deadline(self) -> None:
        """One byte a quarter second, forever: the answer is cut at the deadline, not read to the end."""
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        sent = []

        def drip() -> None:
            conn, _ = listener.accept()
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n{")
            try:
                for _ in range(399):
                    threading.Event().wait(0.25)
                    conn.sendall(b" ")
                    sent.append(1)
            except OSError:
                pass
            conn.close()

        threading.Thread(target=drip, daemon=True).start()
        http = Http()
        with pytest.raises(NetworkError) as caught:
            http.post_form(f"http://127.0.0.1:{listener.getsockname()[1]}/token", {"a": "b"}, timeout=1.0)
        assert "within 1 s" in caught.value.message and caught.value.maybe_sent
        assert len(sent) < 100  # stopped early (the whole drip is 399 bytes)
        http.close()
        listener.close()

    def test_an_oversized_answer_is_bad_response(self) -> None:
        def endless() -> Iterator[bytes]:
            while True:
                yield b" " * 65536

        transport = httpx2.MockTransport(lambda request: httpx2.Response(200, content=endless()))
        http = Http(transport)
        with pytest.raises(MalformedResponse) as caught:
            http.get("https://api.x.ai/v1/models", max_bytes=1024 * 1024)
        assert "over 1 MiB" in caught.value.message

    def test_a_declared_oversized_answer_is_refused_unread(self) -> None:
        transport = httpx2.MockTransport(
            lambda request: httpx2.Response(200, headers={"content-length": str(1 << 40)}, content=b"{}")
        )
        with pytest.raises(MalformedResponse):
            Http(transport).get("https://api.x.ai/v1/models")


class TestConcurrentSignIn:
    def test_a_poll_after_another_finished_answers_connected(
        self, account: Account, server: FakeAuthServer, clock: FakeClock
    ) -> None:
        server.queue(DEVICE, device_code_answer())
        server.queue(TOKEN, token_answer(clock()))
        account.start()
        first = account.poll()
        loser = fresh(server, clock).poll()  # the pending sign-in is gone: the winner finished it
        assert first["status"] == loser["status"] == "connected"
        assert {k: v for k, v in loser.items() if k != "expires_in"} == {
            k: v for k, v in first.items() if k != "expires_in"
        }
        assert server.count[TOKEN] == 1


def test_access_token_claims_helper_is_a_jwt() -> None:
    """Guard for the helpers above: the fake tokens really carry claims (else expiry tests prove nothing)."""
    import jwt

    assert jwt.decode(access_token(1.0), options={"verify_signature": False})["tier"] == 3


@pytest.fixture(autouse=True)
def _cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # exports read a working-directory .env.xai: keep it empty


@pytest.mark.parametrize("outcome", ["held", "busy"])
def test_a_ctrl_c_can_never_land_in_the_lock_objects_finalizer(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, outcome: str
) -> None:
    """Python drops an exception raised inside a finalizer: a Ctrl-C arriving while filelock's ``__del__`` ran
    was lost, and ``xai-oauth login`` went on polling (seen about once in twenty interrupts of a lock loop).
    The lock object is let go only where Ctrl-C is held, so a signal then waits for the block's end instead."""
    import signal

    import filelock

    from xai_oauth.auth._session import Session
    from xai_oauth.store import _lockfile

    handlers: list[Any] = []

    class WatchedLock(filelock.FileLock):
        def __del__(self) -> None:
            handlers.append(signal.getsignal(signal.SIGINT))
            super().__del__()

    monkeypatch.setattr(filelock, "FileLock", WatchedLock)
    monkeypatch.setattr(_lockfile, "_acquire", lambda path, timeout: None)  # filelock's path: no flock here
    session = Session(Config.from_env())
    if outcome == "held":
        with session.locked():
            pass
    else:
        other = filelock.FileLock(session.paths.lock)  # another holder: this process's own lock waits, then gives up
        with other, pytest.raises(StoreBusy):
            with session.locked(timeout=0.01):
                pass
        del other
        handlers.pop()  # the other holder's own finalizer: not the session's
    assert len(handlers) == 1 and handlers[0] is not signal.default_int_handler, handlers


def test_a_ctrl_c_dropped_by_a_finalizer_is_still_honoured_by_a_loop_that_checks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Seen under load: ``xai-oauth login`` kept polling after Ctrl-C, which had landed in a weakref callback,
    where Python reports an exception and drops it. The login loop checks ``remembered_interrupts`` each step."""
    import signal
    import sys

    from xai_oauth.store._interrupts import remembered_interrupts

    dropped: list[BaseException | None] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda unraisable: dropped.append(unraisable.exc_value))

    class LandsInAFinalizer:
        def __del__(self) -> None:
            signal.raise_signal(signal.SIGINT)
            sum(range(3))  # Python runs the signal's handler here, inside the finalizer

    with remembered_interrupts() as interrupted:
        LandsInAFinalizer()  # let go at once: its finalizer runs, and the KeyboardInterrupt in it is dropped
        assert len(dropped) == 1 and isinstance(dropped[0], KeyboardInterrupt)
        with pytest.raises(KeyboardInterrupt):
            interrupted()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
