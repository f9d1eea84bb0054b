"""State of the payment-lifecycle job (operator uid ``payment-lifecycle``, descriptor ``payment``).

v1 stores a payment's timeline entries, truncation flag and version, its pseudonymised parties and
its SLA deadline; everything derived (status, route, amounts, milestones) is recomputed on read by
:func:`operators.payment_lifecycle.lifecycle.restore`. v2 adds ``sla_ms``, the SLA the payment was
admitted under (see ``state/README.md``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Final

from operators.payment_lifecycle.lifecycle import restore
from operators.payment_lifecycle.parties import PARTY_FIELDS, Parties
from operators.payment_lifecycle.timeline import TimelineEntry
from operators.payment_lifecycle.tracking import TrackedPayment, epoch_ms
from state.codec import StateCodec
from streamledger.iso20022.events import EventType


def _v1_to_v2(record: dict[str, Any]) -> dict[str, Any]:
    """v2 records the SLA a payment was admitted under. v1 armed its deadline as the first
    timeline entry's event time plus the job's SLA, so the SLA it ran under is recovered exactly."""
    first = record["entries"][0]["event_time"] if record["entries"] else None
    return {**record, "sla_ms": None if first is None else record["sla_due_ms"] - epoch_ms(first)}


#: v1: entries, truncated, version, parties, sla_due_ms, sla_checked. v2: + sla_ms (nullable).
PAYMENT_STATE = StateCodec("payment_lifecycle", current_version=2, upgrades={1: _v1_to_v2})

_TEXT_FIELDS: Final = (
    "status",
    "reason",
    "instructing_agent",
    "instructed_agent",
    "uetr",
    "end_to_end_id",
    "tx_id",
    "instruction_id",
    "currency",
    "credit_debit",
)


def encode_payment(state: TrackedPayment) -> bytes:
    lifecycle = state.lifecycle
    parties = state.parties
    return PAYMENT_STATE.encode(
        {
            "payment_id": lifecycle.payment_id,
            "entries": [_entry_record(entry) for entry in lifecycle.timeline],
            "truncated": lifecycle.truncated,
            "version": lifecycle.version,
            "parties": None
            if parties is None
            else {
                **{name: getattr(parties, name) for name in PARTY_FIELDS},
                "source_rank": parties.source[0],
                "source_time_ms": parties.source[1],
                "source_message_id": parties.source[2],
            },
            "sla_due_ms": state.sla_due_ms,
            "sla_checked": state.sla_checked,
            "sla_ms": state.sla_ms,
        }
    )


def decode_payment(data: bytes) -> TrackedPayment:
    record = PAYMENT_STATE.decode(data)
    parties = record["parties"]
    return TrackedPayment(
        lifecycle=restore(
            record["payment_id"],
            (_entry(e) for e in record["entries"]),
            truncated=record["truncated"],
            version=record["version"],
        ),
        parties=None
        if parties is None
        else Parties(
            **{name: parties[name] for name in PARTY_FIELDS},
            source=(parties["source_rank"], parties["source_time_ms"], parties["source_message_id"]),
        ),
        sla_due_ms=record["sla_due_ms"],
        sla_checked=record["sla_checked"],
        sla_ms=record["sla_ms"],
    )


def _entry_record(entry: TimelineEntry) -> dict[str, Any]:
    return {
        "event_time": entry.event_time,
        "event_type": entry.event_type.value,
        "message_type": entry.message_type,
        "message_id": entry.message_id,
        **{name: getattr(entry, name) for name in _TEXT_FIELDS},
        # As written ("1.0" is not "1.00"): the timeline order and dedupe compare the text.
        "amount": None if entry.amount is None else str(entry.amount),
        "cover": entry.cover,
    }


def _entry(record: dict[str, Any]) -> TimelineEntry:
    return TimelineEntry(
        event_time=record["event_time"],
        event_type=EventType(record["event_type"]),
        message_type=record["message_type"],
        message_id=record["message_id"],
        **{name: record[name] for name in _TEXT_FIELDS},
        amount=None if record["amount"] is None else Decimal(record["amount"]),
        cover=record["cover"],
    )
