"""Sign in to xAI / Grok with an X Premium or SuperGrok subscription, keep the tokens alive, and talk to Grok.

``Account`` is the sign-in (device flow, refresh, logout), ``Client`` talks to
the models over both lanes with the subscription or an API key, ``Auth``
lends the sign-in to any httpx2 client (and so the openai SDK).

The public names below are loaded on first use (PEP 562), so ``import
xai_oauth`` stays cheap and the offline status path never pays for httpx2,
jwt or keyring.

The sign-in behind ``Account``, one question per room: ``_session`` (what a
slot's steps share: settings, clock, HTTP client, lock, endpoints), ``_vault``
(where the credential lives), ``_signin`` (the device grant, RFC 8628),
``_keeper`` (a usable access token, refreshed once across processes),
``_grants`` (a token grant in flight and its journal), ``_identity`` (who
signed in) and ``_signout`` (revocation, RFC 7009, and forgetting).
"""

from __future__ import annotations

import importlib

from ._version import __version__

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ._config import Config
    from ._exceptions import (
        AccessDenied,
        AlreadySignedIn,
        ApiKeyRejected,
        ClientOutdated,
        ConfigError,
        ContentRefused,
        DeviceFlowError,
        DiscoveryError,
        GenerationFailed,
        IncompleteStream,
        LoginExpired,
        MalformedResponse,
        ModelNotFound,
        NetworkError,
        NoCredits,
        NoPendingLogin,
        NotSignedIn,
        OAuthError,
        RateLimited,
        ReauthRequired,
        RefreshUnconfirmed,
        RequestRejected,
        ServerError,
        TierDenied,
        UnsupportedParameter,
        XaiOAuthError,
    )
    from ._tiers import TIERS, USER_TIERS, Tier, describe_tier
    from .api._auth import Auth
    from .api._client import Client
    from .api._text import ChatStream
    from .auth._account import Account
    from .store._errors import (
        HomeInsecure,
        KeyringUnavailable,
        StoreBusy,
        StoreCorrupt,
        StoreError,
        StoreKeyInvalid,
        StoreUnavailable,
    )


_HOMES = {
    "Account": ".auth._account",
    "Auth": ".api._auth",
    "ChatStream": ".api._text",
    "Client": ".api._client",
    "Config": "._config",
    "TIERS": "._tiers",
    "USER_TIERS": "._tiers",
    "Tier": "._tiers",
    "describe_tier": "._tiers",
    **{
        name: "._exceptions"
        for name in (
            "AccessDenied",
            "AlreadySignedIn",
            "ClientOutdated",
            "ConfigError",
            "ContentRefused",
            "DeviceFlowError",
            "DiscoveryError",
            "GenerationFailed",
            "LoginExpired",
            "MalformedResponse",
            "NetworkError",
            "NoCredits",
            "NoPendingLogin",
            "NotSignedIn",
            "OAuthError",
            "RateLimited",
            "ReauthRequired",
            "RefreshUnconfirmed",
            "ServerError",
            "ApiKeyRejected",
            "IncompleteStream",
            "ModelNotFound",
            "RequestRejected",
            "TierDenied",
            "UnsupportedParameter",
            "XaiOAuthError",
        )
    },
    **{
        name: ".store._errors"
        for name in (
            "StoreError",
            "StoreCorrupt",
            "StoreBusy",
            "HomeInsecure",
            "KeyringUnavailable",
            "StoreUnavailable",
            "StoreKeyInvalid",
        )
    },
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'xai_oauth' has no attribute {name!r}")
    value = getattr(importlib.import_module(home, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
