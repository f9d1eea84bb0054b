"""The loyalty-accrual pipeline against a real broker, the MiniCluster and a real Iceberg catalog.

One job run (module fixture) over generated member events, with undecodable records mixed in and,
at the end, one undecodable record per partition far ahead in event time: besides landing in the
dead-letter topic, those push the watermark past every membership-year end, expiry deadline and
month end up to a known instant, so which event-time timers must have fired is exact.

Every expectation comes from an independent fold of the input log (as the broker holds it)
through the pure accrual core (``loyalty_reference``), never from numbers written into the test.

Then two replays of the same input topic from its earliest offsets, each into fresh outputs (own
topics, own Iceberg catalog, own state directory), run the way operators rebuild a projection:
unbounded, stopped once the backlog is committed. They must reproduce each other and the live
run's projections exactly, and leave the live job's offsets and outputs alone.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from jobs import loyalty_accrual
from jobs.runner import RunReport
from operators.loyalty import (
    AccrualConfig,
    PiiKey,
    Rules,
    TierChange,
    event_from_record,
    load_rules,
    statement_chain,
)
from operators.loyalty._time import month_end_ms
from streamledger import kafka_clients
from streamledger.config import Settings
from streamledger.errors import ConfigError
from streamledger.generators.loyalty import LoyaltyRecord
from streamledger.stack import iceberg_catalog
from streamledger.stack.local_stack import LocalStack

from .loyalty_reference import (
    DEAD_LETTER,
    EVENTS_CODEC,
    GARBAGE,
    Reference,
    generate,
    latest_balances,
    ledger_rows,
    ledger_tuple,
    members_table,
    produce,
    reference,
    statement_rows,
    statement_tuple,
)
from .stack_support import isolated_settings

pytestmark = pytest.mark.stack

MEMBERS = 250
EVENTS = 3000
SEED = 404
SPAN_DAYS = 450


# -------------------------------------------------------------------------------- fixtures


@dataclass(frozen=True)
class Run:
    settings: Settings
    records: list[LoyaltyRecord]
    #: Records on the input topic: the generated ones, garbage and the far-ahead watermark records.
    produced: int
    reference: Reference
    until_ms: int
    rules: Rules


@pytest.fixture(scope="module")
def run(local_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Run:
    settings = isolated_settings(local_stack, tmp_path_factory.mktemp("loyalty"))
    rules = load_rules()
    config = AccrualConfig(PiiKey(settings.pii_key_id, settings.pii_key_secret.encode()))
    generated = generate(settings, members=MEMBERS, events=EVENTS, seed=SEED, span_days=SPAN_DAYS)
    produced = produce(settings, generated.records, generated.flush_ms)

    report = loyalty_accrual.run_until_caught_up(settings)
    assert report.records == produced
    print(f"loyalty-accrual: {report.records} records in {report.seconds:.1f} s including start-up")
    log = kafka_clients.read_topic(settings, settings.loyalty_events_topic)
    return Run(
        settings,
        generated.records,
        produced,
        reference(log, rules, config, generated.until_ms),
        generated.until_ms,
        rules,
    )


# -------------------------------------------------------------------------------------- tests


def test_the_input_exercises_what_the_job_must_handle(run: Run) -> None:
    """Guard against a generator change that would make the comparisons below trivial."""
    ref = run.reference
    ledger = ref.ledger()
    kinds = Counter(e.kind for e in ledger)
    assert {"EARN", "BONUS", "REVERSAL", "REDEEM", "ADJUST", "EXPIRE"} <= set(kinds)
    codes = Counter(r.code for r in ref.rejected)
    assert {"INSUFFICIENT_BALANCE", "UNKNOWN_CURRENCY"} <= set(codes)
    assert len({r.event.event_id for r in run.records}) < len(run.records), "redelivered duplicates"
    changes = [o for outs in ref.outputs.values() for o in outs if isinstance(o, TierChange)]
    assert {"UP", "DOWN"} <= {c.direction for c in changes}


def test_ledger_in_iceberg_equals_the_reference(run: Run) -> None:
    assert ledger_rows(run.settings) == sorted(ledger_tuple(e) for e in run.reference.ledger())


def test_latest_balances_on_the_compacted_topic_equal_the_reference(run: Run) -> None:
    balances = latest_balances(run.settings)
    expected = {m: (s.balance, s.version, s.tier, s.points_owed) for m, s in run.reference.states.items()}
    assert {
        m: (b["balance"], b["version"], b["tier"], b["points_owed"]) for m, b in balances.items()
    } == expected


def test_balance_is_the_sum_of_the_ledger_everywhere(run: Run) -> None:
    """loyalty.members balance = sum of the member's loyalty.ledger points = latest loyalty.balances."""
    sums: dict[str, int] = defaultdict(int)
    for row in ledger_rows(run.settings):
        sums[row[1]] += row[3]
    members = {m["member_id"]: m for m in members_table(run.settings)}
    balances = latest_balances(run.settings)
    assert set(members) == set(balances) == set(run.reference.states)
    for member_id, member in members.items():
        assert member["balance"] == sums.get(member_id, 0) == balances[member_id]["balance"], member_id


def test_members_table_holds_the_latest_snapshot_with_tokens_only(run: Run) -> None:
    members = {m["member_id"]: m for m in members_table(run.settings)}
    for member_id, row in members.items():
        snapshot = run.reference.last_snapshot(member_id)
        assert row == snapshot.to_record(), member_id
    raw = set()
    for record in run.records:
        for name in ("email", "phone", "first_name", "last_name"):
            value = getattr(record.event, name, None)
            if value:
                raw.add(value)
    texts = {str(v) for row in members.values() for v in row.values() if v is not None}
    texts |= {row[5] for row in ledger_rows(run.settings)}
    assert not any(value in text for value in raw for text in texts if len(value) > 3)
    assert all(
        row["email_token"].startswith(f"hmac-sha256:{run.settings.pii_key_id}:") for row in members.values()
    )


def test_statements_chain_and_equal_the_ledger_by_month(run: Run) -> None:
    statements = statement_rows(run.settings)
    by_member: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for row in statements:
        by_member[row[0]].append(row)
    for rows in by_member.values():
        for earlier, later in itertools.pairwise(rows):
            assert earlier[8] == later[2], "closing of one statement opens the next"
    expected = []
    for member_id in run.reference.states:
        entries = [e for e in run.reference.ledger() if e.member_id == member_id]
        expected += [
            statement_tuple(s)
            for s in statement_chain(member_id, entries)
            if s.entry_count and month_end_ms(s.month) <= run.until_ms
        ]
    assert statements == sorted(expected)
    assert len(statements) > len(run.reference.states)


def test_undecodable_and_refused_events_land_in_the_dead_letter_topic(run: Run) -> None:
    dead = [
        DEAD_LETTER.decode(r.value)
        for r in kafka_clients.read_topic(run.settings, run.settings.dead_letter_topic)
    ]
    assert all(d["job"] == loyalty_accrual.JOB_NAME and d["reason"] for d in dead)
    undecodable = sorted((d["source_partition"], d["source_offset"]) for d in dead if d["payload"] == GARBAGE)
    assert undecodable == sorted(run.reference.undecodable)
    assert len(undecodable) > run.settings.topic_partitions, "garbage mid-stream, not only at the end"
    refused = Counter(
        (d["error_type"], event_from_record(EVENTS_CODEC.decode(d["payload"])).event_id)
        for d in dead
        if d["payload"] != GARBAGE
    )
    assert refused == Counter((r.code, r.event_id) for r in run.reference.rejected)


# ------------------------------------------------------------------------------------ replays


@dataclass(frozen=True)
class Replays:
    runs: list[tuple[Settings, RunReport]]
    #: The live job's committed input offsets and its output topics' end offsets, before and after.
    live_before: tuple[dict[int, int], dict[str, dict[int, int]]]
    live_after: tuple[dict[int, int], dict[str, dict[int, int]]]


def _replay_outputs(run: Run, root: Path, label: str) -> Settings:
    """Fresh outputs for a replay (own topics, own catalog under its own name, own state
    directory) over the live run's input topic."""
    fresh = dataclasses.replace(
        run.settings.with_topic_prefix(f"replay-{label}"),
        loyalty_events_topic=run.settings.loyalty_events_topic,
        catalog_name=f"replay_{label}",
        catalog_db=root / "catalog" / "iceberg_catalog.db",
        warehouse=root / "warehouse",
        state_root=root / "state",
    )
    outputs = {fresh.loyalty_balances_topic, fresh.dead_letter_topic}
    LocalStack(fresh).kafka.ensure_topics(tuple(t for t in fresh.topics if t.name in outputs))
    iceberg_catalog.initialize(fresh)
    return fresh


def _live_positions(settings: Settings) -> tuple[dict[int, int], dict[str, dict[int, int]]]:
    committed = kafka_clients.resume_offsets(
        settings, loyalty_accrual.JOB_NAME, settings.loyalty_events_topic
    )
    outputs = {
        topic: kafka_clients.end_offsets(settings, topic)
        for topic in (settings.loyalty_balances_topic, settings.dead_letter_topic)
    }
    return committed, outputs


@pytest.fixture(scope="module")
def replays(run: Run, tmp_path_factory: pytest.TempPathFactory) -> Replays:
    before = _live_positions(run.settings)
    runs = []
    for label in ("a", "b"):
        settings = _replay_outputs(run, tmp_path_factory.mktemp(f"replay-{label}"), label)
        report = loyalty_accrual.replay(settings, label)
        print(f"replay {label}: {report.records} records in {report.seconds:.1f} s including start-up")
        runs.append((settings, report))
    return Replays(runs, before, _live_positions(run.settings))


def _dead_letters(settings: Settings) -> list[tuple[Any, ...]]:
    records = kafka_clients.read_topic(settings, settings.dead_letter_topic)
    return sorted(tuple(DEAD_LETTER.decode(r.value).values()) for r in records)


def _projections(settings: Settings) -> dict[str, Any]:
    """Everything a consumer of the job's outputs can see, in a comparable form."""
    return {
        "loyalty.ledger": ledger_rows(settings),
        "loyalty.statements": statement_rows(settings),
        "loyalty.members": sorted(members_table(settings), key=lambda m: m["member_id"]),
        "loyalty.balances": latest_balances(settings),
        "dead letters": _dead_letters(settings),
    }


def test_replays_from_the_earliest_offset_reproduce_each_other_and_the_live_run(
    run: Run, replays: Replays
) -> None:
    for _, report in replays.runs:
        assert report.job.startswith(f"{loyalty_accrual.JOB_NAME}-replay-")
        assert report.restored_from is None
        assert report.records == run.produced, "every record from offset 0, not from the live offsets"
    (first_settings, _), (second_settings, _) = replays.runs
    first, second = _projections(first_settings), _projections(second_settings)
    live = _projections(run.settings)
    for name, rows in first.items():
        assert rows == second[name], f"two replays differ in {name}"
        assert rows == live[name], f"the replay differs from the live run in {name}"
    # The comparison covers the watermark-driven outputs, not only what events produce directly.
    assert "EXPIRE" in {row[2] for row in first["loyalty.ledger"]}
    assert len(first["loyalty.statements"]) > len(run.reference.states)
    assert len(first["loyalty.members"]) == len(run.reference.states)


def test_a_replay_leaves_the_live_job_alone(run: Run, replays: Replays) -> None:
    """Own consumer group and transactional ids: the live group's offsets and outputs do not move."""
    committed, _ = replays.live_after
    assert replays.live_before == replays.live_after
    assert committed == kafka_clients.end_offsets(run.settings, run.settings.loyalty_events_topic)
    for settings, report in replays.runs:
        assert kafka_clients.resume_offsets(settings, report.job, settings.loyalty_events_topic) == committed


def test_a_replay_id_is_not_restarted_from_the_start_without_its_state(
    replays: Replays, tmp_path: Path
) -> None:
    """Its group's commits would end the run at once, with the input read again into its outputs."""
    settings, report = replays.runs[0]
    label = report.job.removeprefix(f"{loyalty_accrual.JOB_NAME}-replay-")
    without_state = dataclasses.replace(settings, state_root=tmp_path / "state")
    with pytest.raises(ConfigError, match="no restore point"):
        loyalty_accrual.replay(without_state, label)
