"""One benchmark run: fresh topics, generated input, the job on the MiniCluster, measurements.

The job runs exactly as ``streamledger demo`` runs it (:func:`jobs.runner.run_until_caught_up`:
exactly-once, RocksDB, checkpoints, stop with savepoint), against the local broker, into fresh
topics and a fresh Iceberg catalog, so runs never see each other's data. See
``benchmarks/README.md`` for what each reported number means.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from prometheus_client import CollectorRegistry, Gauge, Histogram, start_http_server

from streamledger import kafka_clients
from streamledger.bench import baseline_logic, machine, plot, stats
from streamledger.bench import baselines as baseline_runs
from streamledger.bench.procfs import TreeSampler
from streamledger.bench.watchers import Checkpoints, CommittedOffsets, EndOffsets, VisibleOutputs, key_of
from streamledger.bench.workloads import WORKLOADS, BenchRecord, GeneratorOptions, Workload, workload
from streamledger.config import Settings
from streamledger.errors import JobFailedError, StreamledgerError, first_line
from streamledger.generators import postings as posting_generator
from streamledger.stack import iceberg_catalog
from streamledger.stack.kafka_broker import KafkaBroker

JOBS = tuple(WORKLOADS)
RESULT_FORMAT = "streamledger-bench/2"

LATENCY_DEFINITIONS = {
    "event": "wall-clock time from the producer's produce() call for an input event to the moment a "
    "read_committed consumer of the output topic received the output carrying that event's event_id "
    "(same process, monotonic clock); every applied event is sampled",
    "key": "per output key: wall-clock time from the producer's produce() call for the key's last input "
    "record to the moment a read_committed consumer of the output topic received the key's last output "
    "(same process, monotonic clock); every key with output is sampled",
}

NOT_MEASURED = [
    "scaling with parallelism, partitions and TaskManagers: runs use the embedded MiniCluster only",
    "latency of the baselines (only their throughput, CPU and memory are measured)",
    "Iceberg commit visibility latency (only the Kafka output is timed)",
    "GC pauses, network and disk I/O; the Kafka broker's own CPU and memory (a separate process tree)",
]


@dataclass(frozen=True)
class BenchOptions:
    job: str
    events: int
    keys: int = 500
    """Distinct keys the generator uses (accounts, members, customers; see the workload)."""
    parallelism: int = 1
    checkpoint_interval_ms: int | None = None
    """None: the setting's default (``STREAMLEDGER_CHECKPOINT_INTERVAL_MS``)."""
    rate: float = 0.0
    """Events/s produced while the job runs; 0 pre-loads all input before the job starts."""
    seed: int = 7
    out_dir: Path | None = None
    metrics_port: int = 0
    progress: bool = True
    command_line: str = ""
    keep_topics: bool = False
    timeout_s: float = 1800.0
    flink_conf: tuple[tuple[str, str], ...] = ()
    """Flink configuration entries for the job, applied last (``--flink-conf KEY=VALUE``)."""
    baselines: tuple[str, ...] = ()
    baseline_events: int | None = None
    """Input records of the baselines (default: the job's N). More than N resolves the rate of
    baselines that finish N within one poll of the output log (their rate is then a lower bound)."""
    quix_python: Path | None = None
    """The Quix Streams virtualenv's interpreter (default ``.streamledger/quix-venv/bin/python``)."""
    plot: bool = True
    note: str = ""
    """Free text stored with the result (e.g. whether the machine was shared)."""


# ---------------------------------------------------------------------------------------- live view
class LiveMetrics:
    """Prometheus gauges of a running benchmark (served only when a port is given)."""

    def __init__(self, job: str) -> None:
        self.registry = CollectorRegistry()
        labels = ["job"]
        self.target = Gauge(
            "streamledger_bench_input_records", "records to process", labels, registry=self.registry
        )
        self.produced = Gauge(
            "streamledger_bench_produced_records", "records produced", labels, registry=self.registry
        )
        self.committed = Gauge(
            "streamledger_bench_committed_records",
            "input records whose offsets the job committed (checkpoint completed)",
            labels,
            registry=self.registry,
        )
        self.visible = Gauge(
            "streamledger_bench_visible_outputs",
            "distinct outputs visible to read_committed",
            labels,
            registry=self.registry,
        )
        self.rate = Gauge(
            "streamledger_bench_events_per_second",
            "committed input records per second since the run started",
            labels,
            registry=self.registry,
        )
        self.cpu = Gauge(
            "streamledger_bench_cpu_seconds",
            "CPU seconds of this process tree",
            labels,
            registry=self.registry,
        )
        self.rss = Gauge(
            "streamledger_bench_rss_bytes",
            "resident memory of this process tree",
            labels,
            registry=self.registry,
        )
        self.checkpoints = Gauge(
            "streamledger_bench_checkpoints_completed",
            "completed checkpoints",
            labels,
            registry=self.registry,
        )
        self.latency = Histogram(
            "streamledger_bench_end_to_end_latency_seconds",
            "produce() to visible to read_committed",
            labels,
            registry=self.registry,
            buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300),
        )
        self.job = job
        self._server: Any = None

    def serve(self, port: int) -> None:
        if port:
            self._server, _ = start_http_server(port, addr="127.0.0.1", registry=self.registry)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def progress_line(
    job: str, done: int, total: int, elapsed_s: float, produced: int | None = None, width: int = 24
) -> str:
    """One line of the text progress bar."""
    fraction = min(1.0, done / total) if total else 0.0
    filled = int(fraction * width)
    bar = "#" * filled + "-" * (width - filled)
    rate = done / elapsed_s if elapsed_s > 0 else 0.0
    produced_part = f" produced {produced}/{total} |" if produced is not None else ""
    return (
        f"bench {job} [{bar}] {fraction * 100:3.0f}% |{produced_part} committed {done}/{total} | "
        f"{rate:,.0f} ev/s | {elapsed_s:5.1f} s"
    )


class Reporter:
    """Updates the progress bar on ``stream`` and the live metrics every half second."""

    def __init__(
        self,
        job: str,
        total: int,
        metrics: LiveMetrics,
        read: Callable[[], tuple[int, int | None, int, float, int, int]],
        stream: IO[str] | None,
    ) -> None:
        self.job = job
        self.total = total
        self.metrics = metrics
        self.read = read
        self.stream = stream
        self.started = time.monotonic()
        self._tty = bool(stream is not None and stream.isatty())
        self._last_line_at = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="bench-progress", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._render(final=True)

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            self._render()

    def _render(self, final: bool = False) -> None:
        committed, produced, visible, cpu, rss, checkpoints = self.read()
        elapsed = time.monotonic() - self.started
        m, job = self.metrics, self.job
        m.committed.labels(job).set(committed)
        if produced is not None:
            m.produced.labels(job).set(produced)
        m.visible.labels(job).set(visible)
        m.rate.labels(job).set(committed / elapsed if elapsed > 0 else 0)
        m.cpu.labels(job).set(cpu)
        m.rss.labels(job).set(rss)
        m.checkpoints.labels(job).set(checkpoints)
        if self.stream is None:
            return
        line = progress_line(job, committed, self.total, elapsed, produced)
        if self._tty:
            self.stream.write("\r" + line + ("\n" if final else ""))
            self.stream.flush()
        elif final or time.monotonic() - self._last_line_at >= 5:
            self.stream.write(line + "\n")
            self.stream.flush()
            self._last_line_at = time.monotonic()


# ---------------------------------------------------------------------------------------- producing
class PacedProducer:
    """Produces generated records, at ``rate`` events/s (0 = as fast as possible).

    Notes the monotonic time of the ``produce()`` call of each record's IDs, first and last:
    the start of an end-to-end latency (the first for an event ID, redelivered duplicates
    included; the last for an output key).
    """

    def __init__(
        self,
        settings: Settings,
        topic: str,
        records: list[BenchRecord],
        rate: float,
        producer_config: dict[str, Any] | None = None,
    ) -> None:
        self.settings = settings
        self.topic = topic
        self.records = records
        self.rate = rate
        self.producer_config = producer_config or {}
        self.produced_at: dict[str, float] = {}
        self.last_produced_at: dict[str, float] = {}
        self.count = 0
        self.seconds = 0.0
        self.error: BaseException | None = None
        self.done = threading.Event()

    def run(self) -> None:
        try:
            self._produce()
        except BaseException as exc:  # surfaced by the caller, from whichever thread ran this
            self.error = exc
        finally:
            self.done.set()

    def _produce(self) -> None:
        def noted(record: BenchRecord, at: float) -> None:
            for item in record.ids:
                self.produced_at.setdefault(item, at)
                self.last_produced_at[item] = at
            self.count += 1

        began = time.monotonic()
        posting_generator.produce(
            self.settings,
            self.topic,
            self.records,
            rate=self.rate,
            on_produced=noted,
            producer_config=self.producer_config,
        )
        self.seconds = time.monotonic() - began


# ---------------------------------------------------------------------------------------- running
def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def bench_settings(settings: Settings, options: BenchOptions, run_dir: Path, suffix: str) -> Settings:
    """The settings of one run: its own topics, catalog, checkpoints and savepoints."""
    return dataclasses.replace(
        settings.with_topic_prefix(f"bench-{suffix}"),
        catalog_db=run_dir / "catalog" / "iceberg_catalog.db",
        warehouse=run_dir / "warehouse",
        state_root=run_dir / "state",
        parallelism=options.parallelism,
        checkpoint_interval_ms=options.checkpoint_interval_ms or settings.checkpoint_interval_ms,
    )


def flink_overrides(
    settings: Settings, rest_port: int, extra: tuple[tuple[str, str], ...] = ()
) -> dict[str, str]:
    """Flink configuration of a benchmark run (on top of :func:`jobs.builder.job_configuration`);
    ``extra`` (``--flink-conf``) comes last, so it can override any of them."""
    return {
        "parallelism.default": str(settings.parallelism),
        "execution.checkpointing.interval": f"{settings.checkpoint_interval_ms} ms",
        # The MiniCluster serves its REST API (checkpoint statistics) only on a configured port.
        "rest.address": "127.0.0.1",
        "rest.bind-address": "127.0.0.1",
        "rest.port": str(rest_port),
        "web.checkpoints.history": "1000",
        **dict(extra),
    }


def _run_while_producing(
    job: str,
    settings: Settings,
    input_topic: str,
    create: Callable[[Settings, dict[str, str]], Any],
    producer: PacedProducer,
    job_ready: Callable[[], bool],
    timeout_s: float,
) -> Any:
    """:func:`jobs.runner.run_until_caught_up` with the input produced during the run.

    Production starts once ``job_ready()`` (the job completed its first checkpoint, so every
    task, the Python worker included, is up), or after 60 s without that signal. The target
    (end offsets) is known only once the producer has finished.
    """
    from jobs import runner

    first_poll: list[float] = []
    producing: list[threading.Thread] = []

    def on_poll() -> None:
        first_poll.append(time.monotonic())
        if not producing and (job_ready() or time.monotonic() > first_poll[0] + 60):
            producing.append(threading.Thread(target=producer.run, name="bench-producer", daemon=True))
            producing[0].start()
        if producer.error is not None:
            raise producer.error

    def targets() -> dict[int, int] | None:
        return kafka_clients.end_offsets(settings, input_topic) if producer.done.is_set() else None

    return runner.run_until_caught_up(
        job, settings, create, input_topic, targets=targets, on_poll=on_poll, timeout_s=timeout_s
    )


def run_benchmark(
    settings: Settings, options: BenchOptions, *, progress_stream: IO[str] | None = sys.stderr
) -> tuple[Path, dict[str, Any]]:
    """Run one benchmark (and the requested baselines); returns the results JSON's path and content."""
    if options.events < 1:
        raise StreamledgerError("--events must be at least 1")
    unknown = [b for b in options.baselines if b not in baseline_runs.BASELINES]
    if unknown:
        raise StreamledgerError(
            f"unknown baseline(s) {', '.join(unknown)}", f"choose from {', '.join(baseline_runs.BASELINES)}"
        )
    spec = workload(options.job)
    job_module = spec.load()
    kafka_clients.require_broker(settings)
    out_dir = options.out_dir or settings.home / "benchmarks" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    started_at = datetime.now(UTC)
    load_at_start = machine.load_average()
    run_dir = Path(tempfile.mkdtemp(prefix="streamledger-bench-"))
    keep_run_dir = False
    suffix = uuid.uuid4().hex[:8]
    s = bench_settings(settings, options, run_dir, suffix)
    broker = KafkaBroker(s)
    broker.ensure_topics()
    iceberg_catalog.initialize(s)
    input_topic, output_topic = spec.input_topic(s), spec.output_topic(s)

    rest_port = _free_port()
    overrides = flink_overrides(s, rest_port, options.flink_conf)
    records = spec.generate(GeneratorOptions(events=options.events, keys=options.keys, seed=options.seed))
    producer = PacedProducer(s, input_topic, records, options.rate, spec.producer_config(records))
    metrics = LiveMetrics(options.job)
    metrics.target.labels(options.job).set(len(records))
    metrics.serve(options.metrics_port)

    def observe(event_id: str, at: float) -> None:
        produced = producer.produced_at.get(event_id)
        if produced is not None and spec.matching == "event":
            metrics.latency.labels(options.job).observe(at - produced)

    sampler = TreeSampler()
    outputs = VisibleOutputs(
        s,
        output_topic,
        s.topic_partitions,
        spec.output_schema,
        observe,
        identify=key_of if spec.matching == "key" else None,
    )
    offsets = CommittedOffsets(s, job_module.JOB_NAME, input_topic, s.topic_partitions)
    appended = EndOffsets(s, output_topic, s.topic_partitions)
    checkpoints = Checkpoints(f"http://127.0.0.1:{rest_port}")
    reporter = Reporter(
        options.job,
        len(records),
        metrics,
        lambda: (
            offsets.latest,
            producer.count if options.rate > 0 else None,
            len(outputs.visible_at),
            sampler.cpu_seconds,
            sampler.current_rss,
            len(checkpoints.completed),
        ),
        progress_stream if options.progress else None,
    )

    built_at: list[float] = []

    def create(run_settings: Settings, config: dict[str, str]) -> Any:
        builder = job_module.create(run_settings, flink_config={**overrides, **config})
        built_at.append(time.monotonic())  # the runner submits the job right after this
        return builder

    workers = (sampler, outputs, appended, offsets, checkpoints)
    stopped: list[bool] = []

    def stop_observers() -> None:
        """Once, when the job is done: baselines that follow are not part of the job's numbers."""
        if not stopped:
            stopped.append(True)
            reporter.stop()
            for worker in reversed(workers):
                worker.stop()

    baseline_results: dict[str, dict[str, Any]] = {}
    try:
        spec.prepare(s)
        sampler.start()
        outputs.start()
        if options.rate <= 0:
            producer.run()
            if producer.error is not None:
                raise producer.error
        appended.start()
        offsets.start()
        checkpoints.start()
        reporter.start()
        run_started = time.monotonic()
        try:
            if options.rate > 0:
                report = _run_while_producing(
                    job_module.JOB_NAME,
                    s,
                    input_topic,
                    create,
                    producer,
                    lambda: bool(checkpoints.completed),
                    options.timeout_s,
                )
            else:
                from jobs import runner

                report = runner.run_until_caught_up(
                    job_module.JOB_NAME, s, create, input_topic, timeout_s=options.timeout_s
                )
        except StreamledgerError:
            raise
        except Exception as exc:  # py4j wraps the Java failure; one line is what the user needs
            keep_run_dir = True  # the Flink log explains the failure
            raise JobFailedError(
                f"{options.job} failed: {first_line(exc)}",
                f"see the Flink log in {s.state_dir / 'logs'} (kept; delete {run_dir} when done)",
            ) from None
        wall = time.monotonic() - run_started
        outputs.drain()
        stop_observers()
        if options.baselines:
            baseline_records = (
                spec.generate(GeneratorOptions(options.baseline_events, options.keys, options.seed))
                if options.baseline_events and options.baseline_events != options.events
                else records
            )
            baseline_results = baseline_runs.run_baselines(
                baseline_runs.BaselineSetup(
                    settings=s,
                    records=baseline_records,
                    logic=spec.job if spec.job in baseline_logic.LOGICS else None,
                    prefix=f"bench-{suffix}",
                    quix_python=options.quix_python or default_quix_python(settings),
                    timeout_s=options.timeout_s,
                ),
                options.baselines,
            )
    finally:
        stop_observers()
        metrics.close()
        if not options.keep_topics:
            # Clean-up is best effort: the measurements matter more than a leftover topic.
            with contextlib.suppress(Exception):
                broker.delete_topics([t.name for t in s.topics])
        if not keep_run_dir:
            shutil.rmtree(run_dir, ignore_errors=True)

    result = _result(
        options=options,
        spec=spec,
        settings=s,
        started_at=started_at,
        report=report,
        wall=wall,
        run_started=run_started,
        submitted=built_at[0] if built_at else run_started,
        producer=producer,
        outputs=outputs,
        appended=appended,
        offsets=offsets,
        checkpoints=checkpoints,
        sampler=sampler,
        overrides=overrides,
        baselines=baseline_results,
        load=(load_at_start, machine.load_average()),
    )
    stem = f"{options.job}-{started_at.strftime('%Y%m%dT%H%M%SZ')}"
    path = out_dir / f"{stem}.json"
    if options.plot:
        result["plot"] = plot.write_png(
            result, out_dir / f"{stem}.png", latency_values(spec, producer, outputs)
        )
    path.write_text(json.dumps(result, indent=2, sort_keys=False) + "\n")
    return path, result


def default_quix_python(settings: Settings) -> Path:
    """Where ``make bench-setup`` puts the Quix Streams virtualenv's interpreter."""
    return settings.home / ".streamledger" / "quix-venv" / "bin" / "python"


# ---------------------------------------------------------------------------------------- results
def _per_core(value: float | None, cores: int) -> float | None:
    return round(value / cores, 1) if value is not None else None


def _round(value: float | None, digits: int = 1) -> float | None:
    return round(value, digits) if value is not None else None


def checkpoint_summary(checkpoints: Checkpoints) -> dict[str, Any]:
    """What the REST API told about checkpoints, or why nothing was measured."""
    if not checkpoints.reachable:
        return {"measured": False, "reason": "the MiniCluster REST API did not answer"}
    completed = checkpoints.completed
    failed = [e for e in checkpoints.entries.values() if e.get("status") == "FAILED"]

    def values(key: str) -> list[float]:
        return [float(e[key]) for e in completed if isinstance(e.get(key), int | float)]

    return {
        "measured": True,
        "source": "MiniCluster REST API /jobs/<id>/checkpoints, polled every second",
        "completed": len(completed),
        "failed": len(failed),
        "end_to_end_duration_ms": stats.distribution(values("end_to_end_duration"), 0),
        "checkpointed_size_bytes": stats.distribution(values("checkpointed_size"), 0),
        "state_size_bytes": stats.distribution(values("state_size"), 0),
        "history": [
            {
                "id": e.get("id"),
                "status": e.get("status"),
                "end_to_end_duration_ms": e.get("end_to_end_duration"),
                "checkpointed_size_bytes": e.get("checkpointed_size"),
                "state_size_bytes": e.get("state_size"),
            }
            for e in completed + failed
        ],
        "note": "the final stop-with-savepoint is not included; a checkpoint completing in the last "
        "second before the job stopped may be missing",
    }


def latency_values(
    spec: Workload, producer: PacedProducer, outputs: VisibleOutputs, items: Iterable[str] | None = None
) -> list[float]:
    """The latency sample in ms (see :data:`LATENCY_DEFINITIONS`), of ``items`` or of all."""
    if spec.matching == "event":
        produced, visible = producer.produced_at, outputs.visible_at
    else:
        produced, visible = producer.last_produced_at, outputs.last_visible_at
    chosen = visible if items is None else {k: visible[k] for k in items}
    if spec.matching == "event":
        return stats.latencies_ms(produced, chosen)
    return stats.key_latencies_ms(produced, chosen)


def _latency(
    spec: Workload, producer: PacedProducer, outputs: VisibleOutputs, items: Iterable[str] | None = None
) -> dict[str, Any]:
    distribution = stats.distribution(latency_values(spec, producer, outputs, items), 1)
    return (
        {"sample_size": 0}
        if distribution is None
        else {"sample_size": distribution.pop("count"), **distribution}
    )


def timeline(
    start: float, committed: list[tuple[float, int]], appended: list[tuple[float, int]], every_s: float = 1.0
) -> dict[str, Any]:
    """Cumulative committed input and appended output over time (seconds since submission), thinned
    to about one sample per ``every_s``: what the plot draws."""

    def thin(samples: list[tuple[float, int]]) -> list[list[float]]:
        kept: list[list[float]] = []
        for t, n in samples:
            if not kept or t - start - kept[-1][0] >= every_s or t == samples[-1][0]:
                kept.append([round(t - start, 2), n])
        return kept

    base = appended[0][1] if appended else 0
    return {
        "committed_input": thin(committed),
        "appended_output": [[t, n - base] for t, n in thin(appended)],
        "appended_output_rate": [[t, round(r, 1)] for t, r in stats.rate_series(appended, start)],
    }


def _result(
    *,
    options: BenchOptions,
    spec: Workload,
    settings: Settings,
    started_at: datetime,
    report: Any,
    wall: float,
    run_started: float,
    submitted: float,
    producer: PacedProducer,
    outputs: VisibleOutputs,
    appended: EndOffsets,
    offsets: CommittedOffsets,
    checkpoints: Checkpoints,
    sampler: TreeSampler,
    overrides: dict[str, str],
    baselines: dict[str, dict[str, Any]],
    load: tuple[float | None, float | None],
) -> dict[str, Any]:
    cores = os.cpu_count() or 1
    records = int(report.records)
    seconds = float(report.seconds)
    progress = stats.committed_progress(offsets.samples, submitted, records)
    overall = records / seconds if seconds > 0 else None
    sustained = progress.sustained_events_per_second
    processing = stats.output_rate(appended.samples, records)
    processing_rate = processing.events_per_second if processing else None
    ratio_measure = baseline_runs.RATE_MEASURES.get(spec.job, "processing")
    ratio_rate = sustained if ratio_measure == "sustained" else processing_rate
    first_visible = min(outputs.visible_at.values(), default=None)
    produced = producer.produced_at if spec.matching == "event" else producer.last_produced_at
    visible = outputs.visible_at if spec.matching == "event" else outputs.last_visible_at
    after_warmup = (
        [k for k, t in produced.items() if t >= first_visible and k in visible]
        if first_visible is not None and options.rate > 0
        else []
    )
    mode = (
        f"paced: {options.rate:g} events/s produced while the job runs (from its first checkpoint on)"
        if options.rate > 0
        else "preloaded: all input produced before the job starts (latency includes waiting in the backlog)"
    )
    return {
        "format": RESULT_FORMAT,
        "job": options.job,
        "started_at": started_at.isoformat(timespec="seconds"),
        "command": options.command_line,
        "note": options.note,
        "parameters": {
            "events": options.events,
            "keys": options.keys,
            "keys_meaning": spec.keys_meaning,
            "seed": options.seed,
            "parallelism": settings.parallelism,
            "checkpoint_interval_ms": settings.checkpoint_interval_ms,
            "rate_events_per_second": options.rate,
            "topic_partitions": settings.topic_partitions,
            "mode": mode,
            "flink_conf": dict(options.flink_conf),
            "flink_overrides": overrides,
            "baselines": list(options.baselines),
            "baseline_events": options.baseline_events or options.events,
        },
        "machine": {
            **machine.describe(settings.home),
            "load_average_1m_at_start": load[0],
            "load_average_1m_at_end": load[1],
        },
        "run": {
            "records": records,
            "seconds": round(seconds, 2),
            "seconds_including_job_build": round(wall, 2),
            "job_build_seconds": round(submitted - run_started, 2),
            "produce_seconds": round(producer.seconds, 2),
            "restored_from": report.restored_from,
            "input_topic": spec.input_topic(settings),
            "output_topic": spec.output_topic(settings),
            "output_keys": len(outputs.last_visible_at) if spec.matching == "key" else None,
            "outputs_visible": len(outputs.visible_at),
            "output_messages_read": outputs.messages,
            "output_note": spec.output_note or None,
        },
        "throughput": {
            "events_per_second": _round(overall),
            "events_per_second_per_core": _per_core(overall, cores),
            "sustained_events_per_second": _round(sustained),
            "sustained_events_per_second_per_core": _per_core(sustained, cores),
            "startup_seconds": _round(progress.startup_seconds, 2),
            "sustained_window_seconds": _round(progress.sustained_seconds, 2),
            "sustained_records": progress.sustained_records,
            "processing_events_per_second": _round(processing_rate),
            "processing_window_seconds": _round(processing.window_seconds, 2) if processing else None,
            "cpu_count": cores,
            "note": "events_per_second = records / seconds of run_until_caught_up (job submission to "
            "caught up, start-up included); startup_seconds = job submission to the first committed-offset "
            "progress; sustained = records committed between the first "
            "committed-offset progress and caught up, over that time (polled every 0.25 s; offsets "
            "move only when a checkpoint completes); processing = input records x 0.8 over the time the "
            "output topic's end offsets (read uncommitted, polled every 0.1 s) took to go from 10 % to 90 % "
            "of what the run appended: the measure the baselines are compared on",
        },
        "latency_ms": {
            "definition": LATENCY_DEFINITIONS[spec.matching],
            **_latency(spec, producer, outputs),
        },
        "latency_ms_after_first_output": (
            {
                "definition": "as latency_ms, for inputs produced after the first output became visible",
                **_latency(spec, producer, outputs, after_warmup),
            }
            if options.rate > 0
            else None
        ),
        "checkpoints": checkpoint_summary(checkpoints),
        "resources": sampler.report(),
        "timeline": timeline(submitted, offsets.samples, appended.samples),
        "baselines": baseline_runs.with_ratios(baselines, ratio_rate) if baselines else None,
        "baseline_ratio_measure": ratio_measure if baselines else None,
        "not_measured": NOT_MEASURED,
    }
