"""What the server's routes share: its settings (``ServeSettings``) and its state (``ServerState``: the pool, the
management API's books, the model listing's cache).

Below the routes and the app that builds them, so a route can name the
state it reads without importing the app.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._keys import ClientKeys
from ._streaming import KEEPALIVE_SECONDS

if TYPE_CHECKING:
    from ._admin_state import Admin
    from ._pool import Pool

__all__ = ["MODELS_TTL", "ServeSettings", "ServerState"]

#: Seconds a model listing is reused before the server asks again.
MODELS_TTL = 60.0


@dataclass(frozen=True)
class ServeSettings:
    """How the server behaves; the command fills it from its flags."""

    keys: ClientKeys
    #: the largest request body, in bytes (a coding agent's whole context fits well within it)
    max_body: int = 32 << 20
    #: seconds a client has to send its whole request body
    body_timeout: float = 60.0
    #: seconds of silence before a keep-alive goes to the client, the first event not yet in too (``_streaming``)
    keepalive: float = KEEPALIVE_SECONDS
    #: ``claude-*`` names (or families: opus, sonnet, haiku) to Grok model ids
    model_map: dict[str, str] = field(default_factory=dict)
    #: seconds one upstream answer may take (None: the account's XAI_OAUTH_READ_TIMEOUT)
    timeout: float | None = None
    #: how a pool of accounts places a new conversation: fill-first or round-robin (``_pool.STRATEGIES``)
    strategy: str = "fill-first"
    #: the management API's key (``_admin_door.load_admin_key``); None: /admin and /metrics refuse every caller
    admin_keys: ClientKeys | None = None
    #: answer /admin and /metrics from any peer, not only loopback (behind the operator's own network controls)
    admin_from_anywhere: bool = False


class ServerState:
    """What the routes share: the settings, the pool of accounts (and its first), and the model listing's cache."""

    def __init__(self, settings: ServeSettings, pool: Pool, admin: Admin) -> None:
        self.settings = settings
        self.pool = pool
        self.admin = admin
        self._models: tuple[float, list[str]] | None = None
        self._models_lock = asyncio.Lock()

    @property
    def upstream(self) -> Any:
        """The pool's first account (it changes when the management API signs that one out)."""
        return self.pool.primary

    async def models(self) -> list[str]:
        """Model ids as clients send them: the subscription's plain, the API key's as ``xai/<id>``."""
        async with self._models_lock:
            if self._models is None or time.monotonic() - self._models[0] > MODELS_TTL:
                self._models = (time.monotonic(), await asyncio.to_thread(self._list))
            return list(self._models[1])

    def _list(self) -> list[str]:
        """Asked of xAI (``refresh=True``): this server's ``MODELS_TTL`` is the only cache, not stacked on the
        state file's (then a listing could be two minutes old); unreachable, the state file's cache answers."""
        from ..api._client import Client

        listing = Client(self.upstream.account).models(refresh=True)
        ids = []
        for model in listing.get("models", []):
            model_id = str(model.get("id", ""))
            ids.append(model_id.removeprefix("xai-grok/"))
        return ids
