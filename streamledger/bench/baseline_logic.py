"""The business logic of the bench's Python baselines (naive PyFlink, Quix Streams): one step per
input record against one JSON-able state value per key, the way a first implementation is written.

Both baselines call the same step, so their numbers differ by the engine alone. Standard library
only: the Quix Streams baseline imports this module in its own virtualenv (its confluent-kafka pin
conflicts with the project's), where nothing else of the project is installed. Whatever a logic
needs from the job's configuration (earn rates, rule thresholds, status names) arrives as a JSON
``params`` mapping the harness builds from the job's own code.

One logic per job; each is what the Flink SQL baseline can express too, so the three logic
baselines do the same work:

- ``account-balances``: de-duplicate by event ID, add ``amount_minor`` to the account's balance.
- ``loyalty-accrual``: the loyalty balance — base earn of the rules (flights: miles x the fare
  class's points per mile; hotel, partner and card spend: amount in the programme currency x the
  rule's points per unit, rounded down), redemptions and manual adjustments, a cancellation takes
  back what the activity earned (or stops it earning, when it arrives first); de-duplicated by
  event ID. Left out, because a keyed aggregation in SQL cannot express them either: tier
  multipliers and upgrades, promotions, caps, qualifying points, expiry, statements, refusing a
  redemption above the balance, contact data.
- ``payment-lifecycle``: a payment's status as the strongest evidence any of its messages gives
  (each message graded ahead of the run by the job's own parser and grading table), with the count
  of distinct messages and the latest event time; de-duplicated by message. Left out: the XML
  parse, the precedence exceptions (a rejection superseded by a later settlement, the latest of
  accepted and pending), the cancellation case, the timeline, the route, SLAs and party tokens.
- ``fraud-cep``: two of the job's six rules, payment velocity (``min_payments`` payments of at
  least ``min_amount_minor`` within ``velocity_within_ms``) and a small test payment followed by
  a large one to the same creditor (within ``test_within_ms``); each payment counts in one match
  at most, as SKIP_PAST_LAST_EVENT does. In arrival order (no event-time buffering: the SQL
  baseline orders by event time), no rule changes at run time, no dead letters.
"""

from __future__ import annotations

import json
import math
from typing import Any

ACCOUNT_BALANCES = "account-balances"
LOYALTY_ACCRUAL = "loyalty-accrual"
PAYMENT_LIFECYCLE = "payment-lifecycle"
FRAUD_CEP = "fraud-cep"
LOGICS = (ACCOUNT_BALANCES, LOYALTY_ACCRUAL, PAYMENT_LIFECYCLE, FRAUD_CEP)

#: Event types of the loyalty input that earn points.
EARNING = ("FLIGHT_FLOWN", "HOTEL_STAY", "PARTNER_PURCHASE", "CARD_SPEND")

State = dict[str, Any]
Output = dict[str, Any]


def step(
    logic: str, state: State | None, raw: bytes, params: dict[str, Any], seen_per_key: int
) -> tuple[State | None, Output | None]:
    """Apply one JSON input record: the key's new state (the very ``state`` object when nothing
    changed — a duplicate or a corrupt record — so callers write state only when it changed) and
    the output row to write, if any (fraud-cep writes one only for an alert)."""
    try:
        record = json.loads(raw)
        event_id = str(record["event_id"])
    except (ValueError, KeyError, TypeError):
        return state, None  # corrupt input is dropped
    current = state or {"balance": 0, "seen": []}  # "balance" unused by the payment and fraud logics
    if event_id in current["seen"]:
        return state, None
    try:
        if logic == ACCOUNT_BALANCES:
            updated = {**current, "balance": current["balance"] + int(record["amount_minor"])}
            output: Output | None = {"account_id": record.get("account_id"), "balance": updated["balance"]}
        elif logic == LOYALTY_ACCRUAL:
            updated = _loyalty(current, record, params, seen_per_key)
            output = {"member_id": record.get("member_id"), "balance": updated["balance"]}
        elif logic == PAYMENT_LIFECYCLE:
            updated, output = _payment(current, record, params)
        else:
            updated, output = _fraud(current, record, params)
    except (KeyError, TypeError, ValueError):
        return state, None
    updated["seen"] = [*current["seen"], event_id][-seen_per_key:]
    return updated, None if output is None else {**output, "event_id": event_id}


def loyalty_points(record: dict[str, Any], earn: dict[str, Any]) -> int | None:
    """Base points of an earning activity; None when no rule or rate applies (it earns nothing)."""
    kind = record["event_type"]
    if kind == "FLIGHT_FLOWN":
        per_mile: float | None = earn["flight"].get(record["fare_class"])
        return None if per_mile is None else math.floor(int(record["distance_miles"]) * per_mile)
    per_unit: float | None = {
        "HOTEL_STAY": earn["hotel"],
        "PARTNER_PURCHASE": earn["partner"].get(record.get("partner_id")),
        "CARD_SPEND": earn["card"],
    }[kind]
    per_minor: float | None = earn["fx"].get(record["currency"])
    if per_unit is None or per_minor is None:
        return None
    return math.floor(int(record["amount_minor"]) * per_minor * per_unit)


def _loyalty(state: State, record: dict[str, Any], earn: dict[str, Any], remembered: int) -> State:
    kind = record["event_type"]
    balance: int = state["balance"]
    earned: dict[str, int] = dict(state.get("earned", {}))
    cancelled: list[str] = list(state.get("cancelled", []))
    if kind in EARNING:
        points = loyalty_points(record, earn)
        if record["event_id"] in cancelled:
            cancelled.remove(record["event_id"])  # cancelled before it arrived: earns nothing
        elif points:
            balance += points
            earned[record["event_id"]] = points
    elif kind == "ACTIVITY_CANCELLED":
        original = str(record["original_event_id"])
        if original in earned:
            balance -= earned.pop(original)
        else:
            cancelled.append(original)
    elif kind == "REDEMPTION_REQUESTED":
        balance -= int(record["points"])
    elif kind == "MANUAL_ADJUSTMENT":
        balance += int(record["points"])
    # What the latest activities earned (so a cancellation can take it back) and cancellations
    # still waiting for their activity, bounded like the event IDs.
    kept = dict(list(earned.items())[-remembered:])
    return {**state, "balance": balance, "earned": kept, "cancelled": cancelled[-remembered:]}


def _payment(state: State, record: dict[str, Any], params: dict[str, Any]) -> tuple[State, Output]:
    """The strongest evidence so far decides the status (``params["statuses"]``: evidence -> name)."""
    evidence = max(int(state.get("evidence", 0)), int(record["evidence"]))
    updated = {
        **state,
        "evidence": evidence,
        "messages": int(state.get("messages", 0)) + 1,
        "last_event_ms": max(int(state.get("last_event_ms", 0)), int(record["event_time_ms"])),
    }
    output = {
        "payment_id": record["payment_id"],
        "status": params["statuses"][str(evidence)],
        "messages": updated["messages"],
        "last_event_ms": updated["last_event_ms"],
    }
    return updated, output


def _fraud(state: State, record: dict[str, Any], params: dict[str, Any]) -> tuple[State, Output | None]:
    """Payment velocity and test-then-large, each over its own candidates (arrival order).

    ``velocity`` holds the timestamps of qualifying payments inside the velocity window, ``tests``
    ``[timestamp, creditor]`` of small payments inside the test window; a match of a rule clears
    that rule's candidates, as SKIP_PAST_LAST_EVENT discards every partial match that started
    before the match's last event. The rules are independent: one payment may count in both.
    """
    if record["kind"] != "payment":
        return {**state}, None
    now, amount, creditor = int(record["timestamp_ms"]), int(record["amount_minor"]), record.get("creditor")
    test_from, velocity_from = now - params["test_within_ms"], now - params["velocity_within_ms"]
    tests = [t for t in state.get("tests", []) if t[0] >= test_from]
    velocity = [t for t in state.get("velocity", []) if t >= velocity_from]
    alerts: list[Output] = []
    if amount >= params["large_min_minor"]:
        test = next((t for t in tests if t[1] == creditor), None)
        if test is not None:
            alerts.append({"rule": "test-then-large", "first_ms": test[0], "last_ms": now})
            tests = []
    if 0 < amount <= params["small_max_minor"]:
        tests.append([now, creditor])
    if amount >= params["velocity_min_amount_minor"]:
        velocity.append(now)
        if len(velocity) >= params["velocity_min_payments"]:
            alerts.append({"rule": "velocity", "first_ms": velocity[0], "last_ms": now})
            velocity = []
    output = {"customer": record["customer"], "alerts": alerts} if alerts else None
    return {**state, "tests": tests, "velocity": velocity}, output
