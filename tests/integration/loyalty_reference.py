"""The loyalty-accrual reference: what the committed outputs must hold, recomputed from the input.

Shared by the MiniCluster pipeline test and the cluster fault tests. The reference folds the input
log (as the broker holds it) through the pure accrual core, written out here independently of the
job; the readers turn the job's outputs (topics, Iceberg tables) into the same shapes.

An input ends with one undecodable record per partition far ahead in event time (``produce`` with
``flush_ms``): besides landing in the dead-letter topic, those push the watermark past every
membership-year end, expiry deadline and month end up to a known instant, so which event-time
timers must have fired is exact.
"""

from __future__ import annotations

import functools
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from pyflink.table import TableEnvironment

from jobs import loyalty_accrual
from jobs.builder import MAX_OUT_OF_ORDERNESS_MS, batch_table_environment
from jobs.loyalty_accrual import LEDGER_FIELDS, STATEMENT_FIELDS
from operators.loyalty import (
    SCHEMA_NAME,
    AccrualConfig,
    EventRejected,
    LedgerEntry,
    MemberSnapshot,
    MemberState,
    MonthlyStatement,
    Output,
    Rules,
    apply,
    event_from_record,
    on_inactivity_timer,
    on_membership_year_end,
    statement_chain,
    timers,
)
from operators.loyalty._time import add_months, month_end_ms, month_key, month_start_ms
from schemas import AvroCodec, UndecodableMessageError, load_schema
from streamledger import kafka_clients
from streamledger.config import Settings
from streamledger.generators.loyalty import LoyaltyRecord, loyalty_events
from streamledger.stack import iceberg_catalog

DAY_MS = 24 * 3600 * 1000
#: The watermark of the bounded-out-of-orderness strategy trails the largest timestamp by 5 s + 1 ms.
WATERMARK_LAG_MS = MAX_OUT_OF_ORDERNESS_MS + 1
EVENTS_CODEC = AvroCodec(SCHEMA_NAME)
BALANCE = AvroCodec(loyalty_accrual.BALANCE_SCHEMA)
DEAD_LETTER = AvroCodec("streamledger.DeadLetter")
GARBAGE = b"\xc3\x01not a loyalty event"


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


# ------------------------------------------------------------------------------------- input


@dataclass(frozen=True)
class Input:
    """Generated member events dated in the past, and the instants the final watermark reaches."""

    records: list[LoyaltyRecord]
    #: Every timer due at or before this instant has fired once the input is processed.
    until_ms: int
    #: Event time of the far-ahead records that end the input (``until_ms`` + lateness + lag).
    flush_ms: int


def generate(settings: Settings, *, members: int, events: int, seed: int, span_days: int) -> Input:
    """The broker refuses record timestamps more than an hour ahead of its clock, and the far-ahead
    watermark records must be accepted too: the whole input lies in the past, starting on the
    first day of a month (the same input all month long)."""
    span_ms = (span_days + 20 * 31 + 40) * DAY_MS
    start = month_start_ms(month_key(int(time.time() * 1000) - span_ms - 31 * DAY_MS))
    records = list(
        loyalty_events(members=members, events=events, seed=seed, start_ms=start, span_days=span_days)
    )
    last = max(r.timestamp_ms for r in records)
    # Far enough for every month with entries to be stated and for a round of membership-year
    # reviews after the input ends; members inactive since early in the input reach their
    # 24-month inactivity expiry, the others do not.
    until = add_months(last, 20)
    flush = until + settings.loyalty_allowed_lateness_ms + WATERMARK_LAG_MS
    assert flush < time.time() * 1000
    return Input(records, until, flush)


def produce(settings: Settings, records: list[LoyaltyRecord], flush_ms: int | None = None) -> int:
    """The generated records with undecodable ones in between, then (for ``flush_ms``) one
    far-ahead garbage record per partition (every partition's watermark reaches ``flush_ms``).
    The number of records written."""
    producer = kafka_clients.producer(settings)
    topic = settings.loyalty_events_topic
    errors: list[str] = []

    def send(key: bytes, value: bytes, timestamp: int, partition: int = -1) -> None:
        # -1: librdkafka's "use the partitioner".
        producer.produce(
            topic,
            key=key,
            value=value,
            timestamp=timestamp,
            partition=partition,
            on_delivery=lambda error, _message: errors.append(str(error)) if error else None,
        )
        producer.poll(0)

    count = 0
    for index, record in enumerate(records):
        send(record.key, record.value, record.timestamp_ms)
        count += 1
        if index % 700 == 350:
            send(record.key, GARBAGE, record.timestamp_ms)
            count += 1
    if flush_ms is not None:
        for partition in range(settings.topic_partitions):
            send(b"watermark", GARBAGE, flush_ms, partition=partition)
            count += 1
    assert producer.flush(60) == 0
    assert errors == []
    return count


# ----------------------------------------------------------------------------------- reading


def latest_balances(settings: Settings) -> dict[str, dict[str, Any]]:
    compacted = kafka_clients.latest_by_key(
        kafka_clients.read_topic(settings, settings.loyalty_balances_topic)
    )
    return {key.decode(): BALANCE.decode(value) for key, value in compacted.items() if value is not None}


def _table_rows(settings: Settings, table: str, fields: tuple[str, ...]) -> list[tuple[Any, ...]]:
    """A loyalty table's rows as tuples of the job's ``fields``, sorted; an ``*_ms`` field is read
    from its TIMESTAMP column (the name without the suffix) as epoch millis."""
    loaded = iceberg_catalog.load(settings).load_table(f"loyalty.{table}")
    return sorted(
        tuple(
            _epoch_ms(row[name.removesuffix("_ms")]) if name.endswith("_ms") else row[name] for name in fields
        )
        for row in loaded.scan().to_arrow().to_pylist()
    )


def ledger_rows(settings: Settings) -> list[tuple[Any, ...]]:
    return _table_rows(settings, loyalty_accrual.LEDGER_TABLE, LEDGER_FIELDS)


def statement_rows(settings: Settings) -> list[tuple[Any, ...]]:
    return _table_rows(settings, loyalty_accrual.STATEMENTS_TABLE, STATEMENT_FIELDS)


#: ``loyalty.members`` columns as read back, named like ``MemberSnapshot.to_record()``.
MEMBER_COLUMNS = [name.removesuffix("_ms") for name in loyalty_accrual.MEMBER_FIELDS]


class FlinkReader:
    """A batch table environment per catalog (per output set), made once and kept for the test
    session. Not several catalogs in one environment: after the pipeline module's jobs ran in this
    JVM, creating a second Iceberg catalog in an existing environment failed ("JdbcCatalog cannot
    be cast to Catalog", the two classes from different user class loaders)."""

    def __init__(self) -> None:
        self.environments: dict[tuple[str, ...], TableEnvironment] = {}

    def environment(self, settings: Settings) -> TableEnvironment:
        catalog = (settings.catalog_name, *iceberg_catalog.flink_catalog_ddl(settings))
        if catalog not in self.environments:
            t_env = batch_table_environment(settings)
            # TIMESTAMP_LTZ values cannot be collected into Python; they are read as UTC TIMESTAMPs.
            t_env.get_config().set("table.local-time-zone", "UTC")
            self.environments[catalog] = t_env
        return self.environments[catalog]


_FLINK = FlinkReader()


@functools.cache
def members_table(settings: Settings) -> list[dict[str, Any]]:
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


def ledger_tuple(entry: LedgerEntry) -> tuple[Any, ...]:
    """A reference ledger entry as the ledger table holds it (the table's columns, in order)."""
    return tuple(getattr(entry, name) for name in LEDGER_FIELDS)


def statement_tuple(s: MonthlyStatement) -> tuple[Any, ...]:
    """A reference statement as the statements table holds it."""
    return tuple(getattr(s, name) for name in STATEMENT_FIELDS)


#: The ``loyalty.balances`` value fields (the event time aside, compared last): what a reader of
#: the topic sees of a member, named like the reference's ``MemberSnapshot`` attributes.
BALANCE_FIELDS = tuple(
    f["name"] for f in load_schema(loyalty_accrual.BALANCE_SCHEMA)["fields"] if f["name"] != "event_time"
)


def balance_history(settings: Settings) -> dict[str, list[tuple[Any, ...]]]:
    """Every committed ``loyalty.balances`` value per member still on the topic, in log order (a
    member's values share a partition). The topic is compacted and its record timestamps are event
    times, often long past: the cleaner may already have removed any value but a member's latest."""
    history: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    records = kafka_clients.read_topic(settings, settings.loyalty_balances_topic)
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        if record.key is not None and record.value is not None:
            value = BALANCE.decode(record.value)
            history[record.key.decode()].append(
                (*(value[name] for name in BALANCE_FIELDS), _epoch_ms(value["event_time"]))
            )
    return dict(history)


def expected_balance_history(ref: Reference) -> dict[str, list[tuple[Any, ...]]]:
    """One balance value per member snapshot of the reference, in the order the core made them."""
    history = {
        member_id: [
            (*(getattr(s, name) for name in BALANCE_FIELDS), s.event_time_ms)
            for s in outputs
            if isinstance(s, MemberSnapshot)
        ]
        for member_id, outputs in ref.outputs.items()
    }
    return {member_id: values for member_id, values in history.items() if values}


def _epoch_ms(value: Any) -> int:
    return value if isinstance(value, int) else round(value.timestamp() * 1000)


def dead_letters(settings: Settings) -> tuple[list[tuple[int, int]], Counter[tuple[str, str]]]:
    """The dead-letter topic as (coordinates of the undecodable records, refused (code, event ID))."""
    letters = [
        DEAD_LETTER.decode(r.value)
        for r in kafka_clients.read_topic(settings, settings.dead_letter_topic)
        if r.value is not None
    ]
    undecodable = sorted(
        (d["source_partition"], d["source_offset"]) for d in letters if d["payload"] == GARBAGE
    )
    refused = Counter(
        (d["error_type"], event_from_record(EVENTS_CODEC.decode(d["payload"])).event_id)
        for d in letters
        if d["payload"] != GARBAGE
    )
    return undecodable, refused


def expected_dead_letters(ref: Reference) -> tuple[list[tuple[int, int]], Counter[tuple[str, str]]]:
    return sorted(ref.undecodable), Counter((r.code, r.event_id) for r in ref.rejected)


def expected_ledger(ref: Reference) -> list[tuple[Any, ...]]:
    return sorted(ledger_tuple(e) for e in ref.ledger())


def expected_statements(ref: Reference, until_ms: int) -> list[tuple[Any, ...]]:
    """The statements of every month with entries that ended by ``until_ms``."""
    expected = []
    for member_id in ref.states:
        entries = [e for e in ref.ledger() if e.member_id == member_id]
        expected += [
            statement_tuple(s)
            for s in statement_chain(member_id, entries)
            if s.entry_count and month_end_ms(s.month) <= until_ms
        ]
    return sorted(expected)
