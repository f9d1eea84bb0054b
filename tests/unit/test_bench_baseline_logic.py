"""The Python baselines' step per job, their JSON input and parameters (no broker).

The loyalty-balance logic is the job's base earn without tiers or promotions, so for a base-tier
member outside any promotion its points must be the core's, event for event.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from operators import loyalty as core
from operators.payment_lifecycle.status import Evidence, PaymentStatus
from schemas import AvroCodec
from streamledger.bench import baseline_inputs, baseline_logic, workloads
from streamledger.bench.baseline_logic import (
    ACCOUNT_BALANCES,
    FRAUD_CEP,
    LOYALTY_ACCRUAL,
    PAYMENT_LIFECYCLE,
    step,
)
from streamledger.bench.workloads import BenchRecord, GeneratorOptions
from streamledger.generators import fraud

RULES = core.load_rules()
EARN = baseline_inputs.loyalty_earn_table(RULES)
CODEC = AvroCodec(core.SCHEMA_NAME)
JANUARY = int(datetime(2026, 1, 20, tzinfo=UTC).timestamp() * 1000)  # no promotion runs then


def _json(event: core.LoyaltyEvent) -> bytes:
    """The event as the loyalty baselines read it: Avro as the job reads it, then the JSON export."""
    record = BenchRecord(event.member_id.encode(), CODEC.encode(core.event_to_record(event)), JANUARY, ())
    return baseline_inputs.json_loyalty_events([record])[0].value


def _run(logic: str, raws: list[bytes], earn: dict[str, Any] | None = None) -> tuple[int, int]:
    """(final balance, outputs written) after feeding ``raws`` to one key's state."""
    state, outputs = None, 0
    for raw in raws:
        state, output = step(logic, state, raw, EARN if earn is None else earn, seen_per_key=100)
        outputs += output is not None
    return (state or {"balance": 0})["balance"], outputs


def test_account_step_sums_each_posting_once_and_drops_corrupt_input() -> None:
    postings = [
        json.dumps({"event_id": f"e{i}", "account_id": "a", "amount_minor": 100 * i}).encode() for i in (1, 2)
    ]
    assert _run(ACCOUNT_BALANCES, [postings[0], postings[1], postings[0], b"\x00not json"], {}) == (300, 2)


@pytest.mark.parametrize(
    "activity",
    [
        core.FlightFlown("f1", "m", JANUARY, "SL", "SL1", "CDG", "JFK", fare, 3625)
        for fare in ("F", "J", "W", "Y", "L")
    ]
    + [
        core.HotelStay("h1", "m", JANUARY, "HTL-1", 2, 30_050, "EUR"),
        core.HotelStay("h2", "m", JANUARY, "HTL-1", 1, 45_000, "USD"),
        core.PartnerPurchase("p1", "m", JANUARY, "RAILCO", 12_345, "GBP"),
        core.CardSpend("c1", "m", JANUARY, 987_654, "JPY"),
    ],
    ids=lambda e: f"{type(e).__name__}-{getattr(e, 'fare_class', getattr(e, 'currency', ''))}",
)
def test_base_earn_equals_the_cores_for_a_base_tier_member(activity: core.LoyaltyEvent) -> None:
    config = core.AccrualConfig(core.PiiKey("test", b"0123456789abcdef0123456789abcdef"))
    enrolled = core.MemberEnrolled("e0", "m", JANUARY - 1000, "Jo", "Doe", "jo@example.com")
    state, _ = core.apply(None, enrolled, RULES, config)
    _, outputs = core.apply(state, activity, RULES, config)
    by_core = sum(o.points for o in outputs if isinstance(o, core.LedgerEntry) and o.kind == "EARN")
    assert by_core > 0
    assert baseline_logic.loyalty_points(json.loads(_json(activity)), EARN) == by_core


def test_loyalty_step_redeems_adjusts_and_takes_back_cancelled_activities_in_either_order() -> None:
    flight = core.FlightFlown("f1", "m", JANUARY, "SL", "SL1", "CDG", "NCE", "Y", 429)
    later = core.FlightFlown("f2", "m", JANUARY, "SL", "SL2", "NCE", "CDG", "Y", 429)
    events = [
        core.MemberEnrolled("e0", "m", JANUARY, "Jo", "Doe", "jo@example.com"),
        flight,
        flight,  # redelivered: counted once
        core.ActivityCancelled("x1", "m", JANUARY, "f1"),  # takes back the 429
        core.ActivityCancelled("x2", "m", JANUARY, "f2"),  # before its activity: f2 earns nothing
        later,
        core.RedemptionRequested("r1", "m", JANUARY, "AWARD", 50),
        core.ManualAdjustment("a1", "m", JANUARY, "agent-1", "GOODWILL", 70),
        core.CardSpend("c1", "m", JANUARY, 10_000, "XXX"),  # unknown currency: earns nothing
    ]
    assert _run(LOYALTY_ACCRUAL, [_json(e) for e in events]) == (20, 8)


def test_loyalty_json_export_keeps_keys_timestamps_and_corrupt_bytes_and_no_contact_data() -> None:
    records = workloads.workload("loyalty-accrual").generate(GeneratorOptions(events=300, keys=20, seed=5))
    encoded = baseline_inputs.json_loyalty_events(records)
    assert [(r.key, r.timestamp_ms) for r in encoded] == [(r.key, r.timestamp_ms) for r in records]
    events = []
    for original, record in zip(records, encoded, strict=True):
        try:
            events.append(json.loads(record.value))
        except ValueError:
            assert record.value == original.value  # corrupt input stays corrupt
    assert len(events) > 250
    assert all(e["member_id"] == r.key.decode() for e, r in zip(events, encoded, strict=False) if e)
    assert {e["event_type"] for e in events} >= {"FLIGHT_FLOWN", "HOTEL_STAY", "ACTIVITY_CANCELLED"}
    exported = {key for e in events for key in e}
    assert not exported & {"first_name", "last_name", "email", "phone", "address"}


# ------------------------------------------------------------------------------------ payment logic
def _payment_rows(payment: str, grades: list[tuple[str, int]]) -> list[bytes]:
    return [
        json.dumps(
            {"event_id": f"{m}|{payment}", "payment_id": payment, "evidence": g, "event_time_ms": i}
        ).encode()
        for i, (m, g) in enumerate(grades)
    ]


def _payment_status(rows: list[bytes]) -> tuple[str, int]:
    params = {"statuses": baseline_inputs.payment_status_names()}
    state, last = None, None
    for raw in rows:
        state, output = step(PAYMENT_LIFECYCLE, state, raw, params, seen_per_key=100)
        last = output or last
    assert last is not None
    return last["status"], last["messages"]


def test_payment_status_is_the_strongest_evidence_in_any_order_and_counts_each_message_once() -> None:
    grades = [("pain001", Evidence.INITIATED), ("pacs008", Evidence.ACCEPTED), ("pacs002", Evidence.SETTLED)]
    rows = _payment_rows("p1", [(m, int(g)) for m, g in grades])
    assert _payment_status(rows) == ("SETTLED", 3)
    assert _payment_status([*reversed(rows), rows[0]]) == ("SETTLED", 3)  # redelivered pain.001
    returned = _payment_rows("p1", [("pacs004", int(Evidence.RETURNED))])
    assert _payment_status([*returned, *rows]) == ("RETURNED", 4)
    # Nothing but a cancellation request: a bank holds the payment (the job's last precedence rule).
    assert _payment_status(_payment_rows("p2", [("camt056", int(Evidence.CANCELLATION_REQUESTED))])) == (
        "ACCEPTED",
        1,
    )


def test_payment_status_names_cover_every_grade_with_a_status_of_the_job() -> None:
    names = baseline_inputs.payment_status_names()
    assert set(names) == {str(int(e)) for e in Evidence}
    assert set(names.values()) == set(PaymentStatus)  # every status is reachable


def test_payment_json_rows_are_one_per_payment_of_each_parsed_message() -> None:
    records = workloads.workload("payment-lifecycle").generate(GeneratorOptions(events=300, keys=0, seed=5))
    rows = baseline_inputs.json_payment_events(records)
    parsed = [json.loads(r.value) for r in rows if r.value.startswith(b"{")]
    assert len(parsed) >= sum(len(r.ids) for r in records) > 250
    by_id: dict[str, list[dict[str, Any]]] = {}
    for row in parsed:
        by_id.setdefault(row["event_id"], []).append(row)
    assert len(by_id) < len(parsed)  # the generator redelivers messages ...
    assert all(rows == rows[:1] * len(rows) for rows in by_id.values())  # ... and only those share an ID
    assert all(r.key.decode() == json.loads(r.value)["payment_id"] for r in rows if r.value.startswith(b"{"))
    refused = [r for r in rows if not r.value.startswith(b"{")]
    assert refused and all(r in records for r in refused)  # refused messages stay as they were


# -------------------------------------------------------------------------------------- fraud logic
def test_fraud_step_finds_the_jobs_alerts_of_its_two_rules_for_input_in_event_time_order() -> None:
    """The baseline runs two of the job's rules in arrival order; given its input in timestamp order,
    its alerts are the reference's (the job's NFA over those two rules)."""
    events = fraud.fraud_events(customers=60, events=3000, seed=11)
    rules = [r for r in fraud.default_rules() if r["type"] in ("payment_velocity", "test_then_large_payment")]
    expected = sorted(
        (a.rule_id, a.key, a.event_times[0], a.event_times[-1])
        for a in fraud.reference_alerts(events, [fraud.Interval(rule, 0) for rule in rules])
    )
    params = baseline_inputs.fraud_rule_params()
    records = fraud.to_records(sorted(events, key=lambda e: e.timestamp_ms), seed=11, corrupt_rate=0.0)
    state: dict[bytes, Any] = {}
    found = []
    for row in baseline_inputs.json_fraud_events(
        [BenchRecord(r.key, r.value, r.timestamp_ms, ()) for r in records]
    ):
        state[row.key], output = step(FRAUD_CEP, state.get(row.key), row.value, params, seen_per_key=100)
        found += [
            (a["rule"], output["customer"], a["first_ms"], a["last_ms"])
            for a in (output or {}).get("alerts", [])
        ]
    assert len(expected) > 20 and {rule for rule, *_ in expected} == {"velocity", "test-then-large"}
    assert sorted(found) == expected
