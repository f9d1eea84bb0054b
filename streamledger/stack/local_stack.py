"""The local stack as one unit: Kafka broker, standalone Flink cluster, Iceberg catalog.

``up`` and ``down`` are idempotent (a second ``up`` finds everything running and returns; a
second ``down`` finds nothing to stop), and ``status`` reports what it observes, not what a
pid file claims.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from streamledger.config import Settings
from streamledger.errors import ServiceUnavailableError
from streamledger.stack import iceberg_catalog, processes, toolchain
from streamledger.stack.flink_cluster import FlinkCluster
from streamledger.stack.kafka_broker import KafkaBroker

COMPONENTS = ("kafka", "flink", "catalog")


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    up: bool
    address: str
    detail: str


@dataclass(frozen=True)
class LocalStack:
    settings: Settings

    @property
    def kafka(self) -> KafkaBroker:
        return KafkaBroker(self.settings)

    @property
    def flink(self) -> FlinkCluster:
        return FlinkCluster(self.settings)

    def up(self, components: Iterable[str] = COMPONENTS) -> dict[str, bool]:
        """Start what is not running; returns, per component, whether this call started it."""
        wanted = list(components)
        if not toolchain.jars_present(self.settings):
            toolchain.fetch_jars(self.settings)
        started: dict[str, bool] = {}
        if "catalog" in wanted:
            already = iceberg_catalog.ready(self.settings)
            iceberg_catalog.initialize(self.settings)
            started["catalog"] = not already
        if "kafka" in wanted:
            started["kafka"] = self.kafka.up()
        if "flink" in wanted:
            started["flink"] = self.flink.up()
        return started

    def down(self, components: Iterable[str] = COMPONENTS) -> dict[str, bool]:
        """Stop what runs; returns, per component, whether this call stopped it.

        The catalog is files, not a process: ``down`` leaves it (and all data) in place.
        """
        wanted = list(components)
        stopped: dict[str, bool] = {}
        if "flink" in wanted:
            stopped["flink"] = self.flink.down()
        if "kafka" in wanted:
            stopped["kafka"] = self.kafka.down()
        return stopped

    def status(self) -> list[ComponentStatus]:
        return [self._kafka_status(), self._flink_status(), self._catalog_status()]

    # ------------------------------------------------------------------ per component
    def _kafka_status(self) -> ComponentStatus:
        s = self.settings
        pid = self.kafka.process.pid()
        listening = processes.port_accepts_connections(s.kafka_host, s.kafka_port)
        if pid is None:
            detail = "not running" + (f" (but something else listens on {s.kafka_port})" if listening else "")
            return ComponentStatus("kafka", False, s.bootstrap_servers, detail)
        try:
            configs = {t.name: self.kafka.topic_configs(t.name) for t in s.topics}
        except Exception as exc:  # a broker that runs but does not answer is "down" to its users
            return ComponentStatus("kafka", False, s.bootstrap_servers, f"pid {pid}, not answering: {exc}")
        compacted = [name for name, c in configs.items() if c.get("cleanup.policy") == "compact"]
        return ComponentStatus(
            "kafka",
            True,
            s.bootstrap_servers,
            f"pid {pid}, KRaft, {len(configs)} topics ready, compacted: {', '.join(compacted) or 'none'}",
        )

    def _flink_status(self) -> ComponentStatus:
        s = self.settings
        jm = self.flink.jobmanager.pid()
        tm = self.flink.taskmanager.pid()
        if jm is None:
            return ComponentStatus("flink", False, s.flink_rest_url, "JobManager not running")
        try:
            overview = self.flink.rest("/overview")
        except ServiceUnavailableError:
            return ComponentStatus(
                "flink", False, s.flink_rest_url, f"JobManager pid {jm}, REST API not answering"
            )
        taskmanagers = int(overview.get("taskmanagers", 0))
        detail = (
            f"JobManager pid {jm}, TaskManager pid {tm or '-'}, {taskmanagers} registered, "
            f"{overview.get('slots-available', 0)}/{overview.get('slots-total', 0)} slots free, "
            f"{overview.get('jobs-running', 0)} jobs running"
        )
        return ComponentStatus("flink", taskmanagers >= 1, s.flink_rest_url, detail)

    def _catalog_status(self) -> ComponentStatus:
        s = self.settings
        if not iceberg_catalog.ready(s):
            return ComponentStatus("catalog", False, str(s.catalog_db_path), "not initialized")
        catalog = iceberg_catalog.load(s)
        tables = [".".join(t) for ns in catalog.list_namespaces() for t in catalog.list_tables(ns)]
        return ComponentStatus(
            "catalog",
            True,
            str(s.catalog_db_path),
            f"JDBC (SQLite), warehouse {s.warehouse_path}, tables: {', '.join(tables) or 'none'}",
        )
