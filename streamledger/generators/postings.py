"""Realistic input for the account-balances job: postings with duplicates, late and bad records.

Deterministic for a given seed, so a test, the demo and a benchmark can all regenerate the exact
input they produced and compare outputs against it.
"""

from __future__ import annotations

import random
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from confluent_kafka import KafkaException

from operators.account_balance import Posting
from schemas import AvroCodec
from streamledger import kafka_clients
from streamledger.config import Settings
from streamledger.errors import ServiceUnavailableError

_CURRENCIES = ("EUR", "EUR", "EUR", "GBP", "USD", "CHF")
_SOURCES = ("core-banking", "card", "sepa-inst", "swift")
_START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


class KafkaRecord(Protocol):
    """What :func:`produce` sends: a key, a value and the event time as the Kafka timestamp.

    Every generator's record type has these three, so all of them share one producing loop.
    """

    @property
    def key(self) -> bytes: ...

    @property
    def value(self) -> bytes | None: ...  # None: a tombstone on a compacted topic

    @property
    def timestamp_ms(self) -> int: ...


R = TypeVar("R", bound=KafkaRecord)


@dataclass(frozen=True)
class ProducedRecord:
    """One record as produced: what a reference model needs to recompute the expected output."""

    key: bytes
    value: bytes
    timestamp_ms: int
    posting: Posting | None  # None for deliberately corrupt records


def postings(
    *,
    accounts: int,
    events: int,
    seed: int = 7,
    duplicate_rate: float = 0.03,
    late_rate: float = 0.05,
    corrupt_rate: float = 0.005,
    wrong_currency_rate: float = 0.005,
) -> Iterator[ProducedRecord]:
    """Yield ``events`` records over ``accounts`` accounts.

    Mix: credits and debits of realistic sizes; a share redelivered with the same event ID
    (duplicates); a share whose event time lies minutes in the past (late/out of order); a few
    corrupt payloads and postings in the wrong currency (both must reach the dead-letter topic).
    """
    rng = random.Random(seed)
    codec = AvroCodec("ledger.Posting")
    account_ids = [f"acct-{i:06d}" for i in range(accounts)]
    # An account's currency depends on the account alone, not on the seed: a second run with a
    # new seed continues the same accounts instead of posting to them in another currency.
    currency_of = {a: _CURRENCIES[zlib.crc32(a.encode()) % len(_CURRENCIES)] for a in account_ids}
    clock = _START_MS
    recent: list[ProducedRecord] = []
    for n in range(events):
        clock += rng.randint(1, 400)
        roll = rng.random()
        if recent and roll < duplicate_rate:
            yield rng.choice(recent[-50:])
            continue
        account = rng.choice(account_ids)
        key = account.encode()
        if roll < duplicate_rate + corrupt_rate:
            yield ProducedRecord(key, b"\xc3\x01garbage" + rng.randbytes(12), clock, None)
            continue
        currency = currency_of[account]
        if roll < duplicate_rate + corrupt_rate + wrong_currency_rate:
            currency = "JPY"
        event_time = clock - (rng.randint(60_000, 600_000) if rng.random() < late_rate else 0)
        amount = rng.choice((1, 1, 1, -1)) * int(rng.lognormvariate(8, 1.5))
        posting = Posting(
            event_id=f"pst-{seed}-{n:09d}",
            account_id=account,
            amount_minor=amount,
            currency=currency,
            event_time_ms=event_time,
            source=rng.choice(_SOURCES),
            reference=None if rng.random() < 0.5 else f"ref-{rng.randint(0, 10**8)}",
        )
        record = ProducedRecord(key, codec.encode(posting.to_record()), event_time, posting)
        recent.append(record)
        yield record


def produce(
    settings: Settings,
    topic: str,
    records: Iterable[R],
    *,
    rate: float = 0.0,
    on_produced: Callable[[R, float], None] | None = None,
    producer_config: Mapping[str, Any] | None = None,
) -> list[R]:
    """Produce records (idempotent producer, acks=all) and return them in production order.

    ``rate`` paces production in events per second (0: as fast as the broker takes them);
    ``on_produced(record, monotonic_time)`` is called as each record is handed to the producer
    (the benchmark takes it as the start of the record's end-to-end latency). ``producer_config``
    overrides producer settings (e.g. ``message.max.bytes`` for deliberately oversized records).
    """
    kafka_clients.require_broker(settings)
    producer = kafka_clients.producer(settings, **(producer_config or {}))
    produced: list[R] = []
    errors: list[str] = []

    def on_delivery(error: object, _message: object) -> None:
        if error is not None:
            errors.append(str(error))

    began = time.monotonic()
    for index, record in enumerate(records):
        if rate > 0:
            delay = began + index / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        while True:
            try:
                handed_over = time.monotonic()
                producer.produce(
                    topic,
                    key=record.key,
                    value=record.value,
                    timestamp=record.timestamp_ms,
                    on_delivery=on_delivery,
                )
                break
            except BufferError:
                producer.poll(0.1)
            except KafkaException as exc:
                raise ServiceUnavailableError(f"producing to {topic} failed: {exc.args[0]}") from None
        produced.append(record)
        if on_produced is not None:
            on_produced(record, handed_over)
        producer.poll(0)
    remaining = producer.flush(60)
    if remaining or errors:
        raise ServiceUnavailableError(
            f"{remaining} records not delivered to {topic}; first error: {errors[:1]}",
            "check the broker with `streamledger stack status`",
        )
    return produced
