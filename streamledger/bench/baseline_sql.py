"""The Flink SQL of the baselines: Kafka table DDL with the jobs' exactly-once settings, and each
job's logic as SQL (what :mod:`streamledger.bench.baseline_logic` computes in Python).

Statements are built as strings because Flink SQL's DDL takes its options that way; every value
in them comes from the run's settings or the job's configuration, never from input data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jobs.builder import MAX_OUT_OF_ORDERNESS_MS
from streamledger.bench import baseline_logic
from streamledger.config import Settings


def kafka_sql_options(settings: Settings, topic: str) -> str:
    return f"'topic' = '{topic}', 'properties.bootstrap.servers' = '{settings.bootstrap_servers}'"


def exactly_once_sql(settings: Settings, prefix: str) -> str:
    """The sink options of :meth:`jobs.builder.JobBuilder.kafka_sink`, in SQL."""
    return (
        "'sink.delivery-guarantee' = 'exactly-once', "
        f"'sink.transactional-id-prefix' = '{prefix}', "
        f"'properties.transaction.timeout.ms' = '{settings.kafka_transaction_timeout_ms}', "
        "'properties.enable.idempotence' = 'true', 'properties.acks' = 'all', "
        "'properties.compression.type' = 'lz4', 'properties.linger.ms' = '20'"
    )


def kafka_table_ddl(table: str, columns: str, connector: str, *options: str) -> str:
    """``CREATE TEMPORARY TABLE`` of a Kafka-backed table: its columns, then the WITH options."""
    return (
        f"CREATE TEMPORARY TABLE {table} ({columns}) WITH ('connector' = '{connector}', {', '.join(options)})"
    )


def read_committed_sql(group: str) -> str:
    return (
        f"'properties.group.id' = '{group}', 'properties.isolation.level' = 'read_committed', "
        "'properties.commit.offsets.on.checkpoint' = 'true', 'scan.startup.mode' = 'earliest-offset'"
    )


@dataclass(frozen=True)
class LogicSql:
    """One logic as Flink SQL, over the JSON input table ``input_json`` and its de-duplicated view
    ``first_seen``, into the table ``sql_output`` (upsert by ``key``, or append)."""

    key: str
    input_columns: str
    output_columns: str
    #: ``CREATE TEMPORARY VIEW`` statements the INSERT reads, after ``first_seen``.
    views: tuple[str, ...]
    #: The query whose rows go into ``sql_output``.
    insert: str
    #: An upsert-kafka table keyed by ``key`` (compacted projection), else an append Kafka topic.
    upsert: bool = True
    #: Event-time column and watermark of ``input_json``, for a logic in event time.
    event_time: str | None = None


#: Every event seen first, once: de-duplication by event ID (Flink plans it as keep-first-row).
FIRST_SEEN = (
    "CREATE TEMPORARY VIEW first_seen AS SELECT * FROM ("
    "  SELECT *, ROW_NUMBER() OVER (PARTITION BY event_id ORDER BY proc) AS seen_order"
    "  FROM input_json WHERE event_id IS NOT NULL AND {key} IS NOT NULL"
    ") WHERE seen_order = 1"
)


def _sql_case(column: str, values: dict[str, float]) -> str:
    """``CASE column WHEN 'k' THEN v ... END`` (NULL for any other value)."""
    whens = " ".join(f"WHEN '{k}' THEN CAST({v!r} AS DOUBLE)" for k, v in sorted(values.items()))
    return f"CASE {column} {whens} END"


def _account_sql() -> LogicSql:
    return LogicSql(
        key="account_id",
        input_columns="event_id STRING, account_id STRING, amount_minor BIGINT, currency STRING",
        output_columns="account_id STRING, balance BIGINT, events BIGINT",
        views=(),
        insert="SELECT account_id, SUM(amount_minor), COUNT(*) FROM first_seen GROUP BY account_id",
    )


def _loyalty_sql(earn: dict[str, Any]) -> LogicSql:
    """The loyalty-balance logic of :mod:`streamledger.bench.baseline_logic` as one keyed
    aggregation over three streams: what activities earn, redemptions and adjustments, and what
    cancelled activities had earned, taken back (a regular join on the event ID, in either order)."""
    per_minor = _sql_case("currency", earn["fx"])
    points = (
        "CASE event_type"
        f" WHEN 'FLIGHT_FLOWN' THEN distance_miles * {_sql_case('fare_class', earn['flight'])}"
        f" WHEN 'HOTEL_STAY' THEN amount_minor * {per_minor} * CAST({earn['hotel']!r} AS DOUBLE)"
        f" WHEN 'PARTNER_PURCHASE' THEN amount_minor * {per_minor}"
        f" * {_sql_case('partner_id', earn['partner'])}"
        f" WHEN 'CARD_SPEND' THEN amount_minor * {per_minor} * CAST({earn['card']!r} AS DOUBLE)"
        " END"
    )
    earning = ", ".join(f"'{kind}'" for kind in baseline_logic.EARNING)
    return LogicSql(
        key="member_id",
        input_columns="event_id STRING, member_id STRING, event_type STRING, fare_class STRING, "
        "distance_miles BIGINT, partner_id STRING, amount_minor BIGINT, currency STRING, points BIGINT, "
        "original_event_id STRING",
        output_columns="member_id STRING, balance BIGINT, events BIGINT",
        views=(
            "CREATE TEMPORARY VIEW earned AS SELECT member_id, event_id, "
            f"COALESCE(CAST(FLOOR({points}) AS BIGINT), 0) AS points "
            f"FROM first_seen WHERE event_type IN ({earning})",
        ),
        insert="SELECT member_id, SUM(delta), COUNT(*) FROM ("
        "  SELECT member_id, points AS delta FROM earned"
        "  UNION ALL"
        "  SELECT member_id, CASE event_type WHEN 'REDEMPTION_REQUESTED' THEN -points"
        "    WHEN 'MANUAL_ADJUSTMENT' THEN points ELSE 0 END AS delta"
        f"  FROM first_seen WHERE event_type NOT IN ({earning})"
        "  UNION ALL"
        "  SELECT e.member_id, -e.points AS delta FROM first_seen AS c"
        "  JOIN earned AS e ON c.original_event_id = e.event_id"
        "  WHERE c.event_type = 'ACTIVITY_CANCELLED'"
        ") GROUP BY member_id",
    )


def _payment_sql(statuses: dict[str, str]) -> LogicSql:
    """Per payment: the status of the strongest evidence of its messages (see baseline_logic)."""
    status = " ".join(f"WHEN {grade} THEN '{name}'" for grade, name in sorted(statuses.items()))
    return LogicSql(
        key="payment_id",
        input_columns="event_id STRING, payment_id STRING, evidence INT, event_time_ms BIGINT",
        output_columns="payment_id STRING, status STRING, messages BIGINT, last_event_ms BIGINT",
        views=(),
        insert=f"SELECT payment_id, CASE MAX(evidence) {status} END, COUNT(*), MAX(event_time_ms) "
        "FROM first_seen GROUP BY payment_id",
    )


def _fraud_sql(rules: dict[str, int]) -> LogicSql:
    """The two baseline fraud rules as ``MATCH_RECOGNIZE`` over each customer's payments in event
    time. Velocity needs no inner contiguity rule: non-qualifying events are filtered out first,
    so ``P{n}`` over what is left is the job's relaxed contiguity. Test-then-large skips whatever
    lies between the test and the first large payment to its creditor (``X*?``)."""

    def match(rule: str, source: str, pattern: str, within_ms: int, define: str) -> str:
        return (
            f"SELECT customer, '{rule}', first_ms, last_ms, last_id FROM {source} MATCH_RECOGNIZE ("
            "  PARTITION BY customer ORDER BY ts"
            "  MEASURES FIRST(ts_ms) AS first_ms, LAST(ts_ms) AS last_ms, LAST(event_id) AS last_id"
            "  ONE ROW PER MATCH AFTER MATCH SKIP PAST LAST ROW"
            f"  PATTERN ({pattern}) WITHIN {_sql_interval(within_ms)} DEFINE {define})"
        )

    velocity = match(
        "velocity",
        f"(SELECT * FROM payments WHERE amount_minor >= {rules['velocity_min_amount_minor']})",
        f"P{{{rules['velocity_min_payments']}}}",
        rules["velocity_within_ms"],
        "P AS TRUE",
    )
    test_then_large = match(
        "test-then-large",
        "payments",
        "T X*? L",
        rules["test_within_ms"],
        f"T AS amount_minor > 0 AND amount_minor <= {rules['small_max_minor']}, "
        f"L AS amount_minor >= {rules['large_min_minor']} AND creditor = T.creditor",
    )
    return LogicSql(
        key="customer",
        input_columns="event_id STRING, customer STRING, kind STRING, timestamp_ms BIGINT, "
        "amount_minor BIGINT, creditor STRING",
        output_columns="customer STRING, rule STRING, first_ms BIGINT, last_ms BIGINT, event_id STRING",
        views=(
            "CREATE TEMPORARY VIEW payments AS SELECT event_id, customer, ts, "
            "timestamp_ms AS ts_ms, amount_minor, creditor FROM first_seen WHERE kind = 'payment'",
        ),
        insert=f"{velocity} UNION ALL {test_then_large}",
        upsert=False,
        event_time="ts AS TO_TIMESTAMP_LTZ(timestamp_ms, 3), "
        f"WATERMARK FOR ts AS ts - {_sql_interval(MAX_OUT_OF_ORDERNESS_MS)}",
    )


def _sql_interval(ms: int) -> str:
    """A SQL interval of ``ms`` milliseconds, as Flink's own day-time type ``DAY TO SECOND(3)``
    (Flink SQL has no MILLISECOND unit, and a bare SECOND interval stops at 99 s)."""
    seconds, millis = divmod(ms, 1000)
    minutes, second = divmod(seconds, 60)
    hours, minute = divmod(minutes, 60)
    days, hour = divmod(hours, 24)
    return f"INTERVAL '{days} {hour:02d}:{minute:02d}:{second:02d}.{millis:03d}' DAY TO SECOND(3)"


def logic_sql(logic: str, params: dict[str, Any]) -> LogicSql:
    """The SQL of ``logic`` (one of :data:`baseline_logic.LOGICS`) with its parameters."""
    if logic == baseline_logic.LOYALTY_ACCRUAL:
        return _loyalty_sql(params)
    if logic == baseline_logic.PAYMENT_LIFECYCLE:
        return _payment_sql(params["statuses"])
    if logic == baseline_logic.FRAUD_CEP:
        return _fraud_sql(params)
    return _account_sql()
