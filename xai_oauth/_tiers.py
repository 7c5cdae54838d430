"""Subscription tiers, from the access token's ``tier`` claim.

The claim is read for display only (the API server stays the authority on
what a token may do). Anything missing or odd gives ``(None, "unknown")``,
never an error: a new tier xAI adds tomorrow must not break sign-in.
"""

__all__ = ["TIERS", "USER_TIERS", "Tier", "describe_tier"]


class Tier:
    """One subscription level."""

    __slots__ = ("level", "name", "access")

    def __init__(self, level: int, name: str, access: str) -> None:
        self.level = level
        self.name = name
        self.access = access

    def as_dict(self) -> "dict[str, object]":
        return {"tier": self.level, "tier_name": self.name, "access": self.access}

    def __repr__(self) -> str:
        return f"Tier({self.level}, {self.name!r})"


#: The official mapping, from xAI's own Grok CLI (xai-org/grok-build, ``jwt_tier_claim`` in
#: ``xai-grok-shell/src/agent/mvp_agent/mod.rs``: the proto enum ``prod_auth.SubscriptionTier``).
#: No prices: they are not in that source and change by country and over time.
TIERS: "dict[int, Tier]" = {
    0: Tier(0, "Free", "no subscription (xAI's own CLI shows its paywall); use an API key"),
    1: Tier(1, "SuperGrok", "subscription"),
    2: Tier(2, "X Basic", "subscription"),
    3: Tier(3, "X Premium", "subscription"),
    4: Tier(4, "X Premium+", "subscription"),
    5: Tier(5, "SuperGrok Heavy", "subscription, with Heavy models"),
    6: Tier(6, "SuperGrok Lite", "subscription"),
    7: Tier(7, "SuperGrok Plus", "subscription"),
}

#: The tier names the chat proxy's ``GET /user?include=subscription`` reports (grok-build's
#: ``jwt_claim_matches_user_subscription_tier``), as claim levels.
USER_TIERS: "dict[str, int]" = {
    "Free": 0,
    "GrokPro": 1,
    "XBasic": 2,
    "XPremium": 3,
    "XPremiumPlus": 4,
    "SuperGrokPro": 5,
    "SuperGrokLite": 6,
    "SuperGrokPlus": 7,
}


def describe_tier(value: object) -> "tuple[int | None, str]":
    """``(level, name)`` for a raw claim value: a number outside the table is ``(n, "tier n")``; no number, unknown.

    Accepts ints and numeric strings ("3"); rejects bools, floats with a
    fraction, and numbers outside 0..999999 (no tier table grows that far).
    """
    if isinstance(value, bool):
        return None, "unknown"
    level: int | None = None
    if isinstance(value, int):
        level = value
    elif isinstance(value, float) and value.is_integer():
        level = int(value)
    elif isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 6:
        level = int(value.strip())
    if level is None or not 0 <= level < 1_000_000:
        return None, "unknown"
    tier = TIERS.get(level)
    return level, tier.name if tier else f"tier {level}"  # a tier added tomorrow is shown, never an error
