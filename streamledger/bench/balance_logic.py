"""The business logic of the bench's Python baselines (naive PyFlink, Quix Streams): one step per
input record against one JSON-able state value per key, the way a first implementation is written.

Both baselines call the same step, so their numbers differ by the engine alone. Standard library
only: the Quix Streams baseline imports this module in its own virtualenv (its confluent-kafka pin
conflicts with the project's), where nothing else of the project is installed.

Two logics, one per job the baselines stand beside:

- ``account-balances``: de-duplicate by event ID, add ``amount_minor`` to the account's balance.
- ``loyalty-accrual``: the loyalty balance — base earn of the rules (flights: miles x the fare
  class's points per mile; hotel, partner and card spend: amount in the programme currency x the
  rule's points per unit, rounded down), redemptions and manual adjustments, a cancellation takes
  back what the activity earned (or stops it earning, when it arrives first); de-duplicated by
  event ID. Left out, because a keyed aggregation in SQL cannot express them either: tier
  multipliers and upgrades, promotions, caps, qualifying points, expiry, statements, refusing a
  redemption above the balance, contact data.
"""

from __future__ import annotations

import json
import math
from typing import Any

ACCOUNT_BALANCES = "account-balances"
LOYALTY_ACCRUAL = "loyalty-accrual"
LOGICS = (ACCOUNT_BALANCES, LOYALTY_ACCRUAL)

#: Event types of the loyalty input that earn points.
EARNING = ("FLIGHT_FLOWN", "HOTEL_STAY", "PARTNER_PURCHASE", "CARD_SPEND")

State = dict[str, Any]
Output = dict[str, Any]


def step(
    logic: str, state: State | None, raw: bytes, earn: dict[str, Any], seen_per_key: int
) -> tuple[State | None, Output | None]:
    """Apply one JSON input record: the key's new state (unchanged for a duplicate or a corrupt
    record) and the output row to write, if any."""
    try:
        record = json.loads(raw)
        event_id = str(record["event_id"])
    except (ValueError, KeyError, TypeError):
        return state, None  # corrupt input is dropped
    current = state or {"balance": 0, "seen": []}
    if event_id in current["seen"]:
        return state, None
    try:
        if logic == ACCOUNT_BALANCES:
            updated = {**current, "balance": current["balance"] + int(record["amount_minor"])}
            key_field, key = "account_id", record.get("account_id")
        else:
            updated = _loyalty(current, record, earn, seen_per_key)
            key_field, key = "member_id", record.get("member_id")
    except (KeyError, TypeError, ValueError):
        return state, None
    updated["seen"] = [*current["seen"], event_id][-seen_per_key:]
    return updated, {key_field: key, "balance": updated["balance"], "event_id": event_id}


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
