"""``Account``: one person's sign-in, tying the pure protocol steps to disk and network.

Every read-modify-write of the credential, the pending sign-in or the state
file happens under one cross-process file lock, and every credential is
re-read *after* the lock is taken, so many short-lived processes (the way
agents run us) never act on a stale copy. Time (``now``, ``sleep``) and the
HTTP transport come in from outside; tests pass fakes and never sleep.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ._config import Config
from ._exceptions import (
    ConfigError,
    KeyringUnavailable,
    LoginExpired,
    MalformedResponse,
    NetworkError,
    NoPendingLogin,
    NotSignedIn,
    OAuthError,
    ReauthRequired,
    RefreshUnconfirmed,
    StoreBusy,
    StoreCorrupt,
    StoreError,
    XaiOAuthError,
)
from ._files import check_private, ensure_private_dir, loads_strict, read_json, remove, write_json
from ._models import DEFAULT_MODEL_ID, pick_default
from ._retry import UNKNOWN_OUTCOME, retry_delay
from ._slots import adopt_legacy, remove_legacy
from ._state import read_state, write_state
from ._status import RECOVER_LOCK_TIMEOUT, read_status, storage_note
from ._store import AccessTokenCache, CredentialStore, FileStore, KeyringStore, credential_from_json, keyring_usable
from ._tokens import Credential, credential_from_token_response, fingerprint

if TYPE_CHECKING:  # sign-in, discovery and the journal are imported where used: a chat call needs none of them
    from ._device import PendingLogin
    from ._discovery import Endpoints
    from ._journal import GrantJournal, JournalEntry

__all__ = ["Account"]

LOCK_TIMEOUT = 30.0
#: Seconds for a whole token-endpoint answer. Each read is bounded by it too, so even a server that drips
#: bytes releases the lock within about twice this: other processes wait at most LOCK_TIMEOUT for it.
TOKEN_DEADLINE = 12.0
#: A token answer is a few KiB; a megabyte is not one.
TOKEN_ANSWER_BYTES = 1024 * 1024
REVOKE_TIMEOUT = 3.0
USERINFO_TIMEOUT = 5.0
#: A pending sign-in with less time left than this is not handed out again by start(): too little to approve it.
RESUME_MIN_SECONDS = 60.0


class Account:
    """The typed API behind ``exports``: methods return dicts on success and raise ``XaiOAuthError``.

    ``transport`` is an httpx2 transport (tests: ``httpx2.MockTransport``);
    ``now`` and ``sleep`` default to ``time.time`` and ``time.sleep``.
    """

    def __init__(
        self,
        config: Config | None = None,
        *,
        transport: Any = None,
        now: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config or Config.from_env()
        self.paths = self.config.paths
        self._transport = transport
        self._now = now
        #: how this account waits (between polls, before retries); tests pass a fake clock's
        self.sleep = sleep
        self._http_client: Any = None
        self._file = FileStore(self.paths.credentials)
        self._keyring = KeyringStore(self.config.keyring_account, self.config.keyring_timeout)
        self._access = AccessTokenCache(self.paths.access_token)
        for directory in (self.paths.home, self.paths.dir):
            check_private(directory)  # a planted home is refused before anything in it is read
        adopted = adopt_legacy(self.paths.home)
        self.notes = [*self.config.notes, *([adopted] if adopted else [])]

    def __repr__(self) -> str:
        return f"Account(issuer={self.config.issuer!r}, home={self.paths.home!r})"

    # -- plumbing ---------------------------------------------------------

    @property
    def http(self) -> Any:
        if self._http_client is None:
            from ._http import Http  # the ~200 ms import, only when a request is made

            self._http_client = Http(self._transport)
        return self._http_client

    def close(self) -> None:
        """Close the HTTP connections this account opened (it stays usable: they reopen on demand)."""
        if self._http_client is not None:
            self._http_client.close()

    def __enter__(self) -> Account:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _locked(self, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
        import filelock

        ensure_private_dir(self.paths.home)
        ensure_private_dir(self.paths.dir)
        lock = filelock.FileLock(self.paths.lock, timeout=timeout, mode=0o600)
        try:
            lock.acquire()
        except filelock.Timeout:
            raise StoreBusy(f"Another process held the xai-oauth lock for over {timeout:g} s.") from None
        try:
            yield
        finally:
            lock.release()

    def endpoints(self) -> Endpoints:
        """The issuer's endpoints, from the discovery cache or the network."""
        from ._discovery import load_endpoints

        def fetch(url: str) -> dict[str, Any]:
            try:
                return self.http.get(url).json_object("discovery document")  # type: ignore[no-any-return]
            except NetworkError as exc:
                raise NetworkError(
                    f"{exc.message} (the issuer in force: XAI_OAUTH_ISSUER={self.config.issuer})",
                    maybe_sent=exc.maybe_sent,
                    action="Check the connection, or XAI_OAUTH_ISSUER (unset, it is https://auth.x.ai).",
                ) from None

        return load_endpoints(self.config.issuer, self.paths.discovery, fetch, self._now)

    def _client_form(self, **fields: str) -> dict[str, str]:
        return {"client_id": self.config.client_id, **fields}

    # -- stores -----------------------------------------------------------

    def _store_named(self, name: object) -> CredentialStore:
        return self._keyring if name == "keyring" else self._file

    def _load(self, state: dict[str, Any]) -> tuple[Credential | None, CredentialStore]:
        """The stored credential and the store it lives in (call under the lock for writes)."""
        meta = state.get("credential")
        if isinstance(meta, dict) and meta.get("storage") in ("keyring", "file"):
            store = self._store_named(meta["storage"])
            return store.load(), store
        # No record of where it is (first run, or the state file was lost): look.
        credential = self._file.load()
        if credential is not None or self.config.store == "file" or state.get("keyring_unusable"):
            return credential, self._file
        try:
            return self._keyring.load(), self._keyring
        except KeyringUnavailable:
            return None, self._file

    def _preferred_store(self, state: dict[str, Any]) -> CredentialStore:
        if self.config.store == "file":
            return self._file
        if self.config.store == "auto" and state.get("keyring_unusable"):
            return self._file  # remembered: do not probe a broken keyring on every call
        reason = keyring_usable(self.config.keyring_timeout)
        if reason is None:
            return self._keyring
        if self.config.store == "keyring":
            raise _keyring_required(reason)
        state["keyring_unusable"] = reason
        return self._file

    def _require_keyring(self) -> None:
        """With ``XAI_OAUTH_STORE=keyring``, ``KeyringUnavailable`` now, before a one-time code or token is spent."""
        if self.config.store == "keyring":
            reason = keyring_usable(self.config.keyring_timeout)
            if reason is not None:
                raise _keyring_required(reason)

    def _save(
        self, credential: Credential, state: dict[str, Any], store: CredentialStore, *, account: str | None = None
    ) -> CredentialStore:
        """Persist ``credential``; if the keyring fails, fall back to the file so it is never lost (``auto`` only).

        ``account`` names who signed in (at sign-in); a refresh keeps the one on record.
        The new record has no ``unconfirmed`` mark: this answer settles any earlier doubt.
        """
        state.pop("recovered", None)
        if store is self._keyring:
            try:
                self._keyring.save(credential)
            except KeyringUnavailable as exc:
                if self.config.store == "keyring":
                    raise _keyring_required(exc.message) from None  # never plaintext without consent
                state["keyring_unusable"] = exc.message
                store = self._file
        if store is self._file:
            self._file.save(credential)
        else:
            remove(self.paths.credentials)  # a stale file copy would shadow the keyring later
        self._cache_access_token(credential, store)
        tier, tier_name = credential.tier
        old = state.get("credential") if isinstance(state.get("credential"), dict) else {}
        state["credential"] = {
            "storage": store.name,
            "storage_reason": None
            if store is self._keyring
            else (state.get("keyring_unusable") or f"XAI_OAUTH_STORE={self.config.store}"),
            "issuer": self.config.issuer,
            "client_id": self.config.client_id,
            "profile": self.config.profile,
            "account": account or (old or {}).get("account"),
            "tier": tier,
            "tier_name": tier_name,
            "expires_at": credential.expires_at,
            "lifetime": credential.lifetime,
            "refreshable": credential.refresh_token is not None,
            "reauth_required": False,
            "refreshed_at": self._now(),
            "signed_in_at": (old or {}).get("signed_in_at") or self._now(),
        }
        write_state(self.paths, state)
        return store

    # -- sign-in ----------------------------------------------------------

    def start(self, force: bool = False) -> dict[str, Any]:
        """Begin a device authorization (RFC 8628 §3.1) and persist it for a later poll().

        A sign-in already waiting (with at least a minute left) is returned
        again, same code, marked ``resumed``: an agent that calls start() twice,
        or two agents at once, must not replace the code the person is typing.
        ``force`` asks for a new one anyway.
        """
        self._require_keyring()
        with self._locked():
            now = self._now()
            login = None if force else self._read_pending()
            if login is not None and login.expires_at - now >= RESUME_MIN_SECONDS:
                return {**_started(login, now), "resumed": True}
            endpoints = self.endpoints()
            answer = self.http.post_form(
                endpoints.device_authorization_endpoint,
                self._client_form(scope=self.config.scope),
                timeout=TOKEN_DEADLINE,
                max_bytes=TOKEN_ANSWER_BYTES,
            )
            body = answer.json_object("device authorization endpoint")
            if answer.status != 200:
                raise OAuthError.from_body("device authorization endpoint", answer.status, body)
            from ._device import begin

            now = self._now()
            login = begin(body, now=now, issuer=self.config.issuer, client_id=self.config.client_id)
            write_json(self.paths.pending, login.to_dict())
        return _started(login, now)

    def _read_pending(self) -> PendingLogin | None:
        """The waiting sign-in, if any; a damaged one is dropped (``NoPendingLogin`` says so)."""
        from ._device import PendingLogin

        try:
            data = read_json(self.paths.pending, what="pending sign-in")
            return PendingLogin.from_dict(data) if data else None
        except (StoreCorrupt, ValueError):
            remove(self.paths.pending)
            raise NoPendingLogin("The pending sign-in was damaged and has been dropped.") from None

    def poll(self, wait: bool = False, timeout: float | None = None) -> dict[str, Any]:
        """Check the pending sign-in: once by default, or until done (``wait=True``, up to ``timeout`` s).

        "Once" means the server is asked once: a poll sooner than the interval
        allows first waits out the rest of it (never more than one interval),
        so "pending" is only ever what the server said.
        """
        deadline = None if timeout is None else self._now() + timeout
        while True:
            result = self._poll_once()
            too_soon = result.pop("_too_soon", False)
            if not (wait or too_soon) or result["status"] != "pending":
                return result
            delay = float(result["retry_after"])
            if wait and deadline is not None and self._now() + delay > deadline:
                return {**result, "timed_out": True}
            self.sleep(delay)

    def _poll_once(self) -> dict[str, Any]:
        from ._device import DEVICE_GRANT, Approved, step

        with self._locked():
            state = self._adopt_journal()
            login = self._read_pending()
            if login is None:
                meta = state.get("credential")
                if isinstance(meta, dict) and not meta.get("reauth_required"):
                    return self._connected(state)  # another poll (or an earlier one) finished this sign-in
                raise NoPendingLogin("There is no sign-in waiting for approval.")
            now = self._now()
            if login.expired(now):
                remove(self.paths.pending)
                raise LoginExpired("The sign-in code expired before it was approved.")
            if now < login.next_poll_at:
                return {**_pending(login, now), "_too_soon": True}
            # Record the poll before sending it: a crash mid-request still keeps the interval.
            write_json(self.paths.pending, login.polled(now).to_dict())
            store = self._ready_store(state)
            endpoints = self.endpoints()
            with self._grant_in_flight(DEVICE_GRANT, spends=None) as journal:
                answer = self.http.post_form(
                    endpoints.token_endpoint,
                    self._client_form(grant_type=DEVICE_GRANT, device_code=login.device_code),
                    timeout=TOKEN_DEADLINE,
                    max_bytes=TOKEN_ANSWER_BYTES,
                    on_arrival=journal.on_arrival(self._now),
                )
                body = answer.json_object("token endpoint")
                try:
                    outcome = step(login, answer.status, body, now=now)
                except XaiOAuthError as exc:
                    if not isinstance(exc, MalformedResponse):
                        remove(self.paths.pending)  # terminal: the device code is spent
                    raise
                if isinstance(outcome, Approved):
                    self._sign_in(outcome.credential, state, store)
                    journal.settle()
                    return self._connected(state)
            write_json(self.paths.pending, outcome.login.to_dict())
            return {**_pending(outcome.login, now), **({"slowed_down": True} if outcome.slowed_down else {})}

    def _sign_in(self, credential: Credential, state: dict[str, Any], store: CredentialStore) -> None:
        """Save a new sign-in's credential (the pending one is then done), then learn who it is."""
        credential = replace(credential, issuer=self.config.issuer)
        offline_identity = self._identity(credential, online=False)
        self._save(credential, state, store, account=offline_identity)
        remove(self.paths.pending)
        if offline_identity is None or "@" not in offline_identity:  # tokens are safe: now ask userinfo
            state["credential"]["account"] = self._identity(credential) or offline_identity
            write_state(self.paths, state)

    def _connected(self, state: dict[str, Any]) -> dict[str, Any]:
        """poll()'s answer for a finished sign-in, from the state file: the same whichever poll finished it."""
        meta = state["credential"]
        now = self._now()
        expires_at = float(meta.get("expires_at") or now)
        result: dict[str, Any] = {
            "status": "connected",
            "account": meta.get("account"),
            "tier": meta.get("tier"),
            "tier_name": meta.get("tier_name", "unknown"),
            "expires_at": int(expires_at),
            "expires_in": max(0, int(expires_at - now)),
            "storage": meta.get("storage"),
            "default_model_id": DEFAULT_MODEL_ID,
        }
        if meta.get("storage") == "file":
            result["storage_note"] = storage_note(self.paths, meta)
        return result

    def cancel_login(self) -> bool:
        """Drop the pending sign-in (the person gave up); True when there was one."""
        with self._locked():
            existed = os.path.exists(self.paths.pending)
            remove(self.paths.pending)
        return existed

    # -- the credential ---------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Where the sign-in stands, offline; a journal left by an interrupted grant is settled first."""
        self.recover(timeout=RECOVER_LOCK_TIMEOUT)
        return read_status(self.paths, self._now(), notes=self.notes, api_key=bool(self.config.api_key))

    def recover(self, timeout: float = LOCK_TIMEOUT) -> None:
        """Settle a grant journal if one is there (see ``_adopt_journal``); a busy lock leaves it for later."""
        if not os.path.exists(self.paths.journal):
            return
        try:
            with self._locked(timeout):
                self._adopt_journal()
        except StoreBusy:
            pass  # a grant is in flight right now; its own process settles it

    def refresh(self, force: bool = False, *, replacing: str | None = None) -> dict[str, Any]:
        """Renew the access token with the (rotating) refresh token when due, or always with ``force``.

        Single-flight across processes: under the lock the credential is read
        again, so a process that waited while another refreshed finds a fresh
        token and uses it instead of spending the already-rotated refresh token.
        ``replacing`` is the access token a caller found refused (a 401): when
        the stored one is already a different, fresh token, another process
        renewed it meanwhile and nothing is sent, even with ``force``.

        The grant is sent the careful way (``_grant_in_flight``), and a grant
        whose outcome is unknown is recorded (status() says
        ``refresh_unconfirmed``) and never sent twice in one call; the next
        call tries once more.
        """
        with self._locked():
            state = self._adopt_journal()
            credential, store = self._load(state)
            if credential is None:
                raise NotSignedIn("Nobody is signed in.")
            meta = state.get("credential") or {}
            if meta.get("reauth_required"):
                raise ReauthRequired(f"The sign-in is no longer valid ({meta.get('reauth_reason') or 'refused'}).")
            unconfirmed = meta.get("unconfirmed") if isinstance(meta.get("unconfirmed"), dict) else None
            now = self._now()
            renewed_elsewhere = replacing is not None and credential.access_token != replacing
            if not unconfirmed and (renewed_elsewhere or not force) and not credential.refresh_due(now):
                return _refresh_result(credential, now, refreshed=False)
            if not credential.refresh_token:
                self._mark_reauth(state, "no refresh token was issued")
                raise ReauthRequired("The stored sign-in has no refresh token.")
            self._check_issuer(credential, meta)
            store = self._ready_store(state, store)
            with self._grant_in_flight("refresh_token", spends=credential.refresh_token) as journal:
                answer = self._send_refresh_grant(credential.refresh_token, journal, state)
                try:
                    body = answer.json_object("token endpoint")
                    if answer.status != 200:
                        if body.get("error") == "invalid_grant":
                            raise self._refused(state, unconfirmed)
                        raise OAuthError.from_body("token endpoint", answer.status, body)
                    issued = credential_from_token_response(body, now)
                except MalformedResponse:
                    if answer.status == 200 and not answer.is_html:  # the endpoint acted; what it issued is unreadable
                        self._mark_unconfirmed(state, "the token endpoint's answer was not a usable token")
                        journal.settle()  # nothing in it to adopt: the mark says it all
                    raise
                renewed = credential.succeeded_by(replace(issued, issuer=self.config.issuer))
                self._save(renewed, state, store)  # before the lock is released: nobody can read the spent token
                journal.settle()
            return _refresh_result(renewed, now, refreshed=True)

    def _refused(self, state: dict[str, Any], unconfirmed: dict[str, Any] | None) -> ReauthRequired:
        """invalid_grant: the sign-in is over. Say why, naming the unanswered refresh when that is the cause."""
        if unconfirmed:
            since = time.strftime("%H:%M:%S", time.localtime(float(unconfirmed.get("since") or 0)))
            reason = f"a refresh sent at {since} got no answer ({unconfirmed.get('why')}), and xAI now refuses the "
            reason += "refresh token it replaced"
        else:
            reason = "the refresh token was refused"
        self._mark_reauth(state, reason)
        return ReauthRequired(
            f"xAI ended the sign-in: {reason}."
            if unconfirmed
            else "xAI refused the refresh token (revoked, used elsewhere, or expired)."
        )

    def _mark_unconfirmed(self, state: dict[str, Any], why: str) -> None:
        """Record a grant that was sent with no known outcome: status() says so, the next call tries once more."""
        meta = state.get("credential")
        if isinstance(meta, dict):
            meta["unconfirmed"] = {"since": self._now(), "why": why}
            write_state(self.paths, state)

    def _ready_store(self, state: dict[str, Any], current: CredentialStore | None = None) -> CredentialStore:
        """Everything the answer will need, before a grant is sent: the store, and pyjwt already imported.

        ``current`` is where the credential lives now (a refresh); None for a
        new sign-in. Unless that is the file, the keyring is probed now, once
        (its import and backend discovery included), by ``_preferred_store``:
        with ``XAI_OAUTH_STORE=keyring`` an unusable one stops us here, with
        ``auto`` the file takes over, so the answer never waits on either.
        """
        from ._claims import preload

        preload()
        return current if current is self._file else self._preferred_store(state)

    @contextlib.contextmanager
    def _grant_in_flight(self, grant: str, *, spends: str | None) -> Iterator[GrantJournal]:
        """Journal a token grant around its request, with SIGINT and SIGTERM held until the answer is saved.

        The journal's first write doubles as the proof that the disk can take
        the answer: when it fails, the grant is not sent (``StoreError``).
        """
        from ._interrupts import deferred_interrupts
        from ._journal import GrantJournal

        journal = GrantJournal(self.paths.journal)
        with deferred_interrupts():
            journal.begin(
                grant=grant,
                issuer=self.config.issuer,
                replaces=fingerprint(spends) if spends else None,
                now=self._now(),
            )
            try:
                yield journal
            except XaiOAuthError:
                journal.close()  # raised knowingly, with the outcome settled (or recorded as unconfirmed)
                raise
            except BaseException:
                journal.abandon()  # anything else (an interrupt off the main thread, a bug): the next process judges
                raise
            journal.close()

    def _adopt_journal(self) -> dict[str, Any]:
        """Under the lock: settle what a grant journal left behind; the (possibly updated) state.

        A recorded answer newer than the stored credential is validated and
        saved (``state["recovered"]`` says so for status()); a refresh that was
        sent and never answered becomes ``unconfirmed``. Then the journal goes,
        unless saving what it holds failed (it stays for the next try).
        """
        state = _read_state_or_empty(self.paths)
        if not os.path.exists(self.paths.journal):
            return state  # the usual case, without importing the journal's module
        from ._device import DEVICE_GRANT
        from ._journal import read_journal

        entry = read_journal(self.paths.journal)
        if entry is None:
            return state
        if entry.answer is not None and entry.issuer == self.config.issuer:
            self._adopt(entry, state)
        elif entry.grant != DEVICE_GRANT:
            self._mark_unconfirmed(state, "the process that sent it stopped before an answer was saved")
        remove(self.paths.journal)
        return state

    def _adopt(self, entry: JournalEntry, state: dict[str, Any]) -> None:
        from ._device import DEVICE_GRANT

        received_at = entry.received_at or self._now()
        try:
            body = loads_strict(entry.answer or b"")
            if not isinstance(body, dict):
                raise ValueError("not an object")
            issued = replace(credential_from_token_response(body, received_at), issuer=entry.issuer)
        except (ValueError, MalformedResponse):
            if entry.grant != DEVICE_GRANT:
                self._mark_unconfirmed(state, "its answer could not be read back from the journal")
            return
        current, store = self._load(state)
        if entry.grant == DEVICE_GRANT:
            if current is not None and current.issued_at >= (entry.sent_at or 0):
                return  # a later sign-in already saved
            self._sign_in(issued, state, self._preferred_store(state))
        else:
            spent = current.refresh_token if current is not None else None
            if spent is None or fingerprint(spent) != entry.replaces:
                return  # the stored credential moved on (or was logged out): the journal is stale
            self._save(current.succeeded_by(issued), state, store)  # type: ignore[union-attr]
        state["recovered"] = {"at": self._now(), "received_at": received_at, "grant": entry.grant}
        write_state(self.paths, state)

    def _check_issuer(self, credential: Credential, meta: dict[str, Any]) -> None:
        """Right before a refresh token leaves: it goes only to the issuer that issued it."""
        issued_by = credential.issuer or meta.get("issuer")
        if issued_by != self.config.issuer or self.endpoints().issuer != self.config.issuer:
            raise ConfigError(
                f"The stored sign-in was issued by {issued_by or 'an unknown issuer'}, not {self.config.issuer}; "
                "its refresh token is only ever sent to the issuer that issued it.",
                action="Sign in again for this issuer (logout(), then start()), or set XAI_OAUTH_ISSUER back.",
            )

    def _identity(self, credential: Credential, *, online: bool = True) -> str | None:
        """Who signed in: the ID token's email (or userinfo's, when ``online``), else the subject. Never a token."""
        from ._claims import unverified_claims

        claims: dict[str, Any] = {}
        if credential.id_token:
            id_claims = unverified_claims(credential.id_token)
            if id_claims.get("iss", self.config.issuer).rstrip("/") == self.config.issuer:
                claims = id_claims
        claims = {**unverified_claims(credential.access_token), **claims}
        if online and not isinstance(claims.get("email"), str):
            claims.update(self._userinfo(credential.access_token))
        for name in ("email", "preferred_username", "sub"):
            value = claims.get(name)
            if isinstance(value, str) and value.strip():
                return value.strip()[:200]
        return None

    def _userinfo(self, access_token: str) -> dict[str, Any]:
        """The userinfo endpoint's claims (OIDC Core §5.3), best effort: ``{}`` on any trouble."""
        try:
            url = self.endpoints().userinfo_endpoint
            if not url:
                return {}
            answer = self.http.get(url, headers={"Authorization": f"Bearer {access_token}"}, timeout=USERINFO_TIMEOUT)
        except XaiOAuthError:
            return {}
        return answer.body if answer.status == 200 and isinstance(answer.body, dict) else {}

    def _send_refresh_grant(self, refresh_token: str, journal: GrantJournal, state: dict[str, Any]) -> Any:
        """POST the refresh grant; retry only answers that prove the server did not act on it.

        A 429, a 503, an HTML challenge page or a refused connection is retried
        with backoff (``_retry``). Anything that may have reached the server
        and brought no usable answer (a read timeout, a cut connection, a
        gateway's 500/502/504, an answer too large to read) is recorded as
        unconfirmed and raised as ``RefreshUnconfirmed``, never sent again
        here: the token may already be rotated, and a rotated token sent twice
        ends the whole grant at careful providers. A 200 is in the journal
        before it is parsed.
        """
        from ._http import parse_retry_after

        url = self.endpoints().token_endpoint
        form = self._client_form(grant_type="refresh_token", refresh_token=refresh_token)
        attempt = 0
        while True:
            try:
                answer = self.http.post_form(
                    url,
                    form,
                    timeout=TOKEN_DEADLINE,
                    max_bytes=TOKEN_ANSWER_BYTES,
                    on_arrival=journal.on_arrival(self._now),
                )
            except (NetworkError, MalformedResponse) as exc:
                if isinstance(exc, MalformedResponse) or exc.maybe_sent:
                    self._mark_unconfirmed(state, exc.message)
                    raise RefreshUnconfirmed(
                        f"The refresh request reached the token endpoint but no usable answer came back "
                        f"({exc.message}); it was not sent again, because the refresh token may already be rotated."
                    ) from None
                wait = retry_delay(None, attempt=attempt)
                if wait is None:
                    raise
            else:
                if answer.status in UNKNOWN_OUTCOME:
                    why = f"HTTP {answer.status} after the request was passed on"
                    self._mark_unconfirmed(state, why)
                    raise RefreshUnconfirmed(
                        f"The token endpoint answered {why}; xAI may have rotated the refresh token, so it was "
                        "not sent again.",
                        http_status=answer.status,
                    )
                wait = retry_delay(
                    answer.status,
                    attempt=attempt,
                    html=answer.is_html,
                    retry_after=parse_retry_after(answer.headers.get("retry-after")),
                )
                if wait is None:
                    return answer
            self.sleep(wait)
            attempt += 1

    def access_token(self) -> str:
        """A usable access token, refreshed first when due (or unconfirmed). Secret: never print it.

        With the keyring as the store, a fresh token comes from the access
        token cache and the keyring is not opened (see ``AccessTokenCache``).
        """
        self.recover()  # a grant was interrupted: settle it first
        state = _read_state_or_empty(self.paths)
        meta: dict[str, Any] = state["credential"] if isinstance(state.get("credential"), dict) else {}
        cached = self._access.token(meta, self._now()) if self.config.store == "auto" else None
        if cached is not None:
            return cached
        credential, store = self._load(state)
        if credential is None:
            raise NotSignedIn("Nobody is signed in.")
        if credential.refresh_due(self._now()) or meta.get("reauth_required") or meta.get("unconfirmed"):
            self.refresh()  # saves, and caches, the renewed token
            credential, _ = self._load(_read_state_or_empty(self.paths))
            if credential is None:
                raise NotSignedIn("Nobody is signed in.")
        elif store is self._keyring and meta.get("expires_at") == credential.expires_at:
            # none was cached (signed in by 0.1, or lost): cache it for the next call; or, with
            # XAI_OAUTH_STORE=keyring set since, remove the copy an earlier setting left
            self._cache_access_token(credential, store)
        return credential.access_token

    def _cache_access_token(self, credential: Credential, store: CredentialStore) -> None:
        """Keep the access token in its cache file when the keyring holds the credential and the user allows a file.

        ``XAI_OAUTH_STORE=keyring`` means no secret in any file: then every
        call opens the keyring, and any cache is removed.
        """
        if store is self._keyring and self.config.store == "auto":
            self._access.save(credential)
        else:
            self._access.clear()

    def signed_in(self) -> bool:
        """True when a credential is on record (it may still need a refresh or a new sign-in)."""
        return isinstance(_read_state_or_empty(self.paths).get("credential"), dict)

    def cached_models(self) -> dict[str, Any] | None:
        """The subscription's last listing: ``models``, ``image_models``, ``default_model_id``, ``fetched_at``."""
        cache = _read_state_or_empty(self.paths).get("models")
        if not isinstance(cache, dict) or not isinstance(cache.get("models"), list):
            return None
        return {"image_models": [], "default_model_id": None, "fetched_at": 0, **cache}

    def remember_models(self, listing: dict[str, Any], preferred: str | None = None) -> None:
        """Cache the subscription's listing in the state file, for status() and offline models().

        ``preferred`` is the chat proxy's own default model, taken when listed.
        """
        ids = [m["id"] for m in listing["models"]]
        with self._locked():
            state = _read_state_or_empty(self.paths)
            state["models"] = {**listing, "default_model_id": pick_default(ids, preferred), "fetched_at": self._now()}
            write_state(self.paths, state)

    def now(self) -> float:
        """This account's clock (``time.time`` unless a test passed another)."""
        return self._now()

    def remember_usage(self, reading: dict[str, Any]) -> None:
        """Cache the last usage reading, so status() can show it offline with its age."""
        with self._locked():
            state = _read_state_or_empty(self.paths)
            state["usage"] = {**reading, "fetched_at": self._now()}
            write_state(self.paths, state)

    def _mark_reauth(self, state: dict[str, Any], reason: str) -> None:
        """Keep the credential, but record that it no longer works, so status() can say why."""
        meta = state.get("credential")
        if isinstance(meta, dict):
            meta["reauth_required"] = True
            meta["reauth_reason"] = reason
            write_state(self.paths, state)

    def logout(self) -> dict[str, Any]:
        """Revoke, then forget every trace of this slot: credential (keyring and file), leftovers, caches.

        Idempotent; a failing revocation or keyring never stops the local
        clean-up. Temp files of interrupted writes and set-aside damaged
        credentials go too; a set-aside credential whose refresh token can
        still be read is revoked first. ``revoked`` is True only when the
        server confirmed the revocation of the live sign-in.
        """
        import glob

        revoked = False
        notes: list[str] = []
        with self._locked():
            try:
                state = self._adopt_journal()  # an interrupted refresh's newer token is the one to revoke
                credential, _ = self._load(state)
            except StoreError as exc:
                state, credential = {}, None
                notes.append(exc.message)
            meta = state.get("credential") if isinstance(state.get("credential"), dict) else None
            was_signed_in = credential is not None or meta is not None or os.path.exists(self.paths.pending)
            if credential is not None and credential.refresh_token:
                revoked = self._revoke_issued(credential, meta or {}, notes)
            for kept in glob.glob(glob.escape(self.paths.credentials) + ".corrupt-*"):
                leftover = _readable_credential(kept)
                if leftover is not None and leftover.refresh_token:
                    self._revoke_issued(leftover, meta or {}, notes)
            self._forget_keyring_entry(meta, state, notes)
            for path in (
                self.paths.credentials,
                self.paths.access_token,
                self.paths.pending,
                self.paths.state,
                self.paths.discovery,
                self.paths.journal,
            ):
                remove(path)
            for pattern in ("*.tmp-*", "*.corrupt-*"):
                for leftover_path in glob.glob(os.path.join(glob.escape(self.paths.dir), pattern)):
                    remove(leftover_path)
            remove_legacy(self.paths.home)  # old files no issuer could adopt
        result: dict[str, Any] = {"status": "logged_out", "revoked": revoked, "was_signed_in": was_signed_in}
        if notes:
            result["notes"] = notes
        return result

    def _forget_keyring_entry(self, meta: dict[str, Any] | None, state: dict[str, Any], notes: list[str]) -> None:
        """Delete this slot's keyring entry: the live one, or a stale one left by a fall-back to the file.

        A keyring that is not there (or ``XAI_OAUTH_STORE=file``) is left alone
        quietly: nothing can be stored where nothing works.
        """
        if (meta or {}).get("storage") != "keyring":
            if self.config.store == "file" or keyring_usable(self.config.keyring_timeout) is not None:
                return
        try:
            self._keyring.delete()
        except KeyringUnavailable as exc:
            if (meta or {}).get("storage") == "keyring":
                notes.append(exc.message)

    def _revoke_issued(self, credential: Credential, meta: dict[str, Any], notes: list[str]) -> bool:
        """Revoke ``credential``'s refresh token at its own issuer; never at another."""
        try:
            self._check_issuer(credential, meta)
        except XaiOAuthError as exc:
            notes.append(f"Revocation skipped: {exc.message}")
            return False
        assert credential.refresh_token is not None
        return self._revoke(credential.refresh_token, notes)

    def _revoke(self, refresh_token: str, notes: list[str]) -> bool:
        """RFC 7009 revocation of the refresh token, short timeout, never raising."""
        try:
            endpoints = self.endpoints()
            if not endpoints.revocation_endpoint:
                return False
            answer = self.http.post_form(
                endpoints.revocation_endpoint,
                self._client_form(token=refresh_token, token_type_hint="refresh_token"),
                timeout=REVOKE_TIMEOUT,
            )
        except XaiOAuthError as exc:
            notes.append(f"Revocation skipped: {exc.message}")
            return False
        if answer.status != 200:
            notes.append(f"Revocation answered HTTP {answer.status}; the local sign-in was removed anyway.")
        return bool(answer.status == 200)


def _readable_credential(path: str) -> Credential | None:
    """The credential in a set-aside file, when one can still be read from it."""
    try:
        with open(path, "rb") as handle:
            return credential_from_json(handle.read())
    except (OSError, ValueError):
        return None


def _keyring_required(reason: str) -> KeyringUnavailable:
    return KeyringUnavailable(
        f"XAI_OAUTH_STORE=keyring, but the system keyring cannot be used ({reason}); nothing was written in plaintext.",
        action="Unlock or install a system keyring (e.g. GNOME Keyring, KWallet, macOS Keychain), or set "
        "XAI_OAUTH_STORE=auto to allow a 0600 file.",
    )


def _read_state_or_empty(paths: Any) -> dict[str, Any]:
    """The state; a damaged file is set aside (by read_json) and we carry on without it."""
    try:
        return dict(read_state(paths))
    except StoreCorrupt:
        return {}


def _started(login: PendingLogin, now: float) -> dict[str, Any]:
    return {
        "status": "pending",
        "verification_url_with_code": login.verification_url_with_code,
        "verification_url": login.verification_url,
        "user_code": login.user_code,
        "expires_in": int(login.expires_at - now),
        "expires_at": int(login.expires_at),
        "interval": login.interval,
    }


def _pending(login: PendingLogin, now: float) -> dict[str, Any]:
    return {
        "status": "pending",
        "retry_after": round(login.retry_after(now), 1),
        "interval": login.interval,
        "user_code": login.user_code,
        "verification_url_with_code": login.verification_url_with_code,
        "expires_in": int(login.expires_at - now),
    }


def _refresh_result(credential: Credential, now: float, *, refreshed: bool) -> dict[str, Any]:
    return {
        "refreshed": refreshed,
        "expires_at": int(credential.expires_at),
        "expires_in": int(credential.expires_in(now)),
    }
