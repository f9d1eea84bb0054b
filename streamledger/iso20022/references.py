"""How a message that answers or acts on an earlier one points back at it.

Status reports, returns, cancellation requests and their resolutions never carry the payment's
identifiers as their own; they quote them as ``OrgnlUETR``, ``OrgnlEndToEndId``, ``OrgnlTxId`` and
``OrgnlInstrId``, and name the earlier message either per transaction (``OrgnlGrpInf``) or once for
the group. Reading that the same way for every referring message type is what lets a reply land on
the same ``payment_id`` as the payment it answers.
"""

from __future__ import annotations

from typing import TypedDict

from streamledger.iso20022.payment_key import group_key, read_identifiers, transaction_key
from streamledger.iso20022.reader import AmountFields, Node, amount_fields, first_present


class ReferenceFields(TypedDict):
    """Event fields derived from a reference to an earlier message."""

    payment_id: str
    uetr: str | None
    end_to_end_id: str | None
    original_message_id: str | None
    original_message_type: str | None
    original_end_to_end_id: str | None
    original_tx_id: str | None
    original_instruction_id: str | None
    original_uetr: str | None


def matching_group(groups: list[Node], tx: Node) -> Node:
    """The group block a transaction belongs to: the one naming its original message, else the only
    one. An empty node when that cannot be told (several groups, none named)."""
    original_id = tx.text("OrgnlGrpInf/OrgnlMsgId")
    for group in groups:
        if original_id is not None and group.text("OrgnlMsgId") == original_id:
            return group
    if len(groups) == 1 and original_id is None:
        return groups[0]
    return Node.absent(f"{tx.path}/OrgnlGrpInf")


def transaction_reference(tx: Node, group: Node, agent_bic: str | None) -> ReferenceFields:
    """Reference fields for one referring transaction, keyed on the payment it refers to.

    ``uetr`` and ``end_to_end_id`` are end-to-end by definition, so they are filled from the original
    identifiers: every event about a payment then carries the same values.
    """
    identifiers = read_identifiers(tx, "Orgnl")
    return ReferenceFields(
        payment_id=transaction_key(tx, identifiers, agent_bic),
        uetr=identifiers["uetr"],
        end_to_end_id=identifiers["end_to_end_id"],
        original_message_id=first_present(tx.text("OrgnlGrpInf/OrgnlMsgId"), group.text("OrgnlMsgId")),
        original_message_type=first_present(tx.text("OrgnlGrpInf/OrgnlMsgNmId"), group.text("OrgnlMsgNmId")),
        original_end_to_end_id=identifiers["end_to_end_id"],
        original_tx_id=identifiers["tx_id"],
        original_instruction_id=identifiers["instruction_id"],
        original_uetr=identifiers["uetr"],
    )


def group_reference(group: Node) -> ReferenceFields:
    """Reference fields for a report about a whole earlier message (``msg:<OrgnlMsgId>``)."""
    original_message_id = group.required_text("OrgnlMsgId")
    return ReferenceFields(
        payment_id=group_key(original_message_id),
        uetr=None,
        end_to_end_id=None,
        original_message_id=original_message_id,
        original_message_type=group.text("OrgnlMsgNmId"),
        original_end_to_end_id=None,
        original_tx_id=None,
        original_instruction_id=None,
        original_uetr=None,
    )


def original_amount(original: Node) -> AmountFields:
    """The amount an ``OrgnlTxRef`` block quotes: settled amount, else the instructed one."""
    return amount_fields(
        original.amount("IntrBkSttlmAmt"),
        original.amount("Amt/InstdAmt"),
        original.amount("Amt/EqvtAmt/Amt"),
    )
