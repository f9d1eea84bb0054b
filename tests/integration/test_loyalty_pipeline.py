"""The loyalty-accrual pipeline against a real broker, the MiniCluster and a real Iceberg catalog.

One job run (module fixture) over generated member events, with undecodable records mixed in and,
at the end, one undecodable record per partition far ahead in event time: besides landing in the
dead-letter topic, those push the watermark past every membership-year end, expiry deadline and
month end up to a known instant, so which event-time timers must have fired is exact.

Every expectation comes from an independent fold of the input log (as the broker holds it)
through the pure accrual core, written out below, never from numbers written into the test.

Then two replays of the same input topic from its earliest offsets, each into fresh outputs (own
topics, own Iceberg catalog, own state directory), run the way operators rebuild a projection:
unbounded, stopped once the backlog is committed. They must reproduce each other and the live
run's projections exactly, and leave the live job's offsets and outputs alone.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from pyflink.table import TableEnvironment

from jobs import loyalty_accrual
from jobs.builder import batch_table_environment
from jobs.runner import RunReport
from operators.loyalty import (
    SCHEMA_NAME,
    AccrualConfig,
    EventRejected,
    LedgerEntry,
    MemberSnapshot,
    MemberState,
    MonthlyStatement,
    Output,
    PiiKey,
    Rules,
    TierChange,
    apply,
    event_from_record,
    load_rules,
    on_inactivity_timer,
    on_membership_year_end,
    statement_chain,
    timers,
)
from operators.loyalty._time import add_months, month_end_ms, month_key, month_start_ms
from schemas import AvroCodec, UndecodableMessageError
from streamledger import kafka_clients
from streamledger.config import Settings
from streamledger.errors import ConfigError
from streamledger.generators.loyalty import LoyaltyRecord, loyalty_events
from streamledger.stack import iceberg_catalog
from streamledger.stack.local_stack import LocalStack

from .stack_support import isolated_settings

pytestmark = pytest.mark.stack

MEMBERS = 250
EVENTS = 3000
SEED = 404
SPAN_DAYS = 450
DAY_MS = 24 * 3600 * 1000
#: The watermark of the bounded-out-of-orderness strategy trails the largest timestamp by 5 s + 1 ms.
WATERMARK_LAG_MS = 5_001
EVENTS_CODEC = AvroCodec(SCHEMA_NAME)
BALANCE = AvroCodec(loyalty_accrual.BALANCE_SCHEMA)
DEAD_LETTER = AvroCodec("streamledger.DeadLetter")
GARBAGE = b"\xc3\x01not a loyalty event"


# ------------------------------------------------------------------------------ reference


@dataclass
class Reference:
    """What the job must have produced for the input log up to the final watermark."""

    states: dict[str, MemberState] = field(default_factory=dict)
    outputs: dict[str, list[Output]] = field(default_factory=lambda: defaultdict(list))
    undecodable: list[tuple[int, int]] = field(default_factory=list)
    rejected: list[EventRejected] = field(default_factory=list)

    def ledger(self) -> list[LedgerEntry]:
        return [o for outs in self.outputs.values() for o in outs if isinstance(o, LedgerEntry)]

    def last_snapshot(self, member_id: str) -> MemberSnapshot:
        return [o for o in self.outputs[member_id] if isinstance(o, MemberSnapshot)][-1]


def _due(state: MemberState, until_ms: int, rules: Rules, *, every_year_end: bool) -> tuple[int, str] | None:
    """The next review/expiry at or before ``until_ms`` (review first on a tie), if any."""
    due = timers(state, rules)
    lowest = rules.tiers[0].tier
    worth_reviewing = every_year_end or (
        state.tier != lowest
        or state.qualifying_points(state.membership_year_end_ms, rules.qualifying_window_months) > 0
    )
    options = []
    if due.membership_year_end_ms <= until_ms and worth_reviewing:
        options.append((due.membership_year_end_ms, "review"))
    if due.inactivity_expiry_ms is not None and due.inactivity_expiry_ms <= until_ms:
        options.append((due.inactivity_expiry_ms, "expire"))
    return min(options) if options else None


def _fire(ref: Reference, member_id: str, until_ms: int, rules: Rules, *, every_year_end: bool) -> None:
    """Fire the member's reviews and expiries due by ``until_ms``, in time order."""
    while True:
        state = ref.states[member_id]
        pending = _due(state, until_ms, rules, every_year_end=every_year_end)
        if pending is None:
            return
        at, kind = pending
        fire = on_membership_year_end if kind == "review" else on_inactivity_timer
        state, outputs = fire(state, at, rules)
        ref.states[member_id] = state
        ref.outputs[member_id].extend(outputs)


def reference(
    log: list[kafka_clients.Record], rules: Rules, config: AccrualConfig, until_ms: int
) -> Reference:
    """Fold the log (per-partition order, which is per-member order) through the core.

    Documented semantics of the job: a member's event dated at or after a review/expiry first
    applies it; on the watermark alone, whatever is due by ``watermark - allowed lateness``
    (``until_ms``) fires, except reviews of a base-tier member with no qualifying points.
    """
    ref = Reference()
    for record in sorted(log, key=lambda r: (r.partition, r.offset)):
        try:
            event = event_from_record(EVENTS_CODEC.decode(record.value))
        except UndecodableMessageError:
            ref.undecodable.append((record.partition, record.offset))
            continue
        member = event.member_id
        if member in ref.states:
            _fire(ref, member, event.event_time_ms, rules, every_year_end=True)
        state, outputs = apply(ref.states.get(member), event, rules, config)
        if state is not None:
            ref.states[member] = state
        ref.outputs[member].extend(outputs)
        ref.rejected.extend(o for o in outputs if isinstance(o, EventRejected))
    for member in ref.states:
        _fire(ref, member, until_ms, rules, every_year_end=False)
    return ref


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


def _produce(settings: Settings, records: list[LoyaltyRecord], flush_ms: int) -> int:
    """The generated records with undecodable ones in between, then one far-ahead garbage record
    per partition (every partition's watermark reaches ``flush_ms``)."""
    producer = kafka_clients.producer(settings)
    topic = settings.loyalty_events_topic
    errors: list[str] = []

    def send(key: bytes, value: bytes, timestamp: int, **where: int) -> None:
        producer.produce(
            topic,
            key=key,
            value=value,
            timestamp=timestamp,
            on_delivery=lambda error, _message: errors.append(str(error)) if error else None,
            **where,
        )
        producer.poll(0)

    count = 0
    for index, record in enumerate(records):
        send(record.key, record.value, record.timestamp_ms)
        count += 1
        if index % 700 == 350:
            send(record.key, GARBAGE, record.timestamp_ms)
            count += 1
    for partition in range(settings.topic_partitions):
        send(b"watermark", GARBAGE, flush_ms, partition=partition)
        count += 1
    assert producer.flush(60) == 0
    assert errors == []
    return count


@pytest.fixture(scope="module")
def run(local_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Run:
    settings = isolated_settings(local_stack, tmp_path_factory.mktemp("loyalty"))
    rules = load_rules()
    config = AccrualConfig(PiiKey(settings.pii_key_id, settings.pii_key_secret.encode()))
    # The broker refuses record timestamps more than an hour ahead of its clock, and the far-ahead
    # watermark records must be accepted too: the whole input lies in the past, starting on the
    # first day of a month (the same input all month long).
    span_ms = (SPAN_DAYS + 20 * 31 + 40) * DAY_MS
    start = month_start_ms(month_key(int(time.time() * 1000) - span_ms - 31 * DAY_MS))
    records = list(
        loyalty_events(members=MEMBERS, events=EVENTS, seed=SEED, start_ms=start, span_days=SPAN_DAYS)
    )
    last = max(r.timestamp_ms for r in records)
    # Far enough for every month with entries to be stated and for a round of membership-year
    # reviews after the input ends; members inactive since early in the input reach their
    # 24-month inactivity expiry, the others do not.
    until = add_months(last, 20)
    flush = until + settings.loyalty_allowed_lateness_ms + WATERMARK_LAG_MS
    assert flush < time.time() * 1000
    produced = _produce(settings, records, flush)

    report = loyalty_accrual.run_until_caught_up(settings)
    assert report.records == produced
    print(f"loyalty-accrual: {report.records} records in {report.seconds:.1f} s including start-up")
    log = kafka_clients.read_topic(settings, settings.loyalty_events_topic)
    return Run(settings, records, produced, reference(log, rules, config, until), until, rules)


# ----------------------------------------------------------------------------------- reading


def _balances(settings: Settings) -> dict[str, dict[str, Any]]:
    compacted = kafka_clients.latest_by_key(
        kafka_clients.read_topic(settings, settings.loyalty_balances_topic)
    )
    return {key.decode(): BALANCE.decode(value) for key, value in compacted.items() if value is not None}


def _ledger(settings: Settings) -> list[tuple[Any, ...]]:
    table = iceberg_catalog.load(settings).load_table(f"loyalty.{loyalty_accrual.LEDGER_TABLE}")
    return sorted(
        (
            r["entry_id"],
            r["member_id"],
            r["kind"],
            r["points"],
            r["balance_after"],
            r["reason"],
            r["rule_id"],
            r["rules_version"],
            r["source_event_id"],
            r["related_event_id"],
            int(r["event_time"].timestamp() * 1000),
        )
        for r in table.scan().to_arrow().to_pylist()
    )


def _statements(settings: Settings) -> list[tuple[Any, ...]]:
    table = iceberg_catalog.load(settings).load_table(f"loyalty.{loyalty_accrual.STATEMENTS_TABLE}")
    return sorted(
        (
            r["member_id"],
            r["month"],
            r["opening_balance"],
            r["earned"],
            r["reversed"],
            r["redeemed"],
            r["expired"],
            r["adjusted"],
            r["closing_balance"],
            r["entry_count"],
        )
        for r in table.scan().to_arrow().to_pylist()
    )


#: ``loyalty.members`` columns as read back, named like ``MemberSnapshot.to_record()``.
MEMBER_COLUMNS = [
    "member_id",
    "version",
    "tier",
    "balance",
    "points_owed",
    "qualifying_points",
    "lifetime_points",
    "membership_year_end",
    "last_activity",
    "name_token",
    "name_masked",
    "email_token",
    "email_masked",
    "phone_token",
    "phone_masked",
    "address_token",
    "address_masked",
    "rules_version",
    "event_time",
]


class _FlinkReader:
    """One batch table environment per catalog, kept for the module (every environment costs a
    Flink start-up). A second Iceberg catalog added to an environment that already ran queries
    fails with "JdbcCatalog cannot be cast to Catalog" (two user class loaders), so catalogs are
    not shared between environments."""

    def __init__(self) -> None:
        self.environments: dict[str, TableEnvironment] = {}

    def environment(self, settings: Settings) -> TableEnvironment:
        if settings.catalog_name not in self.environments:
            t_env = batch_table_environment(settings)
            # TIMESTAMP_LTZ values cannot be collected into Python; they are read as UTC TIMESTAMPs.
            t_env.get_config().set("table.local-time-zone", "UTC")
            self.environments[settings.catalog_name] = t_env
        return self.environments[settings.catalog_name]


_FLINK = _FlinkReader()


@functools.cache
def _members(settings: Settings) -> list[dict[str, Any]]:
    """The upsert table through Flink (pyiceberg 0.8 cannot apply equality deletes); timestamps
    as epoch millis. Read once per output set."""
    t_env = _FLINK.environment(settings)
    table = (
        f"`{settings.catalog_name}`.`{loyalty_accrual.ICEBERG_NAMESPACE}`.`{loyalty_accrual.MEMBERS_TABLE}`"
    )
    # Snapshot field -> table column, for the TIMESTAMP_LTZ columns.
    timestamps = {
        "membership_year_end": "membership_year_end",
        "last_activity": "last_activity",
        "event_time": "updated_at",
    }
    select = ", ".join(
        f"CAST({timestamps[c]} AS TIMESTAMP(3))" if c in timestamps else c for c in MEMBER_COLUMNS
    )
    with t_env.execute_sql(f"SELECT {select} FROM {table}").collect() as rows:
        return [
            {
                c: round(v.replace(tzinfo=UTC).timestamp() * 1000) if c in timestamps else v
                for c, v in zip(MEMBER_COLUMNS, row, strict=True)
            }
            for row in rows
        ]


def _ledger_tuple(entry: LedgerEntry) -> tuple[Any, ...]:
    return (
        entry.entry_id,
        entry.member_id,
        entry.kind,
        entry.points,
        entry.balance_after,
        entry.reason,
        entry.rule_id,
        entry.rules_version,
        entry.source_event_id,
        entry.related_event_id,
        entry.event_time_ms,
    )


def _statement_tuple(s: MonthlyStatement) -> tuple[Any, ...]:
    return (
        s.member_id,
        s.month,
        s.opening_balance,
        s.earned,
        s.reversed,
        s.redeemed,
        s.expired,
        s.adjusted,
        s.closing_balance,
        s.entry_count,
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
    assert _ledger(run.settings) == sorted(_ledger_tuple(e) for e in run.reference.ledger())


def test_latest_balances_on_the_compacted_topic_equal_the_reference(run: Run) -> None:
    balances = _balances(run.settings)
    expected = {m: (s.balance, s.version, s.tier, s.points_owed) for m, s in run.reference.states.items()}
    assert {
        m: (b["balance"], b["version"], b["tier"], b["points_owed"]) for m, b in balances.items()
    } == expected


def test_balance_is_the_sum_of_the_ledger_everywhere(run: Run) -> None:
    """loyalty.members balance = sum of the member's loyalty.ledger points = latest loyalty.balances."""
    sums: dict[str, int] = defaultdict(int)
    for row in _ledger(run.settings):
        sums[row[1]] += row[3]
    members = {m["member_id"]: m for m in _members(run.settings)}
    balances = _balances(run.settings)
    assert set(members) == set(balances) == set(run.reference.states)
    for member_id, member in members.items():
        assert member["balance"] == sums.get(member_id, 0) == balances[member_id]["balance"], member_id


def test_members_table_holds_the_latest_snapshot_with_tokens_only(run: Run) -> None:
    members = {m["member_id"]: m for m in _members(run.settings)}
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
    texts |= {row[5] for row in _ledger(run.settings)}
    assert not any(value in text for value in raw for text in texts if len(value) > 3)
    assert all(
        row["email_token"].startswith(f"hmac-sha256:{run.settings.pii_key_id}:") for row in members.values()
    )


def test_statements_chain_and_equal_the_ledger_by_month(run: Run) -> None:
    statements = _statements(run.settings)
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
            _statement_tuple(s)
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
        "loyalty.ledger": _ledger(settings),
        "loyalty.statements": _statements(settings),
        "loyalty.members": sorted(_members(settings), key=lambda m: m["member_id"]),
        "loyalty.balances": _balances(settings),
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
