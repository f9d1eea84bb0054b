"""The shared job builder: one way to wire a streamledger PyFlink job, used by every job.

Every job gets the same production settings, so none can forget one:

- checkpointing in EXACTLY_ONCE mode, interval from :class:`~streamledger.config.Settings`,
  checkpoints retained on cancellation (they are the restart points of ``replay``/``redeploy``);
- the RocksDB state backend with incremental checkpoints (state larger than memory, cheap
  checkpoints); checkpoints under ``.streamledger/checkpoints/<job>`` locally;
- a bounded restart strategy, so a poisoned job fails visibly instead of looping for ever;
- Kafka in through :meth:`JobBuilder.kafka_source` (offsets are part of checkpoints and
  committed back to Kafka only for monitoring), as ``Row(topic, partition, offset, timestamp,
  key, value)`` so undecodable records can be dead-lettered with their coordinates;
- Kafka out through :meth:`JobBuilder.kafka_sink`: one transactional ``KafkaSink`` per job with
  ``DeliveryGuarantee.EXACTLY_ONCE``; rows are ``Row(topic, key, value)`` so one transaction
  covers projections and dead letters alike;
- Iceberg out through :meth:`JobBuilder.iceberg_insert`: Flink's Iceberg connector commits a
  snapshot when a checkpoint completes, through the JDBC catalog pyiceberg reads.

Jobs themselves only decide keys, operators and outputs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pyflink.common import Configuration, Duration, Row, Types, WatermarkStrategy
from pyflink.common.job_client import JobClient
from pyflink.common.job_execution_result import JobExecutionResult
from pyflink.common.time import Time
from pyflink.common.typeinfo import RowTypeInfo
from pyflink.datastream import DataStream, StreamExecutionEnvironment
from pyflink.datastream.connectors.base import DeliveryGuarantee
from pyflink.datastream.connectors.kafka import KafkaOffsetsInitializer, KafkaSink, KafkaSource
from pyflink.datastream.state import StateTtlConfig
from pyflink.java_gateway import get_gateway
from pyflink.table import EnvironmentSettings, StreamTableEnvironment, TableEnvironment

from schemas import AvroCodec
from streamledger import kafka_clients
from streamledger.config import Settings
from streamledger.stack import iceberg_catalog, toolchain

T = TypeVar("T")

BYTES = Types.PRIMITIVE_ARRAY(Types.BYTE())

#: What :meth:`JobBuilder.kafka_source` produces (mirrors KafkaRecordRowDeserializationSchema).
KAFKA_RECORD_TYPE: RowTypeInfo = Types.ROW_NAMED(
    ["topic", "partition", "offset", "timestamp", "key", "value"],
    [Types.STRING(), Types.INT(), Types.LONG(), Types.LONG(), BYTES, BYTES],
)

#: What :meth:`JobBuilder.kafka_sink` consumes (mirrors TopicKeyValueSerializationSchema).
KAFKA_OUTPUT_TYPE: RowTypeInfo = Types.ROW_NAMED(["topic", "key", "value"], [Types.STRING(), BYTES, BYTES])


class ToKafkaRow(Generic[T]):
    """An output value -> ``Row(topic, key, value)`` for :meth:`JobBuilder.kafka_sink`, the value
    Avro-encoded with ``schema`` (single-object encoding). The codec is made on first use, in the
    Python worker, rather than pickled with the job."""

    def __init__(
        self, topic: str, schema: str, key: Callable[[T], str], record: Callable[[T], dict[str, Any]]
    ) -> None:
        self.topic = topic
        self.schema = schema
        self.key = key
        self.record = record
        self._codec: AvroCodec | None = None

    def __call__(self, value: T) -> Row:
        if self._codec is None:
            self._codec = AvroCodec(self.schema)
        return Row(self.topic, self.key(value).encode(), self._codec.encode(self.record(value)))


#: Properties of every projection table: format v2 (row-level deletes), Parquet with zstd.
APPEND_TABLE: dict[str, str] = {
    "format-version": "2",
    "write.format.default": "parquet",
    "write.parquet.compression-codec": "zstd",
}
#: A projection kept as one row per key (``PRIMARY KEY ... NOT ENFORCED``): Flink writes each
#: update as an equality delete plus the new row. pyiceberg 0.8 cannot read those; Flink, Spark
#: and Trino can.
UPSERT_TABLE: dict[str, str] = {**APPEND_TABLE, "write.upsert.enabled": "true"}


def expiring_state(retention_ms: int) -> StateTtlConfig:
    """TTL for keyed state that must expire ``retention_ms`` after it was written (bounded state).

    Expired entries are dropped by RocksDB's compaction filter, never returned once expired.
    Built where the Python workers can run it: PyFlink's default periodic-compaction time calls
    into the JVM gateway, which a worker on a real TaskManager does not have ("launching the
    PythonGatewayServer during Python UDF execution"); the value is not part of the process-mode
    state protocol anyway (only the query interval is), so an inert Duration stands in for it.
    """
    return (
        StateTtlConfig.new_builder(Time.milliseconds(retention_ms))
        .set_update_type(StateTtlConfig.UpdateType.OnCreateAndWrite)
        .set_state_visibility(StateTtlConfig.StateVisibility.NeverReturnExpired)
        .cleanup_in_rocksdb_compact_filter(1000, Duration(None))
        .build()
    )


def job_configuration(
    job_name: str, settings: Settings, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The Flink configuration of a job, as plain strings.

    Kept as data (not only applied to an environment) so that the Kubernetes manifests can be
    rendered from the very same settings the local runs use.
    """
    checkpoints = settings.checkpoints_dir / job_name
    config = {
        "pipeline.name": job_name,
        "parallelism.default": str(settings.parallelism),
        "execution.runtime-mode": "STREAMING",
        "execution.checkpointing.mode": "EXACTLY_ONCE",
        "execution.checkpointing.interval": f"{settings.checkpoint_interval_ms} ms",
        "execution.checkpointing.min-pause": f"{settings.min_pause_between_checkpoints_ms} ms",
        "execution.checkpointing.timeout": f"{settings.checkpoint_timeout_ms} ms",
        "execution.checkpointing.max-concurrent-checkpoints": "1",
        "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
        "execution.checkpointing.num-retained": "3",
        "execution.checkpointing.dir": checkpoints.as_uri(),
        "execution.checkpointing.savepoint-dir": (settings.savepoints_dir / job_name).as_uri(),
        "execution.checkpointing.incremental": "true",
        "state.backend.type": "rocksdb",
        "restart-strategy.type": "exponential-delay",
        "restart-strategy.exponential-delay.initial-backoff": "1 s",
        "restart-strategy.exponential-delay.max-backoff": "30 s",
        "restart-strategy.exponential-delay.attempts-before-reset-backoff": "10",
        # Python workers run in separate processes ("process" mode); see benchmarks/RESULTS.md.
        "python.execution-mode": "process",
    }
    config.update(extra or {})
    return config


def pipeline_jars(settings: Settings) -> str:
    """The ``pipeline.jars`` value of a job: the project's connector jars.

    ``file:/path`` is the form java.net.URL prints; PyFlink's table environment merges jar lists
    by string, and ``file:///path`` would register every jar twice.
    """
    return ";".join(f"file:{jar}" for jar in toolchain.flink_job_jars(settings))


#: How far behind the largest event time seen the jobs' watermarks trail (bounded out-of-orderness):
#: a watermark is this much minus 1 ms behind the newest record.
MAX_OUT_OF_ORDERNESS_MS = 5_000


@dataclass
class JobBuilder:
    """Creates the environment of one job and the sources and sinks it wires together."""

    name: str
    settings: Settings
    env: StreamExecutionEnvironment
    _table_env: StreamTableEnvironment | None = field(default=None, repr=False)
    _statement_set: Any = field(default=None, repr=False)

    @classmethod
    def create(
        cls, name: str, settings: Settings, flink_config: Mapping[str, str] | None = None
    ) -> JobBuilder:
        import sys

        if settings.runtime == "kubernetes":
            # The FlinkDeployment's flinkConfiguration *is* job_configuration() rendered for the
            # cluster (k8s_render); the image provides jars and Python. Setting them again here
            # would override the cluster's object-store paths with local ones.
            return cls(
                name=name, settings=settings, env=StreamExecutionEnvironment.get_execution_environment()
            )
        toolchain.prepare_pyflink_environment(settings)
        config = job_configuration(name, settings, flink_config)
        config.setdefault("python.executable", sys.executable)
        config.setdefault("python.client.executable", sys.executable)
        config["pipeline.jars"] = pipeline_jars(settings)
        configuration = Configuration()
        for key, value in config.items():
            configuration.set_string(key, value)
        env = StreamExecutionEnvironment.get_execution_environment(configuration)
        return cls(name=name, settings=settings, env=env)

    # ------------------------------------------------------------------ Kafka
    def kafka_source(
        self,
        topic: str,
        *,
        uid: str,
        bounded: bool = False,
        start: str | int = "committed",
        max_out_of_orderness_ms: int = MAX_OUT_OF_ORDERNESS_MS,
        idleness_ms: int = 10_000,
    ) -> DataStream:
        """Read ``topic`` as raw records with event-time watermarks from the record timestamps.

        The consumer group is the job name. ``start`` applies only when the job does not restore
        from a checkpoint or savepoint (then the checkpointed offsets win): ``"committed"`` resumes
        from the group's committed offsets (earliest where none), ``"earliest"``, ``"latest"``,
        or an epoch-millis timestamp. ``bounded`` stops at the offsets that were the latest when
        the job started (demo, tests, replays).
        """
        s = self.settings
        builder = (
            KafkaSource.builder()
            .set_bootstrap_servers(s.bootstrap_servers)
            .set_topics(topic)
            .set_group_id(self.name)
            .set_client_id_prefix(f"{self.name}-{uid}")
            .set_property("isolation.level", "read_committed")
            .set_property("commit.offsets.on.checkpoint", "true")
            .set_property("partition.discovery.interval.ms", "60000")
        )
        if bounded:
            builder.set_bounded(KafkaOffsetsInitializer.latest())
        jvm = get_gateway().jvm
        builder._j_builder.setStartingOffsets(self._starting_offsets(topic, start))
        builder._j_builder.setDeserializer(jvm.io.streamledger.flink.KafkaRecordRowDeserializationSchema())
        watermarks = WatermarkStrategy.for_bounded_out_of_orderness(
            Duration.of_millis(max_out_of_orderness_ms)
        ).with_idleness(Duration.of_millis(idleness_ms))
        stream: DataStream = self.env.from_source(
            builder.build(), watermarks, f"kafka:{topic}", type_info=KAFKA_RECORD_TYPE
        )
        return stream.uid(uid).name(f"source {topic}")

    def _starting_offsets(self, topic: str, start: str | int) -> Any:
        """A Java OffsetsInitializer for ``start``.

        "committed" is resolved here, explicitly per partition, rather than with the connector's
        ``committedOffsets(EARLIEST)``: with kafka-clients 4.x that initializer resets a group
        without commits to the *latest* offset, so a first run silently skipped the whole log.
        """
        jvm = get_gateway().jvm
        initializers = jvm.org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer
        if start == "earliest":
            return initializers.earliest()
        if start == "latest":
            return initializers.latest()
        if isinstance(start, int):
            return initializers.timestamp(start)
        if start != "committed":
            raise ValueError(f"start must be committed, earliest, latest or a timestamp, not {start!r}")
        resume = kafka_clients.resume_offsets(self.settings, self.name, topic)
        spec = ",".join(f"{partition}:{offset}" for partition, offset in sorted(resume.items()))
        return jvm.io.streamledger.flink.StartingOffsets.fromSpec(topic, spec)

    def kafka_sink(self, rows: DataStream, *, uid: str) -> None:
        """Write ``Row(topic, key, value)`` rows exactly once (Kafka transactions per checkpoint)."""
        s = self.settings
        jvm = get_gateway().jvm
        builder = (
            KafkaSink.builder()
            .set_bootstrap_servers(s.bootstrap_servers)
            .set_delivery_guarantee(DeliveryGuarantee.EXACTLY_ONCE)
            .set_transactional_id_prefix(f"streamledger-{self.name}-{uid}")
            .set_property("transaction.timeout.ms", str(s.kafka_transaction_timeout_ms))
            .set_property("enable.idempotence", "true")
            .set_property("acks", "all")
            .set_property("compression.type", "lz4")
            .set_property("linger.ms", "20")
        )
        # PyFlink's record-serializer builder serializes key and value from the same whole
        # element; ours takes topic, key and value from the row's fields.
        builder._j_builder.setRecordSerializer(jvm.io.streamledger.flink.TopicKeyValueSerializationSchema())
        rows.sink_to(builder.build()).uid(uid).name(f"kafka exactly-once ({uid})")

    # ------------------------------------------------------------------ Iceberg
    @property
    def table_env(self) -> StreamTableEnvironment:
        if self._table_env is None:
            self._table_env = StreamTableEnvironment.create(self.env)
            for statement in iceberg_catalog.flink_catalog_ddl(self.settings):
                self._table_env.execute_sql(statement)
        return self._table_env

    def ensure_iceberg_table(
        self, namespace: str, table: str, columns_ddl: str, properties: dict[str, str]
    ) -> str:
        """Create namespace and table when missing; returns the fully qualified name."""
        qualified = f"`{self.settings.catalog_name}`.`{namespace}`.`{table}`"
        self.table_env.execute_sql(
            f"CREATE DATABASE IF NOT EXISTS `{self.settings.catalog_name}`.`{namespace}`"
        )
        options = ", ".join(f"'{k}' = '{v}'" for k, v in properties.items())
        self.table_env.execute_sql(f"CREATE TABLE IF NOT EXISTS {qualified} ({columns_ddl}) WITH ({options})")
        return qualified

    def iceberg_insert(self, rows: DataStream, *, view: str, insert_sql: str) -> None:
        """Insert a typed row stream into an Iceberg table; commits happen on checkpoints.

        ``insert_sql`` reads from the temporary view ``view`` (so it can cast, e.g. epoch millis
        to TIMESTAMP_LTZ). The Iceberg writer/committer uids are derived by the planner from the
        compiled plan, which stays stable while the SQL and input types are unchanged.
        """
        self.table_env.create_temporary_view(view, self.table_env.from_data_stream(rows))
        if self._statement_set is None:
            self._statement_set = self.table_env.create_statement_set()
        self._statement_set.add_insert_sql(insert_sql)

    # ------------------------------------------------------------------ running
    def _attach_table_sinks(self) -> None:
        if self._statement_set is not None:
            self._statement_set.attach_as_datastream()
            self._statement_set = None

    def execute(self) -> JobExecutionResult:
        """Run to completion (bounded sources) in the embedded MiniCluster or the configured cluster."""
        self._attach_table_sinks()
        return self.env.execute(self.name)

    def execute_async(self) -> JobClient:
        self._attach_table_sinks()
        return self.env.execute_async(self.name)


def batch_table_environment(settings: Settings) -> TableEnvironment:
    """A batch Table API environment with the catalog registered: Flink's own view of the tables.

    For inspection (snapshots, metadata tables, ad-hoc queries), not for the streaming jobs.
    """
    toolchain.prepare_pyflink_environment(settings)
    t_env = TableEnvironment.create(EnvironmentSettings.in_batch_mode())
    t_env.get_config().set("pipeline.jars", pipeline_jars(settings))
    for statement in iceberg_catalog.flink_catalog_ddl(settings):
        t_env.execute_sql(statement)
    return t_env
