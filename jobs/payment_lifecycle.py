"""Payment lifecycle: raw ISO 20022 messages in, each payment's status and timeline out, exactly once.

"Where is this payment, and why?" Messages about one payment arrive from several channels, in any
order, sometimes twice, sometimes late; this job folds them into one lifecycle per payment with the
pure core in :mod:`operators.payment_lifecycle` (see there for the status precedence rules).

========== ======================================================================================
Input      ``payments.iso20022``: one raw ISO 20022 message per record (bare ``Document`` or
           ``AppHdr`` + ``Document`` in an envelope; UTF-8 with or without BOM), key = channel.
Parse      ``parse-iso20022``: hardened lxml parse (no DTD/entities, no network, size limit
           ``payment_max_message_bytes``), one canonical event per transaction, names and
           accounts replaced by keyed HMAC tokens and masked forms *here* — raw PII never reaches
           the shuffle, state or checkpoints. Anything unparseable → dead-letter topic with the
           raw bytes and the reason (MALFORMED, UNSUPPORTED, HOSTILE).
Keys       ``payment_id`` (UETR, else the documented composite, see
           :mod:`streamledger.iso20022.payment_key`).
State      ``payment`` (ValueState, bytes of ``state/payment_lifecycle.vN.avsc``): the timeline
           entries (capped at 256), parties (tokens), the SLA the payment was admitted under
           (state v2: a changed ``payment_sla_ms`` applies to payments admitted after the change)
           and its deadline. Everything derived is
           recomputed on read. Duplicates are recognised by the entries themselves, so no
           separate de-duplication state is needed.
Timers     event time: the SLA check at ``initiated_at + payment_sla_ms`` (a payment neither
           settled nor finished by then is published with ``sla_breached = true``: STALLED); and
           for a finished payment (CREDITED, REJECTED, RETURNED, CANCELLED) the expiry of its
           state ``payment_retention_ms`` after its latest message — bounded state.
Watermarks re-assigned after parsing from each event's own event time (bounded out-of-orderness
           5 s, idle partitions ignored after 10 s): Kafka timestamps say when a channel delivered,
           not when the payment step happened.
Late data  order does not matter to the lifecycle, so a late message for a payment the job still
           holds is applied normally (the status is still right). A message older than the
           watermark minus ``payment_allowed_lateness_ms`` for a payment it holds no state for
           (never seen, or forgotten after retention) goes to the dead-letter topic as LATE
           instead of starting a misleading lifecycle of its own.
UIDs       ``source-payments``, ``parse-iso20022``, ``payment-event-time``, ``payment-lifecycle``,
           ``status-to-kafka``, ``status-to-iceberg``, ``timeline-to-iceberg``, ``sink-kafka``;
           the Iceberg writers get planner-derived uids from the INSERTs below.
Outputs    ``payments.status`` (compacted; key payment ID; Avro ``PaymentStatus``: latest view);
           Iceberg ``payments.lifecycle`` (one row per payment, upserted by ``payment_id``) and
           ``payments.events`` (append-only timeline: one row per distinct message transaction);
           ``streamledger.dlq`` (Avro ``DeadLetter``). All in the job's checkpoint transactions.
========== ======================================================================================

Reading ``payments.lifecycle``: upserts are written as Iceberg equality deletes, which Flink, Spark
and Trino read; pyiceberg 0.8 does not, so Python readers use the ``payments.status`` topic, the
append-only ``payments.events`` table, or Flink SQL (``jobs.builder.batch_table_environment``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from operator import attrgetter
from typing import Any

from pyflink.common import Duration, Row, Types, WatermarkStrategy
from pyflink.common.watermark_strategy import TimestampAssigner
from pyflink.datastream import (
    DataStream,
    KeyedProcessFunction,
    OutputTag,
    ProcessFunction,
    RuntimeContext,
)
from pyflink.datastream.state import ValueStateDescriptor

from jobs.builder import (
    APPEND_TABLE,
    BYTES,
    KAFKA_OUTPUT_TYPE,
    MAX_OUT_OF_ORDERNESS_MS,
    UPSERT_TABLE,
    JobBuilder,
    ToKafkaRow,
)
from jobs.dead_letters import DeadLetterWriter
from jobs.entrypoints import JobEntrypoints
from operators.loyalty.pii import PiiKey
from operators.payment_lifecycle.canonical import SCHEMA_NAME, from_record, to_record
from operators.payment_lifecycle.parties import parties_of
from operators.payment_lifecycle.route import direction, hop_index
from operators.payment_lifecycle.timeline import TimelineEntry
from operators.payment_lifecycle.tracking import (
    StatusUpdate,
    TrackedPayment,
    epoch_ms,
    expires_at_ms,
    on_event,
    on_sla_deadline,
)
from schemas import AvroCodec
from state.payment_lifecycle import decode_payment, encode_payment
from streamledger.config import Settings
from streamledger.iso20022 import (
    HostileMessageError,
    Iso20022Error,
    MalformedMessageError,
    UnsupportedMessageError,
    parse_message,
)

JOB_NAME = "payment-lifecycle"
ICEBERG_NAMESPACE = "payments"
LIFECYCLE_TABLE = "lifecycle"
EVENTS_TABLE = "events"

DEAD_LETTERS = OutputTag("dead-letters", KAFKA_OUTPUT_TYPE)

#: Parsed events between the parse step and the keyed operator: typed, not pickled.
CANONICAL_EVENT_TYPE = Types.ROW_NAMED(
    ["payment_id", "event_time_ms", "event"], [Types.STRING(), Types.LONG(), BYTES]
)

TIMELINE_ROW_TYPE = Types.ROW_NAMED(
    [
        "payment_id",
        "event_time_ms",
        "event_type",
        "message_type",
        "message_id",
        "status",
        "reason",
        "instructing_agent",
        "instructed_agent",
        "hop",
        "amount",
        "currency",
        "uetr",
        "end_to_end_id",
        "version",
    ],
    [
        Types.STRING(),
        Types.LONG(),
        Types.STRING(),
        Types.STRING(),
        Types.STRING(),
        Types.STRING(),
        Types.STRING(),
        Types.STRING(),
        Types.STRING(),
        Types.INT(),
        Types.STRING(),
        Types.STRING(),
        Types.STRING(),
        Types.STRING(),
        Types.LONG(),
    ],
)
TIMELINE = OutputTag("timeline", TIMELINE_ROW_TYPE)

_TIMESTAMP_FIELDS = (
    "initiated_at",
    "accepted_at",
    "settled_at",
    "credited_at",
    "finished_at",
    "last_updated",
)
_STATUS_COLUMNS: tuple[tuple[str, Any, str], ...] = (
    ("payment_id", Types.STRING(), "STRING NOT NULL"),
    ("status", Types.STRING(), "STRING NOT NULL"),
    ("status_reason", Types.STRING(), "STRING"),
    ("cancellation", Types.STRING(), "STRING"),
    ("amount", Types.STRING(), "DECIMAL(38, 10)"),
    ("currency", Types.STRING(), "STRING"),
    ("reconciliation", Types.STRING(), "STRING"),
    ("uetr", Types.STRING(), "STRING"),
    ("end_to_end_id", Types.STRING(), "STRING"),
    ("hops", Types.INT(), "INT NOT NULL"),
    ("messages", Types.INT(), "INT NOT NULL"),
    ("initiated_at", Types.LONG(), "TIMESTAMP_LTZ(6) NOT NULL"),
    ("accepted_at", Types.LONG(), "TIMESTAMP_LTZ(6)"),
    ("settled_at", Types.LONG(), "TIMESTAMP_LTZ(6)"),
    ("credited_at", Types.LONG(), "TIMESTAMP_LTZ(6)"),
    ("finished_at", Types.LONG(), "TIMESTAMP_LTZ(6)"),
    ("initiation_to_settlement_ms", Types.LONG(), "BIGINT"),
    ("initiation_to_credit_ms", Types.LONG(), "BIGINT"),
    ("settlement_to_credit_ms", Types.LONG(), "BIGINT"),
    ("terminal", Types.BOOLEAN(), "BOOLEAN NOT NULL"),
    ("sla_breached", Types.BOOLEAN(), "BOOLEAN NOT NULL"),
    ("truncated", Types.BOOLEAN(), "BOOLEAN NOT NULL"),
    ("debtor_name_token", Types.STRING(), "STRING"),
    ("debtor_account_token", Types.STRING(), "STRING"),
    ("debtor_account_masked", Types.STRING(), "STRING"),
    ("creditor_name_token", Types.STRING(), "STRING"),
    ("creditor_account_token", Types.STRING(), "STRING"),
    ("creditor_account_masked", Types.STRING(), "STRING"),
    ("last_updated", Types.LONG(), "TIMESTAMP_LTZ(6) NOT NULL"),
    ("version", Types.LONG(), "BIGINT NOT NULL"),
)
STATUS_ROW_TYPE = Types.ROW_NAMED([c[0] for c in _STATUS_COLUMNS], [c[1] for c in _STATUS_COLUMNS])

_ERROR_TYPES: tuple[tuple[type[Iso20022Error], str], ...] = (
    (HostileMessageError, "HOSTILE"),
    (UnsupportedMessageError, "UNSUPPORTED"),
    (MalformedMessageError, "MALFORMED"),
)


def _error_type(error: Iso20022Error) -> str:
    return next((name for kind, name in _ERROR_TYPES if isinstance(error, kind)), "MALFORMED")


class ParseMessages(ProcessFunction):  # type: ignore[misc]
    """Raw message → canonical, pseudonymised events; anything unparseable → dead letter."""

    def __init__(self, dead_letter_topic: str, pii_key: PiiKey, max_bytes: int) -> None:
        self.dead_letter_topic = dead_letter_topic
        self.pii_key = pii_key
        self.max_bytes = max_bytes

    def open(self, runtime_context: RuntimeContext) -> None:
        self.codec = AvroCodec(SCHEMA_NAME)
        self.dead_letters = DeadLetterWriter(JOB_NAME, self.dead_letter_topic)
        metrics = runtime_context.get_metrics_group()
        self.refused = metrics.counter("messages_refused")
        self.events = metrics.counter("events_parsed")

    def process_element(self, value: Row, ctx: ProcessFunction.Context) -> Iterator[Any]:
        source = f"{value.topic}/{value.partition}/{value.offset}"
        try:
            message = parse_message(value.value or b"", source=source, max_bytes=self.max_bytes)
        except Iso20022Error as error:
            self.refused.inc()
            yield DEAD_LETTERS, self.dead_letters.for_record(value, _error_type(error), str(error))
            return
        for event in message.events:
            self.events.inc()
            record = to_record(event, parties_of(self.pii_key, event), source)
            yield Row(event.payment_id, epoch_ms(event.event_time), self.codec.encode(record))


class EventTime(TimestampAssigner):  # type: ignore[misc]
    def extract_timestamp(self, value: Row, record_timestamp: int) -> int:
        return int(value.event_time_ms)


class PaymentLifecycleFunction(KeyedProcessFunction):  # type: ignore[misc]
    """Thin Flink shell around :mod:`operators.payment_lifecycle.tracking`."""

    def __init__(
        self, dead_letter_topic: str, sla_ms: int, retention_ms: int, allowed_lateness_ms: int
    ) -> None:
        self.dead_letter_topic = dead_letter_topic
        self.sla = timedelta(milliseconds=sla_ms)
        self.retention = timedelta(milliseconds=retention_ms)
        self.allowed_lateness_ms = allowed_lateness_ms

    def open(self, runtime_context: RuntimeContext) -> None:
        self.payment = runtime_context.get_state(ValueStateDescriptor("payment", BYTES))
        self.codec = AvroCodec(SCHEMA_NAME)
        self.dead_letters = DeadLetterWriter(JOB_NAME, self.dead_letter_topic)
        metrics = runtime_context.get_metrics_group()
        self.late = metrics.counter("late_without_state")
        self.stalled = metrics.counter("sla_breaches")
        self.expired = metrics.counter("payments_expired")

    def _load(self) -> TrackedPayment | None:
        stored = self.payment.value()
        return None if stored is None else decode_payment(stored)

    def process_element(self, value: Row, ctx: KeyedProcessFunction.Context) -> Iterator[Any]:
        state = self._load()
        record = self.codec.decode(value.event)
        watermark = ctx.timer_service().current_watermark()
        if state is None and value.event_time_ms < watermark - self.allowed_lateness_ms:
            self.late.inc()
            yield (
                DEAD_LETTERS,
                self.dead_letters.for_payload(
                    key=value.payment_id.encode(),
                    payload=value.event,
                    source=record["source"],
                    error_type="LATE",
                    event_time_ms=value.event_time_ms,
                    reason=(
                        f"event time {value.event_time_ms} is more than {self.allowed_lateness_ms} ms behind "
                        f"the watermark {watermark} and payment {value.payment_id} is not tracked "
                        "(never seen, or forgotten after its retention)"
                    ),
                ),
            )
            return
        event, parties = from_record(record)
        outcome = on_event(state, event, parties, self.sla)
        if outcome.state == state:
            return
        self.payment.update(encode_payment(outcome.state))
        self._arm_timers(outcome.state, ctx)
        if outcome.new_entry is not None:
            yield TIMELINE, timeline_row(outcome.state, outcome.new_entry)
        if outcome.update is not None:
            yield outcome.update

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext) -> Iterator[Any]:
        state = self._load()
        if state is None:
            return
        expiry = expires_at_ms(state, self.retention)
        if expiry is not None and timestamp >= expiry:
            self.expired.inc()
            self.payment.clear()
            return
        outcome = on_sla_deadline(state, timestamp, self.sla)
        if outcome.state != state:
            self.payment.update(encode_payment(outcome.state))
        if outcome.update is not None:
            self.stalled.inc()
            yield outcome.update

    def _arm_timers(self, state: TrackedPayment, ctx: KeyedProcessFunction.Context) -> None:
        timers = ctx.timer_service()
        if not state.sla_checked:
            timers.register_event_time_timer(state.sla_due_ms)
        expiry = expires_at_ms(state, self.retention)
        if expiry is not None:
            timers.register_event_time_timer(expiry)


def timeline_row(state: TrackedPayment, entry: TimelineEntry) -> Row:
    leg = direction(entry)
    hop = None if leg is None else hop_index(state.lifecycle.route).get(leg)
    return Row(
        state.lifecycle.payment_id,
        epoch_ms(entry.event_time),
        entry.event_type.value,
        entry.message_type,
        entry.message_id,
        entry.status,
        entry.reason,
        entry.instructing_agent,
        entry.instructed_agent,
        hop,
        None if entry.amount is None else format(entry.amount, "f"),
        entry.currency,
        entry.uetr,
        entry.end_to_end_id,
        state.lifecycle.version,
    )


def status_to_iceberg_row(update: StatusUpdate) -> Row:
    record = update.record
    return Row(
        *(
            (None if record[name] is None else epoch_ms(record[name]))
            if name in _TIMESTAMP_FIELDS
            else record[name]
            for name, _, _ in _STATUS_COLUMNS
        )
    )


def _select_status_columns() -> str:
    columns = []
    for name, _, _ in _STATUS_COLUMNS:
        if name in _TIMESTAMP_FIELDS:
            columns.append(f"TO_TIMESTAMP_LTZ({name}, 3)")
        elif name == "amount":
            columns.append("CAST(amount AS DECIMAL(38, 10))")
        else:
            columns.append(name)
    return ", ".join(columns)


def build(builder: JobBuilder, *, bounded: bool = False, start: str | int = "committed") -> None:
    """Wire the job into ``builder``; call ``builder.execute()`` to run it."""
    s: Settings = builder.settings
    records = builder.kafka_source(
        s.payments_input_topic, uid="source-payments", bounded=bounded, start=start
    )
    pii_key = PiiKey(s.pii_key_id, s.pii_key_secret.encode())
    parsed = (
        records.process(
            ParseMessages(s.dead_letter_topic, pii_key, s.payment_max_message_bytes),
            output_type=CANONICAL_EVENT_TYPE,
        )
        .uid("parse-iso20022")
        .name("parse ISO 20022")
    )
    timed = parsed.assign_timestamps_and_watermarks(
        WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(MAX_OUT_OF_ORDERNESS_MS))
        .with_idleness(Duration.of_millis(10_000))
        .with_timestamp_assigner(EventTime())
    ).uid("payment-event-time")
    updates: DataStream = (
        timed.key_by(lambda row: row.payment_id, key_type=Types.STRING())
        .process(
            PaymentLifecycleFunction(
                s.dead_letter_topic, s.payment_sla_ms, s.payment_retention_ms, s.payment_allowed_lateness_ms
            )
        )
        .uid("payment-lifecycle")
        .name("payment lifecycle")
    )
    kafka_rows = updates.map(
        ToKafkaRow(
            s.payments_status_topic, "payments.PaymentStatus", attrgetter("payment_id"), attrgetter("record")
        ),
        output_type=KAFKA_OUTPUT_TYPE,
    ).uid("status-to-kafka")
    dead_letters = parsed.get_side_output(DEAD_LETTERS).union(updates.get_side_output(DEAD_LETTERS))
    builder.kafka_sink(kafka_rows.union(dead_letters), uid="sink-kafka")

    lifecycle_table = builder.ensure_iceberg_table(
        ICEBERG_NAMESPACE,
        LIFECYCLE_TABLE,
        ",\n".join(f"{name} {sql_type}" for name, _, sql_type in _STATUS_COLUMNS)
        + ",\nPRIMARY KEY (payment_id) NOT ENFORCED",
        UPSERT_TABLE,
    )
    builder.iceberg_insert(
        updates.map(status_to_iceberg_row, output_type=STATUS_ROW_TYPE).uid("status-to-iceberg"),
        view="payment_status_stream",
        insert_sql=(
            f"INSERT INTO {lifecycle_table} SELECT {_select_status_columns()} FROM payment_status_stream"
        ),
    )
    events_table = builder.ensure_iceberg_table(
        ICEBERG_NAMESPACE,
        EVENTS_TABLE,
        """
        payment_id STRING NOT NULL,
        event_time TIMESTAMP_LTZ(6) NOT NULL,
        event_type STRING NOT NULL,
        message_type STRING NOT NULL,
        message_id STRING NOT NULL,
        status STRING,
        reason STRING,
        instructing_agent STRING,
        instructed_agent STRING,
        hop INT,
        amount DECIMAL(38, 10),
        currency STRING,
        uetr STRING,
        end_to_end_id STRING,
        version BIGINT NOT NULL
        """,
        APPEND_TABLE,
    )
    timeline = updates.get_side_output(TIMELINE)
    builder.iceberg_insert(
        timeline,
        view="payment_timeline_stream",
        insert_sql=(
            f"INSERT INTO {events_table} SELECT payment_id, TO_TIMESTAMP_LTZ(event_time_ms, 3), event_type, "
            "message_type, message_id, status, reason, instructing_agent, instructed_agent, hop, "
            "CAST(amount AS DECIMAL(38, 10)), currency, uetr, end_to_end_id, version "
            "FROM payment_timeline_stream"
        ),
    )


ENTRYPOINTS = JobEntrypoints(JOB_NAME, build, attrgetter("payments_input_topic"))
create = ENTRYPOINTS.create
run = ENTRYPOINTS.run
run_until_caught_up = ENTRYPOINTS.run_until_caught_up
main = ENTRYPOINTS.main


if __name__ == "__main__":
    from jobs.registry import run_main

    run_main("jobs.payment_lifecycle")
