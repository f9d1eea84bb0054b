"""Events as JSON-safe dictionaries, for the CLI and for producing to Kafka.

Amounts travel as decimal strings (``"1250.50"``, never a float, never exponent notation) so no
consumer can lose a cent; timestamps as ISO 8601 in UTC with a ``Z`` suffix; dates as
``YYYY-MM-DD``. Every field of :class:`PaymentEvent` is present, ``None`` included, so consumers can
rely on the key set.

.. warning:: The dictionary still holds the raw PII fields (names, accounts) of the event.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from decimal import Decimal
from enum import Enum

from streamledger.iso20022.events import PaymentEvent

JsonValue = str | bool | None


def json_value(value: object) -> JsonValue:
    """The JSON form of one event value (see the module docstring for the formats)."""
    if isinstance(value, Enum):  # before str: EventType is a str subclass
        return str(value.value)
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"no JSON form for {type(value).__name__}")


def event_to_json_dict(event: PaymentEvent) -> dict[str, JsonValue]:
    """All fields of ``event`` as JSON-safe values (see the module docstring for the formats)."""
    return {field.name: json_value(getattr(event, field.name)) for field in dataclasses.fields(event)}
