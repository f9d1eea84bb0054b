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
job; :mod:`streamledger.bench.baseline_sql` holds its SQL). The logic baselines read the job's
input JSON-encoded (:mod:`streamledger.bench.baseline_inputs`): Flink SQL's ``avro`` format cannot
read Avro single-object encoding, and it has no XML format, so ISO 20022 messages are parsed and
graded by the job's own parser before the run. Throughput of every Flink or Quix baseline is
:func:`streamledger.bench.stats.output_rate` of its output topic, the measure taken of the job,
so the ratios compare like with like — except for fraud-cep's logic baselines, whose output is
alerts, not one row per input (see :data:`RATE_MEASURES`).
"""

from __future__ import annotations

import contextlib
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
from jobs.builder import KAFKA_OUTPUT_TYPE, JobBuilder
from streamledger import kafka_clients
from streamledger.bench import baseline_inputs, baseline_logic, baseline_sql, stats
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
            rows = baseline_inputs.JSON_INPUT[setup.logic](setup.records)
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
            baseline_sql.kafka_table_ddl(
                "passthrough_in",
                columns,
                "kafka",
                baseline_sql.kafka_sql_options(s, source),
                baseline_sql.read_committed_sql(name),
                raw,
            )
        )
        t_env.execute_sql(
            baseline_sql.kafka_table_ddl(
                "passthrough_out",
                columns,
                "kafka",
                baseline_sql.kafka_sql_options(s, sink),
                baseline_sql.exactly_once_sql(s, f"streamledger-{name}"),
                f"'properties.max.request.size' = '{LARGE_RECORDS['message.max.bytes']}'",
                raw,
            )
        )
        statements = t_env.create_statement_set()
        statements.add_insert_sql("INSERT INTO passthrough_out SELECT k, v FROM passthrough_in")
        statements.attach_as_datastream()

    return _run_flink(setup, name, source, sink, build)


def _sql_logic(
    setup: BaselineSetup, broker: KafkaBroker, created: list[str], json_topic: str
) -> dict[str, Any]:
    s = setup.settings
    name = "bench-baseline-sql-logic"
    sink = setup.topic("sql-output")
    logic = baseline_sql.logic_sql(*baseline_inputs.logic_params(setup.logic, setup.settings))
    configs = PROJECTION_TOPIC_CONFIGS if logic.upsert else LOG_TOPIC_CONFIGS
    _topics(broker, created, TopicSpec(sink, s.topic_partitions, configs))

    def build(builder: JobBuilder) -> None:
        t_env = builder.table_env
        t_env.get_config().set("table.exec.state.ttl", f"{s.dedupe_retention_ms} ms")
        time_columns = ", ".join(c for c in ("proc AS PROCTIME()", logic.event_time) if c)
        t_env.execute_sql(
            baseline_sql.kafka_table_ddl(
                "input_json",
                f"{logic.input_columns}, {time_columns}",
                "kafka",
                baseline_sql.kafka_sql_options(s, json_topic),
                baseline_sql.read_committed_sql(name),
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
            baseline_sql.kafka_table_ddl(
                "sql_output",
                columns,
                connector,
                baseline_sql.kafka_sql_options(s, sink),
                baseline_sql.exactly_once_sql(s, f"streamledger-{name}"),
                formats,
            )
        )
        for view in (baseline_sql.FIRST_SEEN.format(key=logic.key), *logic.views):
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

    logic, params = baseline_inputs.logic_params(setup.logic, setup.settings)

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
    logic, params = baseline_inputs.logic_params(setup.logic, setup.settings)
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
    result["quix_streams"] = _command_output_line(
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


def _command_output_line(argv: list[str]) -> str | None:
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
