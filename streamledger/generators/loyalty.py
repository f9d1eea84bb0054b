"""Realistic input for the loyalty job: a mixed stream of member events, with its awkward cases.

Deterministic for a given seed and pure (:func:`loyalty_events` touches no Kafka; :func:`produce`
writes its records to a topic): each record carries the key (member ID), the Avro single-object
value, the Kafka timestamp (= event time) and the event itself, so a test or a benchmark can
recompute the expected output from what it produced.

The mix: members of four travel profiles (business flyers, leisure travellers, hotel regulars, card
spenders) plus a few status matches; flights by fare class on real routes, hotel stays, partner
purchases and card spend in several currencies (a few in a currency the rules do not know);
cancellations, some arriving *before* the activity they cancel (the activity is held back and
delivered late); redemptions, some above the balance; manual adjustments; profile changes;
late events (event time hours or days in the past) and redelivered duplicates (same bytes).
All contact data is fictitious (example.com/.org/.net addresses, UK drama-range phone numbers).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from operators.loyalty.events import (
    SCHEMA_NAME,
    Activity,
    ActivityCancelled,
    CardSpend,
    FlightFlown,
    HotelStay,
    LoyaltyEvent,
    ManualAdjustment,
    MemberEnrolled,
    PartnerPurchase,
    ProfileChanged,
    RedemptionRequested,
    event_to_record,
)
from operators.loyalty.pii import Address
from schemas import AvroCodec
from streamledger.config import Settings
from streamledger.generators import postings

_START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
_HOUR_MS = 3_600_000
_DAY_MS = 24 * _HOUR_MS

_ROUTES = (
    ("CDG", "JFK", 3625),
    ("LHR", "SIN", 6765),
    ("FRA", "MAD", 883),
    ("AMS", "BCN", 770),
    ("CDG", "NCE", 429),
    ("LHR", "DXB", 3414),
    ("MUC", "ORD", 4548),
    ("ZRH", "HND", 6035),
    ("CPH", "ARN", 341),
    ("LIS", "GRU", 4919),
)
_CURRENCY_OF_AIRPORT = {"JFK": "USD", "ORD": "USD", "SIN": "SGD", "DXB": "AED", "HND": "JPY", "ARN": "SEK"}
_FARES = {
    "business": ("J", "J", "C", "D", "W", "Y", "B", "F"),
    "leisure": ("L", "Q", "T", "V", "K", "M", "H", "Y"),
    "hotel": ("Y", "M", "K", "L", "Q"),
    "card": ("T", "V", "L"),
}
#: (flight, hotel, partner, card) weights per profile
_ACTIVITY_MIX = {
    "business": (6, 3, 1, 2),
    "leisure": (3, 2, 2, 3),
    "hotel": (1, 6, 1, 2),
    "card": (1, 1, 3, 8),
}
_PROFILE_WEIGHTS = (("business", 3), ("leisure", 5), ("hotel", 2), ("card", 3))
_ACTIVITY_RATE = {"business": 6, "leisure": 2, "hotel": 3, "card": 4}
_PARTNERS = (
    ("CARRENT", "EUR"),
    ("DRIVEWAY", "USD"),
    ("RAILCO", "EUR"),
    ("WINECELLAR", "EUR"),
    ("SKYSHOP", "GBP"),
)
_CARD_CURRENCIES = ("EUR", "EUR", "EUR", "EUR", "USD", "GBP", "CHF", "JPY")
_UNKNOWN_CURRENCY = "KZT"  # not in the rates table: those records must be rejected with a reason
_FIRST = (
    "Jane",
    "Omar",
    "Lucia",
    "Pieter",
    "Aiko",
    "Fatima",
    "Lars",
    "Chloé",
    "Rahul",
    "Sofia",
    "Tomasz",
    "Mei",
)
_LAST = (
    "Doe",
    "Haddad",
    "Rossi",
    "de Vries",
    "Tanaka",
    "Benali",
    "Nilsson",
    "Martin",
    "Iyer",
    "Costa",
    "Nowak",
)
_DOMAINS = ("example.com", "example.org", "example.net")
_STREETS = ("High Street", "Rue de la Paix", "Hauptstraße", "Calle Mayor", "Strandvejen", "Via Roma")
_CITIES = (
    ("London", "GB"),
    ("Paris", "FR"),
    ("Berlin", "DE"),
    ("Madrid", "ES"),
    ("Copenhagen", "DK"),
    ("Rome", "IT"),
)


@dataclass(frozen=True)
class LoyaltyRecord:
    """One record as produced: Kafka key/value/timestamp and the event it encodes."""

    key: bytes
    value: bytes
    timestamp_ms: int
    event: LoyaltyEvent


@dataclass
class _Member:
    member_id: str
    index: int
    profile: str
    enrolled: bool = False
    activities: list[str] = field(default_factory=list)
    contact_version: int = 0


def loyalty_events(
    *,
    members: int,
    events: int,
    seed: int = 11,
    start_ms: int = _START_MS,
    span_days: int = 450,
    duplicate_rate: float = 0.02,
    late_rate: float = 0.05,
    cancel_rate: float = 0.05,
    cancel_first_share: float = 0.35,
    redemption_rate: float = 0.07,
    adjustment_rate: float = 0.02,
    profile_change_rate: float = 0.03,
    unknown_currency_rate: float = 0.005,
    status_match_rate: float = 0.05,
) -> Iterator[LoyaltyRecord]:
    """Yield ``events`` records over ``members`` members, spread over ``span_days`` of event time.

    A member's first record is always their enrolment. ``cancel_first_share`` of the cancellations
    are delivered before their activity (which follows within a few dozen records, late).
    """
    if members < 1 or events < 0:
        raise ValueError("members must be positive and events non-negative")
    rng = random.Random(seed)
    codec = AvroCodec(SCHEMA_NAME)
    people = [_Member(f"mbr-{seed}-{i:06d}", i, _weighted(rng, _PROFILE_WEIGHTS)) for i in range(members)]
    weights = [_ACTIVITY_RATE[m.profile] for m in people]
    mean_step = max(1, span_days * _DAY_MS // max(events, 1))
    clock = start_ms
    recent: list[LoyaltyRecord] = []
    held: list[tuple[int, LoyaltyRecord]] = []  # (release at record number, record)
    produced = 0
    serial = 0

    def record(event: LoyaltyEvent) -> LoyaltyRecord:
        made = LoyaltyRecord(
            event.member_id.encode(), codec.encode(event_to_record(event)), event.event_time_ms, event
        )
        recent.append(made)
        del recent[:-200]
        return made

    while produced < events:
        clock += rng.randint(1, 2 * mean_step)
        if held and (held[0][0] <= produced or events - produced <= len(held)):
            yield held.pop(0)[1]
            produced += 1
            continue
        if recent and rng.random() < duplicate_rate:
            yield rng.choice(recent[-50:])
            produced += 1
            continue
        serial += 1
        event_id = f"lyl-{seed}-{serial:09d}"
        member = rng.choices(people, weights)[0]
        when = clock - (rng.randint(60_000, 2 * _DAY_MS) if rng.random() < late_rate else 0)
        if not member.enrolled:
            member.enrolled = True
            yield record(_enrolment(rng, member, event_id, clock, status_match_rate))
            produced += 1
            continue
        roll = rng.random()
        event: LoyaltyEvent
        if roll < profile_change_rate:
            event = _profile_change(rng, member, event_id, when)
        elif roll < profile_change_rate + redemption_rate:
            kind = "UPGRADE" if rng.random() < 0.25 else "AWARD"
            points = rng.choice((1000, 2500, 5000, 7500, 10000, 15000, 25000, 40000))
            if kind == "UPGRADE":
                points = max(points, 5000)
            event = RedemptionRequested(
                event_id, member.member_id, when, kind, points, f"AWD{rng.randint(0, 10**6):06d}"
            )
        elif roll < profile_change_rate + redemption_rate + adjustment_rate:
            points = rng.choice((1, 1, 1, -1)) * rng.choice((100, 250, 500, 1000, 2500))
            reason = "MISSING_CREDIT" if points > 0 else rng.choice(("CORRECTION", "FRAUD"))
            event = ManualAdjustment(
                event_id,
                member.member_id,
                when,
                f"agent-{rng.randint(1, 40):03d}",
                reason,
                points,
                note=f"case {rng.randint(10**5, 10**6)} per call with member",
            )
        elif (
            roll < profile_change_rate + redemption_rate + adjustment_rate + cancel_rate and member.activities
        ):
            if rng.random() < cancel_first_share:
                # The booking is cancelled before its activity record is delivered: emit the
                # cancellation now and hold the (earlier) activity back for a few records.
                activity = _activity(rng, member, event_id, clock - rng.randint(_HOUR_MS, 3 * _DAY_MS), 0.0)
                serial += 1
                cancel_id = f"lyl-{seed}-{serial:09d}"
                event = ActivityCancelled(cancel_id, member.member_id, clock, activity.event_id, "CANCELLED")
                held.append((produced + rng.randint(1, 30), record(activity)))
                held.sort(key=lambda item: item[0])
                recent.pop()  # a held record is not "already delivered": do not duplicate it yet
            else:
                original = member.activities.pop(rng.randrange(len(member.activities)))
                event = ActivityCancelled(
                    event_id,
                    member.member_id,
                    when,
                    original,
                    rng.choice(("CANCELLED", "REFUNDED", "CHARGEBACK")),
                )
        else:
            event = _activity(rng, member, event_id, when, unknown_currency_rate)
            member.activities.append(event.event_id)
            del member.activities[:-40]
        yield record(event)
        produced += 1


def _weighted(rng: random.Random, options: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([o for o, _ in options], [w for _, w in options])[0]


def _enrolment(
    rng: random.Random, member: _Member, event_id: str, when: int, status_match_rate: float
) -> MemberEnrolled:
    first, last = _FIRST[member.index % len(_FIRST)], _LAST[(member.index * 7) % len(_LAST)]
    status = rng.choice(("GOLD", "PLATINUM", "SILVER")) if rng.random() < status_match_rate else None
    return MemberEnrolled(
        event_id,
        member.member_id,
        when,
        first_name=first,
        last_name=last,
        email=_email(first, last, member, rng),
        phone=_phone(member, 0) if rng.random() < 0.8 else None,
        address=_address(member, rng) if rng.random() < 0.7 else None,
        status_match_tier=status,
    )


def _profile_change(rng: random.Random, member: _Member, event_id: str, when: int) -> ProfileChanged:
    member.contact_version += 1
    first, last = _FIRST[member.index % len(_FIRST)], _LAST[(member.index * 7) % len(_LAST)]
    which = rng.randrange(3)
    return ProfileChanged(
        event_id,
        member.member_id,
        when,
        email=_email(first, last, member, rng) if which == 0 else None,
        phone=_phone(member, member.contact_version) if which == 1 else None,
        address=_address(member, rng) if which == 2 else None,
    )


def _email(first: str, last: str, member: _Member, rng: random.Random) -> str:
    local = f"{first}.{last}".lower().replace(" ", "").replace("é", "e")
    return f"{local}.{member.index}v{member.contact_version}@{rng.choice(_DOMAINS)}"


def _phone(member: _Member, version: int) -> str:
    # Ofcom reserves 07700 900000-900999 for drama: never a real subscriber.
    return f"+44 7700 900{(member.index * 13 + version) % 1000:03d}"


def _address(member: _Member, rng: random.Random) -> Address:
    city, country = rng.choice(_CITIES)
    return Address(
        lines=(f"{rng.randint(1, 240)} {rng.choice(_STREETS)}", f"Flat {member.index % 90 + 1}"),
        city=city,
        postal_code=f"{rng.randint(10000, 99999)}",
        country=country,
    )


def _activity(rng: random.Random, member: _Member, event_id: str, when: int, unknown_rate: float) -> Activity:
    kind = rng.choices(("flight", "hotel", "partner", "card"), _ACTIVITY_MIX[member.profile])[0]
    mid = member.member_id
    if kind == "flight":
        origin, destination, miles = rng.choice(_ROUTES)
        if rng.random() < 0.5:
            origin, destination = destination, origin
        return FlightFlown(
            event_id,
            mid,
            when,
            "SL",
            f"SL{rng.randint(1, 999)}",
            origin,
            destination,
            rng.choice(_FARES[member.profile]),
            miles,
        )
    currency = "EUR"
    if rng.random() < unknown_rate:
        currency = _UNKNOWN_CURRENCY
    if kind == "hotel":
        nights = rng.choice((1, 1, 2, 2, 3, 4, 7))
        _, city, _ = rng.choice(_ROUTES)
        if currency == "EUR":
            currency = _CURRENCY_OF_AIRPORT.get(city, "EUR")
        per_night = rng.randint(90, 420) * (150 if currency == "JPY" else 1)
        minor = 1 if currency == "JPY" else 100
        return HotelStay(
            event_id,
            mid,
            when,
            f"HTL-{city}-{rng.randint(1, 20):02d}",
            nights,
            nights * per_night * minor,
            currency,
        )
    if kind == "partner":
        partner, partner_currency = rng.choice(_PARTNERS)
        amount = int(rng.lognormvariate(4.2, 0.8) * 100)
        return PartnerPurchase(
            event_id,
            mid,
            when,
            partner,
            max(amount, 100),
            partner_currency if currency == "EUR" else currency,
            f"{partner[:3]}-{rng.randint(0, 10**8):08d}",
        )
    if currency == "EUR":
        currency = rng.choice(_CARD_CURRENCIES)
    amount = max(int(rng.lognormvariate(3.6, 1.0) * 100), 50)
    if currency == "JPY":
        amount = amount * 150 // 100
    return CardSpend(
        event_id, mid, when, amount, currency, rng.choice(("5411", "5812", "4111", "5999", None))
    )


def produce(settings: Settings, topic: str, records: Iterable[LoyaltyRecord]) -> list[LoyaltyRecord]:
    """Produce records (idempotent producer, acks=all) in order, record timestamp = event time,
    the one way every generator produces (:func:`streamledger.generators.postings.produce`)."""
    return postings.produce(settings, topic, records)
