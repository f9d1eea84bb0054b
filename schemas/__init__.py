"""Avro schemas of every event streamledger reads or writes, and their wire encoding.

Messages on Kafka use Avro *single-object encoding* (Avro spec): the two marker bytes ``C3 01``,
the 8-byte little-endian CRC-64-AVRO fingerprint of the writer schema's canonical form, then the
binary body. The fingerprint makes each message say which schema wrote it, without a schema
registry, so a reader can reject a message from an unknown schema with a precise reason (it goes
to the dead-letter topic) instead of decoding garbage. Schema files are ``<namespace>.<Name>.avsc``
in this folder; field docs in them are the reference for what each field means.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, cast

import fastavro
import fastavro.schema

_SCHEMA_DIR = Path(__file__).resolve().parent
_MARKER = b"\xc3\x01"
_HEADER_LEN = 10


class UndecodableMessageError(ValueError):
    """A payload is not valid single-object Avro for the expected schema.

    ``error_type`` is the machine-readable class recorded on the dead-letter topic.
    """

    def __init__(self, error_type: str, reason: str) -> None:
        self.error_type = error_type
        self.reason = reason
        super().__init__(f"{error_type}: {reason}")


@cache
def load_schema(name: str) -> dict[str, Any]:
    """Parse ``schemas/<name>.avsc`` (e.g. ``ledger.Posting``)."""
    path = _SCHEMA_DIR / f"{name}.avsc"
    if not path.is_file():
        raise FileNotFoundError(f"no Avro schema {name!r} in {_SCHEMA_DIR}")
    parsed = cast(dict[str, Any], fastavro.schema.load_schema(str(path)))
    return parsed


def fingerprint(schema: dict[str, Any]) -> bytes:
    """CRC-64-AVRO of the parsing canonical form, little-endian, as the spec's header wants."""
    canonical = fastavro.schema.to_parsing_canonical_form(schema)
    return int(fastavro.schema.fingerprint(canonical, "CRC-64-AVRO"), 16).to_bytes(8, "little")


@dataclass(frozen=True)
class AvroCodec:
    """Encode/decode one record type. Cheap to pickle: Flink ships it to the Python workers."""

    schema_name: str
    _schema: dict[str, Any] = field(init=False, repr=False, compare=False)
    _header: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        schema = load_schema(self.schema_name)
        object.__setattr__(self, "_schema", schema)
        object.__setattr__(self, "_header", _MARKER + fingerprint(schema))

    def __reduce__(self) -> tuple[Any, ...]:
        return (AvroCodec, (self.schema_name,))

    def encode(self, record: dict[str, Any]) -> bytes:
        buffer = io.BytesIO()
        buffer.write(self._header)
        fastavro.schemaless_writer(buffer, self._schema, record)
        return buffer.getvalue()

    def decode(self, payload: bytes | None) -> dict[str, Any]:
        """Decode or raise :class:`UndecodableMessageError` with a reason fit for a dead letter."""
        if payload is None:
            raise UndecodableMessageError("UNDECODABLE", "empty payload (null value)")
        if len(payload) < _HEADER_LEN or payload[:2] != _MARKER:
            raise UndecodableMessageError(
                "UNDECODABLE", "not Avro single-object encoding (missing C3 01 marker)"
            )
        if payload[2:_HEADER_LEN] != self._header[2:]:
            raise UndecodableMessageError(
                "UNKNOWN_SCHEMA",
                f"written with schema fingerprint {payload[2:_HEADER_LEN][::-1].hex()}, "
                f"expected {self.schema_name} ({self._header[2:][::-1].hex()})",
            )
        body = io.BytesIO(payload)
        body.seek(_HEADER_LEN)
        try:
            record = cast(dict[str, Any], fastavro.schemaless_reader(body, self._schema, None))
        except Exception as exc:  # fastavro raises several types on corrupt input
            raise UndecodableMessageError(
                "UNDECODABLE", f"corrupt {self.schema_name} body: {type(exc).__name__}: {exc}"
            ) from None
        if body.tell() != len(payload):
            raise UndecodableMessageError(
                "UNDECODABLE",
                f"{len(payload) - body.tell()} trailing bytes after the {self.schema_name} record",
            )
        return record
