"""A single-node Apache Kafka broker in KRaft mode, on loopback, from the jars Maven resolved.

Transactions are real (the transaction state log has replication 1 so a single node can host
it) and so is compaction (the log cleaner runs with a short back-off so tests can observe it).
Data and logs live under ``.streamledger/kafka``; ``up`` formats the storage once and reuses it.
"""

from __future__ import annotations

import base64
import logging
import uuid
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic  # type: ignore[attr-defined]

from streamledger import kafka_clients
from streamledger.config import Settings, TopicSpec
from streamledger.errors import ServiceStartError, ServiceUnavailableError
from streamledger.stack import processes, toolchain

log = logging.getLogger(__name__)

_MAIN_CLASS = "kafka.Kafka"
_NODE_ID = 1


@dataclass(frozen=True)
class KafkaBroker:
    settings: Settings

    # ------------------------------------------------------------------ paths
    @property
    def directory(self) -> Path:
        return self.settings.kafka_dir

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    @property
    def config_file(self) -> Path:
        return self.directory / "config" / "server.properties"

    @property
    def process(self) -> processes.DaemonProcess:
        return processes.DaemonProcess(
            name="kafka",
            pid_file=self.directory / "kafka.pid",
            log_file=self.directory / "logs" / "server.log",
            # The config path is unique to this checkout, so another project's broker never matches.
            marker=str(self.config_file),
        )

    # ------------------------------------------------------------------ life cycle
    def running(self) -> bool:
        return self.process.running()

    def up(self) -> bool:
        """Start (formatting storage on first use) and wait until ready. False if already up."""
        if self.running():
            self.ensure_topics()
            return False
        toolchain.require_jars(self.settings)
        s = self.settings
        processes.wait_until_bindable(s.kafka_host, s.kafka_port, "Kafka broker", "STREAMLEDGER_KAFKA_PORT")
        processes.wait_until_bindable(
            s.kafka_host, s.kafka_controller_port, "Kafka controller", "STREAMLEDGER_KAFKA_CONTROLLER_PORT"
        )
        self._write_config()
        if not (self.data_dir / "meta.properties").is_file():
            self._format_storage()
        self.process.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.process.start(self.java_argv(_MAIN_CLASS, str(self.config_file)))
        ready = processes.wait_until(
            self._metadata_available,
            timeout_s=s.kafka_start_timeout_s,
            still_starting=self.running,
            interval_s=0.5,
        )
        if not ready:
            self.process.stop(timeout_s=5)
            raise self.process.fail_start(
                f"the Kafka broker on {s.bootstrap_servers}",
                f"read {self.process.log_file}; `streamledger stack down` then `up` retries "
                f"(delete {self.data_dir} to start from empty storage)",
            )
        self.ensure_topics()
        return True

    def down(self) -> bool:
        """Stop gracefully (controlled shutdown). False when it was not running."""
        return self.process.stop(timeout_s=60)

    def kill(self) -> None:
        """SIGKILL the broker: a crash, for fault-injection tests."""
        self.process.kill()

    # ------------------------------------------------------------------ topics
    def admin(self) -> AdminClient:
        return kafka_clients.admin_client(self.settings)

    def ensure_topics(self, topics: tuple[TopicSpec, ...] | None = None) -> list[str]:
        """Create the project's topics that are missing, and set the configs of those that exist.

        Returns the names created. Configs are re-applied on every ``up`` so a topic created by
        hand with the wrong ``cleanup.policy`` is corrected, not silently kept.
        """
        admin = self.admin()
        specs = topics if topics is not None else self.settings.topics
        existing = set(self._list_topics(admin))
        missing = [t for t in specs if t.name not in existing]
        created: list[str] = []
        if missing:
            futures = admin.create_topics(
                [
                    NewTopic(
                        t.name, num_partitions=t.partitions, replication_factor=1, config=dict(t.configs)
                    )
                    for t in missing
                ],
                operation_timeout=30,
            )
            for name, future in futures.items():
                try:
                    future.result()
                    created.append(name)
                except KafkaException as exc:
                    if "TOPIC_ALREADY_EXISTS" not in str(exc):
                        raise ServiceUnavailableError(
                            f"could not create topic {name}: {exc.args[0]}", "check the broker log"
                        ) from None
        if created:
            self._wait_for_leaders(admin, created)
        present = [t for t in specs if t.name in existing and t.configs]
        if present:
            resources = [ConfigResource("topic", t.name, set_config=dict(t.configs)) for t in present]
            for future in admin.alter_configs(resources).values():
                future.result()
        return created

    def _wait_for_leaders(self, admin: AdminClient, topics: list[str]) -> None:
        """A created topic is usable only once each partition has a leader; wait for that."""

        def all_led() -> bool:
            metadata = admin.list_topics(timeout=5).topics
            return all(
                name in metadata
                and metadata[name].error is None
                and all(p.leader >= 0 for p in metadata[name].partitions.values())
                for name in topics
            )

        if not processes.wait_until(all_led, timeout_s=30, interval_s=0.2):
            raise ServiceUnavailableError(
                f"topics {topics} have no partition leader after 30 s", "check the broker log"
            )

    def topic_configs(self, topic: str) -> dict[str, str]:
        resource = ConfigResource("topic", topic)
        admin = self.admin()  # keep a reference: the futures die with their client
        entries = admin.describe_configs([resource])[resource].result()
        return {name: entry.value for name, entry in entries.items()}

    def delete_topics(self, names: list[str]) -> None:
        admin = self.admin()
        for future in admin.delete_topics(names, operation_timeout=30).values():
            try:
                future.result()
            except KafkaException as exc:
                if "UNKNOWN_TOPIC" not in str(exc):
                    raise

    # ------------------------------------------------------------------ internals
    def _list_topics(self, admin: AdminClient) -> list[str]:
        try:
            return list(admin.list_topics(timeout=10).topics)
        except KafkaException:
            raise ServiceUnavailableError(
                f"the Kafka broker at {self.settings.bootstrap_servers} does not answer",
                "start it with `streamledger stack up`",
            ) from None

    def _metadata_available(self) -> bool:
        try:
            metadata = self.admin().list_topics(timeout=2)
        except KafkaException:
            return False
        return bool(metadata.brokers)

    def java_argv(self, main_class: str, *args: str) -> list[str]:
        """A JVM command line running ``main_class`` from the broker's jars (the broker itself, its
        storage tool, or a diagnostic such as ``kafka.tools.DumpLogSegments``)."""
        log4j = self.directory / "config" / "log4j2.properties"
        return [
            toolchain.java_executable(),
            "-Xms256m",
            "-Xmx1g",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={log4j}",
            f"-Dkafka.logs.dir={self.process.log_file.parent}",
            "-cp",
            str(self.settings.broker_jars_dir / "*"),
            main_class,
            *args,
        ]

    def _format_storage(self) -> None:
        import subprocess

        cluster_id = new_cluster_id()
        argv = self.java_argv(
            "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(self.config_file)
        )
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            last = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
            raise ServiceStartError(
                f"formatting Kafka storage in {self.data_dir} failed: {last[0]}",
                f"delete {self.data_dir} and retry `streamledger stack up`",
            )

    def _write_config(self) -> None:
        s = self.settings
        host = s.kafka_host
        properties = {
            "process.roles": "broker,controller",
            "node.id": str(_NODE_ID),
            "controller.quorum.voters": f"{_NODE_ID}@{host}:{s.kafka_controller_port}",
            "listeners": f"PLAINTEXT://{host}:{s.kafka_port},CONTROLLER://{host}:{s.kafka_controller_port}",
            "advertised.listeners": f"PLAINTEXT://{host}:{s.kafka_port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            "num.partitions": str(s.topic_partitions),
            "auto.create.topics.enable": "false",
            # A single node must host the internal topics itself.
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "3",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "3",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            # Flink's exactly-once sink keeps a transaction open for a whole checkpoint interval.
            "transaction.max.timeout.ms": "900000",
            # Compaction is part of the contract of projection topics: keep the cleaner eager.
            "log.cleaner.enable": "true",
            "log.cleaner.backoff.ms": "1000",
            "log.retention.check.interval.ms": "30000",
        }
        self.config_file.parent.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text("".join(f"{k}={v}\n" for k, v in properties.items()))
        # Everything goes to stdout, which the daemon redirects to logs/server.log: one file to
        # read, and the one whose tail start-up errors show.
        (self.directory / "config" / "log4j2.properties").write_text(
            "\n".join(
                [
                    "status = warn",
                    "appender.console.type = Console",
                    "appender.console.name = console",
                    "appender.console.layout.type = PatternLayout",
                    "appender.console.layout.pattern = [%d] %p %m (%c)%n",
                    "rootLogger.level = INFO",
                    "rootLogger.appenderRef.console.ref = console",
                    "logger.kafka.name = kafka",
                    "logger.kafka.level = INFO",
                    "logger.state.name = state.change.logger",
                    "logger.state.level = WARN",
                    "",
                ]
            )
        )


def new_cluster_id() -> str:
    """A random KRaft cluster ID that the storage tool's argument parser accepts.

    The ID is URL-safe base64 of a UUID; one in 32 of those starts with ``-``, which the
    tool reads as an option ("expected one argument"). Kafka's own ``random-uuid`` avoids
    the same trap by drawing again, and so do we.
    """
    while True:
        candidate = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not candidate.startswith("-"):
            return candidate
