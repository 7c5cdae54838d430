"""The first line of ``xai-oauth serve``'s banner says, in plain English, what is served: one subscription, the
API key alone, or a pool."""

from __future__ import annotations

import os
from pathlib import Path

from xai_oauth import Account, Config
from xai_oauth.cli._serve import banner
from xai_oauth.emulator import Emulator
from xai_oauth.server._keys import ClientKeys

from .support.served import serve, sign_in

KEYS = ClientKeys(("k" * 24,), "--api-key", True)


def first_line(*accounts: Account) -> str:
    return banner("127.0.0.1", 8787, KEYS, *accounts).splitlines()[0]


def test_one_subscription(emulator: Emulator, isolated_home: Path) -> None:
    env = {**os.environ, **emulator.environ()}
    sign_in(emulator, env, email="ann@example.com")
    with serve(env) as running:  # the real command
        assert running.banner.splitlines()[0] == (
            "xai-oauth serve: the Grok subscription of ann@example.com, as a local endpoint."
        )


def test_the_api_key_alone(emulator: Emulator, isolated_home: Path) -> None:
    with Account(Config.from_env({**os.environ, **emulator.environ(), "XAI_API_KEY": "xai-k" * 8})) as account:
        assert first_line(account) == (
            "xai-oauth serve: your xAI API key (XAI_API_KEY), as a local endpoint; nobody is signed in, "
            "so no subscription is served."
        )


def test_a_pool(emulator: Emulator, isolated_home: Path) -> None:
    env = {**os.environ, **emulator.environ()}
    accounts = []
    for profile, email in (("a", "ann@example.com"), ("b", "bob@example.com")):
        sign_in(emulator, {**env, "XAI_OAUTH_PROFILE": profile}, email=email)
        accounts.append(Account(Config.from_env({**env, "XAI_OAUTH_PROFILE": profile})))
    assert first_line(*accounts) == (
        "xai-oauth serve: 2 Grok subscriptions pooled as one local endpoint: a (ann@example.com), b (bob@example.com)."
    )
    for account in accounts:
        account.close()
