"""A payment lifecycle as a JSON-safe dictionary, for the CLI and for the projection the job writes.

Values follow :mod:`streamledger.iso20022.serialization` (amounts as decimal strings, times as ISO
8601 UTC with ``Z``), so a lifecycle and the events it was built from read the same. Every key is
always present, ``None`` included. Timeline entries carry their leg twice over: the agents as the
message names them (a pacs.002 goes from the bank that received the payment back to the one that
sent it) and ``hop``, the leg's place on the route in payment direction (``None`` when the message
names no interbank leg).
"""

from __future__ import annotations

from typing import TypeAlias

from operators.payment_lifecycle.lifecycle import PaymentLifecycle
from operators.payment_lifecycle.route import Direction, direction, hop_index
from operators.payment_lifecycle.timeline import TimelineEntry
from streamledger.iso20022.serialization import json_value

Json: TypeAlias = "str | int | bool | list[Json] | dict[str, Json] | None"


def lifecycle_to_json_dict(lifecycle: PaymentLifecycle) -> dict[str, Json]:
    """The lifecycle's view, references, route and ordered timeline."""
    hops = hop_index(lifecycle.route)
    return {
        "payment_id": lifecycle.payment_id,
        "status": json_value(lifecycle.status),
        "status_reason": lifecycle.status_reason,
        "cancellation": json_value(lifecycle.cancellation),
        "amount": json_value(lifecycle.amount),
        "currency": lifecycle.currency,
        "uetr": lifecycle.uetr,
        "end_to_end_id": lifecycle.end_to_end_id,
        "last_updated": json_value(lifecycle.last_updated),
        "truncated": lifecycle.truncated,
        "version": lifecycle.version,
        "route": [
            {"hop": leg.hop, "sender": leg.sender, "receiver": leg.receiver} for leg in lifecycle.route
        ],
        "timeline": [_entry_to_json_dict(entry, hops) for entry in lifecycle.timeline],
    }


def _entry_to_json_dict(entry: TimelineEntry, hops: dict[Direction, int]) -> dict[str, Json]:
    leg = direction(entry)
    return {
        "event_time": json_value(entry.event_time),
        "event_type": json_value(entry.event_type),
        "message_type": entry.message_type,
        "message_id": entry.message_id,
        "status": entry.status,
        "reason": entry.reason,
        "instructing_agent": entry.instructing_agent,
        "instructed_agent": entry.instructed_agent,
        "hop": None if leg is None else hops.get(leg),
        "amount": json_value(entry.amount),
        "currency": entry.currency,
        "credit_debit": entry.credit_debit,
    }
