"""Calendar arithmetic on UTC epoch milliseconds (months are calendar months, not 30 days)."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime

DAY_MS = 24 * 3600 * 1000


def to_datetime(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def to_ms(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)


def add_months(ms: int, months: int) -> int:
    """``ms`` moved by ``months`` calendar months; the day is clamped (31 Jan + 1 month = 28/29 Feb)."""
    moment = to_datetime(ms)
    index = moment.year * 12 + (moment.month - 1) + months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return to_ms(moment.replace(year=year, month=month + 1, day=day))


def month_key(ms: int) -> str:
    """The UTC calendar month of an instant, as ``YYYY-MM``."""
    moment = to_datetime(ms)
    return f"{moment.year:04d}-{moment.month:02d}"


def month_start_ms(key: str) -> int:
    """First millisecond of the month ``YYYY-MM`` (UTC)."""
    year, month = _parse_month(key)
    return to_ms(datetime(year, month, 1, tzinfo=UTC))


def month_end_ms(key: str) -> int:
    """First millisecond *after* the month ``YYYY-MM`` (exclusive end)."""
    return add_months(month_start_ms(key), 1)


def next_month(key: str) -> str:
    return month_key(month_end_ms(key))


def _parse_month(key: str) -> tuple[int, int]:
    parts = key.split("-")
    if len(parts) != 2 or not all(p.isdigit() for p in parts) or len(parts[0]) != 4 or len(parts[1]) != 2:
        raise ValueError(f"month must be YYYY-MM, got {key!r}")
    year, month = int(parts[0]), int(parts[1])
    if not 1 <= month <= 12:
        raise ValueError(f"month must be YYYY-MM, got {key!r}")
    return year, month


def parse_instant(text: str) -> int:
    """ISO-8601 instant with an explicit offset (``2026-06-01T00:00:00Z``) to epoch millis."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"instant {text!r} has no UTC offset")
    return to_ms(moment)
