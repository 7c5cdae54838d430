"""``xai-oauth serve``: start the local server on uvicorn, and tell the person how to point their tools at it.

Loaded only when ``serve`` runs, so the command's other subcommands (and
every agent heredoc) never import Starlette or uvicorn. The socket is bound
here, before uvicorn starts, so the banner can name the real port (``--port
0`` picks a free one) and a refusal to bind is a clear message, not a
traceback.

Which accounts: the profile in force, or a pool of several (``--profile``
repeated, or ``--all-profiles``: every signed-in profile at the issuer);
see ``_pool``.

The management API (``/admin/*``, ``/metrics``; see ``_admin``) needs the
admin key and answers loopback callers only, unless
``--admin-from-anywhere``; the banner names where the key is kept and never
prints it.

Who may call: the server binds 127.0.0.1 by default. Binding any other
address needs a key the person chose (``--api-key`` or
``XAI_OAUTH_SERVE_KEYS``): a key made here and printed on a terminal is
not enough to guard a port the network can reach.

Connections: uvicorn runs with the front door's protocol (``_front_door``:
a deadline for each request head, a cap on open connections), and believes
``X-Forwarded-For`` only from the proxies ``--forwarded-allow-ips`` names,
so by default the access log and the admin door see the socket's own peer.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from typing import Any

from .._exceptions import ConfigError, XaiOAuthError

__all__ = ["banner", "parse_model_map", "pool_accounts", "serve", "serving"]

#: uvicorn closes a kept-alive connection idle this long (seconds).
IDLE_KEEPALIVE = 30
#: Seconds a connection has to send its request head, and the most connections open at once (``_front_door``).
HEAD_TIMEOUT = 10.0
MAX_CONNECTIONS = 256


def serve(args: argparse.Namespace) -> int:
    """Run the server until interrupted; 0 on a clean stop, 1 when it cannot start.

    What the person asked for that cannot work (a blank or short key, a key
    missing for a reachable address, a model map that does not parse) is a
    ``UsageError``: the command prints it under ``serve``'s usage and exits 64,
    before any account, key file or socket is touched.
    """
    try:
        import jinja2  # noqa: F401
        import prometheus_client  # noqa: F401
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401 - checked here so the message can name the extra
    except ImportError:
        from ._install import extra_install_line

        print(
            "error: xai-oauth serve needs the server's packages (Starlette, uvicorn, prometheus_client and Jinja2); "
            "the other commands work without them.\n"
            f"  → Install them into the Python that runs xai-oauth: {extra_install_line('serve')}",
            file=sys.stderr,
        )
        return 1
    from ..server._admin_door import load_admin_key
    from ..server._app import ServeSettings, create_app
    from ..server._keys import load_client_keys
    from ..server._streaming import keepalive_seconds
    from ._output import print_error

    chosen, model_map = _asked(args)
    try:
        accounts = pool_accounts(getattr(args, "profiles", None), all_profiles=getattr(args, "all_profiles", False))
        account = accounts[0]
        config = account.config
        if not account.signed_in() and not config.api_key:
            raise ConfigError(
                "Nobody is signed in here and no API key is set, so the server would have nothing to serve.",
                action="Run `xai-oauth login` first (or set XAI_API_KEY).",
            )
        keys = chosen or load_client_keys(account.paths.home)
        admin_keys = load_admin_key(account.paths.home, getattr(args, "admin_key", None))
        settings = ServeSettings(
            keys=keys,
            model_map=model_map,
            strategy=getattr(args, "strategy", "fill-first"),
            admin_keys=admin_keys,
            admin_from_anywhere=bool(getattr(args, "admin_from_anywhere", False)),
            body_timeout=getattr(args, "body_timeout", None) or ServeSettings.body_timeout,
            keepalive=keepalive_seconds(),
        )
        listener = _bind(args.host, args.port)
    except XaiOAuthError as error:
        print_error({"message": error.message, "action": error.action})
        return 1
    _log_to_stderr(debug=bool(os.environ.get("XAI_OAUTH_DEBUG")))
    app = create_app(settings, accounts)
    host, port = listener.getsockname()[:2]
    print(banner(host, port, keys, *accounts, admin=admin_keys), flush=True)
    import uvicorn

    from ..server._front_door import front_door_protocol

    proxies = getattr(args, "forwarded_allow_ips", None) or ""
    door = front_door_protocol(
        getattr(args, "head_timeout", None) or HEAD_TIMEOUT, getattr(args, "max_connections", None) or MAX_CONNECTIONS
    )
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            http=door,
            log_level="warning",
            timeout_keep_alive=IDLE_KEEPALIVE,
            access_log=False,
            lifespan="on",
            proxy_headers=bool(proxies.strip()),  # the socket's peer, unless the operator names their proxies
            forwarded_allow_ips=proxies,
        )
    )
    try:
        server.run(sockets=[listener])
    except KeyboardInterrupt:
        pass
    return 0


def _asked(args: argparse.Namespace) -> tuple[Any, dict[str, str]]:
    """The client keys the person chose (None: the home's) and the model map; ``UsageError`` when they cannot work.

    Their environment stand-ins (``XAI_OAUTH_SERVE_KEYS``, ``XAI_OAUTH_MODEL_MAP``)
    are part of how the server was asked to run, so their faults are usage
    errors too, and say where they came from.
    """
    from .._routes import is_loopback_host
    from ..server._keys import ENV_KEYS, chosen_keys
    from ._output import UsageError

    try:
        chosen = chosen_keys(args.api_key or (), os.environ)
        model_map = parse_model_map(args.model_map)
    except ConfigError as error:
        raise UsageError(f"{error.message} {error.action}") from None
    if chosen is None and not is_loopback_host(args.host):
        raise UsageError(
            f"--host {args.host} is reachable from other machines, and no client key was chosen for it. "
            f"Pass --api-key with a long random key (or set {ENV_KEYS}), or bind 127.0.0.1."
        )
    return chosen, model_map


def _log_to_stderr(*, debug: bool) -> None:
    """The access log (one line a request) on stderr; with --debug, also the fields translation dropped."""
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
    package = logging.getLogger("xai_oauth")
    package.addHandler(handler)
    package.setLevel(logging.DEBUG if debug else logging.INFO)


def parse_model_map(text: str | None) -> dict[str, str]:
    """``sonnet=grok-4.3,haiku=grok-4-fast`` as a dict; ``config_invalid`` for anything else."""
    mapping: dict[str, str] = {}
    for pair in (text or os.environ.get("XAI_OAUTH_MODEL_MAP", "")).split(","):
        if not pair.strip():
            continue
        name, sep, model = pair.partition("=")
        if not sep or not name.strip() or not model.strip():
            raise ConfigError(
                f"--model-map takes name=model pairs separated by commas, got {pair.strip()!r}.",
                action="For example: --model-map sonnet=grok-4.3,haiku=grok-4-fast-non-reasoning",
            )
        mapping[name.strip()] = model.strip().removeprefix("xai-grok/")
    return mapping


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        raise ConfigError(
            f"Cannot listen on {host}:{port} ({exc.strerror}).",
            action="Pick another --port (0 takes a free one), or stop what is using it.",
        ) from None
    listener.listen(128)
    return listener


def pool_accounts(profiles: list[str] | None, *, all_profiles: bool = False) -> list[Any]:
    """The accounts to serve: the profile in force, the ``--profile``s named, or every signed-in one at the issuer.

    A named profile that nobody signed in to is a ``config_invalid`` naming
    the command that fixes it, so a pool never starts short of an account
    the person expected in it.
    """
    from .._config import Config
    from .._settings import check_profile
    from ..auth._account import Account

    if not profiles and not all_profiles:
        return [Account()]
    if all_profiles:
        here = Account()
        issuer_dir = os.path.dirname(here.paths.dir)
        try:
            found = sorted(name for name in os.listdir(issuer_dir) if not name.startswith("."))
        except OSError:
            found = []
        profiles = [*(profiles or []), *(name for name in found if name not in (profiles or []))]
    accounts = []
    for profile in dict.fromkeys(profiles or []):
        account = Account(Config.from_env({**os.environ, "XAI_OAUTH_PROFILE": check_profile(profile)}))
        if account.signed_in():
            accounts.append(account)
        elif not all_profiles:
            raise ConfigError(
                f"Nobody is signed in under the profile {profile}.",
                action=f"Run `xai-oauth login --profile {profile}` first, or leave --profile {profile} out.",
            )
    if not accounts:
        raise ConfigError(
            "No profile at this issuer is signed in, so the pool would be empty.",
            action="Run `xai-oauth login --profile NAME` for each account of the pool.",
        )
    return accounts


def serving(account: Any, *pooled: Any) -> str:
    """What the banner says is served, as a sentence: one subscription, the API key alone, or a pool."""
    if pooled:
        people = [f"{a.config.profile} ({a.status().get('account') or 'who is unknown'})" for a in (account, *pooled)]
        return f"{len(people)} Grok subscriptions pooled as one local endpoint: {', '.join(people)}"
    if account.signed_in():
        who = account.status().get("account")
        return (
            f"the Grok subscription of {who}, as a local endpoint"
            if who
            else "your Grok subscription, as a local endpoint"
        )
    return "your xAI API key (XAI_API_KEY), as a local endpoint; nobody is signed in, so no subscription is served"


def banner(host: str, port: int, keys: Any, account: Any, *pooled: Any, admin: Any = None) -> str:
    """What a person needs to point their tools at this server; the client key only when it was made here.

    The admin key is never shown: the banner names where it is.
    """
    shown = f"[{host}]" if ":" in host else host
    base = f"http://{shown}:{port}/v1"
    if keys.configured:
        key, where = "<your key>", f"the key from {keys.source}"
    else:
        key, where = keys.keys[0], f"kept in {keys.source}; this is your own key for your own tools, not an xAI key"
    what = serving(account, *pooled)
    managed = ""
    if admin is not None:
        managed = (
            f"\n  Management API (this machine only, unless --admin-from-anywhere):\n"
            f"    http://{shown}:{port}/admin/accounts, /admin/usage, /metrics\n"
            f"    admin key {'from ' if admin.configured else 'kept in '}{admin.source} (not shown here); "
            f"`xai-oauth pool --port {port}` reads it\n"
        )
    return f"""xai-oauth serve: {what}.
  OpenAI-compatible:    {base}   (chat/completions, responses, models, images, videos)
  Anthropic-compatible: http://{shown}:{port}   (/v1/messages)
  Client key ({where}):
    {key}

  OpenAI SDK, aider, Cursor, ...
    export OPENAI_BASE_URL={base}
    export OPENAI_API_KEY={key}
    aider --openai-api-base {base} --openai-api-key {key} --model openai/grok-4.3
  Codex CLI (~/.codex/config.toml), then: export XAI_OAUTH_SERVE_KEY={key}
    model = "grok-4.3"
    model_provider = "xai-oauth"
    [model_providers.xai-oauth]
    name = "Grok subscription (xai-oauth)"
    base_url = "{base}"
    env_key = "XAI_OAUTH_SERVE_KEY"
    wire_api = "responses"
  Claude Code
    export ANTHROPIC_BASE_URL=http://{shown}:{port} ANTHROPIC_API_KEY={key}
  LiteLLM (config.yaml model_list)
    - model_name: grok-4.3
      litellm_params: {{model: openai/grok-4.3, api_base: "{base}", api_key: "{key}"}}
{managed}
  Use only accounts that are your own, as xAI's terms allow; this server is not for sharing or resale
  (a pool is for one person's or one household's own subscriptions).
  Ctrl-C to stop."""
