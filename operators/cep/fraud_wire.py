"""``FraudEvent`` <-> the ``fraud.FraudEvent`` Avro record on the ``fraud.events`` topic.

Kept next to the event type so a field added to ``FraudEvent`` has one obvious place to be
mapped; the Avro schema (``schemas/fraud.FraudEvent.avsc``) documents each field.
"""

from __future__ import annotations

from typing import Any

from .fraud_events import EventKind, FraudEvent


class InvalidFraudEventError(ValueError):
    """A record decoded as Avro but does not describe a usable event (e.g. an empty key)."""


def event_to_record(event: FraudEvent) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "key": event.key,
        "kind": event.kind.value,
        "timestamp_ms": event.timestamp_ms,
        "amount_minor": event.amount_minor,
        "creditor": event.creditor,
        "changed_field": event.changed_field,
        "points": event.points,
        "points_balance": event.points_balance,
        "latitude": event.latitude,
        "longitude": event.longitude,
    }


def event_from_record(record: dict[str, Any]) -> FraudEvent:
    """The event a decoded record describes; raises ``InvalidFraudEventError`` for one the rules
    cannot use (no ID or customer, or only half a location)."""
    if not record["event_id"] or not record["key"]:
        raise InvalidFraudEventError("event_id and key must not be empty")
    latitude: float | None = record.get("latitude")
    longitude: float | None = record.get("longitude")
    if latitude is None or longitude is None:
        if latitude is not None or longitude is not None:
            raise InvalidFraudEventError("latitude and longitude must be both set or both null")
    elif not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise InvalidFraudEventError(f"location ({latitude}, {longitude}) is out of range")
    return FraudEvent(
        event_id=record["event_id"],
        key=record["key"],
        kind=EventKind(record["kind"]),
        timestamp_ms=int(record["timestamp_ms"]),
        amount_minor=int(record.get("amount_minor", 0)),
        creditor=record.get("creditor"),
        changed_field=record.get("changed_field"),
        points=int(record.get("points", 0)),
        points_balance=int(record.get("points_balance", 0)),
        latitude=latitude,
        longitude=longitude,
    )
