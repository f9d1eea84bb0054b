"""Avro (the jobs' wire format) against JSON for the same records: what serialization costs.

The jobs read and write Avro single-object encoding with fastavro; JSON with orjson is the usual
alternative. This measures both on the records the jobs really take in, as their own generators
produce them, so the choice rests on a number next to the job's cost per event rather than on
taste. JSON is timed without any validation (a lower bound for it); Avro decoding includes the
schema check the jobs rely on to send bad input to the dead-letter topic.

The payment job reads ISO 20022 XML instead; its decode step is the hardened parse, timed here
per message on the payment generator's messages, so the payment baselines (which take messages
parsed ahead of the run) can be read against what the parse costs the job.

``python -m streamledger.bench.codecs [--events N]`` prints one row per schema and the parse row,
and writes them as JSON to ``benchmarks/results/codecs-<time>.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from schemas import AvroCodec, UndecodableMessageError

#: Each timing is the best of this many passes over the records (the least disturbed one).
PASSES = 5


@dataclass(frozen=True)
class CodecTiming:
    """Per-record cost of one schema's records, Avro and JSON, in microseconds and bytes."""

    schema: str
    records: int
    avro_bytes: float
    json_bytes: float
    avro_encode_us: float
    avro_decode_us: float
    json_encode_us: float
    json_decode_us: float


@dataclass(frozen=True)
class ParseTiming:
    """Per-message cost of parsing the payment job's ISO 20022 input (refused messages left out)."""

    messages: int
    message_bytes: float
    transactions_per_message: float
    parse_us: float


def measure_iso20022_parse(messages: int, seed: int = 7) -> ParseTiming:
    """Time :func:`streamledger.iso20022.parse_message` (hardened lxml, then the mapping to
    canonical events) over the payment generator's messages."""
    from streamledger.generators import payments
    from streamledger.iso20022 import Iso20022Error, parse_message

    accepted: list[bytes] = []
    transactions = 0
    for message in payments.payments(max(1, messages // 6), seed):
        try:
            transactions += len(parse_message(message.value).events)
        except Iso20022Error:
            continue
        accepted.append(message.value)
    return ParseTiming(
        messages=len(accepted),
        message_bytes=sum(map(len, accepted)) / max(1, len(accepted)),
        transactions_per_message=transactions / max(1, len(accepted)),
        parse_us=_per_record_us(parse_message, accepted),
    )


def input_records(events: int, seed: int = 7) -> dict[str, list[dict[str, Any]]]:
    """The decoded inputs of the jobs that read Avro, from their generators (corrupt ones left out)."""
    from streamledger.generators import fraud, loyalty, postings

    values = {
        "ledger.Posting": [r.value for r in postings.postings(accounts=1_000, events=events, seed=seed)],
        "loyalty.LoyaltyEvent": [
            r.value for r in loyalty.loyalty_events(members=1_000, events=events, seed=seed)
        ],
        "fraud.FraudEvent": [
            r.value
            for r in fraud.to_records(
                fraud.fraud_events(customers=1_000, events=events, seed=seed), seed=seed
            )
        ][:events],
    }
    decoded: dict[str, list[dict[str, Any]]] = {}
    for schema, payloads in values.items():
        codec = AvroCodec(schema)
        decoded[schema] = []
        for payload in payloads:
            try:
                decoded[schema].append(codec.decode(payload))
            except UndecodableMessageError:
                continue
    return decoded


def _json_default(value: object) -> object:
    """What orjson cannot write natively (decimals, bytes) as the string a JSON contract would use."""
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def as_json(record: dict[str, Any]) -> bytes:
    """``record`` as the JSON a JSON contract would carry."""
    return orjson.dumps(record, default=_json_default)


def _per_record_us(action: Callable[[Any], object], items: Sequence[Any]) -> float:
    best = float("inf")
    for _ in range(PASSES):
        started = time.perf_counter()
        for item in items:
            action(item)
        best = min(best, time.perf_counter() - started)
    return best / max(1, len(items)) * 1e6


def measure(schema: str, records: Sequence[dict[str, Any]]) -> CodecTiming:
    """Time encoding and decoding ``records`` both ways; both must carry the same content."""
    codec = AvroCodec(schema)
    avro = [codec.encode(r) for r in records]
    json_payloads = [as_json(r) for r in records]
    return CodecTiming(
        schema=schema,
        records=len(records),
        avro_bytes=sum(map(len, avro)) / max(1, len(avro)),
        json_bytes=sum(map(len, json_payloads)) / max(1, len(json_payloads)),
        avro_encode_us=_per_record_us(codec.encode, records),
        avro_decode_us=_per_record_us(codec.decode, avro),
        json_encode_us=_per_record_us(as_json, records),
        json_decode_us=_per_record_us(orjson.loads, json_payloads),
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streamledger.bench.codecs", description=__doc__)
    parser.add_argument("--events", type=int, default=20_000, help="records per schema (default 20000)")
    parser.add_argument("--results-dir", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args(argv)
    rows = [measure(schema, records) for schema, records in input_records(args.events).items()]
    parse = measure_iso20022_parse(args.events)
    print(f"{'schema':22} {'records':>8} {'avro B':>7} {'json B':>7}  µs/record: avro enc/dec  json enc/dec")
    for row in rows:
        print(
            f"{row.schema:22} {row.records:>8} {row.avro_bytes:>7.0f} {row.json_bytes:>7.0f}  "
            f"{row.avro_encode_us:>16.2f} / {row.avro_decode_us:.2f}  {row.json_encode_us:>6.2f} / "
            f"{row.json_decode_us:.2f}"
        )
    print(
        f"{'ISO 20022 parse':22} {parse.messages:>8} {parse.message_bytes:>7.0f} bytes/message, "
        f"{parse.transactions_per_message:.2f} transactions/message: {parse.parse_us:.1f} µs/message"
    )
    args.results_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = args.results_dir / f"codecs-{stamp}.json"
    target.write_bytes(
        orjson.dumps(
            {
                "passes": PASSES,
                "rows": [dataclasses.asdict(r) for r in rows],
                "iso20022_parse": dataclasses.asdict(parse),
            },
            option=orjson.OPT_INDENT_2,
        )
    )
    print(f"written {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
