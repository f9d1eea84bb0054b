"""The ways to start a job, made once from its ``build`` function, so every job starts alike.

A job module defines ``build(builder, *, bounded, start)`` (its keys, operators and sinks) and
exposes the entry points of :class:`JobEntrypoints` as module functions — the protocol
:mod:`jobs.registry` documents.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from confluent_kafka import TopicPartition

from jobs import runner
from jobs.builder import JobBuilder
from jobs.runner import RunReport
from streamledger import kafka_clients
from streamledger.config import Settings
from streamledger.errors import ConfigError


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
    ) -> Any:
        """Run in the embedded MiniCluster until done (bounded) or cancelled."""
        return self.create(settings, bounded=bounded, start=start, flink_config=flink_config).execute()

    def run_until_caught_up(
        self, settings: Settings, *, start: str | int = "committed", name: str | None = None
    ) -> RunReport:
        """Resume from the newest savepoint/checkpoint, process the backlog, stop with a savepoint.

        ``start`` and ``name`` as in :meth:`create`; the backlog is judged by the committed
        offsets of the consumer group ``name``.
        """
        run_name = name or self.name
        return runner.run_until_caught_up(
            run_name,
            settings,
            lambda s, config: self.create(s, start=start, flink_config=config, name=run_name),
            self.input_topic(settings),
        )

    def replay(self, settings: Settings, replay_id: str) -> RunReport:
        """Rebuild the job's outputs from the start of its input, the way the live job runs.

        ``settings`` names the input topic the live job reads and *fresh* outputs (topics,
        Iceberg catalog). The run is unbounded, from the earliest offsets, and stops with a
        savepoint once the backlog present at its start is committed — not a bounded run, whose
        end-of-input watermark event-time jobs cannot treat like a real watermark. It runs as
        ``<job>-replay-<replay_id>``: its own consumer group (the live job's committed offsets
        neither decide where it starts nor see its commits), its own Kafka transactional ids (it
        cannot fence the live job's producers) and its own restore points (calling it again with
        the same id resumes that replay). A replay id whose group has committed offsets but no
        restore point is refused: reading from the start again into the outputs that group wrote
        would duplicate them, and its commits would end the run before anything was read.
        """
        name = f"{self.name}-replay-{replay_id}"
        topic = self.input_topic(settings)
        if runner.latest_restore_point(settings, name) is None and _has_committed_offsets(
            settings, name, topic
        ):
            raise ConfigError(
                f"replay {replay_id!r} of {self.name} has committed offsets on {topic} but no restore "
                f"point under {settings.state_dir}",
                "choose a new replay id (with fresh outputs), or restore that replay's state directory",
            )
        return self.run_until_caught_up(settings, start="earliest", name=name)

    def main(self) -> None:
        """Entry point on a cluster (``-pym jobs.<module>``): run until stopped.

        Settings come from ``STREAMLEDGER_*`` variables; restore points are chosen by whoever
        submits the job (the Kubernetes operator's savepoint, or ``execution.state-recovery.path``).
        """
        self.create(Settings.from_env()).execute()


def _has_committed_offsets(settings: Settings, group: str, topic: str) -> bool:
    """Whether consumer group ``group`` has committed an offset for any partition of ``topic``."""
    partitions = [TopicPartition(topic, p) for p in sorted(kafka_clients.end_offsets(settings, topic))]
    consumer = kafka_clients.committed_consumer(settings, group_id=group)
    try:
        committed = kafka_clients.retry_while_settling(lambda: consumer.committed(partitions, timeout=10))
    finally:
        consumer.close()
    return any(tp.offset >= 0 for tp in committed)
