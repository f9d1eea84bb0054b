"""Building dead-letter records: the original bytes plus a reason, never a lost input."""

from __future__ import annotations

from typing import Any, Final

from pyflink.common import Row

from operators.account_balance import PostingRejected
from schemas import AvroCodec

#: Largest payload copied into a dead letter. The Kafka sink refuses records over its
#: ``max.request.size`` (1 MiB), and one refused record fails the job's transaction: an oversized
#: input (a hostile 5 MiB XML) would make its own dead letter a poison pill that restarts the job
#: for ever. Larger payloads are cut here; the full record stays in the input log at the
#: coordinates the dead letter names, so nothing is lost.
MAX_PAYLOAD_BYTES: Final = 768 * 1024


class DeadLetterWriter:
    """Makes ``Row(topic, key, value)`` rows for the dead-letter topic of one job."""

    def __init__(self, job: str, topic: str) -> None:
        self.job = job
        self.topic = topic
        self.codec = AvroCodec("streamledger.DeadLetter")
        self.posting_codec = AvroCodec("ledger.Posting")

    def _row(self, key: bytes | None, record: dict[str, Any]) -> Row:
        payload: bytes = record["payload"]
        if len(payload) > MAX_PAYLOAD_BYTES:
            where = f"{record['source_topic']}/{record['source_partition']}/{record['source_offset']}"
            record = {
                **record,
                "payload": payload[:MAX_PAYLOAD_BYTES],
                "reason": f"{record['reason']} (payload cut to its first {MAX_PAYLOAD_BYTES} of "
                f"{len(payload)} bytes; the whole record is at {where})",
            }
        return Row(self.topic, key, self.codec.encode(record))

    def for_record(self, source: Row, error_type: str, reason: str) -> Row:
        """A raw Kafka record (``KAFKA_RECORD_TYPE``) that could not be decoded."""
        return self._row(
            source.key,
            {
                "job": self.job,
                "source_topic": source.topic,
                "source_partition": source.partition,
                "source_offset": source.offset,
                "key": source.key,
                "payload": source.value or b"",
                "error_type": error_type,
                "reason": reason,
                "event_time": None,
            },
        )

    def for_payload(
        self,
        *,
        key: bytes | None,
        payload: bytes,
        source: str,
        error_type: str,
        reason: str,
        event_time_ms: int | None = None,
    ) -> Row:
        """A record the job decoded but will not apply (late, rejected …), re-encoded as
        ``payload``; ``source`` is ``<topic>/<partition>/<offset>`` or just a topic name."""
        topic, partition, offset = _coordinates(source)
        return self._row(
            key,
            {
                "job": self.job,
                "source_topic": topic,
                "source_partition": partition,
                "source_offset": offset,
                "key": key,
                "payload": payload,
                "error_type": error_type,
                "reason": reason,
                "event_time": event_time_ms,
            },
        )

    def for_rejected_posting(self, rejected: PostingRejected, source_topic: str) -> Row:
        """A decoded posting the ledger refused; the payload is re-encoded as the input schema."""
        posting = rejected.posting
        key = posting.account_id.encode()
        return self._row(
            key,
            {
                "job": self.job,
                "source_topic": source_topic,
                "source_partition": -1,
                "source_offset": -1,
                "key": key,
                "payload": self.posting_codec.encode(posting.to_record()),
                "error_type": "REJECTED",
                "reason": rejected.reason,
                "event_time": posting.event_time_ms,
            },
        )


def _coordinates(source: str) -> tuple[str, int, int]:
    """``topic/partition/offset`` → its parts; a bare topic has unknown (-1) coordinates.
    Kafka topic names cannot contain ``/``, so splitting from the right is unambiguous."""
    parts = source.rsplit("/", 2)
    if len(parts) == 3 and parts[1].lstrip("-").isdigit() and parts[2].lstrip("-").isdigit():
        return parts[0], int(parts[1]), int(parts[2])
    return source, -1, -1
