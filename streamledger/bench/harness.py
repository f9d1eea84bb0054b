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
from streamledger.bench import machine, stats
from streamledger.bench.procfs import TreeSampler
from streamledger.bench.watchers import Checkpoints, CommittedOffsets, VisibleOutputs
from streamledger.config import Settings
from streamledger.errors import JobFailedError, StreamledgerError
from streamledger.generators import postings as posting_generator
from streamledger.stack import iceberg_catalog
from streamledger.stack.kafka_broker import KafkaBroker

JOBS = ("account-balances",)
RESULT_FORMAT = "streamledger-bench/1"

LATENCY_DEFINITION = (
    "wall-clock time from the producer's produce() call for a posting to the moment a read_committed "
    "consumer of the balances topic received the BalanceUpdate carrying that posting's event_id "
    "(same process, monotonic clock); every applied posting is sampled"
)

NOT_MEASURED = [
    "baselines: Java pass-through job, Flink SQL, naive PyFlink (no state, no exactly-once), Quix Streams",
    "scaling table (parallelism / partitions / TaskManagers) and tuning rows (bundle size, "
    "checkpoint interval, RocksDB options, python.execution-mode)",
    "standalone or Kubernetes clusters: runs use the embedded MiniCluster only",
    "Iceberg commit visibility latency (only the Kafka output is timed)",
    "GC pauses, network and disk I/O; the Kafka broker's own CPU and memory (a separate process tree)",
]


@dataclass(frozen=True)
class BenchOptions:
    job: str
    events: int
    accounts: int = 500
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

    Notes the monotonic time of the ``produce()`` call of each event ID (the first one, for
    redelivered duplicates): the start of its end-to-end latency.
    """

    def __init__(
        self, settings: Settings, topic: str, records: list[posting_generator.ProducedRecord], rate: float
    ) -> None:
        self.settings = settings
        self.topic = topic
        self.records = records
        self.rate = rate
        self.produced_at: dict[str, float] = {}
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
        def noted(record: posting_generator.ProducedRecord, at: float) -> None:
            if record.posting is not None:
                self.produced_at.setdefault(record.posting.event_id, at)
            self.count += 1

        began = time.monotonic()
        posting_generator.produce(self.settings, self.topic, self.records, rate=self.rate, on_produced=noted)
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


def flink_overrides(settings: Settings, rest_port: int) -> dict[str, str]:
    """Flink configuration of a benchmark run (on top of :func:`jobs.builder.job_configuration`)."""
    return {
        "parallelism.default": str(settings.parallelism),
        "execution.checkpointing.interval": f"{settings.checkpoint_interval_ms} ms",
        # The MiniCluster serves its REST API (checkpoint statistics) only on a configured port.
        "rest.address": "127.0.0.1",
        "rest.bind-address": "127.0.0.1",
        "rest.port": str(rest_port),
        "web.checkpoints.history": "1000",
    }


def _job_module(job: str) -> Any:
    if job not in JOBS:
        raise StreamledgerError(f"no benchmark for job {job!r}", f"choose one of {', '.join(JOBS)}")
    from jobs import account_balances

    return account_balances


def _run_while_producing(
    job: str,
    settings: Settings,
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
        return (
            kafka_clients.end_offsets(settings, settings.postings_topic) if producer.done.is_set() else None
        )

    return runner.run_until_caught_up(
        job, settings, create, settings.postings_topic, targets=targets, on_poll=on_poll, timeout_s=timeout_s
    )


def run_benchmark(
    settings: Settings, options: BenchOptions, *, progress_stream: IO[str] | None = sys.stderr
) -> tuple[Path, dict[str, Any]]:
    """Run one benchmark; returns the path of the results JSON and its content."""
    if options.events < 1:
        raise StreamledgerError("--events must be at least 1")
    job_module = _job_module(options.job)
    kafka_clients.require_broker(settings)
    out_dir = options.out_dir or settings.home / "benchmarks" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    started_at = datetime.now(UTC)
    run_dir = Path(tempfile.mkdtemp(prefix="streamledger-bench-"))
    s = bench_settings(settings, options, run_dir, uuid.uuid4().hex[:8])
    broker = KafkaBroker(s)
    broker.ensure_topics()
    iceberg_catalog.initialize(s)

    rest_port = _free_port()
    overrides = flink_overrides(s, rest_port)
    records = list(
        posting_generator.postings(accounts=options.accounts, events=options.events, seed=options.seed)
    )
    producer = PacedProducer(s, s.postings_topic, records, options.rate)
    metrics = LiveMetrics(options.job)
    metrics.target.labels(options.job).set(len(records))
    metrics.serve(options.metrics_port)

    def observe(event_id: str, at: float) -> None:
        produced = producer.produced_at.get(event_id)
        if produced is not None:
            metrics.latency.labels(options.job).observe(at - produced)

    sampler = TreeSampler()
    outputs = VisibleOutputs(s, s.balances_topic, s.topic_partitions, "ledger.BalanceUpdate", observe)
    offsets = CommittedOffsets(s, job_module.JOB_NAME, s.postings_topic, s.topic_partitions)
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

    workers = (sampler, outputs, offsets, checkpoints)
    try:
        sampler.start()
        outputs.start()
        if options.rate <= 0:
            producer.run()
            if producer.error is not None:
                raise producer.error
        offsets.start()
        checkpoints.start()
        reporter.start()
        run_started = time.monotonic()
        try:
            if options.rate > 0:
                report = _run_while_producing(
                    job_module.JOB_NAME,
                    s,
                    create,
                    producer,
                    lambda: bool(checkpoints.completed),
                    options.timeout_s,
                )
            else:
                from jobs import runner

                report = runner.run_until_caught_up(
                    job_module.JOB_NAME, s, create, s.postings_topic, timeout_s=options.timeout_s
                )
        except StreamledgerError:
            raise
        except Exception as exc:  # py4j wraps the Java failure; one line is what the user needs
            raise JobFailedError(
                f"{options.job} failed: {str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__}",
                f"see the Flink log in {s.state_dir / 'logs'}",
            ) from None
        wall = time.monotonic() - run_started
        outputs.drain()
    finally:
        reporter.stop()
        for worker in reversed(workers):
            worker.stop()
        metrics.close()
        if not options.keep_topics:
            # Clean-up is best effort: the measurements matter more than a leftover topic.
            with contextlib.suppress(Exception):
                broker.delete_topics([t.name for t in s.topics])
        shutil.rmtree(run_dir, ignore_errors=True)

    result = _result(
        options=options,
        settings=s,
        started_at=started_at,
        report=report,
        wall=wall,
        run_started=run_started,
        submitted=built_at[0] if built_at else run_started,
        producer=producer,
        outputs=outputs,
        offsets=offsets,
        checkpoints=checkpoints,
        sampler=sampler,
        overrides=overrides,
    )
    path = out_dir / f"{options.job}-{started_at.strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(result, indent=2, sort_keys=False) + "\n")
    return path, result


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


def _latency(
    produced_at: dict[str, float], visible_at: dict[str, float], items: Iterable[str] | None = None
) -> dict[str, Any]:
    chosen = visible_at if items is None else {k: visible_at[k] for k in items}
    distribution = stats.distribution(stats.latencies_ms(produced_at, chosen), 1)
    return (
        {"sample_size": 0}
        if distribution is None
        else {"sample_size": distribution.pop("count"), **distribution}
    )


def _result(
    *,
    options: BenchOptions,
    settings: Settings,
    started_at: datetime,
    report: Any,
    wall: float,
    run_started: float,
    submitted: float,
    producer: PacedProducer,
    outputs: VisibleOutputs,
    offsets: CommittedOffsets,
    checkpoints: Checkpoints,
    sampler: TreeSampler,
    overrides: dict[str, str],
) -> dict[str, Any]:
    cores = os.cpu_count() or 1
    records = int(report.records)
    seconds = float(report.seconds)
    progress = stats.committed_progress(offsets.samples, submitted, records)
    overall = records / seconds if seconds > 0 else None
    sustained = progress.sustained_events_per_second
    first_visible = min(outputs.visible_at.values(), default=None)
    after_warmup = (
        [k for k, t in producer.produced_at.items() if t >= first_visible and k in outputs.visible_at]
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
        "parameters": {
            "events": options.events,
            "accounts": options.accounts,
            "seed": options.seed,
            "parallelism": settings.parallelism,
            "checkpoint_interval_ms": settings.checkpoint_interval_ms,
            "rate_events_per_second": options.rate,
            "topic_partitions": settings.topic_partitions,
            "mode": mode,
            "flink_overrides": overrides,
        },
        "machine": machine.describe(settings.home),
        "run": {
            "records": records,
            "seconds": round(seconds, 2),
            "seconds_including_job_build": round(wall, 2),
            "job_build_seconds": round(submitted - run_started, 2),
            "produce_seconds": round(producer.seconds, 2),
            "restored_from": report.restored_from,
            "outputs_visible": len(outputs.visible_at),
            "output_messages_read": outputs.messages,
        },
        "throughput": {
            "events_per_second": _round(overall),
            "events_per_second_per_core": _per_core(overall, cores),
            "sustained_events_per_second": _round(sustained),
            "sustained_events_per_second_per_core": _per_core(sustained, cores),
            "startup_seconds": _round(progress.startup_seconds, 2),
            "sustained_window_seconds": _round(progress.sustained_seconds, 2),
            "sustained_records": progress.sustained_records,
            "cpu_count": cores,
            "note": "events_per_second = records / seconds of run_until_caught_up (job submission to "
            "caught up, start-up included); startup_seconds = job submission to the first committed-offset "
            "progress; sustained = records committed between the first "
            "committed-offset progress and caught up, over that time (polled every 0.25 s; offsets "
            "move only when a checkpoint completes)",
        },
        "latency_ms": {
            "definition": LATENCY_DEFINITION,
            **_latency(producer.produced_at, outputs.visible_at),
        },
        "latency_ms_after_first_output": (
            {
                "definition": "as latency_ms, for postings produced after the first output became visible",
                **_latency(producer.produced_at, outputs.visible_at, after_warmup),
            }
            if options.rate > 0
            else None
        ),
        "checkpoints": checkpoint_summary(checkpoints),
        "resources": sampler.report(),
        "not_measured": NOT_MEASURED,
    }
