"""Who may reach the management API (``/admin/*``), ``/metrics`` and the console (``/console``), and with which key.

* **Only callers on loopback**, read from the connection's peer address
  (behind proxies the operator names with ``--forwarded-allow-ips``, the
  client they name), even when the server binds another address;
  ``--admin-from-anywhere`` lifts this for an operator who puts the server
  behind their own network controls.
* **With the admin key**, which is apart from the client keys: a client key
  does not open ``/admin``, and the admin key does not open the client
  endpoints (unless the operator also made it a client key). It comes from
  ``--admin-key``, else ``XAI_OAUTH_ADMIN_KEY``, else ``<home>/admin-key``
  (made once, 0600, as ``_keys`` makes the client key).
* The admin key is never printed, not even when it is made here: it can
  sign accounts out, and a banner ends up in logs and scrollback. The banner
  names its file, and ``xai-oauth pool`` reads the file itself.
* ``/metrics`` is behind the same door: it names the pool's accounts.
* ``/console`` is behind the same door for where the caller may be; the
  admin key opens it once, on its login page, and a session cookie carries
  the login from there (``console._door``).

The front door (``_guard``) asks this door about the paths it covers before any route runs.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._guard import Refusal, Scope
from ._keys import ClientKeys, checked_keys, home_key, presented_key

__all__ = [
    "ADMIN_KEY_FILE",
    "CONSOLE_PATH",
    "METRICS_PATH",
    "AdminDoor",
    "is_loopback_peer",
    "load_admin_key",
]

ADMIN_KEY_FILE = "admin-key"
ENV_ADMIN_KEY = "XAI_OAUTH_ADMIN_KEY"
METRICS_PATH = "/metrics"
CONSOLE_PATH = "/console"


def load_admin_key(home: str, explicit: str | None = None, environ: Mapping[str, str] | None = None) -> ClientKeys:
    """The admin key: ``explicit`` (--admin-key), else ``XAI_OAUTH_ADMIN_KEY``, else ``<home>/admin-key``."""
    environ = os.environ if environ is None else environ
    for key, where in ((explicit or "", "--admin-key"), (environ.get(ENV_ADMIN_KEY, ""), ENV_ADMIN_KEY)):
        if key.strip():
            return ClientKeys(tuple(checked_keys([key.strip()], where)), where, True)
    return ClientKeys((home_key(home, ADMIN_KEY_FILE),), os.path.join(home, ADMIN_KEY_FILE), False)


def is_loopback_peer(client: Any) -> bool:
    """True when the ASGI ``client`` (host, port) is this machine (127.0.0.0/8, ::1, or IPv4-mapped loopback)."""
    if not client:
        return False
    try:
        address = ipaddress.ip_address(str(client[0]))
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return bool(address.is_loopback or (mapped is not None and mapped.is_loopback))


@dataclass(frozen=True)
class AdminDoor:
    """Who may reach ``/admin/*`` and ``/metrics``: loopback peers (unless ``from_anywhere``) with the admin key."""

    keys: ClientKeys
    from_anywhere: bool = False

    @staticmethod
    def covers(path: str) -> bool:
        return path == METRICS_PATH or any(path == p or path.startswith(p + "/") for p in ("/admin", CONSOLE_PATH))

    def refusal(self, scope: Scope, headers: Mapping[str, str]) -> Refusal | None:
        """Why this caller may not pass, or None. The console checks its own login (a session cookie)."""
        if not self.from_anywhere and not is_loopback_peer(scope.get("client")):
            return Refusal(403, "forbidden", _NOT_LOCAL)
        path = str(scope.get("path", ""))
        if path == CONSOLE_PATH or path.startswith(CONSOLE_PATH + "/"):
            return None
        if not self.keys.allows(presented_key(headers)):
            return Refusal(401, "invalid_api_key", _NO_ADMIN_KEY)
        return None


_NOT_LOCAL = (
    "The management API answers only on this machine (loopback). Run the request here, "
    "or start the server with --admin-from-anywhere behind your own network controls."
)
_NO_ADMIN_KEY = (
    "The management API needs the admin key: send it as 'Authorization: Bearer <key>'. It is kept in "
    "<home>/admin-key (or was given as --admin-key / XAI_OAUTH_ADMIN_KEY); a client key does not open it."
)
