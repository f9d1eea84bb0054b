"""Background observers of a benchmark run: committed input, visible output, checkpoints.

Each runs in a daemon thread between ``start()`` and ``stop()`` and only reads: the consumer
group's committed offsets (the job commits them when a checkpoint completes), the output topic
through a ``read_committed`` consumer (what a downstream reader can see), and the MiniCluster's
REST API (checkpoint history).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, KafkaException, TopicPartition

from schemas import AvroCodec, UndecodableMessageError
from streamledger import kafka_clients
from streamledger.config import Settings

log = logging.getLogger(__name__)


class _Worker:
    """A daemon thread running ``_step`` every ``interval_s`` until stopped."""

    interval_s = 0.25
    name = "bench-worker"

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        self._setup()
        try:
            while not self._stop.is_set():
                try:
                    self._step()
                except KafkaException as exc:  # transient; the next step retries
                    log.debug("%s: %s", self.name, exc)
                self._stop.wait(self.interval_s)
        finally:
            self._teardown()

    def _setup(self) -> None:
        pass

    def _step(self) -> None:
        raise NotImplementedError

    def _teardown(self) -> None:
        pass


class CommittedOffsets(_Worker):
    """Samples ``(monotonic time, committed records)`` of a consumer group on one topic."""

    name = "bench-committed-offsets"

    def __init__(self, settings: Settings, group_id: str, topic: str, partitions: int) -> None:
        super().__init__()
        self.settings = settings
        self.group_id = group_id
        self.partitions = [TopicPartition(topic, p) for p in range(partitions)]
        self.samples: list[tuple[float, int]] = []
        self.latest = 0
        self._consumer: Any = None

    def _setup(self) -> None:
        self._consumer = kafka_clients.committed_consumer(self.settings, group_id=self.group_id)

    def _step(self) -> None:
        committed = self._consumer.committed(self.partitions, timeout=5)
        total = sum(max(tp.offset, 0) for tp in committed)
        self.samples.append((time.monotonic(), total))
        self.latest = total

    def _teardown(self) -> None:
        if self._consumer is not None:
            self._consumer.close()


class VisibleOutputs(_Worker):
    """Notes when each output ID first and last becomes visible to a read_committed consumer.

    ``identify(codec, key, value)`` names the ID an output is matched under (the ``event_id`` in
    the value, or the record key); None skips the message.
    """

    name = "bench-visible-outputs"
    interval_s = 0.0

    def __init__(
        self,
        settings: Settings,
        topic: str,
        partitions: int,
        schema: str,
        on_visible: Callable[[str, float], None] = lambda _event_id, _at: None,
        identify: Callable[[AvroCodec, bytes | None, bytes | None], str | None] | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.topic = topic
        self.partitions = partitions
        self.codec = AvroCodec(schema)
        self.on_visible = on_visible
        self.identify = identify or _event_id_of
        self.visible_at: dict[str, float] = {}
        self.last_visible_at: dict[str, float] = {}
        self.messages = 0
        self.last_message_at = time.monotonic()
        self._consumer: Any = None

    def _setup(self) -> None:
        self._consumer = kafka_clients.committed_consumer(
            self.settings, None, **{"enable.partition.eof": False}
        )
        self._consumer.assign(
            [TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in range(self.partitions)]
        )

    def _step(self) -> None:
        batch = self._consumer.consume(num_messages=1000, timeout=0.2)
        now = time.monotonic()
        for message in batch:
            if message.error() is not None:
                continue
            self.messages += 1
            self.last_message_at = now
            output_id = self.identify(self.codec, message.key(), message.value())
            if output_id is None:
                continue
            self.last_visible_at[output_id] = now
            if output_id not in self.visible_at:
                self.visible_at[output_id] = now
                self.on_visible(output_id, now)

    def drain(self, quiet_s: float = 2.0, max_s: float = 20.0) -> None:
        """Wait until no new output arrived for ``quiet_s`` (at most ``max_s``)."""
        deadline = time.monotonic() + max_s
        while time.monotonic() < deadline and time.monotonic() - self.last_message_at < quiet_s:
            time.sleep(0.1)

    def _teardown(self) -> None:
        if self._consumer is not None:
            self._consumer.close()


def _event_id_of(codec: AvroCodec, _key: bytes | None, value: bytes | None) -> str | None:
    if value is None:
        return None
    try:
        return str(codec.decode(value)["event_id"])
    except (UndecodableMessageError, KeyError):
        return None


def key_of(_codec: AvroCodec, key: bytes | None, _value: bytes | None) -> str | None:
    """Match outputs by their record key (outputs that carry no input event ID)."""
    return key.decode() if key is not None else None


class EndOffsets(_Worker):
    """Samples ``(monotonic time, records in the topic)`` from the partitions' end offsets.

    Read uncommitted (the high watermark): a transactional producer appends records as it goes
    and commits them later, so this shows processing progress that committed offsets, which move
    only when a checkpoint completes, do not. Transaction markers take one offset each.
    """

    name = "bench-end-offsets"
    interval_s = 0.1

    def __init__(self, settings: Settings, topic: str, partitions: int) -> None:
        super().__init__()
        self.settings = settings
        self.partitions = [TopicPartition(topic, p) for p in range(partitions)]
        self.samples: list[tuple[float, int]] = []
        self._consumer: Any = None

    def _setup(self) -> None:
        self._consumer = kafka_clients.committed_consumer(self.settings)

    def _step(self) -> None:
        total = sum(int(self._consumer.get_watermark_offsets(tp, timeout=5)[1]) for tp in self.partitions)
        self.samples.append((time.monotonic(), total))

    def _teardown(self) -> None:
        if self._consumer is not None:
            self._consumer.close()


class Checkpoints(_Worker):
    """Collects the checkpoint history of the MiniCluster's jobs from its REST API."""

    name = "bench-checkpoints"
    interval_s = 1.0

    def __init__(self, rest_url: str) -> None:
        super().__init__()
        self.rest_url = rest_url
        self.reachable = False
        self.errors = 0
        self.entries: dict[tuple[str, int], dict[str, Any]] = {}

    def _get(self, path: str) -> Any:
        with urllib.request.urlopen(self.rest_url + path, timeout=2) as response:  # noqa: S310 (loopback)
            return json.loads(response.read())

    def _step(self) -> None:
        try:
            overview = self._get("/jobs/overview")
            for job in overview.get("jobs", []):
                history = self._get(f"/jobs/{job['jid']}/checkpoints").get("history", [])
                for entry in history:
                    self.entries[(job["jid"], int(entry["id"]))] = entry
            self.reachable = True
        except (OSError, urllib.error.URLError, ValueError, KeyError):
            self.errors += 1  # not up yet, or already shut down

    @property
    def completed(self) -> list[dict[str, Any]]:
        return [
            e
            for _, e in sorted(self.entries.items())
            if e.get("status") == "COMPLETED" and not e.get("is_savepoint")
        ]
