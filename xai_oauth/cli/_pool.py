"""``xai-oauth pool``: the pool's accounts as a table on the terminal, from the running server or from the home.

With a server running on this machine (``--port``), the table is its
``GET /admin/accounts``: who, tier, usage, why an account is out, what each
served and its last error. The admin key comes from ``XAI_OAUTH_ADMIN_KEY``
or ``<home>/admin-key`` (never made here: only the server makes it). When no
server answers, the table is what the home knows: each signed-in profile's
status and the cooldowns in ``<home>/pool/cooldowns.json``.

It needs no server packages: the server's cooldown table and key files are
read with the standard library, and the HTTP call goes through ``_http``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import TYPE_CHECKING, Any

from .._exceptions import ConfigError, XaiOAuthError
from ._output import EXIT_FAILED, EXIT_OK

if TYPE_CHECKING:
    import argparse

__all__ = ["pool", "table"]

COLUMNS = ("PROFILE", "ACCOUNT", "TIER", "USAGE", "OUT", "REQUESTS", "TOKENS in/out/cached", "LAST ERROR")


def pool(args: argparse.Namespace) -> int:
    try:
        rows, source = _from_server(args.port)
        if rows is None:
            rows = _from_home()
    except XaiOAuthError as error:
        print(f"error: {error.message}\n{error.action}", file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        print(json.dumps({"accounts": rows, "source": source}, indent=2))
    else:
        print(table(rows))
        print(f"({source})")
    return EXIT_OK


def _from_server(port: int) -> tuple[list[dict[str, Any]] | None, str]:
    """The running server's rows, or None (and the reason) when none answers on ``port``."""
    from ..auth._account import Account
    from ..server._keys import read_key
    from ..transport._http import Http

    home = Account().paths.home
    key = os.environ.get("XAI_OAUTH_ADMIN_KEY", "").strip()
    if not key:
        try:
            key = read_key(os.path.join(home, "admin-key"))
        except FileNotFoundError:
            return None, f"from the home: no admin key in {home}, so no server was asked"
    http = Http()
    try:
        answer = http.get(
            f"http://127.0.0.1:{port}/admin/accounts", headers={"authorization": f"Bearer {key}"}, timeout=10
        )
    except XaiOAuthError as error:
        if error.code != "network":
            raise
        return None, f"from the home: no server answered on port {port}"
    finally:
        http.close()
    accounts = answer.body.get("accounts") if isinstance(answer.body, dict) else None
    if answer.status != 200 or not isinstance(accounts, list):
        raise ConfigError(
            f"The server on port {port} refused the management request (HTTP {answer.status}).",
            action="Set XAI_OAUTH_ADMIN_KEY to the key the server was started with (--admin-key), "
            "or give the right --port.",
        )
    return accounts, f"from the server on port {port}"


def _from_home() -> list[dict[str, Any]]:
    """Each signed-in profile's status, with the cooldowns the home keeps."""
    from ..server._cooldowns import Cooldowns
    from ..server._pool import saved_at
    from ._serve import pool_accounts

    try:
        accounts = pool_accounts(None, all_profiles=True)
    except ConfigError:
        return []
    home = accounts[0].paths.home
    table = Cooldowns(home, saved_at=lambda slot: saved_at(home, slot))
    out = table.active()
    damaged = {"code": table.problem.code, "message": table.problem.message} if table.problem else None
    rows = []
    for account in accounts:
        status = account.status()
        slot = os.path.relpath(account.paths.dir, account.paths.accounts)
        usage = status.get("usage") or {}
        rows.append(
            {
                "profile": account.config.profile,
                "account": status.get("account"),
                "state": status.get("state"),
                "tier": status.get("tier_name"),
                "usage_percent": usage.get("credit_usage_percent"),
                "cooldowns": [{"reason": c.reason, "until": c.until, "model": c.model} for c in out if c.slot == slot],
                **({"cooldowns_problem": damaged} if damaged else {}),
            }
        )
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as aligned columns; a dash where nothing is known."""
    lines = [COLUMNS] + [_cells(row) for row in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(COLUMNS))]
    text = "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines)
    return text if rows else text + "\n(no signed-in profile)"


def _cells(row: dict[str, Any]) -> tuple[str, ...]:
    usage = row.get("usage_percent")
    outs = [
        f"{c['reason']}{_until(c.get('until'))}{' for ' + c['model'] if c.get('model') else ''}"
        for c in row.get("cooldowns") or []
    ]
    served = row.get("served") or {}
    error = row.get("last_error") or row.get("error") or row.get("cooldowns_problem") or {}
    return (
        str(row.get("profile") or "-"),
        str(row.get("account") or "-"),
        str(row.get("tier") or "-"),
        f"{usage:g}%" if isinstance(usage, (int, float)) else "-",
        "; ".join(outs) or ("-" if row.get("state") in (None, "connected") else str(row["state"])),
        str(served.get("requests", "-")),
        "/".join(str(served.get(k, "-")) for k in ("input_tokens", "output_tokens", "cached_tokens")),
        f"{error['code']}: {error.get('message', '')}"[:60] if error else "-",
    )


def _until(until: Any) -> str:
    if not isinstance(until, (int, float)):
        return " (until a new sign-in)"
    return " until " + time.strftime("%H:%M:%S", time.localtime(until))
