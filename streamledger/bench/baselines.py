"""Baselines measured in the same ``streamledger bench`` run, on the same machine and broker.

A job's events per second mean little on their own; next to what the engine, the broker and the
alternatives do with the same input they say where the time goes. Each baseline reads the same
generated records from fresh topics and writes exactly once (except the raw broker clients):

- ``broker``: confluent-kafka producer alone, then consumer alone — the broker's ceiling here;
- ``flink-sql-passthrough``: Kafka -> Kafka in Flink SQL (``raw`` format, every operator in the
  JVM, no Python), with the jobs' exactly-once settings — the engine's ceiling;
- ``flink-sql-logic``: the job's logic as SQL (de-duplication by event ID with ``ROW_NUMBER``,
  then a keyed aggregation into an ``upsert-kafka`` compacted topic, or for fraud-cep
  ``MATCH_RECOGNIZE`` in event time into an append topic);
- ``pyflink-naive``: the same logic as the simplest PyFlink job — process mode, JSON, one state
  read and one state write per event, no batching;
- ``quix``: the same logic with Quix Streams (``processing_guarantee="exactly-once"``), in its
  own virtualenv (its confluent-kafka pin conflicts with the project's), as a child process.

Each job has a logic (:mod:`streamledger.bench.baseline_logic` says what each leaves out of the
job). The logic baselines read the job's input JSON-encoded (same keys, timestamps and corrupt
records): Flink SQL's ``avro`` format cannot read Avro single-object encoding, and it has no XML
format, so ISO 20022 messages are parsed and graded by the job's own parser before the run (one
JSON row per payment a message speaks about). Throughput of every Flink or Quix baseline is
:func:`streamledger.bench.stats.output_rate` of its output topic, the measure taken of the job,
so the ratios compare like with like — except for fraud-cep, whose output is alerts, not one row
per input: there the job and every baseline are compared on committed input offsets (see
:data:`RATE_MEASURES`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyflink.common import Row, Types
from pyflink.datastream import KeyedProcessFunction, RuntimeContext
from pyflink.datastream.state import ValueStateDescriptor

from jobs import runner
from jobs.builder import KAFKA_OUTPUT_TYPE, MAX_OUT_OF_ORDERNESS_MS, JobBuilder
from operators.loyalty.rules import EarnRule, Rules
from streamledger import kafka_clients
from streamledger.bench import baseline_logic, stats
from streamledger.bench.procfs import TreeSampler
from streamledger.bench.watchers import CommittedOffsets, EndOffsets
from streamledger.bench.workloads import BenchRecord
from streamledger.config import LOG_TOPIC_CONFIGS, PROJECTION_TOPIC_CONFIGS, Settings, TopicSpec
from streamledger.errors import StreamledgerError, first_line
from streamledger.generators import postings as posting_generator
from streamledger.stack.kafka_broker import KafkaBroker

BASELINES = ("broker", "flink-sql-passthrough", "flink-sql-logic", "pyflink-naive", "quix")

#: Baselines that implement a job's logic (:data:`baseline_logic.LOGICS`), on its input as JSON.
LOGIC_BASELINES = ("flink-sql-logic", "pyflink-naive", "quix")

#: Which of the job's rates the ratios compare, per job: ``processing`` (the output log's growth,
#: one output per applied input) or ``sustained`` (committed input offsets, for a job whose output
#: is not one row per input: fraud-cep's alerts). With ``sustained``, the Flink logic baselines
#: (:data:`FLINK_LOGIC_BASELINES`, alerts out too) are rated on their committed input as well; the
#: pass-through writes every record and Quix counts what it processed, so theirs stay
#: processing rates.
RATE_MEASURES = {baseline_logic.FRAUD_CEP: "sustained"}
FLINK_LOGIC_BASELINES = ("flink-sql-logic", "pyflink-naive")

DESCRIPTIONS = {
    "broker": "confluent-kafka producer alone (idempotent, acks=all, lz4, linger.ms 20), then a "
    "read_committed consumer alone, over the same records",
    "flink-sql-passthrough": "Flink SQL INSERT INTO sink SELECT * FROM source, raw format, all in the JVM "
    "(no Python); EXACTLY_ONCE Kafka sink with a transactional id prefix, read_committed source, the "
    "run's checkpoint interval",
    "flink-sql-logic": "Flink SQL: de-duplicate by event_id (ROW_NUMBER, state TTL = dedupe "
    "retention), then the job's logic, exactly-once; JSON input. account-balances: SUM(amount_minor) "
    "per account (no currency or overflow rule) into upsert-kafka. loyalty-accrual: per member, SUM "
    "of base earn (CASE over the rules' earn rates and currency table), redemptions and adjustments, "
    "minus what cancelled activities earned (a regular join), into upsert-kafka. payment-lifecycle: "
    "per payment, the status of the strongest evidence (MAX), message count and latest event time, "
    "into upsert-kafka. fraud-cep: payment velocity and test-then-large as MATCH_RECOGNIZE in event "
    "time (watermark 5 s behind), AFTER MATCH SKIP PAST LAST ROW, into an append topic",
    "pyflink-naive": "PyFlink DataStream job, python.execution-mode process, JSON in and out, one "
    "ValueState read and one write per event (the key's state and its last 100 event IDs as one "
    "JSON string), no batching; exactly-once Kafka sink; the logic of flink-sql-logic "
    "(streamledger/bench/baseline_logic.py; fraud-cep in arrival order)",
    "quix": "Quix Streams application, processing_guarantee exactly-once, commit_interval = the "
    "checkpoint interval, the same step function and state layout as pyflink-naive, in a child "
    "process",
}

#: Producer setting for the baselines' copies of the input (and the pass-through's sink): the
#: payment generator plants one oversized message the job must refuse, and its copies must reach
#: the broker as the original did.
LARGE_RECORDS = {"message.max.bytes": 16 * 2**20}

#: The Quix Streams application prints its processed-record count this often (see quix_progress).
QUIX_PROGRESS_EVERY = 200

#: Event IDs (and, for loyalty, activities' points) remembered per key by the naive and Quix
#: baselines. The generators redeliver from the last records overall, so a short list suffices.
SEEN_PER_KEY = 100


class BaselineUnavailableError(StreamledgerError):
    """A baseline cannot run on this machine (e.g. the Quix Streams virtualenv is missing)."""


@dataclass(frozen=True)
class BaselineSetup:
    settings: Settings
    """The run's settings (its topic prefix, state root and checkpoint interval)."""
    records: Sequence[BenchRecord]
    """The job's input, generated as for the job."""
    logic: str | None
    """The job whose logic the logic baselines implement (one of :data:`baseline_logic.LOGICS`);
    None for a job without one (no logic baselines)."""
    prefix: str
    quix_python: Path
    timeout_s: float = 900.0

    def topic(self, name: str) -> str:
        return f"{self.prefix}.baseline.{name}"


# ---------------------------------------------------------------------------------------- running
def run_baselines(setup: BaselineSetup, names: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Run each named baseline in turn; a baseline that cannot run says why instead of a number."""
    results: dict[str, dict[str, Any]] = {}
    broker = KafkaBroker(setup.settings)
    created: list[str] = []
    try:
        json_topic = None
        if any(n in LOGIC_BASELINES for n in names) and setup.logic is not None:
            json_topic = setup.topic(f"{setup.logic}-json")
            created.append(json_topic)
            broker.ensure_topics((TopicSpec(json_topic, setup.settings.topic_partitions, LOG_TOPIC_CONFIGS),))
            rows = _JSON_INPUT[setup.logic](setup.records)
            posting_generator.produce(setup.settings, json_topic, rows, producer_config=LARGE_RECORDS)
        for name in names:
            started = time.monotonic()
            try:
                if name in LOGIC_BASELINES and json_topic is None:
                    raise BaselineUnavailableError(
                        f"the business-logic baselines implement {', '.join(baseline_logic.LOGICS)} "
                        "and run beside those jobs only"
                    )
                result = _RUNNERS[name](setup, broker, created, json_topic or "")
                if RATE_MEASURES.get(setup.logic or "") == "sustained" and name in FLINK_LOGIC_BASELINES:
                    result = _rated_on_committed_input(result)
                results[name] = {"measured": True, "description": DESCRIPTIONS[name], **result}
            except BaselineUnavailableError as exc:
                results[name] = {"measured": False, "description": DESCRIPTIONS[name], "reason": str(exc)}
            except Exception as exc:  # py4j wraps a failed Flink baseline; the job's numbers still count
                logs = setup.settings.state_dir / "logs"
                results[name] = {
                    "measured": False,
                    "description": DESCRIPTIONS[name],
                    "reason": f"failed: {first_line(exc)} (see the Flink log in {logs})",
                }
            results[name]["wall_seconds"] = round(time.monotonic() - started, 2)
    finally:
        with contextlib.suppress(Exception):  # best effort, as for the job's topics
            leftovers = [
                t
                for t in kafka_clients.admin_client(setup.settings).list_topics(timeout=10).topics
                if t.startswith(f"{setup.prefix}.baseline") or f"bench-quix-{setup.prefix}" in t
            ]
            broker.delete_topics(sorted(set(created) | set(leftovers)))
    return results


def _rated_on_committed_input(result: dict[str, Any]) -> dict[str, Any]:
    """The result with its committed-offset rate as its events/s (the broker's stays as it is):
    for a job whose output is not one row per input, the output log's growth is no throughput."""
    if "committed_sustained_events_per_second" not in result:
        return result
    return {
        **result,
        "output_events_per_second": result.get("events_per_second"),
        "events_per_second": result["committed_sustained_events_per_second"],
        "rate_source": "committed input offsets, first progress to caught up (the job's sustained "
        "measure): the output is alerts, not one row per input",
    }


def json_postings(records: Sequence[BenchRecord]) -> list[BenchRecord]:
    """The postings JSON-encoded (same key and timestamp); undecodable records keep their bytes."""
    from operators.account_balance import Posting
    from schemas import AvroCodec, UndecodableMessageError

    codec = AvroCodec("ledger.Posting")
    encoded: list[BenchRecord] = []
    for record in records:
        try:
            posting = Posting.from_record(codec.decode(record.value))
            body = json.dumps(dataclasses.asdict(posting), sort_keys=True).encode()
        except UndecodableMessageError:
            body = record.value
        encoded.append(dataclasses.replace(record, value=body))
    return encoded


def json_loyalty_events(records: Sequence[BenchRecord]) -> list[BenchRecord]:
    """Loyalty events JSON-encoded with the fields the loyalty-balance logic reads (no contact
    data; same key and timestamp); undecodable records keep their bytes."""
    from operators.loyalty import SCHEMA_NAME, event_from_record
    from schemas import AvroCodec, UndecodableMessageError

    codec = AvroCodec(SCHEMA_NAME)
    encoded: list[BenchRecord] = []
    for record in records:
        try:
            event = event_from_record(codec.decode(record.value))
        except UndecodableMessageError:
            encoded.append(record)
            continue
        fields = {name: getattr(event, name) for name in _LOYALTY_JSON_FIELDS if hasattr(event, name)}
        if hasattr(event, "spend_minor"):  # a hotel stay's amount
            fields["amount_minor"] = event.spend_minor
        body = {"event_id": event.event_id, "member_id": event.member_id, "event_type": event.event_type}
        encoded.append(dataclasses.replace(record, value=json.dumps(body | fields, sort_keys=True).encode()))
    return encoded


#: Event fields the loyalty-balance logic reads, besides the IDs and the type.
_LOYALTY_JSON_FIELDS = (
    "fare_class",
    "distance_miles",
    "partner_id",
    "amount_minor",
    "currency",
    "points",
    "original_event_id",
)


def json_payment_events(records: Sequence[BenchRecord]) -> list[BenchRecord]:
    """One JSON row per payment each ISO 20022 message speaks about, keyed by payment ID: the
    message ID (the de-duplication key), the evidence the job's grading gives the message and its
    event time. Parsed and graded here, untimed: Flink SQL cannot parse XML. A message the parser
    refuses keeps its bytes (the baselines drop it as corrupt)."""
    from operators.payment_lifecycle.status import evidence_of
    from operators.payment_lifecycle.timeline import entry_of
    from streamledger.iso20022 import Iso20022Error, parse_message

    rows: list[BenchRecord] = []
    for record in records:
        try:
            events = parse_message(record.value).events
        except Iso20022Error:
            rows.append(record)
            continue
        for event in events:
            body = {
                "event_id": f"{event.message_id}|{event.payment_id}",
                "payment_id": event.payment_id,
                "evidence": int(evidence_of(entry_of(event))),
                "event_time_ms": int(event.event_time.timestamp() * 1000),
            }
            key = event.payment_id.encode()
            rows.append(BenchRecord(key, json.dumps(body, sort_keys=True).encode(), record.timestamp_ms, ()))
    return rows


def json_fraud_events(records: Sequence[BenchRecord]) -> list[BenchRecord]:
    """Fraud events JSON-encoded with the fields the two baseline rules read (same key and
    timestamp); undecodable or invalid records keep their bytes."""
    from operators.cep.fraud_wire import InvalidFraudEventError, event_from_record
    from schemas import AvroCodec, UndecodableMessageError

    codec = AvroCodec("fraud.FraudEvent")
    encoded: list[BenchRecord] = []
    for record in records:
        try:
            event = event_from_record(codec.decode(record.value))
        except (UndecodableMessageError, InvalidFraudEventError):
            encoded.append(record)
            continue
        body = {
            "event_id": event.event_id,
            "customer": event.key,
            "kind": event.kind.value,
            "timestamp_ms": event.timestamp_ms,
            "amount_minor": event.amount_minor,
            "creditor": event.creditor,
        }
        encoded.append(dataclasses.replace(record, value=json.dumps(body, sort_keys=True).encode()))
    return encoded


_JSON_INPUT: dict[str, Callable[[Sequence[BenchRecord]], list[BenchRecord]]] = {
    baseline_logic.ACCOUNT_BALANCES: json_postings,
    baseline_logic.LOYALTY_ACCRUAL: json_loyalty_events,
    baseline_logic.PAYMENT_LIFECYCLE: json_payment_events,
    baseline_logic.FRAUD_CEP: json_fraud_events,
}


def loyalty_earn_table(rules: Rules) -> dict[str, Any]:
    """The rules' base earn rates as the loyalty-balance logic takes them (floats: a baseline
    measures speed, not cents): points per mile by fare class, per programme-currency unit for
    hotel, partner and card spend, and the programme-currency value of one minor unit per currency."""

    def rates(activity: str) -> list[EarnRule]:
        return [r for r in rules.earn if r.activity == activity]

    return {
        "flight": {
            fare: float(r.points_per_unit) for r in rates("FLIGHT") for fare in sorted(r.fare_classes)
        },
        "hotel": float(rates("HOTEL")[0].points_per_unit),
        "partner": {p: float(r.points_per_unit) for r in rates("PARTNER") for p in sorted(r.partners)},
        "card": float(rates("CARD")[0].points_per_unit),
        "fx": {c.code: float(c.rate.scaleb(-c.minor_units)) for c in rules.currencies},
    }


def _earn_table(settings: Settings) -> dict[str, Any]:
    """The earn table of the rules the loyalty job of ``settings`` runs with."""
    from jobs.loyalty_accrual import configured_rules

    return loyalty_earn_table(configured_rules(settings))


def payment_status_names() -> dict[str, str]:
    """Status name per evidence grade for the payment logic (grade as a string: JSON keys). A
    grade that is not a status of its own (nothing, the cancellation case) means a bank holds the
    payment: ACCEPTED, as the job's last precedence rule says."""
    from operators.payment_lifecycle.status import Evidence, PaymentStatus

    return {
        str(int(e)): PaymentStatus[e.name].value if e.name in PaymentStatus.__members__ else "ACCEPTED"
        for e in Evidence
    }


def fraud_rule_params() -> dict[str, int]:
    """The thresholds of the two rules the fraud logic runs, from the generator's default rules
    (the rules the bench publishes to the job)."""
    from streamledger.generators import fraud

    rules = {r["type"]: r["parameters"] for r in fraud.default_rules()}
    velocity, test = rules["payment_velocity"], rules["test_then_large_payment"]
    return {
        "velocity_min_payments": velocity["min_payments"],
        "velocity_min_amount_minor": velocity["min_amount_minor"],
        "velocity_within_ms": velocity["within_ms"],
        "small_max_minor": test["small_max_minor"],
        "large_min_minor": test["large_min_minor"],
        "test_within_ms": test["within_ms"],
    }


def _logic_params(setup: BaselineSetup) -> tuple[str, dict[str, Any]]:
    """The logic the baselines run and its parameters, from the job's own configuration."""
    logic = setup.logic or baseline_logic.ACCOUNT_BALANCES
    if logic == baseline_logic.LOYALTY_ACCRUAL:
        return logic, _earn_table(setup.settings)
    if logic == baseline_logic.PAYMENT_LIFECYCLE:
        return logic, {"statuses": payment_status_names()}
    if logic == baseline_logic.FRAUD_CEP:
        return logic, fraud_rule_params()
    return logic, {}


def _topics(broker: KafkaBroker, created: list[str], *specs: TopicSpec) -> None:
    broker.ensure_topics(specs)
    created.extend(s.name for s in specs)


@dataclass
class _Observers:
    """CPU/memory of this process tree, the output log's growth and the committed input."""

    sampler: TreeSampler
    appended: EndOffsets
    committed: CommittedOffsets

    @classmethod
    @contextlib.contextmanager
    def watching(
        cls, settings: Settings, group: str, input_topic: str, output_topic: str
    ) -> Iterator[_Observers]:
        partitions = settings.topic_partitions
        observers = cls(
            TreeSampler(),
            EndOffsets(settings, output_topic, partitions),
            CommittedOffsets(settings, group, input_topic, partitions),
        )
        workers = (observers.sampler, observers.appended, observers.committed)
        for worker in workers:
            worker.start()
        try:
            yield observers
        finally:
            for worker in reversed(workers):
                worker.stop()

    def summary(self, records: int, seconds: float, submitted: float) -> dict[str, Any]:
        rate = stats.output_rate(self.appended.samples, records)
        base = self.appended.samples[0][1] if self.appended.samples else 0
        progress = stats.committed_progress(self.committed.samples, submitted, records)
        usage = self.sampler.report()
        sustained = progress.sustained_events_per_second
        return {
            "records": records,
            "seconds": round(seconds, 2),
            "events_per_second": round(rate.events_per_second, 1) if rate else None,
            "rate_window_seconds": round(rate.window_seconds, 2) if rate else None,
            "events_per_second_is_lower_bound": rate.lower_bound if rate else None,
            "appended_output": [[round(t - submitted, 2), n - base] for t, n in _thin(self.appended.samples)],
            "outputs_appended": (self.appended.samples[-1][1] - self.appended.samples[0][1])
            if self.appended.samples
            else 0,
            "committed_sustained_events_per_second": round(sustained, 1) if sustained else None,
            "startup_seconds": round(progress.startup_seconds, 2) if progress.startup_seconds else None,
            "cpu_seconds": usage["cpu_seconds"],
            "average_cores_busy": usage["average_cores_busy"],
            "peak_rss_bytes": usage["peak_rss_bytes"],
        }


def _thin(samples: list[tuple[float, int]]) -> list[tuple[float, int]]:
    """The samples where the count changed (and the last): the output log's growth, compactly."""
    kept = [s for i, s in enumerate(samples) if i == 0 or s[1] != samples[i - 1][1]]
    return kept + samples[-1:] if samples and kept[-1] != samples[-1] else kept


def _run_flink(
    setup: BaselineSetup,
    name: str,
    input_topic: str,
    output_topic: str,
    build: Callable[[JobBuilder], None],
) -> dict[str, Any]:
    """Run a Flink baseline exactly as the job runs (:func:`jobs.runner.run_until_caught_up`)."""
    submitted: list[float] = []

    def create(settings: Settings, config: dict[str, str]) -> JobBuilder:
        builder = JobBuilder.create(name, settings, {**_flink_config(settings), **config})
        build(builder)
        submitted.append(time.monotonic())
        return builder

    with _Observers.watching(setup.settings, name, input_topic, output_topic) as observers:
        began = time.monotonic()
        report = runner.run_until_caught_up(
            name, setup.settings, create, input_topic, timeout_s=setup.timeout_s
        )
        time.sleep(0.5)  # one more output-log sample after the last append
    return observers.summary(report.records, report.seconds, submitted[0] if submitted else began)


def _flink_config(settings: Settings) -> dict[str, str]:
    return {
        "parallelism.default": str(settings.parallelism),
        "execution.checkpointing.interval": f"{settings.checkpoint_interval_ms} ms",
    }


def _kafka_sql_options(settings: Settings, topic: str) -> str:
    return f"'topic' = '{topic}', 'properties.bootstrap.servers' = '{settings.bootstrap_servers}'"


def _exactly_once_sql(settings: Settings, prefix: str) -> str:
    """The sink options of :meth:`jobs.builder.JobBuilder.kafka_sink`, in SQL."""
    return (
        "'sink.delivery-guarantee' = 'exactly-once', "
        f"'sink.transactional-id-prefix' = '{prefix}', "
        f"'properties.transaction.timeout.ms' = '{settings.kafka_transaction_timeout_ms}', "
        "'properties.enable.idempotence' = 'true', 'properties.acks' = 'all', "
        "'properties.compression.type' = 'lz4', 'properties.linger.ms' = '20'"
    )


def _kafka_table_ddl(table: str, columns: str, connector: str, *options: str) -> str:
    """``CREATE TEMPORARY TABLE`` of a Kafka-backed table: its columns, then the WITH options."""
    return (
        f"CREATE TEMPORARY TABLE {table} ({columns}) WITH ('connector' = '{connector}', {', '.join(options)})"
    )


def _read_committed_sql(group: str) -> str:
    return (
        f"'properties.group.id' = '{group}', 'properties.isolation.level' = 'read_committed', "
        "'properties.commit.offsets.on.checkpoint' = 'true', 'scan.startup.mode' = 'earliest-offset'"
    )


def _passthrough(
    setup: BaselineSetup, broker: KafkaBroker, created: list[str], _json_topic: str
) -> dict[str, Any]:
    s = setup.settings
    name = "bench-baseline-passthrough"
    source, sink = setup.topic("passthrough-in"), setup.topic("passthrough-out")
    _topics(
        broker,
        created,
        TopicSpec(source, s.topic_partitions, LOG_TOPIC_CONFIGS),
        TopicSpec(sink, s.topic_partitions, LOG_TOPIC_CONFIGS),
    )
    posting_generator.produce(s, source, setup.records, producer_config=LARGE_RECORDS)

    def build(builder: JobBuilder) -> None:
        t_env = builder.table_env
        raw = (
            "'key.format' = 'raw', 'key.fields' = 'k', "
            "'value.format' = 'raw', 'value.fields-include' = 'EXCEPT_KEY'"
        )
        columns = "k BYTES, v BYTES"
        t_env.execute_sql(
            _kafka_table_ddl(
                "passthrough_in",
                columns,
                "kafka",
                _kafka_sql_options(s, source),
                _read_committed_sql(name),
                raw,
            )
        )
        t_env.execute_sql(
            _kafka_table_ddl(
                "passthrough_out",
                columns,
                "kafka",
                _kafka_sql_options(s, sink),
                _exactly_once_sql(s, f"streamledger-{name}"),
                f"'properties.max.request.size' = '{LARGE_RECORDS['message.max.bytes']}'",
                raw,
            )
        )
        statements = t_env.create_statement_set()
        statements.add_insert_sql("INSERT INTO passthrough_out SELECT k, v FROM passthrough_in")
        statements.attach_as_datastream()

    return _run_flink(setup, name, source, sink, build)


@dataclass(frozen=True)
class _LogicSql:
    """One logic as Flink SQL, over the JSON input table ``input_json`` and its de-duplicated view
    ``first_seen``, into the table ``sql_output`` (upsert by ``key``, or append)."""

    key: str
    input_columns: str
    output_columns: str
    #: ``CREATE TEMPORARY VIEW`` statements the INSERT reads, after ``first_seen``.
    views: tuple[str, ...]
    #: The query whose rows go into ``sql_output``.
    insert: str
    #: An upsert-kafka table keyed by ``key`` (compacted projection), else an append Kafka topic.
    upsert: bool = True
    #: Event-time column and watermark of ``input_json``, for a logic in event time.
    event_time: str | None = None


#: Every event seen first, once: de-duplication by event ID (Flink plans it as keep-first-row).
_FIRST_SEEN = (
    "CREATE TEMPORARY VIEW first_seen AS SELECT * FROM ("
    "  SELECT *, ROW_NUMBER() OVER (PARTITION BY event_id ORDER BY proc) AS seen_order"
    "  FROM input_json WHERE event_id IS NOT NULL AND {key} IS NOT NULL"
    ") WHERE seen_order = 1"
)


def _sql_case(column: str, values: dict[str, float]) -> str:
    """``CASE column WHEN 'k' THEN v ... END`` (NULL for any other value)."""
    whens = " ".join(f"WHEN '{k}' THEN CAST({v!r} AS DOUBLE)" for k, v in sorted(values.items()))
    return f"CASE {column} {whens} END"


def _account_sql() -> _LogicSql:
    return _LogicSql(
        key="account_id",
        input_columns="event_id STRING, account_id STRING, amount_minor BIGINT, currency STRING",
        output_columns="account_id STRING, balance BIGINT, events BIGINT",
        views=(),
        insert="SELECT account_id, SUM(amount_minor), COUNT(*) FROM first_seen GROUP BY account_id",
    )


def _loyalty_sql(earn: dict[str, Any]) -> _LogicSql:
    """The loyalty-balance logic of :mod:`streamledger.bench.baseline_logic` as one keyed
    aggregation over three streams: what activities earn, redemptions and adjustments, and what
    cancelled activities had earned, taken back (a regular join on the event ID, in either order)."""
    per_minor = _sql_case("currency", earn["fx"])
    points = (
        "CASE event_type"
        f" WHEN 'FLIGHT_FLOWN' THEN distance_miles * {_sql_case('fare_class', earn['flight'])}"
        f" WHEN 'HOTEL_STAY' THEN amount_minor * {per_minor} * CAST({earn['hotel']!r} AS DOUBLE)"
        f" WHEN 'PARTNER_PURCHASE' THEN amount_minor * {per_minor}"
        f" * {_sql_case('partner_id', earn['partner'])}"
        f" WHEN 'CARD_SPEND' THEN amount_minor * {per_minor} * CAST({earn['card']!r} AS DOUBLE)"
        " END"
    )
    earning = ", ".join(f"'{kind}'" for kind in baseline_logic.EARNING)
    return _LogicSql(
        key="member_id",
        input_columns="event_id STRING, member_id STRING, event_type STRING, fare_class STRING, "
        "distance_miles BIGINT, partner_id STRING, amount_minor BIGINT, currency STRING, points BIGINT, "
        "original_event_id STRING",
        output_columns="member_id STRING, balance BIGINT, events BIGINT",
        views=(
            "CREATE TEMPORARY VIEW earned AS SELECT member_id, event_id, "
            f"COALESCE(CAST(FLOOR({points}) AS BIGINT), 0) AS points "
            f"FROM first_seen WHERE event_type IN ({earning})",
        ),
        insert="SELECT member_id, SUM(delta), COUNT(*) FROM ("
        "  SELECT member_id, points AS delta FROM earned"
        "  UNION ALL"
        "  SELECT member_id, CASE event_type WHEN 'REDEMPTION_REQUESTED' THEN -points"
        "    WHEN 'MANUAL_ADJUSTMENT' THEN points ELSE 0 END AS delta"
        f"  FROM first_seen WHERE event_type NOT IN ({earning})"
        "  UNION ALL"
        "  SELECT e.member_id, -e.points AS delta FROM first_seen AS c"
        "  JOIN earned AS e ON c.original_event_id = e.event_id"
        "  WHERE c.event_type = 'ACTIVITY_CANCELLED'"
        ") GROUP BY member_id",
    )


def _payment_sql(statuses: dict[str, str]) -> _LogicSql:
    """Per payment: the status of the strongest evidence of its messages (see baseline_logic)."""
    status = " ".join(f"WHEN {grade} THEN '{name}'" for grade, name in sorted(statuses.items()))
    return _LogicSql(
        key="payment_id",
        input_columns="event_id STRING, payment_id STRING, evidence INT, event_time_ms BIGINT",
        output_columns="payment_id STRING, status STRING, messages BIGINT, last_event_ms BIGINT",
        views=(),
        insert=f"SELECT payment_id, CASE MAX(evidence) {status} END, COUNT(*), MAX(event_time_ms) "
        "FROM first_seen GROUP BY payment_id",
    )


def _fraud_sql(rules: dict[str, int]) -> _LogicSql:
    """The two baseline fraud rules as ``MATCH_RECOGNIZE`` over each customer's payments in event
    time. Velocity needs no inner contiguity rule: non-qualifying events are filtered out first,
    so ``P{n}`` over what is left is the job's relaxed contiguity. Test-then-large skips whatever
    lies between the test and the first large payment to its creditor (``X*?``)."""

    def match(rule: str, source: str, pattern: str, within_ms: int, define: str) -> str:
        return (
            f"SELECT customer, '{rule}', first_ms, last_ms, last_id FROM {source} MATCH_RECOGNIZE ("
            "  PARTITION BY customer ORDER BY ts"
            "  MEASURES FIRST(ts_ms) AS first_ms, LAST(ts_ms) AS last_ms, LAST(event_id) AS last_id"
            "  ONE ROW PER MATCH AFTER MATCH SKIP PAST LAST ROW"
            f"  PATTERN ({pattern}) WITHIN {_sql_interval(within_ms)} DEFINE {define})"
        )

    velocity = match(
        "velocity",
        f"(SELECT * FROM payments WHERE amount_minor >= {rules['velocity_min_amount_minor']})",
        f"P{{{rules['velocity_min_payments']}}}",
        rules["velocity_within_ms"],
        "P AS TRUE",
    )
    test_then_large = match(
        "test-then-large",
        "payments",
        "T X*? L",
        rules["test_within_ms"],
        f"T AS amount_minor > 0 AND amount_minor <= {rules['small_max_minor']}, "
        f"L AS amount_minor >= {rules['large_min_minor']} AND creditor = T.creditor",
    )
    return _LogicSql(
        key="customer",
        input_columns="event_id STRING, customer STRING, kind STRING, timestamp_ms BIGINT, "
        "amount_minor BIGINT, creditor STRING",
        output_columns="customer STRING, rule STRING, first_ms BIGINT, last_ms BIGINT, event_id STRING",
        views=(
            "CREATE TEMPORARY VIEW payments AS SELECT event_id, customer, ts, "
            "timestamp_ms AS ts_ms, amount_minor, creditor FROM first_seen WHERE kind = 'payment'",
        ),
        insert=f"{velocity} UNION ALL {test_then_large}",
        upsert=False,
        event_time="ts AS TO_TIMESTAMP_LTZ(timestamp_ms, 3), "
        f"WATERMARK FOR ts AS ts - {_sql_interval(MAX_OUT_OF_ORDERNESS_MS)}",
    )


def _sql_interval(ms: int) -> str:
    """A SQL interval of ``ms`` milliseconds, as Flink's own day-time type ``DAY TO SECOND(3)``
    (Flink SQL has no MILLISECOND unit, and a bare SECOND interval stops at 99 s)."""
    seconds, millis = divmod(ms, 1000)
    minutes, second = divmod(seconds, 60)
    hours, minute = divmod(minutes, 60)
    days, hour = divmod(hours, 24)
    return f"INTERVAL '{days} {hour:02d}:{minute:02d}:{second:02d}.{millis:03d}' DAY TO SECOND(3)"


def _logic_sql(logic: str, params: dict[str, Any]) -> _LogicSql:
    if logic == baseline_logic.LOYALTY_ACCRUAL:
        return _loyalty_sql(params)
    if logic == baseline_logic.PAYMENT_LIFECYCLE:
        return _payment_sql(params["statuses"])
    if logic == baseline_logic.FRAUD_CEP:
        return _fraud_sql(params)
    return _account_sql()


def _sql_logic(
    setup: BaselineSetup, broker: KafkaBroker, created: list[str], json_topic: str
) -> dict[str, Any]:
    s = setup.settings
    name = "bench-baseline-sql-logic"
    sink = setup.topic("sql-output")
    logic = _logic_sql(*_logic_params(setup))
    configs = PROJECTION_TOPIC_CONFIGS if logic.upsert else LOG_TOPIC_CONFIGS
    _topics(broker, created, TopicSpec(sink, s.topic_partitions, configs))

    def build(builder: JobBuilder) -> None:
        t_env = builder.table_env
        t_env.get_config().set("table.exec.state.ttl", f"{s.dedupe_retention_ms} ms")
        time_columns = ", ".join(c for c in ("proc AS PROCTIME()", logic.event_time) if c)
        t_env.execute_sql(
            _kafka_table_ddl(
                "input_json",
                f"{logic.input_columns}, {time_columns}",
                "kafka",
                _kafka_sql_options(s, json_topic),
                _read_committed_sql(name),
                "'format' = 'json', 'json.ignore-parse-errors' = 'true'",
            )
        )
        if logic.upsert:
            columns, connector = (
                f"{logic.output_columns}, PRIMARY KEY ({logic.key}) NOT ENFORCED",
                "upsert-kafka",
            )
            formats = "'key.format' = 'raw', 'value.format' = 'json'"
        else:
            columns, connector = logic.output_columns, "kafka"
            formats = f"'key.format' = 'raw', 'key.fields' = '{logic.key}', 'value.format' = 'json'"
        t_env.execute_sql(
            _kafka_table_ddl(
                "sql_output",
                columns,
                connector,
                _kafka_sql_options(s, sink),
                _exactly_once_sql(s, f"streamledger-{name}"),
                formats,
            )
        )
        for view in (_FIRST_SEEN.format(key=logic.key), *logic.views):
            t_env.execute_sql(view)
        statements = t_env.create_statement_set()
        statements.add_insert_sql(f"INSERT INTO sql_output {logic.insert}")
        statements.attach_as_datastream()

    return _run_flink(setup, name, json_topic, sink, build)


class NaiveLogic(KeyedProcessFunction):  # type: ignore[misc]
    """A job's logic per key, the way a first PyFlink job is written: one JSON state value, read
    and written once per event, JSON out (the step of :mod:`streamledger.bench.baseline_logic`)."""

    def __init__(self, topic: str, logic: str, params: dict[str, Any]) -> None:
        self.topic = topic
        self.logic = logic
        self.params = params
        self.state: Any = None

    def open(self, runtime_context: RuntimeContext) -> None:
        self.state = runtime_context.get_state(ValueStateDescriptor("state", Types.STRING()))

    def process_element(self, value: Row, ctx: KeyedProcessFunction.Context) -> Iterator[Row]:
        current = self.state.value()
        before = json.loads(current) if current else None
        after, output = baseline_logic.step(self.logic, before, value.value, self.params, SEEN_PER_KEY)
        if after is not before:
            self.state.update(json.dumps(after))
        if output is not None:
            yield Row(self.topic, value.key, json.dumps(output).encode())


def _pyflink_naive(
    setup: BaselineSetup, broker: KafkaBroker, created: list[str], json_topic: str
) -> dict[str, Any]:
    s = setup.settings
    name = "bench-baseline-pyflink-naive"
    sink = setup.topic("naive-output")
    _topics(broker, created, TopicSpec(sink, s.topic_partitions, PROJECTION_TOPIC_CONFIGS))

    logic, params = _logic_params(setup)

    def build(builder: JobBuilder) -> None:
        rows = builder.kafka_source(json_topic, uid="source-json")
        outputs = rows.key_by(lambda r: (r.key or b"").decode(), key_type=Types.STRING()).process(
            NaiveLogic(sink, logic, params), output_type=KAFKA_OUTPUT_TYPE
        )
        builder.kafka_sink(outputs.uid("naive-logic"), uid="sink-kafka")

    return _run_flink(setup, name, json_topic, sink, build)


def _quix(setup: BaselineSetup, broker: KafkaBroker, created: list[str], json_topic: str) -> dict[str, Any]:
    s = setup.settings
    if not setup.quix_python.is_file():
        raise BaselineUnavailableError(
            f"no Quix Streams interpreter at {setup.quix_python}; run `make bench-setup` "
            "(Quix Streams lives in its own virtualenv: its confluent-kafka pin conflicts with the project's)"
        )
    script = s.home / "benchmarks" / "quix_baseline.py"
    group = f"bench-quix-{setup.prefix}"
    sink = setup.topic("quix-output")
    _topics(broker, created, TopicSpec(sink, s.topic_partitions, PROJECTION_TOPIC_CONFIGS))
    target = kafka_clients.end_offsets(s, json_topic)
    records = sum(target.values())
    state_dir = (s.state_dir / "quix").resolve()
    argv = [
        str(setup.quix_python),
        str(script),
        "--broker",
        s.bootstrap_servers,
        "--group",
        group,
        "--input",
        json_topic,
        "--output",
        sink,
        "--commit-interval",
        str(s.checkpoint_interval_ms / 1000),
        "--state-dir",
        str(state_dir),
        "--seen-per-key",
        str(SEEN_PER_KEY),
    ]
    logic, params = _logic_params(setup)
    params_path = s.state_dir / "quix-params.json"
    log_path = s.state_dir / "quix.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    params_path.write_text(json.dumps(params))
    argv += ["--logic", logic, "--params", str(params_path), "--progress-every", str(QUIX_PROGRESS_EVERY)]
    with _Observers.watching(s, group, json_topic, sink) as observers, log_path.open("w") as log:
        began = time.monotonic()
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        try:
            while observers.committed.latest < records:
                if process.poll() is not None:
                    raise BaselineUnavailableError(
                        f"the Quix Streams application exited with {process.returncode}; see {log_path}"
                    )
                if time.monotonic() > began + setup.timeout_s:
                    raise BaselineUnavailableError(
                        f"Quix Streams did not catch up within {setup.timeout_s:.0f} s"
                    )
                time.sleep(0.25)
            seconds = time.monotonic() - began
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)  # Quix Streams stops gracefully on SIGTERM
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
    result = observers.summary(records, seconds, began)
    rate = stats.output_rate(quix_progress(log_path.read_text()), records)
    result.update(
        events_per_second=round(rate.events_per_second, 1) if rate else None,
        rate_window_seconds=round(rate.window_seconds, 2) if rate else None,
        events_per_second_is_lower_bound=rate.lower_bound if rate else None,
        rate_source="the application's own processed-record counter (10-90 %): Quix Streams hands "
        "its output to Kafka only when it commits, so its output log grows in steps",
    )
    result["quix_streams"] = _first_line(
        [str(setup.quix_python), "-c", "import quixstreams; print(quixstreams.__version__)"]
    )
    result["note"] = "seconds = process start to committed offsets at the end (interpreter start included)"
    return result


def quix_progress(log: str) -> list[tuple[float, int]]:
    """``(unix time, input records processed)`` from the ``processed N T`` lines of the Quix log,
    starting from (first time, 0) so the rate covers the first records too."""
    samples: list[tuple[float, int]] = []
    for line in log.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "processed":
            try:
                samples.append((float(parts[2]), int(parts[1])))
            except ValueError:
                continue
    return [(samples[0][0], 0), *samples] if samples else []


def _first_line(argv: list[str]) -> str | None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = done.stdout.strip().splitlines()
    return lines[0] if done.returncode == 0 and lines else None


def _broker(
    setup: BaselineSetup, broker: KafkaBroker, created: list[str], _json_topic: str
) -> dict[str, Any]:
    """The same records through a bare producer, then a bare read_committed consumer."""
    s = setup.settings
    topic = setup.topic("broker")
    _topics(broker, created, TopicSpec(topic, s.topic_partitions, LOG_TOPIC_CONFIGS))
    payload = sum(len(r.key) + len(r.value) for r in setup.records)
    began = time.monotonic()
    posting_generator.produce(s, topic, setup.records, producer_config=LARGE_RECORDS)
    produce_s = time.monotonic() - began
    consumer = kafka_clients.committed_consumer(s, None, **{"enable.partition.eof": False})
    consumer.subscribe([topic])
    consumed = 0
    began = time.monotonic()
    deadline = began + setup.timeout_s
    try:
        while consumed < len(setup.records) and time.monotonic() < deadline:
            consumed += sum(
                1 for m in consumer.consume(num_messages=10_000, timeout=1.0) if m.error() is None
            )
        consume_s = time.monotonic() - began
    finally:
        consumer.close()
    return {
        "records": len(setup.records),
        "payload_bytes": payload,
        "producer": _throughput(len(setup.records), payload, produce_s),
        "consumer": {
            **_throughput(consumed, payload, consume_s),
            "note": "includes joining the consumer group",
        },
        "events_per_second": _throughput(len(setup.records), payload, produce_s)["events_per_second"],
    }


def _throughput(records: int, payload: int, seconds: float) -> dict[str, Any]:
    return {
        "seconds": round(seconds, 3),
        "events_per_second": round(records / seconds, 1) if seconds > 0 else None,
        "mb_per_second": round(payload / seconds / 1e6, 2) if seconds > 0 else None,
    }


_RUNNERS: dict[str, Callable[[BaselineSetup, KafkaBroker, list[str], str], dict[str, Any]]] = {
    "broker": _broker,
    "flink-sql-passthrough": _passthrough,
    "flink-sql-logic": _sql_logic,
    "pyflink-naive": _pyflink_naive,
    "quix": _quix,
}


def with_ratios(baselines: dict[str, dict[str, Any]], job_rate: float | None) -> dict[str, dict[str, Any]]:
    """Each measured baseline's events/s as a ratio to the job's (same measure, same run: the
    job's rate is the one :data:`RATE_MEASURES` names for it)."""
    return {
        name: {**result, "ratio_to_job": stats.ratio(result.get("events_per_second"), job_rate)}
        for name, result in baselines.items()
    }
