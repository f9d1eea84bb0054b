"""What the fault tests on the standalone cluster share: the cluster, namespaces, kill points.

One standalone Flink cluster per test module (its own JobManager and TaskManager, its own state
directory for checkpoints and savepoints) on the session's broker. Each test runs its job in a
namespace of its own: topics under a fresh prefix, its own Iceberg catalog. The settings of a
namespace keep the cluster's state directory, so ``FlinkCluster(settings)`` finds the daemons to
kill, and :class:`~streamledger.operations.Operations` hands every field of them to the job it
deploys (as ``STREAMLEDGER_*`` variables): the job reads and writes that namespace.

Kill points are drawn from a seed that is printed (``-s`` shows it); ``STREAMLEDGER_FAULT_SEED``
replays a failure.
"""

from __future__ import annotations

import dataclasses
import os
import random
import time
import urllib.error
from collections.abc import Callable, Iterator
from pathlib import Path

from streamledger import kafka_clients
from streamledger.config import Settings
from streamledger.errors import ServiceUnavailableError
from streamledger.operations import JobNotFoundError, Operations, wait_for_checkpoints
from streamledger.stack.local_stack import LocalStack

from .stack_support import isolated_settings


def standalone_cluster(local_stack: LocalStack, root: Path) -> Iterator[Settings]:
    """Start a cluster whose state lives under ``root``; yield its settings; stop it."""
    settings = dataclasses.replace(
        local_stack.settings,
        state_root=root / "state",
        catalog_db=root / "catalog" / "iceberg_catalog.db",
        warehouse=root / "warehouse",
    )
    stack = LocalStack(settings)
    stack.up(["flink"])
    try:
        yield settings
    finally:
        stack.down(["flink"])


def namespace(cluster: Settings, root: Path) -> Settings:
    """Fresh topics and a fresh Iceberg catalog under ``root``, on ``cluster`` (whose state
    directory it keeps, so the cluster's daemons stay findable)."""
    return dataclasses.replace(isolated_settings(LocalStack(cluster), root), state_root=cluster.state_root)


def fault_rng(label: str) -> random.Random:
    """A random source for kill points, its seed printed (and taken from the environment if set)."""
    seed = int(os.environ.get("STREAMLEDGER_FAULT_SEED", str(random.randrange(1_000_000))))
    print(f"{label}: fault seed {seed} (STREAMLEDGER_FAULT_SEED={seed} replays it)")
    return random.Random(seed)


def wait_until_consumed(settings: Settings, job: str, topic: str, timeout_s: float = 300.0) -> None:
    """The job's consumer group has committed every record now in ``topic``.

    Offsets are committed when a checkpoint completes, together with the outputs' transactions,
    so every output of that input is committed too (timers aside: they fire on the watermark).
    """
    ends = kafka_clients.end_offsets(settings, topic)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            committed = kafka_clients.resume_offsets(settings, job, topic)
            if all(committed.get(p, 0) >= end for p, end in ends.items()):
                return
        except Exception:  # the broker may be restarting
            pass
        time.sleep(1)
    raise AssertionError(f"{job} did not commit {topic} up to {ends} within {timeout_s:.0f} s")


def wait_until_event_time(
    settings: Settings, job: str, task: str, at_least_ms: int, timeout_s: float = 300.0
) -> None:
    """The input watermark of ``job``'s task whose name starts with ``task`` has reached
    ``at_least_ms``, and one more checkpoint completed since: every timer of the operators before
    that task due by then has fired (an operator passes a watermark on only after its timers for
    it, PyFlink's only after their Python results are in), and their outputs are committed.

    Consumed input (:func:`wait_until_consumed`) does not imply that: the watermark leaves the
    source after the records that carry it, and a checkpoint taken in between commits those
    offsets without the outputs the watermark then fires.
    """
    ops = Operations(settings)
    deadline = time.monotonic() + timeout_s
    reached: dict[str, int | None] = {}
    while time.monotonic() < deadline:
        try:
            reached = ops.input_watermarks(ops.find(job))
            matching = [w for name, w in reached.items() if name.startswith(task)]
            assert matching, f"{job} has no task named {task!r}...: {sorted(reached)}"
            watermark = matching[0]
            if watermark is not None and watermark >= at_least_ms:
                done = ops.status(ops.find(job)).completed_checkpoints
                wait_for_checkpoints(
                    ops, job, completed=done + 1, timeout_s=max(1.0, deadline - time.monotonic())
                )
                return
        except (JobNotFoundError, ServiceUnavailableError, urllib.error.HTTPError):
            pass  # restarting
        time.sleep(1)
    raise AssertionError(
        f"{job}: {task} did not reach event time {at_least_ms} within {timeout_s:.0f} s: {reached}"
    )


def kill_taskmanager(
    settings: Settings,
    job: str,
    rng: random.Random,
    *,
    after_checkpoints: int,
    while_down: Callable[[], object] = lambda: None,
) -> None:
    """SIGKILL the TaskManager once ``job`` has completed between 1 and ``after_checkpoints`` more
    checkpoints (a random number) plus a random fraction of a second; run ``while_down`` (more
    input arriving during the outage), then start a new TaskManager: the job restarts from its last
    completed checkpoint."""
    ops = Operations(settings)
    done = wait_for_checkpoints(ops, job, completed=0).completed_checkpoints
    more = rng.randint(1, after_checkpoints)
    wait_for_checkpoints(ops, job, completed=done + more, timeout_s=240)
    delay = rng.uniform(0.0, 1.0)
    time.sleep(delay)
    print(f"{job}: kill -9 TaskManager after {more} more checkpoint(s) + {delay:.2f} s")
    stack = LocalStack(settings)
    killed_at = time.time()
    stack.flink.taskmanager.kill()
    while_down()
    stack.up(["flink"])
    restored_ms, first_output_ms = _first_checkpoint_after_restore(ops, job, since_ms=int(killed_at * 1000))
    # Outputs become visible when a checkpoint completes: the first one after the restore is the
    # first new output (a measurement, printed; not a pass/fail criterion).
    print(
        f"{job}: restored from its last checkpoint {restored_ms / 1000 - killed_at:.1f} s after the kill; "
        f"first new output (checkpoint completed) {(first_output_ms - restored_ms) / 1000:.1f} s after "
        "the restore"
    )


def _first_checkpoint_after_restore(ops: Operations, job: str, since_ms: int) -> tuple[int, int]:
    """(restore time, completion time of the first checkpoint triggered after it), epoch ms, for
    the restore that happened after ``since_ms``."""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        try:
            latest = ops.cluster.rest(f"/jobs/{ops.find(job).job_id}/checkpoints").get("latest") or {}
        except Exception:  # the job is restarting
            latest = {}
        restored = (latest.get("restored") or {}).get("restore_timestamp", 0)
        completed = latest.get("completed") or {}
        if restored > since_ms and completed.get("trigger_timestamp", 0) > restored:
            return int(restored), int(completed["latest_ack_timestamp"])
        time.sleep(0.5)
    raise AssertionError(f"{job} did not restore and complete a checkpoint within 240 s of the kill")


def restart_broker(local_stack: LocalStack, job: str, rng: random.Random) -> None:
    """Stop the session's broker gracefully (a rolling restart) mid-stream and start it again."""
    before, down = rng.uniform(0.5, 3.0), rng.uniform(2.0, 6.0)
    time.sleep(before)
    print(f"{job}: broker stopped {before:.2f} s into the batch, for {down:.2f} s")
    local_stack.down(["kafka"])
    time.sleep(down)
    local_stack.up(["kafka"])


def repeated_records(settings: Settings, local_stack: LocalStack, topic: str) -> str:
    """Every record that appears more than once (same key and value) in a read_committed read of
    ``topic``, with the log batches that hold each copy; empty when there are none.

    A repeat in a projection topic is either a job that emitted the same row twice or a sink that
    committed one row twice; the batch headers (producer id and epoch, transactional or not) and
    the transaction markers around each copy tell which.
    """
    copies: dict[tuple[int, bytes | None, bytes | None], list[int]] = {}
    for record in kafka_clients.read_topic(settings, topic):
        copies.setdefault((record.partition, record.key, record.value), []).append(record.offset)
    repeats = {k: offsets for k, offsets in copies.items() if len(offsets) > 1}
    if not repeats:
        return ""
    lines = []
    for (partition, key, _), offsets in sorted(repeats.items()):
        lines.append(f"{topic}-{partition} key {key!r} at offsets {offsets}")
        lines.extend(_batches_holding(local_stack, topic, partition, offsets))
    return "\n".join(lines)


def open_output_transactions(settings: Settings, local_stack: LocalStack) -> str:
    """Every partition of ``settings``' topics with a transaction still open, with the batch that
    opened it; empty when there is none.

    Read after a job stopped: its last transaction must have been committed by then. A
    read_committed reader stops quietly before an open transaction, so without this check a
    projection would look complete (and merely short of its newest rows) when it is not.
    """
    lines = []
    for field in settings.topic_fields:
        topic = getattr(settings, field)
        for partition, (stable, high) in kafka_clients.open_transactions(settings, topic).items():
            lines.append(f"{topic}-{partition}: records {stable}..{high - 1} not committed")
            lines.extend(_batches_holding(local_stack, topic, partition, [stable]))
    return "\n".join(lines)


#: Loggers whose warnings say what happened to a Kafka transaction of the sink (a commit retried,
#: given up, a recovered transaction found aborted), as opposed to connection noise.
_SINK_LOGGERS = ("org.apache.flink.connector.kafka.sink", "producer.internals.TransactionManager")


def sink_warnings(settings: Settings) -> str:
    """The warnings and errors the Kafka sink logged on the cluster's TaskManagers, for a failure
    message: a commit that failed or was dropped explains missing or repeated outputs."""
    from streamledger.stack.flink_cluster import FlinkCluster

    lines = []
    for log in sorted((FlinkCluster(settings).directory / "log").glob("*taskexecutor*.log*")):
        for line in log.read_text(errors="replace").splitlines():
            if (" WARN " in line or " ERROR " in line) and any(name in line for name in _SINK_LOGGERS):
                lines.append(line[:400])
    return "\n".join(lines) or "(the Kafka sink logged no warnings)"


def _batches_holding(local_stack: LocalStack, topic: str, partition: int, offsets: list[int]) -> list[str]:
    """The batch header (and the next control batch of the same producer) for each offset, read
    from the broker's segment files with Kafka's own DumpLogSegments tool."""
    import subprocess

    broker = local_stack.kafka
    segments = sorted(str(p) for p in (broker.data_dir / f"{topic}-{partition}").glob("*.log"))
    argv = broker.java_argv("kafka.tools.DumpLogSegments", "--files", ",".join(segments))
    dump = subprocess.run(argv, capture_output=True, text=True, check=False).stdout.splitlines()
    batches = [line for line in dump if line.startswith("baseOffset:")]
    found = []
    for offset in offsets:
        for i, batch in enumerate(batches):
            fields = batch.split()
            base, last = int(fields[1]), int(fields[3])
            if base <= offset <= last:
                producer = fields[fields.index("producerId:") + 1]
                same_producer = f"producerId: {producer} "
                marker = next(
                    (b for b in batches[i + 1 :] if "isControl: true" in b and same_producer in b),
                    "no control batch after it",
                )
                found.append(f"  offset {offset}: {batch}\n    then: {marker}")
    return found
