"""Running a job the way it runs in production, on the embedded MiniCluster.

A streaming job never "finishes": it is stopped with a savepoint and the next run resumes from
it. That is what :func:`run_until_caught_up` does — resume from the newest restore point (a
savepoint, or a checkpoint retained after a crash), run until every record that was in the
input when it started has been processed *and committed*, then stop with a savepoint. Offsets
are committed to Kafka only when a checkpoint completes, the same moment the sinks commit their
transactions and Iceberg snapshots, so "the group's committed offsets reached the end" means
"everything up to there is visible to read_committed consumers".

Bounded runs (``bounded=True`` sources) are for quick looks into fresh outputs; their final
checkpoint marks sources finished, so they are not a restore point for a continuing job, and their
end-of-input watermark is not a real one (jobs with event-time timers may leave timers pending that
the live job fired). A replay that must reproduce the live projections is an unbounded run from the
earliest offsets under a name of its own (:meth:`jobs.entrypoints.JobEntrypoints.replay`): the
``job`` given here names the consumer group whose commits say when the backlog is done.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pyflink.java_gateway import get_gateway

from jobs.builder import JobBuilder
from streamledger import kafka_clients
from streamledger.config import Settings
from streamledger.errors import JobFailedError

_TERMINAL = ("FAILED", "CANCELED", "FINISHED")
log = logging.getLogger(__name__)


def ignore_worker_hangup_on_stop() -> None:
    """Keep Beam's expected gRPC hang-up at job stop out of the user's terminal.

    In the embedded MiniCluster the Python worker runs in this process; when the job stops, its
    data-plane threads die with "Multiplexer hanging up" (a CANCELLED RPC) and Python prints each
    as an uncaught-thread traceback. That is the normal end of the worker, not an error.
    """
    previous = threading.excepthook
    if getattr(previous, "streamledger_filter", False):
        return

    def hook(args: threading.ExceptHookArgs) -> None:
        if "Multiplexer hanging up" in str(args.exc_value):
            log.debug("python worker data plane closed at job stop")
            return
        previous(args)

    hook.streamledger_filter = True  # type: ignore[attr-defined]
    threading.excepthook = hook


@dataclass(frozen=True)
class RunReport:
    job: str
    restored_from: str | None
    savepoint: str
    records: int
    seconds: float


def latest_restore_point(settings: Settings, job: str) -> Path | None:
    """The newest savepoint or retained checkpoint of ``job`` (a directory with ``_metadata``)."""
    candidates = [
        *(settings.savepoints_dir / job).glob("savepoint-*/_metadata"),
        *(settings.checkpoints_dir / job).glob("*/chk-*/_metadata"),
    ]
    if not candidates:
        return None
    return max(candidates, key=lambda p: p.stat().st_mtime).parent


def run_until_caught_up(
    job: str,
    settings: Settings,
    create: Callable[[Settings, dict[str, str]], JobBuilder],
    input_topic: str,
    *,
    targets: Callable[[], Mapping[int, int] | None] | None = None,
    on_poll: Callable[[], None] | None = None,
    timeout_s: float = 600.0,
    restore_from: Path | None = None,
) -> RunReport:
    """Resume ``job``, process the input up to the target offsets, stop with a savepoint.

    The target is, per partition, the input's end offset when the run starts, unless
    ``targets`` supplies it (returning None while it is not known yet, e.g. while input is still
    being produced). ``on_poll`` runs on every turn of the wait loop; an exception from it
    cancels the job. ``restore_from`` overrides the newest restore point. See the module doc for
    why committed offsets mean committed outputs.
    """
    restore = restore_from or latest_restore_point(settings, job)
    flink_config = {"execution.state-recovery.path": restore.as_uri()} if restore else {}
    if targets is None:
        at_start = kafka_clients.end_offsets(settings, input_topic)
        targets = lambda: at_start  # noqa: E731 - a constant target, same shape as a supplied one
    before = kafka_clients.resume_offsets(settings, job, input_topic)

    builder = create(settings, flink_config)
    ignore_worker_hangup_on_stop()
    began = time.monotonic()
    client = builder.execute_async()
    target: Mapping[int, int] | None = None
    try:
        while True:
            status = str(client.get_job_status().result())
            if status in _TERMINAL:
                raise JobFailedError(
                    f"{job} ended as {status} before catching up",
                    f"see the Flink log in {settings.state_dir / 'logs'}",
                )
            if on_poll is not None:
                on_poll()
            target = target if target is not None else targets()
            if target is not None:
                committed = kafka_clients.resume_offsets(settings, job, input_topic)
                if all(committed.get(p, 0) >= end for p, end in target.items()):
                    break
            if time.monotonic() > began + timeout_s:
                raise JobFailedError(f"{job} did not catch up within {timeout_s:.0f} s", "see the Flink log")
            time.sleep(0.5)
    except BaseException:
        with contextlib.suppress(Exception):  # a job that already ended cannot be cancelled
            client.cancel().result()
        raise
    seconds = time.monotonic() - began
    savepoint = stop_with_savepoint(client, settings.savepoints_dir / job)
    records = sum(max(0, end - before.get(p, 0)) for p, end in target.items())
    return RunReport(job, str(restore) if restore else None, savepoint, records, seconds)


def stop_with_savepoint(client: object, directory: Path) -> str:
    """Stop-with-savepoint in Flink's canonical (portable) format; returns the savepoint path."""
    jvm = get_gateway().jvm
    j_client = client._j_job_client  # type: ignore[attr-defined]
    future = j_client.stopWithSavepoint(
        False, directory.as_uri(), jvm.org.apache.flink.core.execution.SavepointFormatType.CANONICAL
    )
    return str(future.get())
