"""Several signed-in profiles behind one endpoint: which account answers a request, and which next when it is refused.

A household with several subscriptions runs one server over all of them
(``xai-oauth serve --profile a --profile b`` or ``--all-profiles``). This
module decides, per request, which account (one ``Upstream`` per profile)
serves it:

* **A conversation sticks to one account**, so xAI's prompt cache keeps
  hitting. Its key is the client's own (a session header, ``prompt_cache_key``,
  Anthropic's ``metadata.user_id``), else the system prompt and first user
  message; either way only an HMAC under a per-pool secret is kept, never
  the text. A conversation moves only when its account is out.
* **A new conversation** goes by the strategy: ``fill-first`` (the first
  account in order that is not out), ``round-robin``, or ``headroom`` (the
  account that has used the least of its period, from ``/billing``; see
  ``_headroom``).
* **Failover**: a request refused for the account's reason (429, spent
  usage, no credits, a grant that needs a new sign-in, a model outside its
  tier) before its first event is tried on the next account, each at most
  once, and the account is put in a cooldown with its reason
  (``_cooldowns``). A 5xx or a network failure also moves on, without a
  cooldown. A refusal about the request itself (bad request, content
  refused, unknown model) is the request's error and never the account's.
  Once the first event is out, nothing is retried: a failure is an error
  event in the client's format (``Upstream`` makes it). A stream that waits
  longer than the keep-alive interval for its first event has had its 200
  and keep-alives sent meanwhile (``_streaming``): failover goes on behind
  them, and the error when every account refuses becomes its error event.
* **Pictures and video jobs** (``send``) go the same way, one request each:
  the accounts in turn, the same failover and cooldowns. A video job is its
  account's own: its id is remembered with that account (or the API key),
  and its state (``job``) is asked of that one first, then of the others
  (a job this server does not know: started before a restart, or by
  another server); an account to which it is unknown hands on.
* **All out**: a 429 with ``Retry-After`` set to the earliest end, naming each
  account's reason; or, when no cooldown ends by itself, the error that says
  what to do (sign in again).

One client request carries one id upstream (``REQUEST_ID_HEADER``) on every
account it is tried on, so a duplicate send can be told from a failover.
With one profile the pool is a pass-through: the server behaves as before.
"""

from __future__ import annotations

import asyncio
import calendar
import contextlib
import logging
import os
import secrets
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._exceptions import RateLimited, ReauthRequired, TierDenied, XaiOAuthError
from ..api._conversation import conversation_id
from ..store._errors import StoreError
from ._cooldowns import Cooldown, Cooldowns, earned
from ._headroom import Headroom
from ._ledger import counted
from ._streaming import first_event

if TYPE_CHECKING:
    from .._models import ModelChoice
    from ..auth._account import Account
    from ..transport._answer import Answer
    from ..transport._http import AsyncHttp
    from ..transport._send import Acceptance
    from ..wire._events import Event
from ._upstream import Upstream
from ._video_jobs import API_KEY, Ask, VideoJobs

__all__ = ["STRATEGIES", "Member", "Pool", "build_pool", "explicit_key", "member_for", "saved_at"]

_log = logging.getLogger("xai_oauth.server")

STRATEGIES = ("fill-first", "round-robin", "headroom")
#: Headers in which clients name their session (Codex CLI, Claude Code, and the generic names).
SESSION_HEADERS = ("session_id", "session-id", "x-session-id", "x-claude-code-session-id", "x-conversation-id")
#: Refusals that are the account's: the account cools, and the request goes to the next one.
ACCOUNT_CODES = frozenset({"rate_limited", "no_credits", "reauth_required", "not_signed_in", "tier_denied"})
#: Failures of the way there, not of the account or the request: the next account is tried, no cooldown.
PASSING_CODES = frozenset(
    {"network", "upstream_error", "bad_response", "refresh_unconfirmed", "store_busy", "keyring_unavailable"}
)
#: Conversations remembered (the oldest are forgotten first; a forgotten one is placed again by the strategy).
AFFINITY_SIZE = 20_000


def explicit_key(headers: Mapping[str, str], body: Mapping[str, Any]) -> str | None:
    """The conversation key a client sent: a session header, ``prompt_cache_key``, or ``metadata.user_id``."""
    for name in SESSION_HEADERS:
        value = headers.get(name)
        if value and value.strip():
            return "header:" + value.strip()
    key = body.get("prompt_cache_key")
    if isinstance(key, str) and key.strip():
        return "cache:" + key.strip()
    metadata = body.get("metadata")
    user = metadata.get("user_id") if isinstance(metadata, dict) else None
    if isinstance(user, str) and user.strip():
        return "user:" + user.strip()
    return None


@dataclass(frozen=True)
class Member:
    """One account of the pool: its profile name, its sign-in slot, and its way upstream."""

    profile: str
    slot: str
    upstream: Upstream


@dataclass(frozen=True)
class _Asked:
    """One client request as the pool hands it to an account (the same request id on every account tried)."""

    choice: ModelChoice
    body: dict[str, Any]
    ready: bool
    shown_model: str | None
    request_id: str
    conversation: str | None

    def of(self, member: Member) -> AsyncGenerator[Event, None]:
        """This request's events from ``member``'s account, noted on the ledger as they pass."""
        send = member.upstream.events_for_body if self.ready else member.upstream.events
        events = send(
            self.choice,
            self.body,
            shown_model=self.shown_model,
            request_id=self.request_id,
            conversation=self.conversation,
        )
        return counted(events, member.profile, self.choice.model_id)


class Pool:
    """The accounts behind the server, in the order the operator gave them."""

    def __init__(
        self,
        members: list[Member],
        cooldowns: Cooldowns,
        *,
        strategy: str = "fill-first",
        secret: bytes | None = None,
        now: Callable[[], float] = time.time,
        acceptance: Acceptance | None = None,
    ) -> None:
        from ..transport._send import Acceptance

        if not members:
            raise ValueError("a pool needs at least one account")
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}")
        self.members, self.cooldowns, self.strategy, self.now = members, cooldowns, strategy, now
        #: which APIs have taken the issuer's tokens, shared by every member (one added later too: ``member_for``)
        self.acceptance = acceptance or Acceptance()
        self._secret = secret or secrets.token_bytes(32)
        self._affinity: OrderedDict[str, str] = OrderedDict()
        self.jobs = VideoJobs()
        self._turn = 0
        self.headroom = Headroom(now)

    @property
    def primary(self) -> Upstream:
        """The first account: model listings and the API key's passthrough go there."""
        return self.members[0].upstream

    def choose(self, model: str) -> ModelChoice:
        """The credential and lane for a client's model id (bare ids are the subscription's when any is signed in)."""
        return self.primary.choose(model)

    def add(self, member: Member) -> None:
        """Take a newly signed-in account into the pool, last in order (the management API's sign-in)."""
        self.members = [*(m for m in self.members if m.profile != member.profile), member]

    def remove(self, profile: str) -> None:
        """Take the profile's account out (signed out through the management API); the last one stays."""
        kept = [m for m in self.members if m.profile != profile]
        if kept:
            self.members = kept

    def events(
        self,
        choice: ModelChoice,
        chat_body: dict[str, Any],
        *,
        shown_model: str | None = None,
        conversation: str | None = None,
        ready: bool = False,
    ) -> AsyncGenerator[Event, None]:
        """The answer as neutral events from the account that takes it; see the module docstring.

        ``chat_body`` is the chat-completions pivot, or with ``ready`` a
        /responses body sent as it is (``Upstream.events_for_body``). With
        one account (or the API key) its events come straight from it, with
        no generator of the pool's in between; a request refused before it
        leaves raises here, at the call.
        """
        asked = _Asked(choice, chat_body, ready, shown_model, uuid.uuid4().hex, conversation)
        if len(self.members) == 1 or choice.credential != "subscription":
            return asked.of(self.members[0])
        return self._failover(asked)

    async def _failover(self, asked: _Asked) -> AsyncGenerator[Event, None]:
        """The accounts in turn (``_order``) until one takes the request; refusals before the first event move on."""
        choice = asked.choice
        messages = asked.body.get("input" if asked.ready else "messages")
        if isinstance(messages, str):
            messages = [{"role": "user", "content": messages}]
        messages = [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []
        key = conversation_id(self._secret, messages, asked.conversation) if messages or asked.conversation else None
        refused: list[XaiOAuthError] = []
        for member in self._order(key, choice.model_id):
            try:
                events = asked.of(member)
            except XaiOAuthError as error:  # refused before it left: the request's own fault, never the account's
                if not await self._account_fault(member, error, choice.model_id):
                    raise
                refused.append(error)
                continue
            async with contextlib.aclosing(events):
                try:
                    first = await first_event(events)
                except XaiOAuthError as error:
                    if not await self._account_fault(member, error, choice.model_id):
                        raise
                    refused.append(error)
                    continue
                if key is not None:
                    self._remember(key, member)
                if first is not None:
                    yield first
                async for event in events:
                    yield event
                return
        raise self._all_out(choice.model_id, refused)

    async def send(self, choice: ModelChoice, send: Ask) -> Answer:
        """One request that is no answer stream (a picture, a video job) from the account that takes it.

        The accounts in turn, as for text (``_order``, ``_account_fault``); the
        request's own fault is final. A video job's id is remembered with the
        account that started it (``_video_jobs``).
        """
        if len(self.members) == 1 or choice.credential != "subscription":
            answer = await send(self.members[0].upstream, choice.credential)
            self.jobs.started(answer, self.members[0].profile if choice.credential == "subscription" else API_KEY)
            return answer
        refused: list[XaiOAuthError] = []
        for member in self._order(None, choice.model_id):
            try:
                answer = await send(member.upstream, choice.credential)
            except XaiOAuthError as error:
                if not await self._account_fault(member, error, choice.model_id):
                    raise
                refused.append(error)
                continue
            self.jobs.started(answer, member.profile)
            return answer
        raise self._all_out(choice.model_id, refused)

    async def job(self, job_id: str, read: Ask) -> Answer:
        """A video job's state (``_video_jobs``): asked of each signed-in account, the API key last."""
        askable = [(m.upstream, "subscription", m.profile) for m in self.members if m.upstream.signed_in()]
        if self.primary.account.config.api_key or not askable:
            askable.append((self.primary, "api_key", API_KEY))
        return await self.jobs.state(job_id, askable, read, lambda error: error.code in ACCOUNT_CODES | PASSING_CODES)

    # -- choosing ---------------------------------------------------------

    def _order(self, key: str | None, model: str) -> list[Member]:
        """The accounts to try, in turn: the conversation's own first, then by strategy; none that is out."""
        usable = [m for m in self.members if self.cooldowns.blocking(m.slot, model) is None]
        sticky = self._affinity.get(key) if key is not None else None
        first = next((m for m in usable if m.profile == sticky), None)
        if first is not None:
            self._affinity.move_to_end(key)  # type: ignore[arg-type]
            return [first, *(m for m in usable if m is not first)]
        if self.strategy == "round-robin" and usable:
            self._turn = (self._turn + 1) % len(usable)
            usable = usable[self._turn :] + usable[: self._turn]
        elif self.strategy == "headroom":  # the least used first; equals keep the operator's order
            usable = sorted(usable, key=lambda m: self.headroom.used(m.profile, m.upstream.account))
        return usable

    def _remember(self, key: str, member: Member) -> None:
        self._affinity[key] = member.profile
        self._affinity.move_to_end(key)
        while len(self._affinity) > AFFINITY_SIZE:
            self._affinity.popitem(last=False)

    # -- refusals ---------------------------------------------------------

    async def _account_fault(self, member: Member, error: XaiOAuthError, model: str) -> bool:
        """True when ``error`` lets the request go on to the next account (cooling this one when it is its fault)."""
        if error.code in PASSING_CODES:
            _log.info("pool: %s failed (%s); trying the next account", member.profile, error.code)
            return True
        if error.code not in ACCOUNT_CODES:
            return False
        if self.cooldowns.blocking(member.slot, model) is None:  # not already recorded by a request alongside
            cooldown = await asyncio.to_thread(
                earned, member.slot, error, model, self.now(), lambda: _period_end(member.upstream)
            )
            _log.warning("pool: %s is out (%s) until %s", member.profile, cooldown.reason, _when(cooldown.until))
            try:
                await asyncio.to_thread(self.cooldowns.record, cooldown)
            except StoreError as problem:  # in force here all the same; only other servers will not know
                _log.warning("pool: the cooldown could not be kept in the home: %s", problem.message)
        return True

    def _all_out(self, model: str, refused: list[XaiOAuthError]) -> XaiOAuthError:
        """The error for a request no account could take: 429 until the earliest end, or what to do."""
        now = self.now()
        outs = [(m, c) for m in self.members if (c := self.cooldowns.blocking(m.slot, model)) is not None]
        if not outs and refused:
            return refused[-1]
        reasons = "; ".join(f"{m.profile}: {c.reason}{_ends(c, m.profile)}" for m, c in outs)
        said = f"Every account in the pool is out for {model} ({reasons or 'none is signed in'})."
        ends = [c.until for _, c in outs if c.until is not None and c.reason != "tier_denied"]
        if ends:
            return RateLimited(
                said,
                action="Wait for Retry-After (the earliest end), or sign in another account: "
                "`xai-oauth login --profile NAME`, then restart the server with that profile.",
                retry_after=max(1.0, min(ends) - now),
                http_status=429,
            )
        if outs and all(c.reason == "tier_denied" for _, c in outs):
            return TierDenied(said, action="Ask for a model these subscriptions include (GET /v1/models).")
        return ReauthRequired(said, action="Sign in again for each profile named: `xai-oauth login --profile NAME`.")


def _ends(cooldown: Cooldown, profile: str) -> str:
    if cooldown.until is None:
        return f", until `xai-oauth login --profile {profile}`"
    return f" until {_when(cooldown.until)}"


def _when(until: float | None) -> str:
    return "a new sign-in" if until is None else time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(until))


def _period_end(upstream: Upstream) -> float | None:
    """When the account's usage period ends, from /billing; None when it cannot be read."""
    from ..api._client import Client

    try:
        end = Client(upstream.account).usage().get("period", {}).get("end")
        return float(calendar.timegm(time.strptime(str(end)[:19], "%Y-%m-%dT%H:%M:%S")))
    except (XaiOAuthError, ValueError, TypeError, AttributeError):
        return None


def build_pool(accounts: list[Account], http: AsyncHttp, timeout: float | None, strategy: str) -> Pool:
    """One ``Upstream`` per account (profile), with the cooldowns kept in the first account's home."""
    from ..transport._send import Acceptance

    acceptance = Acceptance()
    members = [member_for(a, http, timeout, acceptance) for a in accounts]
    home = accounts[0].paths.home
    cooldowns = Cooldowns(home, saved_at=lambda slot: saved_at(home, slot))
    return Pool(members, cooldowns, strategy=strategy, acceptance=acceptance)


def member_for(account: Account, http: AsyncHttp, timeout: float | None, acceptance: Acceptance) -> Member:
    """The pool's member for one signed-in account (profile): its slot names it in the cooldown file, and it
    shares the pool's ``acceptance`` (which APIs have taken the issuer's tokens)."""
    from ._upstream import Upstream

    slot = os.path.relpath(account.paths.dir, account.paths.accounts)
    return Member(account.config.profile, slot, Upstream(account, http, timeout=timeout, acceptance=acceptance))


def saved_at(home: str, slot: str) -> float | None:
    """When the slot's credential was last saved, unless it waits for a new sign-in (see ``Cooldowns``)."""
    from ..auth._vault import read_state_or_empty
    from ..store._paths import Paths

    meta = read_state_or_empty(Paths(home, slot)).get("credential")
    if not isinstance(meta, dict) or meta.get("reauth_required"):
        return None
    saved = meta.get("refreshed_at")
    return float(saved) if isinstance(saved, (int, float)) else None
