"""What the emulator can be set to behave like: its tiers' models and every knob a test or a person turns.

Apart from the authority's rules, so that one place lists the provider's
behaviours (a slow token answer, a rotation grace, the proxy's version gate,
media outcomes, ...) with what each means; the control endpoint and the
command line set them here.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_CLIENT_ID", "MODELS_BY_TIER", "Settings"]

DEFAULT_CLIENT_ID = "b1a00492-073a-47ea-816f-4c329264a828"

#: What each tier may list at /v1/models (the emulator's own choice of models; the levels are xAI's
#: official ``tier`` enum: 0 Free, 1 SuperGrok, 2 X Basic, 3 X Premium, 4 X Premium+, 5 SuperGrok Heavy,
#: 6 SuperGrok Lite, 7 SuperGrok Plus).
_BASIC = ["grok-4.3", "grok-4-fast"]
_IMAGINE = ["grok-imagine-image", "grok-imagine-video"]
_FULL = [*_BASIC, "grok-code-fast-1", "grok-4.20-multi-agent-0309", *_IMAGINE]
MODELS_BY_TIER: dict[int, list[str]] = {
    0: [],
    1: _FULL,
    2: _BASIC,
    3: [*_BASIC, "grok-code-fast-1", *_IMAGINE],
    4: _FULL,
    5: [*_FULL, "grok-4.3-heavy"],
    6: _BASIC,
    7: _FULL,
}


@dataclass
class Settings:
    tier: int | str | None = 1
    access_token_lifetime: float = 6 * 3600.0
    device_code_lifetime: float = 900.0
    interval: float = 5.0
    client_id: str = DEFAULT_CLIENT_ID
    auto_approve: bool = False
    rotate_refresh_tokens: bool = True
    #: seconds a rotated-away refresh token is still honoured once (xAI's own CLI counts on ~60 s, so that a
    #: lost answer can be recovered by sending the old token again); later, reuse revokes the whole grant
    rotation_grace: float = 60.0
    #: seconds between acting on a token request (a refresh token is rotated) and sending the answer: a slow
    #: provider, and the gap in which tests interrupt a process
    token_answer_delay: float = 0.0
    #: seconds of grace before a poll counts as "too fast" (network jitter)
    poll_tolerance: float = 0.25
    #: an API key the API accepts beside subscription tokens (BYOK); None: no key works
    api_key: str | None = None
    #: the model's reply is its sentence said this many times (long streams for benchmarks)
    reply_repeat: int = 1
    #: seconds between streamed events
    stream_delay: float = 0.0
    #: the signed-in person's email, in the ID token when the ``email`` scope was granted
    email: str = "person@example.com"
    #: the chat proxy's answers: ``/settings`` default model, ``/billing`` usage, the live ``/user`` tier
    #: (None: the token's own tier), and the oldest ``x-grok-client-version`` it serves
    proxy_default_model: str = "grok-4.3"
    credit_usage_percent: float = 12.5
    live_tier: int | None = None
    min_client_version: str = "1.0.0"
    #: whether the proxy's 426 names the version it wants (today's proxy does)
    gate_names_version: bool = True
    #: each chat model's ``/models-v2`` limits: context window and maximum output tokens
    context_window: int = 256_000
    max_output_tokens: int = 64_000
    #: ``/billing``'s money fields, in USD cents (None: left out, as older servers do), and unified billing
    on_demand_cap_cents: int | None = 5000
    on_demand_used_cents: int | None = 1250
    prepaid_balance_cents: int | None = 0
    unified_billing: bool | None = True
    #: the proxy refuses every text request with 403 ``personal-team-blocked:spending-limit``
    spending_limit_reached: bool = False
    #: api.x.ai refuses the subscription's text calls with 429 subscription:free-usage-exhausted
    #: (billed as API credit, as many subscribers see); media stays open
    api_bills_oauth: bool = False
    #: images and video: answer images as URLs even when base64 was asked for (as some gateways do);
    #: how many reads a video job stays pending (202), and its Retry-After (None: no header); how the
    #: job ends (done, failed, expired, moderated); refuse every media prompt as moderation would
    image_as_url: bool = False
    #: every picture made this many bytes at least (a real PNG, zero bytes after its end): a big picture
    image_bytes: int = 0
    video_pending_reads: int = 2
    video_retry_after: float | None = None
    video_outcome: str = "done"
    refuse_media: bool = False
