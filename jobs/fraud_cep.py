"""Fraud CEP: customer actions in, fraud alerts out, rules changed at run time, exactly once.

PyFlink has no CEP API, so a ``KeyedBroadcastProcessFunction`` runs the pure-Python NFA of
``operators.cep`` per customer, in event time, for every rule published on the control topic.

========== ======================================================================================
Input      ``fraud.events`` (Avro ``io.streamledger.fraud.FraudEvent``, key = customer, record
           timestamp = event time); ``fraud.rules`` (compacted, 1 partition, key = rule ID, value
           = rule JSON of ``operators.cep.rules`` or a tombstone; record timestamp = the event
           time the change takes effect from), always read from its beginning on a fresh start.
Keys       customer (``FraudEvent.key``); rule messages are keyed by rule ID in the rule gate.
State      per customer: ``pending`` (ValueState, ``state/fraud_cep_pending.v2.avsc``: events
           waiting for the watermark and the count of late events refused, named in each LATE_EVENT
           dead letter; TTL ``PENDING_TTL_MS``) and ``rule-matches`` (MapState
           rule ID -> ``state/fraud_cep_rule.v1.avsc``: the rule version and its partial
           matches; removed as soon as nothing is in flight, bounded by each rule's ``within``).
           Per rule ID in the gate: ``rule-timeline`` (ValueState, JSON). Broadcast state
           ``fraud-rules`` (rule ID -> timeline JSON, last 8 versions per rule).
           No state value is pickled.
Timers     event time: one at each buffered event's timestamp (the watermark releases it, in
           timestamp order, to the NFA: out-of-order input matches as in-order input would),
           one at the earliest ``first event + within`` of the partial matches in flight (so
           timeouts, held matches and trailing ``not_followed_by`` fire without new input).
Watermarks events: bounded out-of-orderness 5 s, idle partitions ignored after 10 s. Rules:
           out-of-orderness 0, idle after 10 s: while rule messages flow they hold event time
           back until they are in, so a change applies from its timestamp exactly; once idle
           they no longer hold it back. An event at or behind the watermark (or behind what its
           customer already released) is late.
UIDs       ``source-fraud-events``, ``decode-fraud-events``, ``source-fraud-rules``,
           ``fraud-rule-gate``, ``fraud-cep``, ``alerts-to-kafka``, ``alerts-to-iceberg``,
           ``sink-kafka``; the Iceberg writer/committer get planner-derived uids.
Outputs    ``fraud.alerts`` (key customer, value Avro ``io.streamledger.fraud.Alert`` with the
           rule ID and version that matched); Iceberg ``fraud.alerts`` (append, one row per
           alert); ``streamledger.dlq``: undecodable events (UNDECODABLE/UNKNOWN_SCHEMA/
           INVALID_EVENT), late events (LATE_EVENT), rejected rules (RULE_REJECTED, with the
           reason). All written in the job's checkpoint-aligned transactions. Timed-out partial
           matches go to the ``timeouts`` side output (counted; no sink consumes them).
========== ======================================================================================

Rule changes (see ``operators.cep.rule_timeline``): a version governs event times from its
message's timestamp to the next version's; a new version starts with no partial matches (the
old version's in-flight partial matches are closed at the end of its interval, emitting only
what completed by then); disabling (``"enabled": false`` or a tombstone) closes the rule the same
way. An invalid message (bad JSON, unknown type or parameter, key not the rule ID, an older
version, a reused version number) goes to the dead-letter topic and changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from operator import attrgetter
from typing import Any

from pyflink.common import Row, Types
from pyflink.datastream import (
    DataStream,
    KeyedBroadcastProcessFunction,
    KeyedProcessFunction,
    OutputTag,
    ProcessFunction,
    RuntimeContext,
)
from pyflink.datastream.state import MapStateDescriptor, ValueStateDescriptor

from jobs.builder import APPEND_TABLE, BYTES, KAFKA_OUTPUT_TYPE, JobBuilder, ToKafkaRow, expiring_state
from jobs.dead_letters import DeadLetterWriter
from jobs.entrypoints import JobEntrypoints
from operators.cep.alerts import Alert
from operators.cep.errors import RuleDefinitionError
from operators.cep.event_time_buffer import EventTimeBuffer
from operators.cep.fraud_events import FraudEvent
from operators.cep.fraud_rules import MAX_WINDOW_MS
from operators.cep.fraud_wire import InvalidFraudEventError, event_from_record, event_to_record
from operators.cep.rule_timeline import (
    KeyMatcher,
    RuleMatchState,
    RuleTimeline,
    RuleUpdate,
    apply_rule_message,
)
from schemas import AvroCodec, UndecodableMessageError
from state.fraud_cep import decode_pending, decode_rule_state, encode_pending, encode_rule_state
from streamledger.config import Settings

JOB_NAME = "fraud-cep"
ICEBERG_NAMESPACE = "fraud"
ICEBERG_TABLE = "alerts"

#: A customer's ``pending`` value (its release watermark) is kept this long after its last
#: event, so a late event is recognised as late even after a restore (watermarks restart at
#: -inf); it is also the longest any rule window may be, plus a day.
PENDING_TTL_MS = MAX_WINDOW_MS + 24 * 3600 * 1000

DEAD_LETTERS = OutputTag("dead-letters", KAFKA_OUTPUT_TYPE)
#: ``(rule_id, version, customer, matched event IDs)`` of partial matches that timed out.
TIMEOUTS = OutputTag("timeouts")

RULE_UPDATE_TYPE = Types.ROW_NAMED(["rule_id", "timeline"], [Types.STRING(), Types.STRING()])
RULES_STATE = MapStateDescriptor("fraud-rules", Types.STRING(), Types.STRING())

ICEBERG_ROW_TYPE = Types.ROW_NAMED(
    [
        "alert_id",
        "rule_id",
        "rule_version",
        "customer",
        "score",
        "event_ids",
        "event_times",
        "detected_at_ms",
    ],
    [
        Types.STRING(),
        Types.STRING(),
        Types.INT(),
        Types.STRING(),
        Types.DOUBLE(),
        Types.BASIC_ARRAY(Types.STRING()),
        Types.BASIC_ARRAY(Types.LONG()),
        Types.LONG(),
    ],
)

ICEBERG_COLUMNS = """
    alert_id STRING NOT NULL,
    rule_id STRING NOT NULL,
    rule_version INT NOT NULL,
    customer STRING NOT NULL,
    score DOUBLE NOT NULL,
    event_ids ARRAY<STRING>,
    event_times ARRAY<BIGINT>,
    detected_at TIMESTAMP_LTZ(6) NOT NULL
"""


class DecodeFraudEvents(ProcessFunction):  # type: ignore[misc]
    """Raw Kafka rows -> FraudEvent; anything undecodable becomes a dead letter, never a failure."""

    def __init__(self, dead_letter_topic: str) -> None:
        self.dead_letter_topic = dead_letter_topic

    def open(self, runtime_context: RuntimeContext) -> None:
        self.codec = AvroCodec("fraud.FraudEvent")
        self.dead_letters = DeadLetterWriter(JOB_NAME, self.dead_letter_topic)
        self.undecodable = runtime_context.get_metrics_group().counter("undecodable")

    def process_element(self, value: Row, ctx: ProcessFunction.Context) -> Iterator[Any]:
        try:
            yield event_from_record(self.codec.decode(value.value))
        except UndecodableMessageError as error:
            self.undecodable.inc()
            yield DEAD_LETTERS, self.dead_letters.for_record(value, error.error_type, error.reason)
        except InvalidFraudEventError as error:
            self.undecodable.inc()
            yield DEAD_LETTERS, self.dead_letters.for_record(value, "INVALID_EVENT", str(error))


class RuleGate(KeyedProcessFunction):  # type: ignore[misc]
    """Validates control-topic messages once, before they are broadcast to every CEP instance.

    Keyed by rule ID, it keeps each rule's timeline, so version checks (stale, conflicting) need
    no broadcast state, and a rejection is reported once rather than once per parallel CEP
    instance. Any error while validating rejects the message: a rule can never fail the job.
    """

    def __init__(self, dead_letter_topic: str) -> None:
        self.dead_letter_topic = dead_letter_topic

    def open(self, runtime_context: RuntimeContext) -> None:
        self.timeline = runtime_context.get_state(ValueStateDescriptor("rule-timeline", Types.STRING()))
        self.dead_letters = DeadLetterWriter(JOB_NAME, self.dead_letter_topic)
        metrics = runtime_context.get_metrics_group()
        self.accepted = metrics.counter("rules_accepted")
        self.rejected = metrics.counter("rules_rejected")

    def process_element(self, value: Row, ctx: KeyedProcessFunction.Context) -> Iterator[Any]:
        stored = self.timeline.value()
        try:
            current = RuleTimeline.from_json(stored) if stored is not None else None
            timeline, update = apply_rule_message(current, value.key, value.value, int(value.timestamp))
        except RuleDefinitionError as error:
            self.rejected.inc()
            yield DEAD_LETTERS, self.dead_letters.for_record(value, "RULE_REJECTED", str(error))
            return
        except Exception as error:  # whatever a message holds, it must not fail the job
            self.rejected.inc()
            reason = f"rule could not be validated: {type(error).__name__}: {error}"
            yield DEAD_LETTERS, self.dead_letters.for_record(value, "RULE_REJECTED", reason)
            return
        if update is RuleUpdate.UNCHANGED:
            return
        self.accepted.inc()
        encoded = timeline.to_json()
        self.timeline.update(encoded)
        yield Row(timeline.rule_id, encoded)


class FraudCep(KeyedBroadcastProcessFunction):  # type: ignore[misc]
    """Thin Flink shell around :class:`operators.cep.rule_timeline.KeyMatcher`."""

    def __init__(self, dead_letter_topic: str, events_topic: str) -> None:
        self.dead_letter_topic = dead_letter_topic
        self.events_topic = events_topic

    def open(self, runtime_context: RuntimeContext) -> None:
        pending = ValueStateDescriptor("pending", BYTES)
        pending.enable_time_to_live(expiring_state(PENDING_TTL_MS))
        self.pending = runtime_context.get_state(pending)
        self.rule_matches = runtime_context.get_map_state(
            MapStateDescriptor("rule-matches", Types.STRING(), BYTES)
        )
        self.matcher = KeyMatcher()
        self.timelines: dict[str, tuple[str, RuleTimeline]] = {}
        self.dead_letters = DeadLetterWriter(JOB_NAME, self.dead_letter_topic)
        self.event_codec = AvroCodec("fraud.FraudEvent")
        metrics = runtime_context.get_metrics_group()
        self.late = metrics.counter("late_events")
        self.alerts = metrics.counter("alerts")
        self.timeouts = metrics.counter("timeouts")

    def process_element(self, event: FraudEvent, ctx: KeyedBroadcastProcessFunction.ReadOnlyContext) -> Any:
        stored = self.pending.value()
        buffer: EventTimeBuffer[FraudEvent] = (
            decode_pending(stored) if stored is not None else EventTimeBuffer()
        )
        timestamp = event.timestamp_ms
        watermark = ctx.timer_service().current_watermark()
        if timestamp <= watermark or buffer.is_late(timestamp):
            self.late.inc()
            behind = max(watermark, buffer.watermark if buffer.watermark is not None else watermark)
            refused = buffer.refuse_late()
            self.pending.update(encode_pending(refused))
            yield (
                DEAD_LETTERS,
                self.dead_letters.for_payload(
                    key=event.key.encode(),
                    payload=self.event_codec.encode(event_to_record(event)),
                    source=self.events_topic,
                    error_type="LATE_EVENT",
                    reason=(
                        f"event time {timestamp} is at or behind the watermark {behind} "
                        f"(late event {refused.late_events} of this customer)"
                    ),
                    event_time_ms=timestamp,
                ),
            )
            return
        self.pending.update(encode_pending(buffer.add(event, timestamp)))
        ctx.timer_service().register_event_time_timer(timestamp)

    def process_broadcast_element(self, value: Row, ctx: KeyedBroadcastProcessFunction.Context) -> None:
        ctx.get_broadcast_state(RULES_STATE).put(value.rule_id, value.timeline)

    def on_timer(self, timestamp: int, ctx: KeyedBroadcastProcessFunction.OnTimerContext) -> Iterator[Any]:
        watermark = max(timestamp, ctx.timer_service().current_watermark())
        stored = self.pending.value()
        buffer: EventTimeBuffer[FraudEvent] = (
            decode_pending(stored) if stored is not None else EventTimeBuffer()
        )
        if buffer.watermark is not None and watermark <= buffer.watermark:
            return  # an earlier timer of this watermark already released everything up to it
        buffer, released = buffer.advance_watermark(watermark)
        self.pending.update(encode_pending(buffer))
        key = ctx.get_current_key()
        states: dict[str, RuleMatchState] = {
            rule_id: decode_rule_state(data) for rule_id, data in self.rule_matches.items()
        }
        step = self.matcher.step(key, released, watermark, self._timelines(ctx), states)
        for rule_id, state in step.states.items():
            if state is None:
                if rule_id in states:
                    self.rule_matches.remove(rule_id)
            else:
                self.rule_matches.put(rule_id, encode_rule_state(state))
        if step.next_deadline is not None:
            ctx.timer_service().register_event_time_timer(step.next_deadline)
        for alert in step.alerts:
            self.alerts.inc()
            yield alert
        for rule_id, version, match in step.timeouts:
            self.timeouts.inc()
            ids = tuple(event.event_id for events in match.values() for event in events)
            yield TIMEOUTS, (rule_id, version, key, ids)

    def _timelines(self, ctx: KeyedBroadcastProcessFunction.OnTimerContext) -> Mapping[str, RuleTimeline]:
        """The broadcast timelines, parsed once per change rather than once per timer."""
        current: dict[str, RuleTimeline] = {}
        for rule_id, encoded in ctx.get_broadcast_state(RULES_STATE).items():
            cached = self.timelines.get(rule_id)
            if cached is None or cached[0] != encoded:
                cached = self.timelines[rule_id] = (encoded, RuleTimeline.from_json(encoded))
            current[rule_id] = cached[1]
        return current


def alert_to_iceberg_row(alert: Alert) -> Row:
    return Row(
        alert.alert_id,
        alert.rule_id,
        alert.rule_version,
        alert.key,
        alert.score,
        list(alert.event_ids),
        list(alert.event_times),
        alert.detected_at,
    )


def _rule_key(row: Row) -> str:
    key: bytes | None = row.key
    return key.decode("utf-8", errors="replace") if key else ""


def build(builder: JobBuilder, *, bounded: bool = False, start: str | int = "committed") -> None:
    """Wire the job into ``builder``; call ``builder.execute()`` to run it."""
    s: Settings = builder.settings
    records = builder.kafka_source(
        s.fraud_events_topic, uid="source-fraud-events", bounded=bounded, start=start
    )
    events = (
        records.process(DecodeFraudEvents(s.dead_letter_topic))
        .uid("decode-fraud-events")
        .name("decode events")
    )
    # Rules are read from the beginning (a fresh start must know every rule; a restore takes the
    # checkpointed offset and broadcast state instead). Out-of-orderness 0: one partition, in order.
    rule_records = builder.kafka_source(
        s.fraud_rules_topic,
        uid="source-fraud-rules",
        bounded=bounded,
        start="earliest",
        max_out_of_orderness_ms=0,
    )
    rule_updates: DataStream = (
        rule_records.key_by(_rule_key, key_type=Types.STRING())
        .process(RuleGate(s.dead_letter_topic), output_type=RULE_UPDATE_TYPE)
        .uid("fraud-rule-gate")
        .name("validate rules")
    )
    alerts: DataStream = (
        events.key_by(lambda e: e.key, key_type=Types.STRING())
        .connect(rule_updates.broadcast(RULES_STATE))
        .process(FraudCep(s.dead_letter_topic, s.fraud_events_topic))
        .uid("fraud-cep")
        .name("fraud cep")
    )
    kafka_rows = alerts.map(
        ToKafkaRow(s.fraud_alerts_topic, "fraud.Alert", attrgetter("key"), Alert.to_avro_record),
        output_type=KAFKA_OUTPUT_TYPE,
    ).uid("alerts-to-kafka")
    dead_letters = (
        events.get_side_output(DEAD_LETTERS)
        .union(rule_updates.get_side_output(DEAD_LETTERS))
        .union(alerts.get_side_output(DEAD_LETTERS))
    )
    builder.kafka_sink(kafka_rows.union(dead_letters), uid="sink-kafka")

    table = builder.ensure_iceberg_table(
        ICEBERG_NAMESPACE,
        ICEBERG_TABLE,
        ICEBERG_COLUMNS,
        APPEND_TABLE,
    )
    iceberg_rows = alerts.map(alert_to_iceberg_row, output_type=ICEBERG_ROW_TYPE).uid("alerts-to-iceberg")
    builder.iceberg_insert(
        iceberg_rows,
        view="fraud_alerts_stream",
        insert_sql=(
            f"INSERT INTO {table} SELECT alert_id, rule_id, rule_version, customer, score, event_ids, "
            "event_times, TO_TIMESTAMP_LTZ(detected_at_ms, 3) FROM fraud_alerts_stream"
        ),
    )


ENTRYPOINTS = JobEntrypoints(JOB_NAME, build, attrgetter("fraud_events_topic"))
create = ENTRYPOINTS.create
run = ENTRYPOINTS.run
run_until_caught_up = ENTRYPOINTS.run_until_caught_up
main = ENTRYPOINTS.main


if __name__ == "__main__":
    from jobs.registry import run_main

    run_main("jobs.fraud_cep")
