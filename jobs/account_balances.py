"""Account balances: postings in, running balance per account out, exactly once.

The foundation pipeline every other job copies its wiring from.

========== ======================================================================================
Input      ``ledger.postings`` (Avro ``io.streamledger.ledger.Posting``, key = account ID,
           record timestamp = event time).
Keys       account ID (``Posting.account_id``).
State      ``balance`` (ValueState, bytes of ``state/account_balance.vN.avsc``) and
           ``seen-event-ids`` (MapState event ID -> True, TTL ``dedupe_retention_ms``,
           cleaned by RocksDB compaction) per account.
Timers     none (state is bounded by the TTL of the de-duplication map).
Watermarks bounded out-of-orderness (5 s) on the Kafka record timestamps, idle partitions
           ignored after 10 s. The balance is order-independent; watermarks matter to the
           windowed jobs built on the same source.
UIDs       ``source-postings``, ``decode-postings``, ``account-balance``, ``balances-to-kafka``,
           ``balances-to-iceberg``, ``sink-kafka``; the Iceberg writer/committer get
           planner-derived uids from the INSERT below.
Outputs    ``ledger.balances`` (compacted; key account ID, value Avro ``BalanceUpdate``);
           Iceberg ``ledger.balance_updates`` (append, one row per applied posting);
           ``streamledger.dlq`` (Avro ``DeadLetter``: undecodable input, rejected postings).
           All three are written in the job's checkpoint-aligned transactions.
========== ======================================================================================
"""

from __future__ import annotations

from collections.abc import Iterator
from operator import attrgetter
from typing import Any

from pyflink.common import Row, Types
from pyflink.datastream import (
    DataStream,
    KeyedProcessFunction,
    OutputTag,
    ProcessFunction,
    RuntimeContext,
)
from pyflink.datastream.state import MapStateDescriptor, ValueStateDescriptor

from jobs.builder import APPEND_TABLE, BYTES, KAFKA_OUTPUT_TYPE, JobBuilder, ToKafkaRow, expiring_state
from jobs.dead_letters import DeadLetterWriter
from jobs.entrypoints import JobEntrypoints
from operators.account_balance import BalanceState, BalanceUpdate, Posting, PostingRejected, apply_posting
from schemas import AvroCodec, UndecodableMessageError
from state.account_balance import BALANCE_STATE
from streamledger.config import Settings

JOB_NAME = "account-balances"
ICEBERG_NAMESPACE = "ledger"
ICEBERG_TABLE = "balance_updates"

DEAD_LETTERS = OutputTag("dead-letters", KAFKA_OUTPUT_TYPE)

ICEBERG_ROW_TYPE = Types.ROW_NAMED(
    ["account_id", "version", "balance_minor", "currency", "event_id", "amount_minor", "event_time_ms"],
    [Types.STRING(), Types.LONG(), Types.LONG(), Types.STRING(), Types.STRING(), Types.LONG(), Types.LONG()],
)

ICEBERG_COLUMNS = """
    account_id STRING NOT NULL,
    version BIGINT NOT NULL,
    balance_minor BIGINT NOT NULL,
    currency STRING NOT NULL,
    event_id STRING NOT NULL,
    amount_minor BIGINT NOT NULL,
    event_time TIMESTAMP_LTZ(6) NOT NULL
"""


class DecodePostings(ProcessFunction):  # type: ignore[misc]
    """Raw Kafka rows -> Posting; anything undecodable becomes a dead letter, never a failure."""

    def __init__(self, source_topic: str, dead_letter_topic: str) -> None:
        self.source_topic = source_topic
        self.dead_letter_topic = dead_letter_topic

    def open(self, runtime_context: RuntimeContext) -> None:
        self.codec = AvroCodec("ledger.Posting")
        self.dead_letters = DeadLetterWriter(JOB_NAME, self.dead_letter_topic)
        self.undecodable = runtime_context.get_metrics_group().counter("undecodable")

    def process_element(self, value: Row, ctx: ProcessFunction.Context) -> Iterator[Any]:
        try:
            yield Posting.from_record(self.codec.decode(value.value))
        except UndecodableMessageError as error:
            self.undecodable.inc()
            yield DEAD_LETTERS, self.dead_letters.for_record(value, error.error_type, error.reason)


class AccountBalance(KeyedProcessFunction):  # type: ignore[misc]
    """Thin Flink shell around :func:`operators.account_balance.apply_posting`."""

    def __init__(self, dead_letter_topic: str, source_topic: str, dedupe_retention_ms: int) -> None:
        self.dead_letter_topic = dead_letter_topic
        self.source_topic = source_topic
        self.dedupe_retention_ms = dedupe_retention_ms

    def open(self, runtime_context: RuntimeContext) -> None:
        self.balance = runtime_context.get_state(ValueStateDescriptor("balance", BYTES))
        seen = MapStateDescriptor("seen-event-ids", Types.STRING(), Types.BOOLEAN())
        seen.enable_time_to_live(expiring_state(self.dedupe_retention_ms))
        self.seen = runtime_context.get_map_state(seen)
        self.dead_letters = DeadLetterWriter(JOB_NAME, self.dead_letter_topic)
        metrics = runtime_context.get_metrics_group()
        self.duplicates = metrics.counter("duplicates")
        self.rejected = metrics.counter("rejected")

    def process_element(self, posting: Posting, ctx: KeyedProcessFunction.Context) -> Iterator[Any]:
        if self.seen.contains(posting.event_id):
            self.duplicates.inc()
            return
        self.seen.put(posting.event_id, True)
        stored = self.balance.value()
        state = BalanceState(**BALANCE_STATE.decode(stored)) if stored is not None else None
        new_state, output = apply_posting(state, posting)
        if isinstance(output, PostingRejected):
            self.rejected.inc()
            yield DEAD_LETTERS, self.dead_letters.for_rejected_posting(output, self.source_topic)
            return
        assert new_state is not None
        self.balance.update(
            BALANCE_STATE.encode(
                {
                    "currency": new_state.currency,
                    "balance_minor": new_state.balance_minor,
                    "version": new_state.version,
                    "last_event_time_ms": new_state.last_event_time_ms,
                    "opened_at_ms": new_state.opened_at_ms,
                }
            )
        )
        yield output


def balance_to_iceberg_row(update: BalanceUpdate) -> Row:
    return Row(
        update.account_id,
        update.version,
        update.balance_minor,
        update.currency,
        update.event_id,
        update.amount_minor,
        update.event_time_ms,
    )


def build(builder: JobBuilder, *, bounded: bool = False, start: str | int = "committed") -> None:
    """Wire the job into ``builder``; call ``builder.execute()`` to run it."""
    s: Settings = builder.settings
    records = builder.kafka_source(s.postings_topic, uid="source-postings", bounded=bounded, start=start)
    postings = (
        records.process(DecodePostings(s.postings_topic, s.dead_letter_topic))
        .uid("decode-postings")
        .name("decode postings")
    )
    updates: DataStream = (
        postings.key_by(lambda p: p.account_id, key_type=Types.STRING())
        .process(AccountBalance(s.dead_letter_topic, s.postings_topic, s.dedupe_retention_ms))
        .uid("account-balance")
        .name("account balance")
    )
    kafka_rows = updates.map(
        ToKafkaRow(
            s.balances_topic, "ledger.BalanceUpdate", attrgetter("account_id"), BalanceUpdate.to_record
        ),
        output_type=KAFKA_OUTPUT_TYPE,
    ).uid("balances-to-kafka")
    dead_letters = postings.get_side_output(DEAD_LETTERS).union(updates.get_side_output(DEAD_LETTERS))
    builder.kafka_sink(kafka_rows.union(dead_letters), uid="sink-kafka")

    table = builder.ensure_iceberg_table(
        ICEBERG_NAMESPACE,
        ICEBERG_TABLE,
        ICEBERG_COLUMNS,
        APPEND_TABLE,
    )
    iceberg_rows = updates.map(balance_to_iceberg_row, output_type=ICEBERG_ROW_TYPE).uid(
        "balances-to-iceberg"
    )
    builder.iceberg_insert(
        iceberg_rows,
        view="balance_updates_stream",
        insert_sql=(
            f"INSERT INTO {table} SELECT account_id, version, balance_minor, currency, event_id, "
            "amount_minor, TO_TIMESTAMP_LTZ(event_time_ms, 3) FROM balance_updates_stream"
        ),
    )


ENTRYPOINTS = JobEntrypoints(JOB_NAME, build, attrgetter("postings_topic"))
create = ENTRYPOINTS.create
run = ENTRYPOINTS.run
run_until_caught_up = ENTRYPOINTS.run_until_caught_up
main = ENTRYPOINTS.main


if __name__ == "__main__":
    from jobs.registry import run_main

    run_main("jobs.account_balances")
