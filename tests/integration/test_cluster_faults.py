"""The loyalty-accrual and fraud-cep jobs on the real standalone cluster through crashes.

Each job is deployed on the cluster from ``streamledger/stack`` while its input arrives in
batches. Its TaskManager is killed with SIGKILL twice at seeded random points (once with input
produced during the outage, once with a batch in flight) and a new one started, so the job
restarts from its last completed checkpoint; then the session's broker is stopped and started
again mid-stream. Once the job's consumer group has committed the whole input, it is stopped with
a savepoint, and the read_committed topics and the Iceberg tables must equal the pure-Python
reference over the whole input: nothing lost, nothing applied twice (ledger entries and alerts
are unique by design, so each appears once), each member's balance values in version order.

Kill points are drawn from a seed that is printed (``-s`` shows it; set
``STREAMLEDGER_FAULT_SEED`` to replay a failure).
"""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import pytest

from jobs import fraud_cep, loyalty_accrual
from jobs.builder import MAX_OUT_OF_ORDERNESS_MS
from operators.cep.fraud_events import EventKind, FraudEvent
from operators.loyalty import AccrualConfig, PiiKey, load_rules
from schemas import AvroCodec
from streamledger import kafka_clients
from streamledger.config import Settings
from streamledger.generators import fraud as fraud_generator
from streamledger.generators.fraud import Interval, comparable, reference_alerts
from streamledger.operations import JobNotFoundError, Operations
from streamledger.stack.local_stack import LocalStack

from . import loyalty_reference as loyalty
from .cluster_support import (
    fault_rng,
    kill_taskmanager,
    namespace,
    open_output_transactions,
    restart_broker,
    sink_warnings,
    wait_until_consumed,
    wait_until_event_time,
)
from .fraud_outputs import committed_alerts, iceberg_alerts

pytestmark = pytest.mark.stack

T = TypeVar("T")
HOUR = 3_600_000
DEAD_LETTER = AvroCodec("streamledger.DeadLetter")
#: The task of the jobs' Kafka sink: a watermark reaches it only after the operators before it
#: have fired their timers for it (their own input watermark can stay at its minimum, e.g. with
#: an idle second input such as the fraud rules).
SINK_TASK = "kafka exactly-once"


def _batches(items: Sequence[T], count: int) -> list[list[T]]:
    size = -(-len(items) // count)
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def _in_order_within(found: Sequence[T], expected: Sequence[T]) -> bool:
    """``found`` is ``expected`` with some items left out, the rest in the same order."""
    remaining = iter(expected)
    return all(any(item == candidate for candidate in remaining) for item in found)


def _through_faults(
    settings: Settings,
    local_stack: LocalStack,
    job: str,
    input_topic: str,
    rng: random.Random,
    batches: Sequence[Callable[[], object]],
    event_time: tuple[str, int],
) -> None:
    """Deploy ``job`` on the first batch; produce the other three around two TaskManager kills
    and a broker restart; stop it with a savepoint once the whole input is committed and the
    task ``event_time`` names has reached that event time (what its timers fire is committed)."""
    first, during_outage, in_flight, last = batches
    ops = Operations(settings)
    first()
    ops.deploy(job)
    kill_taskmanager(settings, job, rng, after_checkpoints=3, while_down=during_outage)
    in_flight()
    kill_taskmanager(settings, job, rng, after_checkpoints=2)
    last()
    restart_broker(local_stack, job, rng)
    wait_until_consumed(settings, job, input_topic)
    wait_until_event_time(settings, job, *event_time)
    stopped_at = ops.savepoint(job, stop=True)
    assert stopped_at.startswith(f"file:{settings.savepoints_dir / job}")
    with pytest.raises(JobNotFoundError):
        ops.find(job)
    assert not (still_open := open_output_transactions(settings, local_stack)), still_open


# ------------------------------------------------------------------------------ loyalty-accrual


def test_loyalty_accrual_loses_and_duplicates_nothing_through_crashes_and_a_broker_restart(
    cluster: Settings, local_stack: LocalStack, tmp_path: Path
) -> None:
    settings = namespace(cluster, tmp_path)
    job = loyalty_accrual.JOB_NAME
    rng = fault_rng(job)
    generated = loyalty.generate(settings, members=120, events=1600, seed=505, span_days=450)
    parts = _batches(generated.records, 4)
    batches = [
        *(lambda part=part: loyalty.produce(settings, part) for part in parts[:-1]),
        lambda: loyalty.produce(settings, parts[-1], generated.flush_ms),
    ]
    final_watermark = (SINK_TASK, generated.flush_ms - loyalty.WATERMARK_LAG_MS)
    _through_faults(settings, local_stack, job, settings.loyalty_events_topic, rng, batches, final_watermark)

    log = kafka_clients.read_topic(settings, settings.loyalty_events_topic)
    config = AccrualConfig(PiiKey(settings.pii_key_id, settings.pii_key_secret.encode()))
    ref = loyalty.reference(log, load_rules(), config, generated.until_ms)
    assert len(ref.ledger()) > 1000 and {"EXPIRE", "REVERSAL"} <= {e.kind for e in ref.ledger()}

    # Each member's balance values in the order the core made them, none twice, the latest last.
    # (The compacted topic may have dropped earlier ones; the ledger below has every movement.)
    history = loyalty.balance_history(settings)
    expected_history = loyalty.expected_balance_history(ref)
    assert set(history) == set(expected_history)
    for member_id, values in history.items():
        assert all(a[1] < b[1] for a, b in itertools.pairwise(values)), f"{member_id}: out of order"
        assert _in_order_within(values, expected_history[member_id]), member_id
    stale = {
        m: (v[-1], expected_history[m][-1]) for m, v in history.items() if v[-1] != expected_history[m][-1]
    }
    assert not stale, (
        f"{len(stale)} members' latest balance is not the reference's (found, expected): "
        f"{dict(itertools.islice(stale.items(), 5))}\n{sink_warnings(settings)}"
    )

    ledger = loyalty.ledger_rows(settings)
    assert max(Counter(row[0] for row in ledger).values()) == 1, "a ledger entry was committed twice"
    assert ledger == loyalty.expected_ledger(ref)
    assert loyalty.statement_rows(settings) == loyalty.expected_statements(ref, generated.until_ms)
    members = loyalty.members_table(settings)
    assert len(members) == len({m["member_id"] for m in members}) == len(ref.states)
    for row in members:
        assert row == ref.last_snapshot(row["member_id"]).to_record(), row["member_id"]
    assert loyalty.dead_letters(settings) == loyalty.expected_dead_letters(ref)


# ------------------------------------------------------------------------------------ fraud-cep


def test_fraud_cep_loses_and_duplicates_nothing_through_crashes_and_a_broker_restart(
    cluster: Settings, local_stack: LocalStack, tmp_path: Path
) -> None:
    settings = namespace(cluster, tmp_path)
    job = fraud_cep.JOB_NAME
    rng = fault_rng(job)
    events = fraud_generator.fraud_events(customers=12, events=1200, seed=606)
    start = min(e.timestamp_ms for e in events)
    end = max(e.timestamp_ms for e in events)
    # Far-ahead events on every partition move the watermark past every rule's window, so every
    # match is final when the job stops.
    sentinels = [
        FraudEvent(f"sentinel-{i}", f"sentinel-{i:02d}", EventKind.LOGIN_SUCCEEDED, end + 3 * HOUR + i)
        for i in range(30)
    ]
    records = fraud_generator.to_records(events, seed=606, corrupt_rate=0.01)
    parts = _batches(records, 4)
    parts[-1] += fraud_generator.to_records(sentinels)
    # The rules are on their topic before the job starts: in force from before the first event.
    rules = fraud_generator.default_rules()
    fraud_generator.publish_rules(
        settings, [fraud_generator.rule_message(r) for r in rules], timestamp_ms=start - HOUR
    )
    batches = [
        lambda part=part: fraud_generator.produce(settings, settings.fraud_events_topic, part)
        for part in parts
    ]
    final_watermark = (SINK_TASK, end + 3 * HOUR - MAX_OUT_OF_ORDERNESS_MS - 1)
    _through_faults(settings, local_stack, job, settings.fraud_events_topic, rng, batches, final_watermark)

    expected = reference_alerts([*events, *sentinels], [Interval(rule, start - HOUR) for rule in rules])
    assert len(expected) > 50, "the generated input must exercise the rules"
    on_kafka = committed_alerts(settings)
    assert max(Counter(a.alert_id for a in on_kafka).values()) == 1, "an alert was committed twice"
    assert comparable(on_kafka) == comparable(expected)
    assert comparable(iceberg_alerts(settings)) == comparable(expected)
    dead = [
        DEAD_LETTER.decode(r.value)
        for r in kafka_clients.read_topic(settings, settings.dead_letter_topic)
        if r.value is not None
    ]
    corrupt = [(r.key, r.value) for r in records if r.event is None]
    assert len(corrupt) > 3
    assert sorted((d["key"], d["payload"]) for d in dead) == sorted(corrupt), "only the corrupt records"
