"""What the console's pages show, worked out from the pool's rows and the history: plain values for templates.

Pure functions of their inputs and ``now`` (no request, no I/O), so each
number a page shows is tested without a browser: an account's card (its
meter, the date its period runs out at this rate, its cooldowns with a
countdown), the traffic charts and the error rate over a span, and the
Requests page's filter choices. Times are shown in the server's local zone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .._history import DAY, HOUR, History, HourRow, RequestRow, hour_of
from ._charts import Chart, stacked_bars

__all__ = ["SPANS", "Traffic", "account_card", "ago", "choices", "clock", "duration", "iso", "traffic", "when"]

#: The spans the overview offers: name -> hours.
SPANS = {"24h": 24, "7d": 7 * 24}
GROUPINGS = ("model", "key", "account")
PERIOD_NAMES = {
    "USAGE_PERIOD_TYPE_DAILY": "daily",
    "USAGE_PERIOD_TYPE_WEEKLY": "weekly",
    "USAGE_PERIOD_TYPE_MONTHLY": "monthly",
}


def _local(at: float) -> datetime:
    return datetime.fromtimestamp(at).astimezone()


def when(at: float | None) -> str:
    """``Tue 14 Oct, 18:05`` in the server's zone (with the zone's name), or an empty string."""
    if at is None:
        return ""
    moment = _local(at)
    return f"{moment:%a %d %b, %H:%M} {moment.tzname() or ''}".strip()


def iso(at: float) -> str:
    """``at`` as an ISO 8601 time with its offset (for ``<time datetime>``)."""
    return _local(at).isoformat(timespec="seconds")


def clock(at: float) -> str:
    return f"{_local(at):%Y-%m-%d %H:%M:%S}"


def duration(seconds: float) -> str:
    """``2 h 5 min``, ``4 min 10 s``, ``12 s``: a span a person reads at a glance."""
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, DAY)
    hours, rest = divmod(rest, HOUR)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


def ago(seconds: float | None) -> str:
    return "" if seconds is None else ("just now" if seconds < 5 else f"{duration(seconds)} ago")


def account_card(row: Mapping[str, Any], now: float) -> dict[str, Any]:
    """One account as the pages show it: who, tier, meter, when it runs out at this rate, cooldowns."""
    percent = row.get("usage_percent")
    period = row.get("usage_period") or {}
    end = _iso_epoch(period.get("end"))
    runs_out = row.get("usage_runs_out_at")
    if not isinstance(percent, (int, float)):
        outlook = "No reading of the usage meter yet."
    elif runs_out is not None:
        outlook = "Full now." if runs_out <= now else f"At this rate it runs out {when(runs_out)}."
    elif end is not None:
        outlook = f"At this rate it lasts the period (which ends {when(end)})."
    else:
        outlook = ""
    cooldowns = [
        {
            "reason": c.get("reason", ""),
            "model": c.get("model"),
            "message": c.get("message", ""),
            "until": c.get("until"),
            "until_text": when(c["until"]) if isinstance(c.get("until"), (int, float)) else "until signed in again",
            "left": duration(c["until"] - now) if isinstance(c.get("until"), (int, float)) else "",
        }
        for c in row.get("cooldowns") or []
    ]
    served = row.get("served") or {}
    return {
        "profile": row["profile"],
        "account": row.get("account") or "unknown",
        "tier": row.get("tier") or "unknown tier",
        "state": row.get("state") or "",
        "percent": percent if isinstance(percent, (int, float)) else None,
        "period": PERIOD_NAMES.get(str(period.get("type")), "current"),
        "read": ago(row.get("usage_age_seconds")),
        "outlook": outlook,
        "runs_out": runs_out,
        "cooldowns": cooldowns,
        "error": row.get("error"),
        "last_error": row.get("last_error"),
        "requests": served.get("requests", 0),
        "tokens": served.get("input_tokens", 0) + served.get("output_tokens", 0),
    }


def _iso_epoch(text: object) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


@dataclass(frozen=True)
class Traffic:
    """The overview's traffic over one span: two charts, the totals per name, and the error rate."""

    span: str
    by: str
    requests: Chart
    tokens: Chart
    totals: list[dict[str, Any]]
    total_requests: int
    errors: int
    error_rate: float | None


def traffic(history: History, span: str, by: str, now: float) -> Traffic:
    """Requests and tokens per hour over ``span`` (``24h`` or ``7d``), stacked ``by`` model, key or account."""
    span = span if span in SPANS else "24h"
    by = by if by in GROUPINGS else "model"
    hours = SPANS[span]
    start = hour_of(now) - (hours - 1) * HOUR
    rows = history.hours(start, by)
    daily = hours > 48

    def tick(hour: int) -> str | None:
        moment = _local(hour)
        if daily:
            return f"{moment:%a %d}" if moment.hour == 0 else None
        return f"{moment:%H:00}" if moment.hour % 3 == 0 else None

    def label(hour: int) -> str:
        return f"{_local(hour):%a %d %b %H:00}"

    def minor(hour: int) -> bool:
        moment = _local(hour)
        return moment.day % 2 == 1 if daily else moment.hour % 6 != 0

    shape = {"start_hour": start, "hours": hours, "hour_label": label, "tick_label": tick, "minor_tick": minor}
    requests = stacked_bars(rows, value=lambda r: r.requests, title="Requests per hour", **shape)  # type: ignore[arg-type]
    tokens = stacked_bars(
        rows,
        value=lambda r: r.input_tokens + r.output_tokens,
        title="Tokens per hour (input and output)",
        **shape,  # type: ignore[arg-type]
    )
    totals = _totals(rows)
    count = sum(t["requests"] for t in totals)
    errors = sum(t["errors"] for t in totals)
    return Traffic(span, by, requests, tokens, totals, count, errors, errors / count if count else None)


def _totals(rows: Iterable[HourRow]) -> list[dict[str, Any]]:
    sums: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = sums.setdefault(
            row.name, {"name": row.name, "requests": 0, "input": 0, "output": 0, "cached": 0, "errors": 0}
        )
        entry["requests"] += row.requests
        entry["input"] += row.input_tokens
        entry["output"] += row.output_tokens
        entry["cached"] += row.cached_tokens
        entry["errors"] += row.errors
    return sorted(sums.values(), key=lambda e: (-e["requests"], e["name"]))


def choices(rows: Iterable[RequestRow]) -> dict[str, list[str]]:
    """The values each filter of the Requests page can take, from the requests kept."""
    found: dict[str, set[str]] = {"client": set(), "account": set(), "model": set(), "status": set()}
    for row in rows:
        found["client"].add(row.client)
        found["account"].add(row.account)
        found["model"].add(row.model)
        found["status"].add(str(row.status))
    return {name: sorted(values) for name, values in found.items()}
