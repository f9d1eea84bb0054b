"""Dead letters keep the input and the reason, and can always be written."""

from __future__ import annotations

from pyflink.common import Row

from jobs.dead_letters import MAX_PAYLOAD_BYTES, DeadLetterWriter
from schemas import AvroCodec

CODEC = AvroCodec("streamledger.DeadLetter")


def _source(value: bytes) -> Row:
    row = Row(topic="payments.iso20022", partition=2, offset=41, timestamp=0, key=b"swift", value=value)
    return row


def test_a_record_keeps_its_bytes_coordinates_and_reason() -> None:
    written = DeadLetterWriter("payment-lifecycle", "dlq").for_record(
        _source(b"<bad"), "MALFORMED", "not XML"
    )
    topic, key, value = written
    assert topic == "dlq" and key == b"swift"
    record = CODEC.decode(value)
    assert record["payload"] == b"<bad" and record["reason"] == "not XML"
    assert (record["source_topic"], record["source_partition"], record["source_offset"]) == (
        "payments.iso20022",
        2,
        41,
    )


def test_an_oversized_payload_is_cut_below_the_sink_limit_and_says_where_the_whole_is() -> None:
    huge = b"<Document>" + b"x" * (5 * 1024 * 1024)
    written = DeadLetterWriter("payment-lifecycle", "dlq").for_record(_source(huge), "HOSTILE", "too large")
    assert len(written[2]) < 1024 * 1024  # the Kafka sink's max.request.size
    record = CODEC.decode(written[2])
    assert record["payload"] == huge[:MAX_PAYLOAD_BYTES]
    assert record["reason"].startswith("too large") and "payments.iso20022/2/41" in record["reason"]
    assert str(len(huge)) in record["reason"]


def test_payload_coordinates_are_read_from_topic_partition_offset() -> None:
    written = DeadLetterWriter("j", "dlq").for_payload(
        key=b"k", payload=b"p", source="payments.iso20022/1/7", error_type="LATE", reason="late"
    )
    record = CODEC.decode(written[2])
    assert (record["source_topic"], record["source_partition"], record["source_offset"]) == (
        "payments.iso20022",
        1,
        7,
    )
    bare = CODEC.decode(
        DeadLetterWriter("j", "dlq").for_payload(
            key=None, payload=b"p", source="fraud.events", error_type="LATE", reason="late"
        )[2]
    )
    assert (bare["source_topic"], bare["source_partition"], bare["source_offset"]) == ("fraud.events", -1, -1)
