"""The payment key rule, alone and across messages about the same payment."""

from __future__ import annotations

import dataclasses

import pytest

from streamledger.iso20022 import MalformedMessageError, group_key, parse_message, payment_key
from streamledger.iso20022.payment_key import normalize_bic

from . import iso20022_samples as samples
from .iso20022_samples import Tx

UETR = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"


# --- the rule -------------------------------------------------------------------------------------


def test_uetr_wins_and_is_lower_cased() -> None:
    key = payment_key(uetr=UETR.upper(), end_to_end_id="E2E-1", tx_id="TX-1", agent_bic="COBADEFFXXX")
    assert key == f"uetr:{UETR}"


def test_end_to_end_id_is_scoped_by_the_agent() -> None:
    assert payment_key(uetr=None, end_to_end_id="E2E-1", agent_bic="cobadeff") == "e2e:COBADEFF:E2E-1"


def test_unknown_agent() -> None:
    assert payment_key(uetr=None, end_to_end_id="E2E-1") == "e2e:UNKNOWN:E2E-1"


@pytest.mark.parametrize("end_to_end_id", ["NOTPROVIDED", "notprovided", " NOTPROVIDED ", "", None])
def test_placeholder_or_missing_end_to_end_id_falls_back_to_tx_id(end_to_end_id: str | None) -> None:
    key = payment_key(
        uetr=None, end_to_end_id=end_to_end_id, tx_id="TX-9", instruction_id="I-9", agent_bic="BNPAFRPP"
    )
    assert key == "tx:BNPAFRPP:TX-9"


def test_instruction_id_is_the_last_resort() -> None:
    key = payment_key(
        uetr=None, end_to_end_id="NOTPROVIDED", tx_id=None, instruction_id="I-9", agent_bic="BNPAFRPP"
    )
    assert key == "instr:BNPAFRPP:I-9"


def test_nothing_usable_is_malformed() -> None:
    with pytest.raises(MalformedMessageError, match="no UETR, EndToEndId, TxId or InstrId"):
        payment_key(uetr=None, end_to_end_id="NOTPROVIDED", tx_id=" ", agent_bic="BNPAFRPP")


@pytest.mark.parametrize(
    ("bic", "normalized"),
    [
        ("DEUTDEFFXXX", "DEUTDEFF"),
        ("deutdeff", "DEUTDEFF"),
        ("DEUTDEFF500", "DEUTDEFF500"),
        (" ", None),
        (None, None),
    ],
)
def test_bics_name_the_institution_once(bic: str | None, normalized: str | None) -> None:
    assert normalize_bic(bic) == normalized


def test_group_key() -> None:
    assert group_key("BATCH-1") == "msg:BATCH-1"


# --- across messages ------------------------------------------------------------------------------


def payment_ids(data: bytes) -> list[str]:
    samples.assert_schema_valid(data)
    return [event.payment_id for event in parse_message(data).events]


def test_multi_hop_legs_with_one_uetr_share_the_payment_id() -> None:
    tx = Tx(uetr=UETR)
    first_leg = samples.pacs008(
        msg_id="LEG-1", txs=[tx], instructing_agent="COBADEFFXXX", instructed_agent="DEUTDEFFXXX"
    )
    second_leg = samples.pacs008(
        "pacs.008.001.12",
        msg_id="LEG-2",
        txs=[tx],
        instructing_agent="DEUTDEFFXXX",
        instructed_agent="BNPAFRPPXXX",
    )
    cover = samples.pacs009(txs=[tx], cover=True)
    assert payment_ids(first_leg) == payment_ids(second_leg) == payment_ids(cover) == [f"uetr:{UETR}"]


def test_multi_hop_legs_without_uetr_share_the_payment_id_through_the_debtor_agent() -> None:
    tx = Tx(uetr=None, debtor_agent="COBADEFFXXX")
    first_leg = samples.pacs008(txs=[tx], instructing_agent="COBADEFFXXX", instructed_agent="DEUTDEFFXXX")
    second_leg = samples.pacs008(txs=[tx], instructing_agent="DEUTDEFFXXX", instructed_agent="BNPAFRPPXXX")
    assert payment_ids(first_leg) == payment_ids(second_leg) == [f"e2e:COBADEFF:{tx.end_to_end_id}"]


def test_whole_lifecycle_with_uetr_lands_on_one_payment() -> None:
    tx = Tx(uetr=UETR)
    messages = [
        samples.pain001(txs=[tx]),
        samples.pacs008(txs=[tx]),
        samples.pacs002(txs=[dataclasses.replace(tx, status="ACSC")]),
        samples.camt056(txs=[tx]),
        samples.camt029(txs=[dataclasses.replace(tx, status="ACCR")]),
        samples.pacs004(txs=[tx]),
        samples.camt054(txs=[tx]),
        samples.camt053(txs=[tx]),
        samples.pain002(txs=[dataclasses.replace(tx, status="ACSC")]),
    ]
    assert {key for data in messages for key in payment_ids(data)} == {f"uetr:{UETR}"}


def test_whole_lifecycle_without_uetr_lands_on_one_payment() -> None:
    tx = Tx(uetr=None)
    expected = f"e2e:COBADEFF:{tx.end_to_end_id}"
    messages = [
        samples.pain001("pain.001.001.03", txs=[tx]),
        samples.pacs008(txs=[tx]),
        samples.pacs002(txs=[dataclasses.replace(tx, status="ACSC")]),
        samples.pacs004(txs=[tx]),
        samples.camt056(txs=[tx]),
        samples.camt029(txs=[tx]),
        samples.camt054("camt.054.001.02", txs=[tx]),
        samples.pain002("pain.002.001.03", txs=[dataclasses.replace(tx, status="ACSC")]),
    ]
    assert {key for data in messages for key in payment_ids(data)} == {expected}


def test_replies_that_do_not_quote_the_original_transaction_key_on_the_original_sender() -> None:
    """Without OrgnlTxRef the reply's instructed agent (the original sender) scopes the key."""
    tx = Tx(uetr=None, debtor_agent="COBADEFFXXX")
    original = samples.pacs008(txs=[tx], instructing_agent="COBADEFFXXX", instructed_agent="BNPAFRPPXXX")
    status = samples.without(
        samples.pacs002(
            txs=[dataclasses.replace(tx, status="RJCT")],
            instructing_agent="BNPAFRPPXXX",
            instructed_agent="COBADEFFXXX",
        ),
        "OrgnlTxRef",
    )
    returned = samples.pacs004(txs=[tx], quote_original=False)  # return chain's creditor agent
    cancellation = samples.without(samples.camt056(txs=[tx], assigner="COBADEFFXXX"), "OrgnlTxRef")
    resolution = samples.without(samples.camt029(txs=[tx], assignee="COBADEFFXXX"), "OrgnlTxRef")
    keys = {
        key for data in (original, status, returned, cancellation, resolution) for key in payment_ids(data)
    }
    assert keys == {f"e2e:COBADEFF:{tx.end_to_end_id}"}


def test_not_provided_end_to_end_id_correlates_on_the_transaction_id() -> None:
    tx = Tx(uetr=None, end_to_end_id="NOTPROVIDED", tx_id="TX-77")
    original = samples.pacs008(txs=[tx])
    status = samples.pacs002(txs=[dataclasses.replace(tx, status="ACSC")])
    assert payment_ids(original) == payment_ids(status) == ["tx:COBADEFF:TX-77"]


def test_referring_message_without_end_to_end_id_uses_the_original_tx_id() -> None:
    tx = Tx(uetr=None, tx_id="TX-88")
    status = samples.without(samples.pacs002(txs=[dataclasses.replace(tx, status="ACSC")]), "OrgnlEndToEndId")
    assert payment_ids(status) == ["tx:COBADEFF:TX-88"]


def test_referring_message_with_nothing_to_key_on_is_malformed() -> None:
    bare = samples.without(
        samples.pacs002(txs=[Tx(uetr=None, status="RJCT")]),
        "OrgnlEndToEndId",
        "OrgnlTxId",
        "OrgnlInstrId",
    )
    samples.assert_schema_valid(bare)
    with pytest.raises(
        MalformedMessageError, match=r"TxInfAndSts\[1\]: no UETR, EndToEndId, TxId or InstrId"
    ):
        parse_message(bare)


def test_upper_case_uetr_is_lower_cased() -> None:
    """Not schema-valid on purpose (the XSD pattern is lower case), but seen in the wild."""
    data = samples.with_text(samples.pacs008(txs=[Tx(uetr=UETR)]), UETR, UETR.upper())
    (event,) = parse_message(data).events
    assert (event.uetr, event.payment_id) == (UETR, f"uetr:{UETR}")
