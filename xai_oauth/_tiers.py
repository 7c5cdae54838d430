"""Subscription tiers, from the access token's ``tier`` claim.

The claim is read for display only (the API server stays the authority on
what a token may do). Anything missing or odd gives ``(None, "unknown")``,
never an error: a new tier xAI adds tomorrow must not break sign-in.
"""

__all__ = ["TIERS", "Tier", "describe_tier"]


class Tier:
    """One subscription level."""

    __slots__ = ("level", "name", "price", "access")

    def __init__(self, level: int, name: str, price: str, access: str) -> None:
        self.level = level
        self.name = name
        self.price = price
        self.access = access

    def as_dict(self) -> "dict[str, object]":
        return {"tier": self.level, "tier_name": self.name, "price": self.price, "access": self.access}

    def __repr__(self) -> str:
        return f"Tier({self.level}, {self.name!r})"


#: Prices are list prices in USD at the time of writing; ``access`` is approximate.
TIERS: "dict[int, Tier]" = {
    1: Tier(1, "X Premium", "$8/month", "Grok chat models with basic limits"),
    2: Tier(2, "X Premium+", "$40/month", "Grok chat models with higher limits"),
    3: Tier(3, "SuperGrok", "$30/month", "current Grok models incl. reasoning and multi-agent"),
    4: Tier(4, "SuperGrok Heavy", "$300/month", "everything, incl. Heavy / 16-agent runs, highest limits"),
}


def describe_tier(value: object) -> "tuple[int | None, str]":
    """``(level, name)`` for a raw claim value; ``(None, "unknown")`` when it is not a known tier.

    Accepts ints and numeric strings ("3"); rejects bools, floats with a
    fraction, and out-of-range numbers.
    """
    if isinstance(value, bool):
        return None, "unknown"
    level: int | None = None
    if isinstance(value, int):
        level = value
    elif isinstance(value, float) and value.is_integer():
        level = int(value)
    elif isinstance(value, str) and value.strip().isdigit():
        level = int(value.strip())
    tier = TIERS.get(level) if level is not None else None
    if tier is None:
        return None, "unknown"
    return tier.level, tier.name
