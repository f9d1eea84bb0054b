"""The ways to start a job, made once from its ``build`` function, so every job starts alike.

A job module defines ``build(builder, *, bounded, start)`` (its keys, operators and sinks) and
exposes the entry points of :class:`JobEntrypoints` as module functions — the protocol
:mod:`jobs.registry` documents.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from confluent_kafka import TopicPartition
from py4j.protocol import Py4JJavaError  # type: ignore[import-untyped]

from jobs import runner
from jobs.builder import JobBuilder
from jobs.runner import RunReport
from streamledger import kafka_clients
from streamledger.config import Settings
from streamledger.errors import ConfigError, NonRestoredStateError

log = logging.getLogger(__name__)

#: Flink's switch for starting from a restore point whose state not every operator claims.
IGNORE_UNCLAIMED_STATE = "execution.state-recovery.ignore-unclaimed-state"


class Build(Protocol):
    def __call__(self, builder: JobBuilder, *, bounded: bool = ..., start: str | int = ...) -> None: ...


@dataclass(frozen=True)
class JobEntrypoints:
    name: str
    build: Build
    #: The topic whose backlog ``run_until_caught_up`` processes (the job's main input).
    input_topic: Callable[[Settings], str]

    def create(
        self,
        settings: Settings,
        *,
        bounded: bool = False,
        start: str | int = "committed",
        flink_config: Mapping[str, str] | None = None,
        name: str | None = None,
    ) -> JobBuilder:
        """A builder with the job wired in, ready to ``execute()`` or ``execute_async()``.

        ``flink_config`` overrides entries of :func:`jobs.builder.job_configuration`; ``start``
        applies to the main input when the job does not restore from a checkpoint or savepoint.
        ``name`` (default: the job's) names the run: consumer group, transactional ids,
        checkpoint and savepoint directories (see :meth:`replay`).
        """
        builder = JobBuilder.create(name or self.name, settings, flink_config)
        self.build(builder, bounded=bounded, start=start)
        return builder

    def run(
        self,
        settings: Settings,
        *,
        bounded: bool = False,
        start: str | int = "committed",
        flink_config: Mapping[str, str] | None = None,
        allow_non_restored_state: bool = False,
    ) -> Any:
        """Run in the embedded MiniCluster until done (bounded) or cancelled.

        A restore point in ``flink_config`` whose state this job version cannot map fails with
        :class:`NonRestoredStateError` unless ``allow_non_restored_state``.
        """
        config = _restore_options(flink_config, allow_non_restored_state)
        builder = self.create(settings, bounded=bounded, start=start, flink_config=config)
        with _refusing_unclaimed_state(self.name):
            return builder.execute()

    def run_until_caught_up(
        self,
        settings: Settings,
        *,
        start: str | int = "committed",
        name: str | None = None,
        restore_from: Path | None = None,
        allow_non_restored_state: bool = False,
    ) -> RunReport:
        """Resume from the newest savepoint/checkpoint (or ``restore_from``), process the backlog,
        stop with a savepoint.

        ``start`` and ``name`` as in :meth:`create`; the backlog is judged by the committed
        offsets of the consumer group ``name``. A restore point holding state for an operator
        (uid) this version no longer has is refused with :class:`NonRestoredStateError` unless
        ``allow_non_restored_state``: then that state is dropped.
        """
        run_name = name or self.name
        with _refusing_unclaimed_state(run_name):
            return runner.run_until_caught_up(
                run_name,
                settings,
                lambda s, config: self.create(
                    s,
                    start=start,
                    flink_config=_restore_options(config, allow_non_restored_state),
                    name=run_name,
                ),
                self.input_topic(settings),
                restore_from=restore_from,
            )

    def replay_name(self, replay_id: str) -> str:
        """The run name of a replay: its consumer group, transactional ids, restore points."""
        return f"{self.name}-replay-{replay_id}"

    def replay(
        self,
        settings: Settings,
        replay_id: str,
        *,
        start: str | int | None = None,
        restore_from: Path | None = None,
    ) -> RunReport:
        """Rebuild the job's outputs from its input, the way the live job runs.

        ``settings`` names the input topic the live job reads and *fresh* outputs (topics,
        Iceberg catalog). The run is unbounded, from ``start`` (below), and stops with a
        savepoint once the backlog present at its start is committed — not a bounded run, whose
        end-of-input watermark event-time jobs cannot treat like a real watermark. It runs as
        ``<job>-replay-<replay_id>``: its own consumer group (the live job's committed offsets
        neither decide where it starts nor see its commits), its own Kafka transactional ids (it
        cannot fence the live job's producers) and its own restore points (calling it again with
        the same id resumes that replay). A replay id whose group has committed offsets but no
        restore point is refused: reading from the start again into the outputs that group wrote
        would duplicate them, and its commits would end the run before anything was read.

        ``start`` is where a new replay begins reading: ``"earliest"`` (the default; the whole
        log: the projections equal the live job's) or an epoch-millis timestamp — in each partition from
        the first record whose timestamp is at or after it (Kafka's offsets-for-times; later
        records are read even if their timestamps are older), with *empty* state, so the outputs
        hold what the job makes of that part of the log alone (a day's lifecycles; not balances
        carried over from before it). ``restore_from`` continues the replay from one of its own
        savepoints or retained checkpoints rather than the newest; a live job's savepoint is
        refused: its state belongs with the live outputs (restore it with ``deploy
        --from-savepoint``, the rollback of the runbook). An explicit ``start`` for a replay that
        already has a restore point is refused (it would be ignored: a restored run reads on from
        its checkpointed offsets).
        """
        name = self.replay_name(replay_id)
        topic = self.input_topic(settings)
        if restore_from is not None:
            _check_restore_point_of(settings, name, restore_from)
        if start is not None and (restore_from or runner.latest_restore_point(settings, name)):
            raise ConfigError(
                f"replay {replay_id!r} of {self.name} has already run and continues from its savepoint, "
                f"not from {start!r}",
                "leave out --from to continue it, or choose a new replay id for a rebuild from there",
            )
        if (
            restore_from is None
            and runner.latest_restore_point(settings, name) is None
            and _has_committed_offsets(settings, name, topic)
        ):
            raise ConfigError(
                f"replay {replay_id!r} of {self.name} has committed offsets on {topic} but no restore "
                f"point under {settings.state_dir}",
                "choose a new replay id (with fresh outputs), or restore that replay's state directory",
            )
        first_read = "earliest" if start is None else start
        return self.run_until_caught_up(settings, start=first_read, name=name, restore_from=restore_from)

    def main(self) -> None:
        """Entry point on a cluster (``-pym jobs.<module>``): run until stopped.

        Settings come from ``STREAMLEDGER_*`` variables; restore points are chosen by whoever
        submits the job (the Kubernetes operator's savepoint, or ``execution.state-recovery.path``).
        """
        self.create(Settings.from_env()).execute()


def _restore_options(
    flink_config: Mapping[str, str] | None, allow_non_restored_state: bool
) -> dict[str, str]:
    """``flink_config`` with Flink told to drop unclaimed restore state, if the user said so."""
    config = dict(flink_config or {})
    if allow_non_restored_state:
        config[IGNORE_UNCLAIMED_STATE] = "true"
    return config


@contextmanager
def _refusing_unclaimed_state(job: str) -> Iterator[None]:
    """Flink's refusal to restore state no operator claims, as one line instead of a Java trace.

    Flink refuses because dropping state silently (a renamed uid orphans it) would lose balances
    or lifecycles without anyone noticing; the user has to say that dropping it is intended.
    """
    try:
        yield
    except Py4JJavaError as error:
        refusal = NonRestoredStateError.in_flink_output(job, str(error))
        if refusal is None:
            raise
        log.debug("restore refused by Flink: %s", error)
        raise refusal from None


def _check_restore_point_of(settings: Settings, run_name: str, restore_point: Path) -> None:
    """Refuse a restore point that is not a completed savepoint/checkpoint of ``run_name``."""
    resolved = restore_point.resolve()
    own = [(settings.savepoints_dir / run_name).resolve(), (settings.checkpoints_dir / run_name).resolve()]
    if not any(resolved.is_relative_to(directory) for directory in own):
        raise ConfigError(
            f"{restore_point} is not a savepoint of {run_name} (those are under {own[0]} and {own[1]})",
            "a replay continues only from its own savepoints; to take a live job back to one of its "
            "savepoints, `streamledger deploy JOB --from-savepoint PATH` (see the runbook, rollback)",
        )
    if not (resolved / "_metadata").is_file():
        raise ConfigError(
            f"{restore_point} holds no _metadata: not a completed savepoint or checkpoint",
            "pass the savepoint-* or chk-* directory itself",
        )


def _has_committed_offsets(settings: Settings, group: str, topic: str) -> bool:
    """Whether consumer group ``group`` has committed an offset for any partition of ``topic``."""
    partitions = [TopicPartition(topic, p) for p in sorted(kafka_clients.end_offsets(settings, topic))]
    consumer = kafka_clients.committed_consumer(settings, group_id=group)
    try:
        committed = kafka_clients.retry_while_settling(lambda: consumer.committed(partitions, timeout=10))
    finally:
        consumer.close()
    return any(tp.offset >= 0 for tp in committed)
