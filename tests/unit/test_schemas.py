"""Avro single-object encoding of the project's events, and the schema files themselves."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

from schemas import AvroCodec, UndecodableMessageError, fingerprint, load_schema

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"
POSTING = {
    "event_id": "e1",
    "account_id": "acct-1",
    "amount_minor": -1250,
    "currency": "EUR",
    "event_time": 1_767_225_600_000,
    "source": "card",
    "reference": None,
}


def test_round_trip_carries_the_spec_header() -> None:
    codec = AvroCodec("ledger.Posting")
    payload = codec.encode(POSTING)
    assert payload[:2] == b"\xc3\x01"
    assert payload[2:10] == fingerprint(load_schema("ledger.Posting"))
    decoded = codec.decode(payload)
    assert decoded["amount_minor"] == -1250 and decoded["event_id"] == "e1"
    assert int(decoded["event_time"].timestamp() * 1000) == POSTING["event_time"]


def test_codec_survives_pickling_as_flink_ships_it_to_workers() -> None:
    codec = pickle.loads(pickle.dumps(AvroCodec("ledger.Posting")))
    assert codec.decode(codec.encode(POSTING))["account_id"] == "acct-1"


@pytest.mark.parametrize(
    ("payload", "error_type"),
    [
        (None, "UNDECODABLE"),
        (b"", "UNDECODABLE"),
        (b'{"event_id": "json, not avro"}', "UNDECODABLE"),
        (b"\xc3\x01" + b"\x00" * 8 + b"body", "UNKNOWN_SCHEMA"),
    ],
)
def test_bad_payloads_are_classified(payload: bytes | None, error_type: str) -> None:
    with pytest.raises(UndecodableMessageError) as caught:
        AvroCodec("ledger.Posting").decode(payload)
    assert caught.value.error_type == error_type and caught.value.reason


def test_message_of_another_schema_is_named_unknown_schema() -> None:
    update = AvroCodec("ledger.BalanceUpdate").encode(
        {
            "account_id": "a",
            "balance_minor": 1,
            "currency": "EUR",
            "version": 1,
            "event_id": "e",
            "amount_minor": 1,
            "event_time": 0,
        }
    )
    with pytest.raises(UndecodableMessageError, match="UNKNOWN_SCHEMA"):
        AvroCodec("ledger.Posting").decode(update)


def test_truncated_and_padded_bodies_are_rejected() -> None:
    good = AvroCodec("ledger.Posting").encode(POSTING)
    with pytest.raises(UndecodableMessageError, match="corrupt"):
        AvroCodec("ledger.Posting").decode(good[:-5])
    with pytest.raises(UndecodableMessageError, match="trailing"):
        AvroCodec("ledger.Posting").decode(good + b"\x00")


@pytest.mark.parametrize("path", sorted(SCHEMA_DIR.glob("*.avsc")), ids=lambda p: p.stem)
def test_every_schema_parses_and_documents_its_fields(path: Path) -> None:
    schema = load_schema(path.stem)
    assert schema["doc"], f"{path.name} has no record doc"
    raw = json.loads(path.read_text())
    undocumented = [f["name"] for f in raw["fields"] if not f.get("doc")]
    assert not undocumented, f"{path.name}: fields without doc: {undocumented}"
