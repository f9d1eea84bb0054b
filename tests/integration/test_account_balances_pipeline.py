"""The account-balances pipeline against a real broker, the MiniCluster and a real Iceberg catalog.

Every expectation comes from ``streamledger.reference`` (an independent batch recomputation from
the input log), never from numbers written into the test.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from jobs import account_balances
from schemas import AvroCodec
from state.account_balance import BALANCE_STATE
from state.codec import StateCodec
from streamledger import kafka_clients
from streamledger.config import Settings
from streamledger.generators import postings as posting_generator
from streamledger.operations import replay_settings, run_replay
from streamledger.reference import ExpectedBalances, expected_balances
from streamledger.stack import iceberg_catalog

from .state_recording import RecordingCodec

pytestmark = pytest.mark.stack

BALANCE = AvroCodec("ledger.BalanceUpdate")
DEAD_LETTER = AvroCodec("streamledger.DeadLetter")
TABLE = f"{account_balances.ICEBERG_NAMESPACE}.{account_balances.ICEBERG_TABLE}"


def _produce(settings: Settings, events: int, seed: int) -> ExpectedBalances:
    """Append generated postings; return the reference for the WHOLE input log."""
    before = len(kafka_clients.read_topic(settings, settings.postings_topic))
    produced = posting_generator.produce(
        settings, settings.postings_topic, posting_generator.postings(accounts=40, events=events, seed=seed)
    )
    # The reference reads the log back (per-partition order is what the job sees), not the list
    # the generator returned: what counts is what the broker holds.
    log = kafka_clients.read_topic(settings, settings.postings_topic)
    assert len(log) == before + len(produced)
    return _expected_from(log)


def _expected_from(log: list[kafka_clients.Record], from_ms: int | None = None) -> ExpectedBalances:
    """The reference over the log, or over what a read from ``from_ms`` sees: in each partition
    the records from the first one stamped at or after ``from_ms`` on (Kafka's offsets-for-times)."""
    by_position = sorted(log, key=lambda r: (r.partition, r.offset))
    if from_ms is not None:
        first: dict[int, int] = {}
        for r in by_position:
            if r.timestamp_ms >= from_ms:
                first.setdefault(r.partition, r.offset)
        by_position = [r for r in by_position if r.partition in first and r.offset >= first[r.partition]]
    return expected_balances((r.key, r.value) for r in by_position)


def _committed_balances(settings: Settings) -> dict[str, dict[str, Any]]:
    compacted = kafka_clients.latest_by_key(kafka_clients.read_topic(settings, settings.balances_topic))
    return {key.decode(): BALANCE.decode(value) for key, value in compacted.items() if value is not None}


def _iceberg_rows(settings: Settings) -> list[tuple[Any, ...]]:
    table = iceberg_catalog.load(settings).load_table(TABLE)
    rows = table.scan().to_arrow().to_pylist()
    return sorted(
        (
            r["account_id"],
            r["version"],
            r["balance_minor"],
            r["currency"],
            r["event_id"],
            r["amount_minor"],
            int(r["event_time"].timestamp() * 1000),
        )
        for r in rows
    )


def _expected_rows(expected: ExpectedBalances) -> list[tuple[Any, ...]]:
    return sorted(
        (
            r["account_id"],
            r["version"],
            r["balance_minor"],
            r["currency"],
            r["event_id"],
            r["amount_minor"],
            r["event_time_ms"],
        )
        for r in expected.rows
    )


def test_pipeline_writes_exactly_the_reference_to_kafka_and_iceberg(isolated: Settings) -> None:
    expected = _produce(isolated, events=3000, seed=11)
    assert expected.duplicates > 0 and expected.dead_letters, (
        "the input must exercise dedupe and dead letters"
    )

    account_balances.run_until_caught_up(isolated)

    balances = _committed_balances(isolated)
    assert {a: (b["balance_minor"], b["currency"], b["version"]) for a, b in balances.items()} == {
        a: (e["balance_minor"], e["currency"], e["version"]) for a, e in expected.latest.items()
    }
    assert _iceberg_rows(isolated) == _expected_rows(expected)

    dead = [
        DEAD_LETTER.decode(r.value) for r in kafka_clients.read_topic(isolated, isolated.dead_letter_topic)
    ]
    assert Counter((d["error_type"], (d["key"] or b"").decode()) for d in dead) == Counter(
        expected.dead_letters
    )
    assert all(d["reason"] and d["job"] == account_balances.JOB_NAME for d in dead)


def test_second_run_resumes_from_the_savepoint_of_the_first(isolated: Settings) -> None:
    """State (balances, seen event IDs) and offsets carry over: no gap, no duplicate, no reset."""
    first = _produce(isolated, events=800, seed=21)
    report = account_balances.run_until_caught_up(isolated)
    assert report.restored_from is None
    assert len(_iceberg_rows(isolated)) == len(first.rows)

    # seed 22 redelivers none of seed 21's event IDs, but seed 21 again would: both are covered.
    _produce(isolated, events=700, seed=22)
    both = _produce(isolated, events=300, seed=21)  # the reference now covers the whole log
    second = account_balances.run_until_caught_up(isolated)
    assert second.restored_from == report.savepoint.removeprefix("file:")

    assert _iceberg_rows(isolated) == _expected_rows(both)
    assert {a: b["balance_minor"] for a, b in _committed_balances(isolated).items()} == {
        a: e["balance_minor"] for a, e in both.latest.items()
    }


def test_output_after_the_last_completed_checkpoint_is_invisible_to_read_committed(
    isolated: Settings,
) -> None:
    """Records of an open transaction exist in the log but read_committed consumers never see them.

    The job runs with a checkpoint interval far longer than the test, so no checkpoint completes:
    its output sits in an open Kafka transaction and in uncommitted Iceberg data files. After the
    job is cancelled (the transaction aborts), a normal run must still produce the reference
    exactly once: nothing from the aborted attempt leaks and nothing is lost.
    """
    expected = _produce(isolated, events=600, seed=31)
    builder = account_balances.create(isolated, flink_config={"execution.checkpointing.interval": "1 h"})
    client = builder.execute_async()
    try:
        deadline = time.monotonic() + 180
        uncommitted: list[kafka_clients.Record] = []
        while time.monotonic() < deadline:
            uncommitted = kafka_clients.read_topic(
                isolated, isolated.balances_topic, isolation="read_uncommitted"
            )
            if len(uncommitted) >= len(expected.rows):
                break
            time.sleep(1)
        assert len(uncommitted) >= len(expected.rows), "the job should have written its output by now"
        assert kafka_clients.read_topic(isolated, isolated.balances_topic) == []
        assert kafka_clients.read_topic(isolated, isolated.dead_letter_topic) == []
        assert _iceberg_rows(isolated) == []
    finally:
        client.cancel().result()

    assert kafka_clients.read_topic(isolated, isolated.balances_topic) == []

    account_balances.run_until_caught_up(isolated)
    assert _iceberg_rows(isolated) == _expected_rows(expected)
    assert {a: b["version"] for a, b in _committed_balances(isolated).items()} == {
        a: e["version"] for a, e in expected.latest.items()
    }


def test_flink_and_pyiceberg_see_the_same_table_and_snapshots(isolated: Settings) -> None:
    """The JDBC catalog is shared: Flink's metadata tables and pyiceberg agree snapshot by snapshot."""
    from jobs.builder import batch_table_environment

    expected = _produce(isolated, events=500, seed=41)
    account_balances.run_until_caught_up(isolated)
    _produce(isolated, events=300, seed=42)
    account_balances.run_until_caught_up(isolated)

    table = iceberg_catalog.load(isolated).load_table(TABLE)
    pyiceberg_snapshots = sorted(s.snapshot_id for s in table.snapshots())
    assert len(pyiceberg_snapshots) >= 2, "two runs commit at least two snapshots"

    t_env = batch_table_environment(isolated)
    qualified = f"`{isolated.catalog_name}`.`{account_balances.ICEBERG_NAMESPACE}`"
    with t_env.execute_sql(
        f"SELECT snapshot_id FROM {qualified}.`{account_balances.ICEBERG_TABLE}$snapshots`"
    ).collect() as rows:
        flink_snapshots = sorted(row[0] for row in rows)
    with t_env.execute_sql(
        f"SELECT COUNT(*) FROM {qualified}.`{account_balances.ICEBERG_TABLE}`"
    ).collect() as rows:
        (flink_count,) = [row[0] for row in rows]

    assert flink_snapshots == pyiceberg_snapshots
    assert flink_count == len(_iceberg_rows(isolated)) > len(expected.rows)


def test_state_v2_job_resumes_from_a_v1_savepoint_with_balances_intact(
    isolated: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Savepoint compatibility across a state schema change (``state/account_balance.v2.avsc``).

    The first run writes state as the previous release did (v1); the current code (v2: the
    account's opening time added) restores from that savepoint, upgrades each value on first
    read, and carries on with every balance intact. The embedded MiniCluster runs the Python
    workers in this process, which is what lets the test see the versions that went through state.
    """
    previous = RecordingCodec(
        StateCodec("account_balance", current_version=2, upgrades=BALANCE_STATE.upgrades, write_version=1)
    )
    monkeypatch.setattr(account_balances, "BALANCE_STATE", previous)
    _produce(isolated, events=600, seed=41)
    first = account_balances.run_until_caught_up(isolated)
    assert previous.written and set(previous.written) == {1}

    current = RecordingCodec(BALANCE_STATE)
    monkeypatch.setattr(account_balances, "BALANCE_STATE", current)
    _produce(isolated, events=300, seed=42)
    expected = _produce(isolated, events=200, seed=41)  # redeliveries: dedupe state carried over too
    second = account_balances.run_until_caught_up(isolated)
    assert second.restored_from == first.savepoint.removeprefix("file:")
    assert 1 in current.read and set(current.written) == {2}

    assert _iceberg_rows(isolated) == _expected_rows(expected)
    assert {a: (b["balance_minor"], b["version"]) for a, b in _committed_balances(isolated).items()} == {
        a: (e["balance_minor"], e["version"]) for a, e in expected.latest.items()
    }


def test_a_replay_from_a_time_rebuilds_that_part_of_the_log_and_continues_from_its_savepoint(
    isolated: Settings,
) -> None:
    """``streamledger replay --from TIMESTAMP`` then ``--from SAVEPOINT``, into fresh outputs.

    The replay starts with empty state at the first record stamped at or after the time in each
    partition (late records after it included), so its balances are those of that part of the
    log alone. Continued from its savepoint after more input arrived, it picks up exactly where it
    stopped: nothing read twice, nothing skipped. The live job's outputs stay untouched.
    """
    _produce(isolated, events=1200, seed=51)
    log = kafka_clients.read_topic(isolated, isolated.postings_topic)
    from_ms = sorted(r.timestamp_ms for r in log)[len(log) // 2]
    tail = _expected_from(log, from_ms)
    assert 0 < len(tail.rows) < len(_expected_from(log).rows)

    first = run_replay(isolated, "account-balances", "from-t", from_ms)
    replay = replay_settings(isolated, "account-balances", "from-t")
    assert first.restored_from is None
    assert _iceberg_rows(replay) == _expected_rows(tail)
    assert {a: (b["balance_minor"], b["version"]) for a, b in _committed_balances(replay).items()} == {
        a: (e["balance_minor"], e["version"]) for a, e in tail.latest.items()
    }

    _produce(isolated, events=400, seed=52)
    longer_tail = _expected_from(kafka_clients.read_topic(isolated, isolated.postings_topic), from_ms)
    savepoint = Path(first.savepoint.removeprefix("file:"))
    second = run_replay(isolated, "account-balances", "from-t", savepoint)
    assert second.restored_from == str(savepoint)
    assert _iceberg_rows(replay) == _expected_rows(longer_tail)
    assert {a: (b["balance_minor"], b["version"]) for a, b in _committed_balances(replay).items()} == {
        a: (e["balance_minor"], e["version"]) for a, e in longer_tail.latest.items()
    }
    assert kafka_clients.read_topic(isolated, isolated.balances_topic) == []
