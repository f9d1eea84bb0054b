"""Parsing each supported message type and version into canonical events.

Expected values come from the builders' inputs (the :class:`Tx` objects), never from literals
repeated here, so a test states the mapping rule rather than a snapshot.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from streamledger.iso20022 import (
    SUPPORTED_MESSAGE_TYPES,
    EventType,
    MalformedMessageError,
    PaymentEvent,
    UnsupportedMessageError,
    parse_message,
)

from . import iso20022_samples as samples
from .iso20022_samples import Tx

EVENT_TYPE = {
    "pain.001": EventType.INITIATION,
    "pain.002": EventType.CUSTOMER_STATUS,
    "pacs.008": EventType.INTERBANK_TRANSFER,
    "pacs.009": EventType.FI_TRANSFER,
    "pacs.002": EventType.STATUS_REPORT,
    "pacs.004": EventType.RETURN,
    "camt.056": EventType.CANCELLATION_REQUEST,
    "camt.029": EventType.CANCELLATION_RESOLUTION,
    "camt.054": EventType.ACCOUNT_NOTIFICATION,
    "camt.053": EventType.STATEMENT_ENTRY,
}
REFERRING_FAMILIES = {"pain.002", "pacs.002", "pacs.004", "camt.056", "camt.029"}


def expected_key(tx: Tx) -> str:
    """The documented key rule, spelled out independently of the implementation."""
    if tx.uetr:
        return f"uetr:{tx.uetr}"
    return f"e2e:{tx.debtor_agent.removesuffix('XXX')}:{tx.end_to_end_id}"


def parse(data: bytes) -> tuple[PaymentEvent, ...]:
    samples.assert_schema_valid(data)
    return parse_message(data).events


@pytest.mark.parametrize("message_type", sorted(SUPPORTED_MESSAGE_TYPES))
def test_every_supported_version_maps_each_transaction(message_type: str) -> None:
    family = message_type[:8]
    txs = samples.sample_transactions(message_type, 3)
    # One PmtInf per transaction, so each pain.001 transaction has its own debtor.
    layout = {"instructions": len(txs)} if family == "pain.001" else {}
    data = samples.build(message_type, msg_id=f"ID-{message_type}", txs=txs, **layout)
    samples.assert_schema_valid(data)

    message = parse_message(data)

    assert message.message_type == message_type
    assert message.message_id == f"ID-{message_type}"
    assert message.business_message_id is None
    assert len(message.events) == len(txs)
    for tx, event in zip(txs, message.events, strict=True):
        assert event.message_type == message_type
        assert event.message_id == f"ID-{message_type}"
        assert event.event_type == EVENT_TYPE[family]
        assert event.payment_id == expected_key(tx)
        assert event.uetr == tx.uetr
        assert event.end_to_end_id == tx.end_to_end_id
        assert (event.amount, event.currency) == (tx.amount, tx.currency)
        assert (event.status, event.reason) == (tx.status, tx.reason)
        assert event.settlement_date == tx.settlement_date
        expected_time = tx.timestamp if family in samples.TIMESTAMPED_FAMILIES else samples.CREATED
        assert event.event_time == expected_time
        assert event.event_time.tzinfo == UTC
        if family == "pacs.004":  # the return flow runs from the original creditor back to the debtor
            assert (event.debtor_name, event.creditor_name) == (tx.creditor_name, tx.debtor_name)
            assert (event.debtor_agent, event.creditor_agent) == (tx.creditor_agent, tx.debtor_agent)
        else:
            assert (event.debtor_name, event.creditor_name) == (tx.debtor_name, tx.creditor_name)
            assert (event.debtor_account, event.creditor_account) == (tx.debtor_iban, tx.creditor_iban)
            assert (event.debtor_agent, event.creditor_agent) == (tx.debtor_agent, tx.creditor_agent)
        if family in REFERRING_FAMILIES:
            assert event.original_end_to_end_id == tx.end_to_end_id
            assert event.original_uetr == tx.uetr
            assert event.original_message_id is not None
            assert event.tx_id is None
        else:
            assert event.original_message_id is None
            assert event.instruction_id == tx.instruction_id


# --- credit transfers -----------------------------------------------------------------------------


@pytest.mark.parametrize("message_type", ["pain.001.001.03", "pain.001.001.09"])
def test_pain001_fans_out_over_payment_information_blocks(message_type: str) -> None:
    txs = samples.sample_transactions(message_type, 7)
    events = parse(samples.pain001(message_type, txs=txs, instructions=3))

    assert len(events) == len(txs)
    assert {e.end_to_end_id for e in events} == {tx.end_to_end_id for tx in txs}
    by_id = {e.end_to_end_id: e for e in events}
    for n in range(3):
        block = txs[n::3]
        for tx in block:  # debtor, agent, date and charge bearer are stated once per PmtInf
            event = by_id[tx.end_to_end_id]
            assert event.debtor_name == block[0].debtor_name
            assert event.debtor_account == block[0].debtor_iban
            assert event.debtor_agent == block[0].debtor_agent  # BIC (.03) or BICFI (.09)
            assert event.charge_bearer == block[0].charge_bearer
            assert event.creditor_name == tx.creditor_name


def test_pacs008_reads_transaction_fields_and_falls_back_to_group_header_agents() -> None:
    tx = Tx(uetr=samples.uetr_for("fallback"), timestamp=datetime(2024, 3, 1, 11, 0, tzinfo=UTC))
    on_tx = parse(samples.pacs008(txs=[tx], instructing_agent="DEUTDEFFXXX", instructed_agent="CHASUS33XXX"))
    in_header = parse(
        samples.pacs008(
            txs=[tx],
            instructing_agent="DEUTDEFFXXX",
            instructed_agent="CHASUS33XXX",
            agents_in_group_header=True,
        )
    )
    for (event,) in (on_tx, in_header):
        assert (event.instructing_agent, event.instructed_agent) == ("DEUTDEFFXXX", "CHASUS33XXX")
        assert (event.tx_id, event.instruction_id) == (tx.tx_id, tx.instruction_id)
        assert event.charge_bearer == tx.charge_bearer
        assert event.event_time == tx.timestamp
        assert event.cover is False


@pytest.mark.parametrize("message_type", ["pacs.009.001.08", "pacs.009.001.11"])
@pytest.mark.parametrize("cover", [False, True])
def test_pacs009_flags_cover_payments(message_type: str, cover: bool) -> None:
    txs = samples.sample_transactions(message_type, 2)
    events = parse(samples.pacs009(message_type, txs=txs, cover=cover))
    assert [e.cover for e in events] == [cover, cover]
    assert [e.event_type for e in events] == [EventType.FI_TRANSFER] * 2


# --- status reports -------------------------------------------------------------------------------


@pytest.mark.parametrize("message_type", ["pacs.002.001.10", "pacs.002.001.14"])
def test_pacs002_group_status_without_transactions_is_one_group_event(message_type: str) -> None:
    data = samples.pacs002(
        message_type, txs=(), original_msg_id="BATCH-42", group_status="RJCT", group_reason="FF01"
    )
    (event,) = parse(data)
    assert event.event_type == EventType.STATUS_REPORT_GROUP
    assert event.payment_id == "msg:BATCH-42"
    assert (event.status, event.reason) == ("RJCT", "FF01")
    assert event.original_message_id == "BATCH-42"
    assert event.original_message_type == "pacs.008.001.08"
    assert event.uetr is None


def test_pacs002_transaction_without_status_inherits_the_group_status() -> None:
    txs = [Tx(uetr=samples.uetr_for("inherit"), status=None), Tx(end_to_end_id="E2E-OWN", status="RJCT")]
    events = parse(
        samples.pacs002(txs=txs, group_status="PART", original_msg_id="ORIG-1", tx_original_group=False)
    )
    assert [e.status for e in events] == ["PART", "RJCT"]
    assert [e.original_message_id for e in events] == ["ORIG-1", "ORIG-1"]  # from the group block


def test_pacs002_reads_agents_and_original_transaction() -> None:
    tx = Tx(uetr=samples.uetr_for("status"), status="ACSC")
    (event,) = parse(
        samples.pacs002(txs=[tx], instructing_agent="BNPAFRPPXXX", instructed_agent="COBADEFFXXX")
    )
    assert (event.instructing_agent, event.instructed_agent) == ("BNPAFRPPXXX", "COBADEFFXXX")
    assert (event.original_tx_id, event.original_instruction_id) == (tx.tx_id, tx.instruction_id)


@pytest.mark.parametrize("message_type", ["pain.002.001.03", "pain.002.001.10"])
def test_pain002_group_and_payment_information_status(message_type: str) -> None:
    (group_event,) = parse(samples.pain002(message_type, txs=(), group_status="RJCT", original_msg_id="P1"))
    assert group_event.event_type == EventType.CUSTOMER_STATUS_GROUP
    assert (group_event.payment_id, group_event.status) == ("msg:P1", "RJCT")

    tx = samples.sample_transactions(message_type, 1)[0]
    (inherited,) = parse(
        samples.pain002(
            message_type,
            txs=[dataclasses.replace(tx, status=None)],
            payment_info_status="ACSP",
            original_type="pain.001.001.03",
        )
    )
    assert inherited.status == "ACSP"
    assert inherited.event_type == EventType.CUSTOMER_STATUS
    assert inherited.original_message_type == "pain.001.001.03"


# --- returns and cancellations --------------------------------------------------------------------


@pytest.mark.parametrize("message_type", ["pacs.004.001.09", "pacs.004.001.10", "pacs.004.001.13"])
def test_pacs004_group_return(message_type: str) -> None:
    (event,) = parse(samples.pacs004(message_type, txs=(), original_msg_id="ORIG-7", group_reason="AC04"))
    assert event.event_type == EventType.RETURN_GROUP
    assert (event.payment_id, event.reason) == ("msg:ORIG-7", "AC04")
    assert event.amount is not None


def test_pacs004_accounts_follow_the_return_flow_where_the_version_has_them() -> None:
    tx = Tx(uetr=samples.uetr_for("return"), reason="MD06")
    (event,) = parse(samples.pacs004("pacs.004.001.10", txs=[tx]))
    assert (event.debtor_account, event.creditor_account) == (tx.creditor_iban, tx.debtor_iban)
    assert event.charge_bearer == tx.charge_bearer
    assert event.reason == "MD06"


@pytest.mark.parametrize("message_type", ["camt.056.001.08", "camt.056.001.11"])
def test_camt056_uses_the_case_assignment(message_type: str) -> None:
    txs = samples.sample_transactions(message_type, 2)
    message = parse_message(
        samples.camt056(
            message_type, msg_id="CASE-ASSIGN-9", txs=txs, assigner="COBADEFFXXX", assignee="BNPAFRPPXXX"
        )
    )
    assert message.message_id == "CASE-ASSIGN-9"
    for event in message.events:
        assert (event.instructing_agent, event.instructed_agent) == ("COBADEFFXXX", "BNPAFRPPXXX")
        assert event.event_time == samples.CREATED

    (group,) = parse(samples.camt056(message_type, txs=(), original_msg_id="ORIG-3", group_reason="FRAD"))
    assert (group.event_type, group.payment_id, group.reason) == (
        EventType.CANCELLATION_REQUEST_GROUP,
        "msg:ORIG-3",
        "FRAD",
    )


@pytest.mark.parametrize("message_type", ["camt.029.001.09", "camt.029.001.13"])
def test_camt029_status_falls_back_to_the_investigation_outcome(message_type: str) -> None:
    tx = dataclasses.replace(samples.sample_transactions(message_type, 1)[0], status=None, reason=None)
    (event,) = parse(samples.camt029(message_type, txs=[tx], confirmation="CNCL"))
    assert event.status == "CNCL"

    (group,) = parse(samples.camt029(message_type, txs=(), confirmation="RJCR", original_msg_id="ORIG-5"))
    assert (group.event_type, group.payment_id, group.status) == (
        EventType.CANCELLATION_RESOLUTION_GROUP,
        "msg:ORIG-5",
        "RJCR",
    )


def test_camt029_without_cancellation_details_is_unsupported() -> None:
    data = samples.without(samples.camt029(), "CxlDtls")
    samples.assert_schema_valid(data)
    with pytest.raises(UnsupportedMessageError, match="CxlDtls"):
        parse_message(data)


# --- account reports ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "message_type", ["camt.054.001.02", "camt.054.001.04", "camt.053.001.08", "camt.053.001.12"]
)
def test_batch_entry_fans_out_per_transaction_detail(message_type: str) -> None:
    txs = [dataclasses.replace(tx, currency="EUR") for tx in samples.sample_transactions(message_type, 4)]
    events = parse(samples.build(message_type, txs=txs, batch=True))
    assert [e.amount for e in events] == [tx.amount for tx in txs]
    assert [e.end_to_end_id for e in events] == [tx.end_to_end_id for tx in txs]
    assert {e.status for e in events} == {txs[0].status}  # the entry's status applies to each


@pytest.mark.parametrize("message_type", ["camt.054.001.02", "camt.054.001.08", "camt.054.001.12"])
@pytest.mark.parametrize("credit_debit", ["CRDT", "DBIT"])
def test_reported_account_fills_the_side_the_entry_books(message_type: str, credit_debit: str) -> None:
    tx = samples.sample_transactions(message_type, 1)[0]
    data = samples.without(
        samples.camt054(
            message_type, txs=[tx], account_iban="GB29NWBK60161331926819", credit_debit=credit_debit
        ),
        "DbtrAcct",
        "CdtrAcct",
    )
    (event,) = parse(data)
    assert event.credit_debit == credit_debit
    if credit_debit == "CRDT":
        assert (event.creditor_account, event.debtor_account) == ("GB29NWBK60161331926819", None)
    else:
        assert (event.debtor_account, event.creditor_account) == ("GB29NWBK60161331926819", None)


def test_entries_without_payment_references_are_skipped() -> None:
    txs = samples.sample_transactions("camt.053.001.08", 2)
    data = samples.without(samples.camt053(txs=txs), "Refs")
    assert parse(data) == ()


def test_entry_status_text_and_code_forms() -> None:
    legacy = parse(samples.camt054("camt.054.001.02", txs=[Tx(status="PDNG")]))
    modern = parse(samples.camt054("camt.054.001.08", txs=[Tx(status="PDNG")]))
    assert [e.status for e in legacy + modern] == ["PDNG", "PDNG"]


def test_return_reason_on_a_booked_entry() -> None:
    (event,) = parse(
        samples.camt054(txs=[Tx(uetr=samples.uetr_for("rtr"), reason="AC04")], credit_debit="CRDT")
    )
    assert event.reason == "AC04"


# --- message level --------------------------------------------------------------------------------


def test_naive_timestamps_are_taken_as_utc() -> None:
    data = samples.pacs008(created=datetime(2024, 3, 1, 9, 30))
    (event,) = parse_message(data).events
    assert event.event_time == datetime(2024, 3, 1, 9, 30, tzinfo=UTC)


def test_fractional_seconds_and_z_suffix() -> None:
    data = samples.with_text(samples.pacs008(), samples.CREATED.isoformat(), "2024-03-01T23:59:59.123456789Z")
    (event,) = parse_message(data).events
    assert event.event_time == datetime(2024, 3, 1, 23, 59, 59, 123456, tzinfo=UTC)


def test_events_are_immutable() -> None:
    (event,) = parse_message(samples.pacs008()).events
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.amount = Decimal(0)  # type: ignore[misc]


def test_missing_required_element_names_its_path() -> None:
    data = samples.without(samples.pacs008(), "MsgId")
    with pytest.raises(
        MalformedMessageError, match=r"pacs\.008\.001\.08: missing FIToFICstmrCdtTrf/GrpHdr/MsgId"
    ):
        parse_message(data)


def test_unreadable_values_name_their_element() -> None:
    bad_amount = samples.with_text(samples.pacs008(), ">1250.50<", ">12,50<")
    with pytest.raises(
        MalformedMessageError, match=r"CdtTrfTxInf\[1\]/IntrBkSttlmAmt: '12,50' is not a decimal"
    ):
        parse_message(bad_amount)
    bad_date = samples.with_text(
        samples.pacs008(), "<IntrBkSttlmDt>2024-03-01<", "<IntrBkSttlmDt>2024-02-30<"
    )
    with pytest.raises(MalformedMessageError, match="IntrBkSttlmDt: '2024-02-30' is not a calendar date"):
        parse_message(bad_date)


def test_payment_message_without_transactions_is_malformed() -> None:
    data = samples.without(samples.pacs008(), "CdtTrfTxInf")
    with pytest.raises(MalformedMessageError, match="no CdtTrfTxInf"):
        parse_message(data)


def test_settlement_date_is_a_date() -> None:
    (event,) = parse_message(samples.pacs008(txs=[Tx(settlement_date=date(2024, 12, 31))])).events
    assert event.settlement_date == date(2024, 12, 31)
