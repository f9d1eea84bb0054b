"""The payment-lifecycle job against a real broker, the MiniCluster and a real Iceberg catalog.

Input is the generator's realistic flow (out of order, duplicated, redelivered through a second
channel, late, malformed). Every expectation is recomputed here from the messages the broker holds,
with the pure lifecycle core run in plain Python — never written into the test.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from jobs import payment_lifecycle
from jobs.builder import batch_table_environment
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

pytestmark = pytest.mark.stack

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


def _settings(isolated: Settings) -> Settings:
    return dataclasses.replace(isolated, payment_max_message_bytes=MAX_MESSAGE_BYTES)


def _produce(settings: Settings, payments: int, seed: int) -> None:
    records = payment_generator.payments(payments, seed, max_message_bytes=MAX_MESSAGE_BYTES)
    payment_generator.produce(settings, settings.payments_input_topic, records)


def _reference(settings: Settings, *, every_deadline_passed: bool) -> Reference:
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


def _committed_statuses(settings: Settings) -> dict[str, dict[str, Any]]:
    compacted = kafka_clients.latest_by_key(
        kafka_clients.read_topic(settings, settings.payments_status_topic)
    )
    return {k.decode(): STATUS.decode(v) for k, v in compacted.items() if v is not None}


def _timeline_rows(settings: Settings) -> Counter[tuple[Any, ...]]:
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


def _without_sla(statuses: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {p: {k: v for k, v in s.items() if k != "sla_breached"} for p, s in statuses.items()}


def test_lifecycles_timeline_and_dead_letters_equal_the_reference(isolated: Settings) -> None:
    settings = _settings(isolated)
    _produce(settings, payments=120, seed=11)
    payment_lifecycle.run(settings, bounded=True, start="earliest")
    expected = _reference(settings, every_deadline_passed=True)

    # payments.status: the latest projection of every payment, read_committed.
    committed = _committed_statuses(settings)
    assert committed.keys() == expected.statuses.keys()
    assert committed == expected.statuses
    assert {s["status"] for s in committed.values()} >= {"CREDITED", "REJECTED", "RETURNED", "CANCELLED"}

    # payments.events: every distinct message transaction exactly once.
    assert _timeline_rows(settings) == expected.timeline
    assert max(expected.timeline.values()) == 1

    # payments.lifecycle (upserted): one row per payment with the final status, read through Flink.
    t_env = batch_table_environment(settings)
    rows = t_env.execute_sql(
        f"SELECT payment_id, status, version, sla_breached FROM `{settings.catalog_name}`.payments.lifecycle"
    ).collect()
    with rows:
        lifecycle = [(r[0], r[1], r[2], r[3]) for r in rows]
    assert sorted(lifecycle) == sorted(
        (p, s["status"], s["version"], s["sla_breached"]) for p, s in expected.statuses.items()
    )

    # Every unparseable message is in the DLQ with its bytes and reason; nothing else is.
    dead = [
        DEAD_LETTER.decode(r.value) for r in kafka_clients.read_topic(settings, settings.dead_letter_topic)
    ]
    assert len(dead) == expected.refused > 0
    assert {d["error_type"] for d in dead} <= {"MALFORMED", "UNSUPPORTED", "HOSTILE"}
    assert all(d["reason"] and d["payload"] and d["source_offset"] >= 0 for d in dead)

    # No name or account leaves the job in clear.
    published = str(committed) + str(expected.timeline)
    assert expected.raw_pii and not any(value in published for value in expected.raw_pii)


def test_a_resumed_job_continues_exactly_where_its_savepoint_left_off(isolated: Settings) -> None:
    settings = _settings(isolated)
    _produce(settings, payments=60, seed=21)
    first = payment_lifecycle.run_until_caught_up(settings)
    _produce(settings, payments=60, seed=22)
    second = payment_lifecycle.run_until_caught_up(settings)
    assert first.restored_from is None
    assert second.restored_from == first.savepoint.removeprefix("file:")

    expected = _reference(settings, every_deadline_passed=False)
    # The SLA flag depends on how far event time got, which a stop in mid-stream leaves open.
    assert _without_sla(_committed_statuses(settings)) == _without_sla(expected.statuses)
    # Nothing applied twice across the restart, nothing lost.
    assert _timeline_rows(settings) == expected.timeline
