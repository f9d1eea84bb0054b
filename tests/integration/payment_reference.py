"""The payment-lifecycle reference: what the committed outputs must hold, recomputed from the input.

Shared by the MiniCluster pipeline tests and the cluster-operations tests. The reference parses the
messages the broker holds and folds them through the pure lifecycle core in plain Python.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import timedelta
from typing import Any

from operators.loyalty.pii import PiiKey
from operators.payment_lifecycle.parties import parties_of
from operators.payment_lifecycle.tracking import (
    TrackedPayment,
    epoch_ms,
    on_event,
    on_sla_deadline,
    status_record,
)
from schemas import AvroCodec
from streamledger import kafka_clients
from streamledger.config import Settings
from streamledger.generators import payments as payment_generator
from streamledger.iso20022 import Iso20022Error, parse_message
from streamledger.stack import iceberg_catalog

STATUS = AvroCodec("payments.PaymentStatus")
DEAD_LETTER = AvroCodec("streamledger.DeadLetter")
MAX_MESSAGE_BYTES = 256 * 1024
EVERY_DEADLINE_PASSED = 2**62


@dataclasses.dataclass(frozen=True)
class Reference:
    """What the committed outputs must hold, recomputed from the input log."""

    statuses: dict[str, dict[str, Any]]
    timeline: Counter[tuple[Any, ...]]
    refused: int
    raw_pii: frozenset[str]


def with_message_limit(isolated: Settings) -> Settings:
    return dataclasses.replace(isolated, payment_max_message_bytes=MAX_MESSAGE_BYTES)


def produce(settings: Settings, payments: int, seed: int) -> None:
    records = payment_generator.payments(payments, seed, max_message_bytes=MAX_MESSAGE_BYTES)
    payment_generator.produce(settings, settings.payments_input_topic, records)


def reference(settings: Settings, *, every_deadline_passed: bool) -> Reference:
    key = PiiKey(settings.pii_key_id, settings.pii_key_secret.encode())
    sla = timedelta(milliseconds=settings.payment_sla_ms)
    log = kafka_clients.read_topic(settings, settings.payments_input_topic)
    states: dict[str, TrackedPayment] = {}
    refused = 0
    raw: set[str] = set()
    for record in sorted(log, key=lambda r: (r.partition, r.offset)):
        try:
            message = parse_message(record.value or b"", max_bytes=MAX_MESSAGE_BYTES)
        except Iso20022Error:
            refused += 1
            continue
        for event in message.events:
            raw |= {v for v in (event.debtor_name, event.debtor_account, event.creditor_name) if v}
            states[event.payment_id] = on_event(
                states.get(event.payment_id), event, parties_of(key, event), sla
            ).state
    if every_deadline_passed:
        states = {p: on_sla_deadline(s, EVERY_DEADLINE_PASSED, sla).state for p, s in states.items()}
    timeline = Counter(
        (
            payment_id,
            epoch_ms(e.event_time),
            e.event_type.value,
            e.message_type,
            e.message_id,
            e.status,
            e.reason,
        )
        for payment_id, state in states.items()
        for e in state.lifecycle.timeline
    )
    return Reference(
        statuses={p: status_record(s, sla) for p, s in states.items()},
        timeline=timeline,
        refused=refused,
        raw_pii=frozenset(raw),
    )


def committed_statuses(settings: Settings) -> dict[str, dict[str, Any]]:
    compacted = kafka_clients.latest_by_key(
        kafka_clients.read_topic(settings, settings.payments_status_topic)
    )
    return {k.decode(): STATUS.decode(v) for k, v in compacted.items() if v is not None}


def timeline_rows(settings: Settings) -> Counter[tuple[Any, ...]]:
    table = iceberg_catalog.load(settings).load_table("payments.events")
    return Counter(
        (
            r["payment_id"],
            int(r["event_time"].timestamp() * 1000),
            r["event_type"],
            r["message_type"],
            r["message_id"],
            r["status"],
            r["reason"],
        )
        for r in table.scan().to_arrow().to_pylist()
    )


def without_sla(statuses: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {p: {k: v for k, v in s.items() if k != "sla_breached"} for p, s in statuses.items()}
