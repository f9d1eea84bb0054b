"""The payment-lifecycle job against a real broker, the MiniCluster and a real Iceberg catalog.

Input is the generator's realistic flow (out of order, duplicated, redelivered through a second
channel, late, malformed). Every expectation is recomputed here from the messages the broker holds,
with the pure lifecycle core run in plain Python — never written into the test.
"""

from __future__ import annotations

import pytest

from jobs import payment_lifecycle
from jobs.builder import batch_table_environment
from streamledger import kafka_clients
from streamledger.config import Settings

from .payment_reference import (
    DEAD_LETTER,
    committed_statuses,
    produce,
    reference,
    timeline_rows,
    with_message_limit,
    without_sla,
)

pytestmark = pytest.mark.stack


def test_lifecycles_timeline_and_dead_letters_equal_the_reference(isolated: Settings) -> None:
    settings = with_message_limit(isolated)
    produce(settings, payments=120, seed=11)
    payment_lifecycle.run(settings, bounded=True, start="earliest")
    expected = reference(settings, every_deadline_passed=True)

    # payments.status: the latest projection of every payment, read_committed.
    committed = committed_statuses(settings)
    assert committed.keys() == expected.statuses.keys()
    assert committed == expected.statuses
    assert {s["status"] for s in committed.values()} >= {"CREDITED", "REJECTED", "RETURNED", "CANCELLED"}

    # payments.events: every distinct message transaction exactly once.
    assert timeline_rows(settings) == expected.timeline
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
    settings = with_message_limit(isolated)
    produce(settings, payments=60, seed=21)
    first = payment_lifecycle.run_until_caught_up(settings)
    produce(settings, payments=60, seed=22)
    second = payment_lifecycle.run_until_caught_up(settings)
    assert first.restored_from is None
    assert second.restored_from == first.savepoint.removeprefix("file:")

    expected = reference(settings, every_deadline_passed=False)
    # The SLA flag depends on how far event time got, which a stop in mid-stream leaves open.
    assert without_sla(committed_statuses(settings)) == without_sla(expected.statuses)
    # Nothing applied twice across the restart, nothing lost.
    assert timeline_rows(settings) == expected.timeline
