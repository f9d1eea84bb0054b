"""What the logic baselines read: each job's input as JSON, and the logic's parameters.

Everything here comes from the job's own code — its Avro codecs and event types, the ISO 20022
parser and the lifecycle's grading table, the loyalty rules, the fraud rules the bench publishes
— so a baseline runs the job's configuration, not a copy of it. The JSON keeps each record's key
and timestamp; a record the job would refuse keeps its bytes, so the baselines drop it as
corrupt input the way the job dead-letters it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from typing import Any

from operators.loyalty.rules import EarnRule, Rules
from streamledger.bench import baseline_logic
from streamledger.bench.workloads import BenchRecord
from streamledger.config import Settings


def json_postings(records: Sequence[BenchRecord]) -> list[BenchRecord]:
    """The postings JSON-encoded (same key and timestamp); undecodable records keep their bytes."""
    from operators.account_balance import Posting
    from schemas import AvroCodec, UndecodableMessageError

    codec = AvroCodec("ledger.Posting")
    encoded: list[BenchRecord] = []
    for record in records:
        try:
            posting = Posting.from_record(codec.decode(record.value))
            body = json.dumps(dataclasses.asdict(posting), sort_keys=True).encode()
        except UndecodableMessageError:
            body = record.value
        encoded.append(dataclasses.replace(record, value=body))
    return encoded


def json_loyalty_events(records: Sequence[BenchRecord]) -> list[BenchRecord]:
    """Loyalty events JSON-encoded with the fields the loyalty-balance logic reads (no contact
    data; same key and timestamp); undecodable records keep their bytes."""
    from operators.loyalty import SCHEMA_NAME, event_from_record
    from schemas import AvroCodec, UndecodableMessageError

    codec = AvroCodec(SCHEMA_NAME)
    encoded: list[BenchRecord] = []
    for record in records:
        try:
            event = event_from_record(codec.decode(record.value))
        except UndecodableMessageError:
            encoded.append(record)
            continue
        fields = {name: getattr(event, name) for name in _LOYALTY_JSON_FIELDS if hasattr(event, name)}
        if hasattr(event, "spend_minor"):  # a hotel stay's amount
            fields["amount_minor"] = event.spend_minor
        body = {"event_id": event.event_id, "member_id": event.member_id, "event_type": event.event_type}
        encoded.append(dataclasses.replace(record, value=json.dumps(body | fields, sort_keys=True).encode()))
    return encoded


#: Event fields the loyalty-balance logic reads, besides the IDs and the type.
_LOYALTY_JSON_FIELDS = (
    "fare_class",
    "distance_miles",
    "partner_id",
    "amount_minor",
    "currency",
    "points",
    "original_event_id",
)


def json_payment_events(records: Sequence[BenchRecord]) -> list[BenchRecord]:
    """One JSON row per payment each ISO 20022 message speaks about, keyed by payment ID: the
    message ID (the de-duplication key), the evidence the job's grading gives the message and its
    event time. Parsed and graded here, untimed: Flink SQL cannot parse XML. A message the parser
    refuses keeps its bytes (the baselines drop it as corrupt)."""
    from operators.payment_lifecycle.status import evidence_of
    from operators.payment_lifecycle.timeline import entry_of
    from streamledger.iso20022 import Iso20022Error, parse_message

    rows: list[BenchRecord] = []
    for record in records:
        try:
            events = parse_message(record.value).events
        except Iso20022Error:
            rows.append(record)
            continue
        for event in events:
            body = {
                "event_id": f"{event.message_id}|{event.payment_id}",
                "payment_id": event.payment_id,
                "evidence": int(evidence_of(entry_of(event))),
                "event_time_ms": int(event.event_time.timestamp() * 1000),
            }
            key = event.payment_id.encode()
            rows.append(BenchRecord(key, json.dumps(body, sort_keys=True).encode(), record.timestamp_ms, ()))
    return rows


def json_fraud_events(records: Sequence[BenchRecord]) -> list[BenchRecord]:
    """Fraud events JSON-encoded with the fields the two baseline rules read (same key and
    timestamp); undecodable or invalid records keep their bytes."""
    from operators.cep.fraud_wire import InvalidFraudEventError, event_from_record
    from schemas import AvroCodec, UndecodableMessageError

    codec = AvroCodec("fraud.FraudEvent")
    encoded: list[BenchRecord] = []
    for record in records:
        try:
            event = event_from_record(codec.decode(record.value))
        except (UndecodableMessageError, InvalidFraudEventError):
            encoded.append(record)
            continue
        body = {
            "event_id": event.event_id,
            "customer": event.key,
            "kind": event.kind.value,
            "timestamp_ms": event.timestamp_ms,
            "amount_minor": event.amount_minor,
            "creditor": event.creditor,
        }
        encoded.append(dataclasses.replace(record, value=json.dumps(body, sort_keys=True).encode()))
    return encoded


JSON_INPUT: dict[str, Callable[[Sequence[BenchRecord]], list[BenchRecord]]] = {
    baseline_logic.ACCOUNT_BALANCES: json_postings,
    baseline_logic.LOYALTY_ACCRUAL: json_loyalty_events,
    baseline_logic.PAYMENT_LIFECYCLE: json_payment_events,
    baseline_logic.FRAUD_CEP: json_fraud_events,
}


def loyalty_earn_table(rules: Rules) -> dict[str, Any]:
    """The rules' base earn rates as the loyalty-balance logic takes them (floats: a baseline
    measures speed, not cents): points per mile by fare class, per programme-currency unit for
    hotel, partner and card spend, and the programme-currency value of one minor unit per currency."""

    def rates(activity: str) -> list[EarnRule]:
        return [r for r in rules.earn if r.activity == activity]

    return {
        "flight": {
            fare: float(r.points_per_unit) for r in rates("FLIGHT") for fare in sorted(r.fare_classes)
        },
        "hotel": float(rates("HOTEL")[0].points_per_unit),
        "partner": {p: float(r.points_per_unit) for r in rates("PARTNER") for p in sorted(r.partners)},
        "card": float(rates("CARD")[0].points_per_unit),
        "fx": {c.code: float(c.rate.scaleb(-c.minor_units)) for c in rules.currencies},
    }


def _earn_table(settings: Settings) -> dict[str, Any]:
    """The earn table of the rules the loyalty job of ``settings`` runs with."""
    from jobs.loyalty_accrual import configured_rules

    return loyalty_earn_table(configured_rules(settings))


def payment_status_names() -> dict[str, str]:
    """Status name per evidence grade for the payment logic (grade as a string: JSON keys). A
    grade that is not a status of its own (nothing, the cancellation case) means a bank holds the
    payment: ACCEPTED, as the job's last precedence rule says."""
    from operators.payment_lifecycle.status import Evidence, PaymentStatus

    return {
        str(int(e)): PaymentStatus[e.name].value if e.name in PaymentStatus.__members__ else "ACCEPTED"
        for e in Evidence
    }


def fraud_rule_params() -> dict[str, int]:
    """The thresholds of the two rules the fraud logic runs, from the generator's default rules
    (the rules the bench publishes to the job)."""
    from streamledger.generators import fraud

    rules = {r["type"]: r["parameters"] for r in fraud.default_rules()}
    velocity, test = rules["payment_velocity"], rules["test_then_large_payment"]
    return {
        "velocity_min_payments": velocity["min_payments"],
        "velocity_min_amount_minor": velocity["min_amount_minor"],
        "velocity_within_ms": velocity["within_ms"],
        "small_max_minor": test["small_max_minor"],
        "large_min_minor": test["large_min_minor"],
        "test_within_ms": test["within_ms"],
    }


def logic_params(job: str | None, settings: Settings) -> tuple[str, dict[str, Any]]:
    """The logic the baselines run beside ``job`` and its parameters, from the job's own
    configuration (``settings``: the run's)."""
    logic = job or baseline_logic.ACCOUNT_BALANCES
    if logic == baseline_logic.LOYALTY_ACCRUAL:
        return logic, _earn_table(settings)
    if logic == baseline_logic.PAYMENT_LIFECYCLE:
        return logic, {"statuses": payment_status_names()}
    if logic == baseline_logic.FRAUD_CEP:
        return logic, fraud_rule_params()
    return logic, {}
