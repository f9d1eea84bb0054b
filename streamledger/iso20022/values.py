"""ISO 20022 simple types (ISODateTime, ISODate, amounts) as Python values.

Event time drives windows and ordering downstream, so every timestamp leaves here timezone-aware in
UTC. ISODateTime allows a local time without an offset; such a value is taken as UTC. That is a
choice, not a fact — the sender's local zone is unknowable from the message — and UTC keeps the
same input mapping to the same instant on every machine, which matters more for replay than
guessing a zone.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from streamledger.iso20022.errors import MalformedMessageError

# ISODate may legally carry a zone suffix ("2024-03-01Z", "2024-03-01+02:00"); the calendar day is
# what matters for a settlement date, so the suffix is dropped.
_ISO_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})(?:Z|[+-]\d{2}:\d{2})?")


def to_utc_datetime(text: str) -> datetime:
    """Parse an ISODateTime; a value without an offset is taken as UTC (see module docstring)."""
    value = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as error:
        raise MalformedMessageError(f"{text!r} is not an ISO 8601 date-time") from error
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def to_date(text: str) -> date:
    """Parse an ISODate, ignoring a zone suffix."""
    match = _ISO_DATE.fullmatch(text)
    if match is None:
        raise MalformedMessageError(f"{text!r} is not an ISO 8601 date")
    try:
        return date.fromisoformat(match.group(1))
    except ValueError as error:
        raise MalformedMessageError(f"{text!r} is not a calendar date") from error


def to_amount(text: str) -> Decimal:
    """Parse a decimal amount exactly (never through float: money must not drift)."""
    try:
        amount = Decimal(text)
    except InvalidOperation as error:
        raise MalformedMessageError(f"{text!r} is not a decimal amount") from error
    if not amount.is_finite():
        raise MalformedMessageError(f"{text!r} is not a finite amount")
    return amount
