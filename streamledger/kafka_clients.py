"""Python-side Kafka clients (confluent-kafka) configured the way streamledger needs them.

librdkafka logs every failed connection attempt to stderr; while the broker starts or restarts
that is dozens of lines of noise, so client logs go through Python logging instead.
Consumers that check what a job produced always read with ``isolation.level=read_committed``:
that is the only view in which exactly-once is a meaningful claim.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from confluent_kafka import Consumer, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from streamledger.config import Settings
from streamledger.errors import ServiceUnavailableError

T = TypeVar("T")

_client_log = logging.getLogger("streamledger.kafka.client")
# Connection retries while a broker starts are expected; only errors are worth a line.
_client_log.setLevel(logging.ERROR)


def _base_config(settings: Settings) -> dict[str, Any]:
    return {
        "bootstrap.servers": settings.bootstrap_servers,
        "logger": _client_log,
        "socket.timeout.ms": 10_000,
    }


def admin_client(settings: Settings) -> AdminClient:
    return AdminClient(_base_config(settings))


def producer(settings: Settings, **overrides: Any) -> Producer:
    """An idempotent producer (acks=all): duplicates from client retries cannot enter the log."""
    config = _base_config(settings) | {
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 20,
        "compression.type": "lz4",
    }
    config.update(overrides)
    return Producer(config)


def committed_consumer(settings: Settings, group_id: str | None = None, **overrides: Any) -> Consumer:
    """A read_committed consumer that never commits offsets (it only inspects topics)."""
    config = _base_config(settings) | {
        "group.id": group_id or f"streamledger-inspect-{time.monotonic_ns()}",
        "isolation.level": "read_committed",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": True,
    }
    config.update(overrides)
    return Consumer(config)


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int


def read_topic(
    settings: Settings,
    topic: str,
    *,
    isolation: str = "read_committed",
    timeout_s: float = 30.0,
) -> list[Record]:
    """Every record of ``topic`` visible under ``isolation``, from the beginning to the current end.

    Stops when each partition reached the end offset it had when the read began (the last stable
    offset for read_committed), so the result is a consistent snapshot, not a race with producers.
    """
    return list(_iter_topic(settings, topic, isolation=isolation, timeout_s=timeout_s))


def _iter_topic(settings: Settings, topic: str, *, isolation: str, timeout_s: float) -> Iterator[Record]:
    consumer = committed_consumer(settings, **{"isolation.level": isolation})
    try:
        metadata = consumer.list_topics(topic, timeout=10)
        topic_meta = metadata.topics.get(topic)
        if topic_meta is None or topic_meta.error is not None:
            raise ServiceUnavailableError(f"topic {topic} does not exist on {settings.bootstrap_servers}")
        partitions = [TopicPartition(topic, p, 0) for p in sorted(topic_meta.partitions)]
        ends: dict[int, int] = {}
        for tp in partitions:
            low, high = _watermarks(consumer, tp)
            if high > low:
                ends[tp.partition] = high
        if not ends:
            return
        consumer.assign([TopicPartition(topic, p, 0) for p in ends])
        done: set[int] = set()
        deadline = time.monotonic() + timeout_s
        while len(done) < len(ends):
            if time.monotonic() > deadline:
                raise ServiceUnavailableError(
                    f"reading {topic} did not reach its end within {timeout_s:.0f}s",
                    "check that the broker is healthy",
                )
            message: Message | None = consumer.poll(0.5)
            if message is None:
                continue
            error = message.error()
            if error is not None:
                if error.name() == "_PARTITION_EOF":
                    # For read_committed, EOF is the last stable offset: nothing more is visible.
                    done.add(message.partition() or 0)
                    continue
                raise ServiceUnavailableError(f"reading {topic} failed: {error.str()}")
            partition = message.partition() or 0
            offset = message.offset() or 0
            if offset >= ends[partition] - 1:
                done.add(partition)
            _, ts = message.timestamp()
            yield Record(topic, partition, offset, message.key(), message.value(), ts)
    finally:
        consumer.close()


#: Errors that only mean "not settled yet": for seconds after a broker start or a topic creation,
#: coordinators load and partition leadership propagates to client metadata.
_SETTLING = (
    "NOT_COORDINATOR",
    "COORDINATOR_LOAD_IN_PROGRESS",
    "COORDINATOR_NOT_AVAILABLE",
    "NOT_LEADER_FOR_PARTITION",
    "LEADER_NOT_AVAILABLE",
    "UNKNOWN_TOPIC_OR_PART",
)


def retry_while_settling(call: Callable[[], T], timeout_s: float = 30.0) -> T:
    """Run ``call``, retrying the transient errors of a broker or topic that is still settling."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return call()
        except KafkaException as exc:
            if not any(code in str(exc) for code in _SETTLING) or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _watermarks(consumer: Consumer, partition: TopicPartition) -> tuple[int, int]:
    """(low, high) offsets of a partition, retried while the topic settles."""

    def query() -> tuple[int, int]:
        low, high = consumer.get_watermark_offsets(partition, timeout=10)
        return int(low), int(high)

    return retry_while_settling(query)


def resume_offsets(settings: Settings, group_id: str, topic: str) -> dict[int, int]:
    """Per partition: the group's committed offset, else the earliest offset still in the log.

    A job started without a checkpoint or savepoint resumes where its consumer group left off;
    partitions the group never committed are read from the beginning (nothing skipped).
    """
    consumer = committed_consumer(settings, group_id=group_id)
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if metadata is None or metadata.error is not None:
            raise ServiceUnavailableError(f"topic {topic} does not exist on {settings.bootstrap_servers}")
        partitions = [TopicPartition(topic, p) for p in sorted(metadata.partitions)]
        committed = retry_while_settling(lambda: consumer.committed(partitions, timeout=10))
        offsets: dict[int, int] = {}
        for tp in committed:
            if tp.offset >= 0:
                offsets[tp.partition] = tp.offset
            else:
                low, _ = _watermarks(consumer, TopicPartition(topic, tp.partition))
                offsets[tp.partition] = low
        return offsets
    finally:
        consumer.close()


def end_offsets(settings: Settings, topic: str, *, isolation: str = "read_committed") -> dict[int, int]:
    """Per partition, where a reader under ``isolation`` stops: the last stable offset for
    read_committed (below the first record of a transaction still open), the high watermark (the
    offset the next record gets) for read_uncommitted. Equal for a topic no transaction is open on."""
    consumer = committed_consumer(settings, **{"isolation.level": isolation})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return {p: _watermarks(consumer, TopicPartition(topic, p))[1] for p in partitions}
    finally:
        consumer.close()


def open_transactions(settings: Settings, topic: str) -> dict[int, tuple[int, int]]:
    """Partitions of ``topic`` holding records of a transaction neither committed nor aborted yet:
    (last stable offset, high watermark) each. A read_committed reader sees nothing from the last
    stable offset on until the transaction ends, so a projection read while one is open looks
    complete and is not. Empty when every transaction on the topic has ended."""
    stable = end_offsets(settings, topic)
    high = end_offsets(settings, topic, isolation="read_uncommitted")
    return {p: (stable[p], high[p]) for p in sorted(high) if stable.get(p, high[p]) < high[p]}


def latest_by_key(records: Iterable[Record]) -> dict[bytes, bytes | None]:
    """The compacted view of a topic: the last value per key (None for a tombstone)."""
    view: dict[bytes, bytes | None] = {}
    for record in records:
        if record.key is not None:
            view[record.key] = record.value
    return view


def require_broker(settings: Settings) -> None:
    """One clear line when the broker is down, instead of librdkafka retrying forever."""
    try:
        metadata = admin_client(settings).list_topics(timeout=5)
    except KafkaException:
        metadata = None
    if metadata is None or not metadata.brokers:
        raise ServiceUnavailableError(
            f"no Kafka broker answers at {settings.bootstrap_servers}",
            "start the local stack with `streamledger stack up`",
        )
