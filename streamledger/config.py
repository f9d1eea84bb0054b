"""The one place streamledger's settings live.

Every command, job, test fixture and (later) rendered Kubernetes manifest reads its ports, paths,
topics, catalog and checkpoint settings from :class:`Settings`, so a local run and a cluster run
cannot drift apart. Defaults suit a laptop; each field can be overridden by an environment
variable named ``STREAMLEDGER_<FIELD>`` (e.g. ``STREAMLEDGER_KAFKA_PORT=29092``).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streamledger.errors import ConfigError

ENV_PREFIX = "STREAMLEDGER_"


@dataclass(frozen=True)
class TopicSpec:
    """A Kafka topic the project owns, with the configs it must be created with."""

    name: str
    partitions: int
    configs: Mapping[str, str] = field(default_factory=dict)

    @property
    def compacted(self) -> bool:
        return "compact" in self.configs.get("cleanup.policy", "")


#: Projection topics keep the latest value per key forever (compaction), so a consumer can
#: rebuild the current view by reading from the beginning. ``min.compaction.lag.ms`` keeps recent
#: history readable for debugging before the cleaner folds it away.
PROJECTION_TOPIC_CONFIGS: Mapping[str, str] = {
    "cleanup.policy": "compact",
    "min.compaction.lag.ms": "60000",
    "segment.ms": "3600000",
}

#: Input logs and the dead-letter topic are the system of record that replay rebuilds projections
#: from: never compacted and never expired by time. Time retention would also be wrong here:
#: record timestamps are *event* times, so a backfill of last year's payments would be deleted
#: by the broker within seconds of being written. (Production bounds them with tiered storage.)
LOG_TOPIC_CONFIGS: Mapping[str, str] = {
    "cleanup.policy": "delete",
    "retention.ms": "-1",
}


def _default_home() -> Path:
    """The project checkout when running from source, else the working directory."""
    source_root = Path(__file__).resolve().parent.parent
    if (source_root / "pyproject.toml").is_file():
        return source_root
    return Path.cwd()


@dataclass(frozen=True)
class Settings:
    """Everything a streamledger process needs to know about its environment."""

    home: Path = field(default_factory=_default_home)
    #: ``local``: jars, Python and checkpoint paths come from this checkout (MiniCluster, local
    #: cluster). ``kubernetes``: they come from the image and the FlinkDeployment's configuration.
    runtime: str = "local"
    #: Where runtime data lives (broker data, logs, checkpoints, catalog); default ``<home>/.streamledger``.
    state_root: Path | None = None
    # Local Kafka broker (KRaft, single node, loopback only).
    kafka_host: str = "127.0.0.1"
    kafka_port: int = 19092
    kafka_controller_port: int = 19093
    kafka_start_timeout_s: float = 60.0
    # Standalone Flink cluster (REST API for savepoints, redeploys, fault tests).
    flink_rest_port: int = 18081
    flink_start_timeout_s: float = 90.0
    flink_taskmanager_slots: int = 2
    # Iceberg: JDBC catalog on SQLite + local warehouse, shared by Flink (writes) and pyiceberg.
    catalog_name: str = "streamledger"
    #: ``jdbc`` (SQLite JDBC catalog + local warehouse) or ``rest`` (an Iceberg REST catalog).
    catalog_type: str = "jdbc"
    catalog_db: Path | None = None
    warehouse: Path | None = None
    #: REST catalog endpoint and its warehouse (e.g. ``s3://bucket/warehouse``); for ``rest`` only.
    catalog_rest_uri: str | None = None
    catalog_warehouse: str | None = None
    # Job defaults.
    parallelism: int = 1
    checkpoint_interval_ms: int = 5000
    min_pause_between_checkpoints_ms: int = 500
    checkpoint_timeout_ms: int = 120_000
    #: Must stay below the broker's transaction.max.timeout.ms (15 min by default), and above the
    #: longest outage a job must survive without losing its open transaction.
    kafka_transaction_timeout_ms: int = 600_000
    #: How long an event ID is remembered for de-duplication (state TTL).
    dedupe_retention_ms: int = 7 * 24 * 3600 * 1000
    # Topics.
    postings_topic: str = "ledger.postings"
    balances_topic: str = "ledger.balances"
    dead_letter_topic: str = "streamledger.dlq"
    #: Raw ISO 20022 XML as channels deliver it (one message per record, key = channel/file name).
    payments_input_topic: str = "payments.iso20022"
    #: Latest lifecycle per payment (compacted, key payment ID).
    payments_status_topic: str = "payments.status"
    loyalty_events_topic: str = "loyalty.events"
    #: Latest points balance per member (compacted, key member ID).
    loyalty_balances_topic: str = "loyalty.balances"
    fraud_events_topic: str = "fraud.events"
    #: Fraud rules as JSON, key rule ID (compacted: the latest version of every rule survives).
    fraud_rules_topic: str = "fraud.rules"
    fraud_alerts_topic: str = "fraud.alerts"
    topic_partitions: int = 3
    # Payment lifecycle job.
    #: A payment neither settled nor finished this long after its first message is flagged stalled.
    payment_sla_ms: int = 2 * 3600 * 1000
    #: A finished payment's state is dropped this long (event time) after its latest message.
    payment_retention_ms: int = 30 * 24 * 3600 * 1000
    #: A message this far behind the watermark, for a payment the job holds no state for, goes to
    #: the dead-letter topic as LATE instead of starting a lifecycle of its own.
    payment_allowed_lateness_ms: int = 7 * 24 * 3600 * 1000
    #: Largest ISO 20022 message accepted (bytes); larger ones are dead-lettered unread.
    payment_max_message_bytes: int = 5 * 1024 * 1024
    # Loyalty accrual job.
    #: The earn/tier/expiry rules (JSON, see ``operators/loyalty/rules``); None: the bundled rules.
    loyalty_rules_file: Path | None = None
    #: How long after a membership-year end, expiry deadline or month end the job waits for late
    #: events before acting on the watermark (default: the 35-day de-duplication retention).
    loyalty_allowed_lateness_ms: int = 35 * 24 * 3600 * 1000
    # Pseudonymisation of PII (names, IBANs, account numbers, e-mail, phone) before projections.
    #: Identifies the key in every token (``hmac-sha256:<id>:...``) so keys can be rotated.
    pii_key_id: str = "dev"
    #: The HMAC secret. The default is for local runs only; production sets
    #: ``STREAMLEDGER_PII_KEY_SECRET`` from a secret store (the Kubernetes overlays mount one).
    pii_key_secret: str = "streamledger-local-development-key"  # noqa: S105 - local default, documented

    # ------------------------------------------------------------------ derived paths
    @property
    def state_dir(self) -> Path:
        """Project-local directory for broker data, logs, checkpoints and the catalog."""
        return self.state_root or self.home / ".streamledger"

    @property
    def jars_dir(self) -> Path:
        """Fetched jars stay in the checkout even when runtime data lives elsewhere (tests)."""
        return self.home / ".streamledger" / "jars"

    @property
    def flink_jars_dir(self) -> Path:
        return self.jars_dir / "flink"

    @property
    def broker_jars_dir(self) -> Path:
        return self.jars_dir / "kafka-broker"

    @property
    def kafka_dir(self) -> Path:
        return self.state_dir / "kafka"

    @property
    def flink_cluster_dir(self) -> Path:
        return self.state_dir / "flink-cluster"

    @property
    def checkpoints_dir(self) -> Path:
        return self.state_dir / "checkpoints"

    @property
    def savepoints_dir(self) -> Path:
        return self.state_dir / "savepoints"

    @property
    def catalog_db_path(self) -> Path:
        return self.catalog_db or self.state_dir / "catalog" / "iceberg_catalog.db"

    @property
    def warehouse_path(self) -> Path:
        return self.warehouse or self.state_dir / "warehouse"

    @property
    def catalog_uri(self) -> str:
        return f"jdbc:sqlite:{self.catalog_db_path}"

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.kafka_host}:{self.kafka_port}"

    @property
    def flink_rest_url(self) -> str:
        return f"http://127.0.0.1:{self.flink_rest_port}"

    @property
    def topics(self) -> tuple[TopicSpec, ...]:
        """Every topic the project's jobs read or write, with its configs."""
        return (
            TopicSpec(self.postings_topic, self.topic_partitions, LOG_TOPIC_CONFIGS),
            TopicSpec(self.balances_topic, self.topic_partitions, PROJECTION_TOPIC_CONFIGS),
            TopicSpec(self.dead_letter_topic, 1, LOG_TOPIC_CONFIGS),
            TopicSpec(self.payments_input_topic, self.topic_partitions, LOG_TOPIC_CONFIGS),
            TopicSpec(self.payments_status_topic, self.topic_partitions, PROJECTION_TOPIC_CONFIGS),
            TopicSpec(self.loyalty_events_topic, self.topic_partitions, LOG_TOPIC_CONFIGS),
            TopicSpec(self.loyalty_balances_topic, self.topic_partitions, PROJECTION_TOPIC_CONFIGS),
            TopicSpec(self.fraud_events_topic, self.topic_partitions, LOG_TOPIC_CONFIGS),
            # One partition: every instance reads every rule (broadcast), in the order written.
            TopicSpec(self.fraud_rules_topic, 1, PROJECTION_TOPIC_CONFIGS),
            TopicSpec(self.fraud_alerts_topic, self.topic_partitions, LOG_TOPIC_CONFIGS),
        )

    @property
    def topic_fields(self) -> tuple[str, ...]:
        """Names of the fields that hold a topic name (for renaming them all at once in tests)."""
        return tuple(f.name for f in dataclasses.fields(self) if f.name.endswith("_topic"))

    def with_topic_prefix(self, prefix: str) -> Settings:
        """The same settings with every topic renamed ``<prefix>.<topic>``: an isolated namespace."""
        renamed: dict[str, Any] = {name: f"{prefix}.{getattr(self, name)}" for name in self.topic_fields}
        return dataclasses.replace(self, **renamed)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then ``STREAMLEDGER_*`` environment variables, then explicit overrides."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = environ.get(ENV_PREFIX + f.name.upper())
            if raw is not None:
                values[f.name] = _parse(f.name, f.type, raw)
        values.update(overrides)
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        ports = {
            "kafka_port": self.kafka_port,
            "kafka_controller_port": self.kafka_controller_port,
            "flink_rest_port": self.flink_rest_port,
        }
        for name, port in ports.items():
            if not 1024 <= port <= 65535:
                raise ConfigError(
                    f"{ENV_PREFIX}{name.upper()}={port} is not a usable port",
                    "choose a port between 1024 and 65535",
                )
        if len(set(ports.values())) != len(ports):
            raise ConfigError(f"ports must differ, got {ports}", "set distinct STREAMLEDGER_*_PORT values")
        if self.runtime not in ("local", "kubernetes"):
            raise ConfigError(
                f"runtime={self.runtime!r} is not local or kubernetes", "fix STREAMLEDGER_RUNTIME"
            )
        if self.catalog_type not in ("jdbc", "rest"):
            raise ConfigError(
                f"catalog_type={self.catalog_type!r} is not jdbc or rest", "fix STREAMLEDGER_CATALOG_TYPE"
            )
        if self.catalog_type == "rest" and not (self.catalog_rest_uri and self.catalog_warehouse):
            raise ConfigError(
                "a REST catalog needs catalog_rest_uri and catalog_warehouse",
                "set STREAMLEDGER_CATALOG_REST_URI and STREAMLEDGER_CATALOG_WAREHOUSE",
            )
        if self.checkpoint_interval_ms < 100:
            raise ConfigError(
                f"checkpoint_interval_ms={self.checkpoint_interval_ms} is too small",
                "use at least 100 ms",
            )
        if len(self.pii_key_secret.encode()) < 16:
            raise ConfigError(
                "pii_key_secret is shorter than 16 bytes",
                "set STREAMLEDGER_PII_KEY_SECRET to at least 32 random bytes",
            )
        if self.parallelism < 1 or self.topic_partitions < 1:
            raise ConfigError("parallelism and topic_partitions must be at least 1")


def _parse(name: str, type_name: Any, raw: str) -> Any:
    """Convert an environment string to the field's declared type, or say which variable is bad."""
    type_text = str(type_name)
    try:
        if "Path" in type_text:
            return Path(raw).expanduser().resolve()
        if type_text == "int":
            return int(raw)
        if type_text == "float":
            return float(raw)
        return raw
    except ValueError:
        raise ConfigError(
            f"{ENV_PREFIX}{name.upper()}={raw!r} is not a valid {type_text}",
            "fix or unset that environment variable",
        ) from None
