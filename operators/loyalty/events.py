"""Member events of the loyalty programme, and their mapping to the Avro envelope.

All event types share one topic and one Avro schema, ``io.streamledger.loyalty.LoyaltyEvent``
(``schemas/loyalty.LoyaltyEvent.avsc``): common header fields (``event_id``, ``member_id``,
``event_time``), an ``event_type`` enum and a ``payload`` union with one record per type. One
envelope schema is what a Kafka topic with mixed event types needs here: the member's events stay
on one partition in order, and every message carries the same single-object fingerprint, which is
the one the reader checks. ``event_type`` picks the union branch on write and is checked against
the payload on read.

Fields holding contact data are excluded from ``repr``: a logged event shows no PII.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from operators.account_balance import to_epoch_millis
from operators.loyalty.pii import Address
from schemas import UndecodableMessageError

SCHEMA_NAME = "loyalty.LoyaltyEvent"
_NAMESPACE = "io.streamledger.loyalty"


@dataclass(frozen=True, slots=True)
class MemberEnrolled:
    event_type: ClassVar[str] = "MEMBER_ENROLLED"
    event_id: str
    member_id: str
    event_time_ms: int
    first_name: str = field(repr=False)
    last_name: str = field(repr=False)
    email: str = field(repr=False)
    phone: str | None = field(default=None, repr=False)
    address: Address | None = field(default=None, repr=False)
    status_match_tier: str | None = None


@dataclass(frozen=True, slots=True)
class ProfileChanged:
    event_type: ClassVar[str] = "PROFILE_CHANGED"
    event_id: str
    member_id: str
    event_time_ms: int
    email: str | None = field(default=None, repr=False)
    phone: str | None = field(default=None, repr=False)
    address: Address | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class FlightFlown:
    event_type: ClassVar[str] = "FLIGHT_FLOWN"
    activity: ClassVar[str] = "FLIGHT"
    event_id: str
    member_id: str
    event_time_ms: int
    marketing_carrier: str
    flight_number: str
    origin: str
    destination: str
    fare_class: str
    distance_miles: int


@dataclass(frozen=True, slots=True)
class HotelStay:
    event_type: ClassVar[str] = "HOTEL_STAY"
    activity: ClassVar[str] = "HOTEL"
    event_id: str
    member_id: str
    event_time_ms: int
    property_id: str
    nights: int
    spend_minor: int
    currency: str


@dataclass(frozen=True, slots=True)
class PartnerPurchase:
    event_type: ClassVar[str] = "PARTNER_PURCHASE"
    activity: ClassVar[str] = "PARTNER"
    event_id: str
    member_id: str
    event_time_ms: int
    partner_id: str
    amount_minor: int
    currency: str
    partner_reference: str | None = None


@dataclass(frozen=True, slots=True)
class CardSpend:
    event_type: ClassVar[str] = "CARD_SPEND"
    activity: ClassVar[str] = "CARD"
    event_id: str
    member_id: str
    event_time_ms: int
    amount_minor: int
    currency: str
    merchant_category_code: str | None = None


@dataclass(frozen=True, slots=True)
class ActivityCancelled:
    event_type: ClassVar[str] = "ACTIVITY_CANCELLED"
    event_id: str
    member_id: str
    event_time_ms: int
    original_event_id: str
    kind: str = "CANCELLED"


@dataclass(frozen=True, slots=True)
class RedemptionRequested:
    event_type: ClassVar[str] = "REDEMPTION_REQUESTED"
    event_id: str
    member_id: str
    event_time_ms: int
    kind: str
    points: int
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class ManualAdjustment:
    event_type: ClassVar[str] = "MANUAL_ADJUSTMENT"
    event_id: str
    member_id: str
    event_time_ms: int
    agent_id: str
    reason_code: str
    points: int
    note: str | None = field(default=None, repr=False)


Activity = FlightFlown | HotelStay | PartnerPurchase | CardSpend
LoyaltyEvent = (
    MemberEnrolled
    | ProfileChanged
    | FlightFlown
    | HotelStay
    | PartnerPurchase
    | CardSpend
    | ActivityCancelled
    | RedemptionRequested
    | ManualAdjustment
)

_HEADER = ("event_id", "member_id", "event_time_ms")

#: event_type -> (class, Avro record name of its payload)
_TYPES: dict[str, tuple[type[Any], str]] = {
    cls.event_type: (cls, name)
    for cls, name in (
        (MemberEnrolled, "MemberEnrolled"),
        (ProfileChanged, "ProfileChanged"),
        (FlightFlown, "FlightFlown"),
        (HotelStay, "HotelStay"),
        (PartnerPurchase, "PartnerPurchase"),
        (CardSpend, "CardSpend"),
        (ActivityCancelled, "ActivityCancelled"),
        (RedemptionRequested, "RedemptionRequested"),
        (ManualAdjustment, "ManualAdjustment"),
    )
}

EVENT_TYPES = tuple(_TYPES)


def event_to_record(event: LoyaltyEvent) -> dict[str, Any]:
    """The Avro record of an event (the payload branch named explicitly, as fastavro's tuple form)."""
    payload: dict[str, Any] = {}
    for spec in fields(event):
        if spec.name in _HEADER:
            continue
        name, value = spec.name, getattr(event, spec.name)
        payload[name] = _address_record(value) if isinstance(value, Address) else value
    _, record_name = _TYPES[event.event_type]
    return {
        "event_id": event.event_id,
        "member_id": event.member_id,
        "event_time": event.event_time_ms,
        "event_type": event.event_type,
        "payload": (f"{_NAMESPACE}.{record_name}", payload),
    }


def event_from_record(record: dict[str, Any]) -> LoyaltyEvent:
    """Build the typed event from a decoded envelope; a payload not matching ``event_type`` is undecodable."""
    event_type = record["event_type"]
    if event_type not in _TYPES:
        raise UndecodableMessageError("UNDECODABLE", f"unknown loyalty event_type {event_type!r}")
    cls, record_name = _TYPES[event_type]
    payload = record["payload"]
    expected = {spec.name for spec in fields(cls) if spec.name not in _HEADER}
    if not isinstance(payload, dict) or set(payload) != expected:
        raise UndecodableMessageError(
            "UNDECODABLE",
            f"event {record['event_id']}: payload is not a {record_name} (event_type {event_type})",
        )
    values = {
        name: _address(value) if name == "address" and value is not None else value
        for name, value in payload.items()
    }
    event: LoyaltyEvent = cls(
        event_id=record["event_id"],
        member_id=record["member_id"],
        event_time_ms=to_epoch_millis(record["event_time"]),
        **values,
    )
    return event


def _address_record(address: Address) -> dict[str, Any]:
    return {
        "lines": list(address.lines),
        "city": address.city,
        "postal_code": address.postal_code,
        "country": address.country,
    }


def _address(record: dict[str, Any]) -> Address:
    return Address(
        lines=tuple(record["lines"]),
        city=record["city"],
        postal_code=record["postal_code"],
        country=record["country"],
    )
