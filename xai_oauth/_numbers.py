"""Is this number from outside one we can use? A finite float within bounds, or None. Pure.

Numbers arrive from servers (``duration``, ``creditUsagePercent``), headers
(``Retry-After``) and settings (``XAI_OAUTH_KEYRING_TIMEOUT``). Python turns
``1e400`` into ``inf`` and a 400-digit integer into an ``OverflowError`` at
``float()``; ``inf`` then breaks ``int()``, ``thread.join()`` and
``json.dumps`` (which prints ``Infinity``, not JSON). Every such number goes
through ``bounded`` once, where it is parsed, so nothing later sees one out of range.
"""

import math

__all__ = ["bounded"]


def bounded(value: object, low: float, high: float) -> "float | None":
    """``value`` as a float when it is a real number (int, float, or their text) in ``[low, high]``; else None.

    Booleans are not numbers here; NaN, infinities and integers too big for
    a float are None, never an exception.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (ValueError, OverflowError):
        return None
    if not math.isfinite(number) or not low <= number <= high:
        return None
    return number
