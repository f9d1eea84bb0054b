"""Events as JSON: exact amounts, UTC instants, every field present."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from decimal import Decimal

import orjson

from streamledger.iso20022 import EventType, PaymentEvent, event_to_json_dict, parse_message

from . import iso20022_samples as samples

REQUIRED_KEYS = {
    "message_type",
    "message_id",
    "payment_id",
    "end_to_end_id",
    "uetr",
    "event_type",
    "status",
    "reason",
    "amount",
    "currency",
    "event_time",
}


def test_every_field_is_present_and_json_safe() -> None:
    txs = samples.sample_transactions("pacs.002.001.10", 2)
    for event in parse_message(samples.pacs002(txs=txs)).events:
        view = event_to_json_dict(event)
        assert set(view) >= REQUIRED_KEYS
        assert set(view) == {field.name for field in dataclasses.fields(PaymentEvent)}
        assert orjson.loads(orjson.dumps(view)) == view


def test_value_formats() -> None:
    event = PaymentEvent(
        message_type="pacs.008.001.08",
        message_id="M-1",
        business_message_id=None,
        payment_id="uetr:x",
        event_type=EventType.INTERBANK_TRANSFER,
        event_time=datetime(2024, 3, 1, 8, 30, 15, 250000, tzinfo=UTC),
        amount=Decimal("1E+3"),
        settlement_date=date(2024, 3, 1),
    )
    view = event_to_json_dict(event)
    assert view["amount"] == "1000"
    assert view["event_time"] == "2024-03-01T08:30:15.250000Z"
    assert view["settlement_date"] == "2024-03-01"
    assert view["event_type"] == "INTERBANK_TRANSFER"
    assert view["cover"] is False
    assert view["uetr"] is None


def test_amounts_keep_every_digit() -> None:
    (event,) = parse_message(samples.pacs008(txs=[samples.Tx(amount=Decimal("0.10"))])).events
    assert event_to_json_dict(event)["amount"] == "0.10"
