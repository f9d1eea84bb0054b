"""Cancellation cases: camt.056 requests and the camt.029 resolutions that answer them.

Both are case-management messages: their identifier is the case assignment (``Assgnmt/Id``), their
time the assignment's creation, and the assigner/assignee play the instructing/instructed roles.
Each transaction they name keys onto the payment it would cancel. When the original debtor agent is
not quoted, the key's agent is the side that sent the original payment: the assigner of a request
(it travels the payment's way), the assignee of a resolution (it travels back).

A transaction's status in a resolution is its own ``TxCxlSts`` (ACCR, RJCR, PDCR), else the payment
information or group cancellation status, else the investigation outcome ``Sts/Conf`` (CNCL, RJCR,
PDCR, …). Blocks that only address a whole earlier message become ``*_GROUP`` events keyed
``msg:<OrgnlMsgId>``.
"""

from __future__ import annotations

from collections.abc import Iterator

from streamledger.iso20022.context import MessageContext
from streamledger.iso20022.errors import UnsupportedMessageError
from streamledger.iso20022.events import EventType, PaymentEvent
from streamledger.iso20022.parties import parties_of
from streamledger.iso20022.reader import AmountFields, Node, amount_fields, first_present
from streamledger.iso20022.references import (
    group_reference,
    original_amount,
    transaction_reference,
)


def cancellation_request_events(root: Node, context: MessageContext) -> Iterator[PaymentEvent]:
    """camt.056: one event per ``Undrlyg/TxInf``, else one group event per ``OrgnlGrpInfAndCxl``."""
    assignment = root.required("Assgnmt")
    for underlying in root.children("Undrlyg"):
        group = underlying.part("OrgnlGrpInfAndCxl")
        transactions = underlying.children("TxInf")
        if not transactions and group.exists:
            yield PaymentEvent(
                **context.fields,
                **group_reference(group),
                event_type=EventType.CANCELLATION_REQUEST_GROUP,
                event_time=context.created_at,
                reason=group.reason("CxlRsnInf"),
                instructing_agent=assignment.bic("Assgnr"),
                instructed_agent=assignment.bic("Assgne"),
            )
        for tx in transactions:
            original = tx.part("OrgnlTxRef")
            parties = parties_of(original)
            assigner = first_present(tx.bic("Assgnr"), assignment.bic("Assgnr"))
            yield PaymentEvent(
                **context.fields,
                **transaction_reference(tx, group, first_present(parties["debtor_agent"], assigner)),
                event_type=EventType.CANCELLATION_REQUEST,
                event_time=context.created_at,
                reason=first_present(tx.reason("CxlRsnInf"), group.reason("CxlRsnInf")),
                **_quoted_amount(tx, original),
                instructing_agent=assigner,
                instructed_agent=first_present(tx.bic("Assgne"), assignment.bic("Assgne")),
                **parties,
                settlement_date=first_present(
                    tx.iso_date("OrgnlIntrBkSttlmDt"), original.iso_date("IntrBkSttlmDt")
                ),
            )


def cancellation_resolution_events(root: Node, context: MessageContext) -> Iterator[PaymentEvent]:
    """camt.029: one event per cancellation ``TxInfAndSts``, else one group event per group block.

    Resolutions of other investigations (modifications, claims of non-receipt) carry no cancellation
    details and are not mapped.
    """
    assignment = root.required("Assgnmt")
    confirmation = root.text("Sts/Conf")
    details = root.children("CxlDtls")
    if not details:
        raise UnsupportedMessageError(
            "camt.029 without CxlDtls (not a cancellation resolution) is not mapped to payment events"
        )
    for detail in details:
        group = detail.part("OrgnlGrpInfAndSts")
        group_status = first_present(group.text("GrpCxlSts"), confirmation)
        # (transaction, status it inherits, block naming its original message)
        transactions = [(tx, group_status, group) for tx in detail.children("TxInfAndSts")]
        for instruction in detail.children("OrgnlPmtInfAndSts"):
            instruction_status = first_present(instruction.text("PmtInfCxlSts"), group_status)
            original_group = instruction.part("OrgnlGrpInf")
            transactions += [
                (tx, instruction_status, original_group if original_group.exists else group)
                for tx in instruction.children("TxInfAndSts")
            ]
        if not transactions and group.exists:
            yield PaymentEvent(
                **context.fields,
                **group_reference(group),
                event_type=EventType.CANCELLATION_RESOLUTION_GROUP,
                event_time=context.created_at,
                status=group_status,
                reason=group.reason("CxlStsRsnInf"),
                instructing_agent=assignment.bic("Assgnr"),
                instructed_agent=assignment.bic("Assgne"),
            )
        for tx, inherited_status, original_group in transactions:
            original = tx.part("OrgnlTxRef")
            parties = parties_of(original)
            assignee = first_present(tx.bic("Assgne"), assignment.bic("Assgne"))
            yield PaymentEvent(
                **context.fields,
                **transaction_reference(tx, original_group, first_present(parties["debtor_agent"], assignee)),
                event_type=EventType.CANCELLATION_RESOLUTION,
                event_time=context.created_at,
                status=first_present(tx.text("TxCxlSts"), inherited_status),
                reason=first_present(tx.reason("CxlStsRsnInf"), group.reason("CxlStsRsnInf")),
                **_quoted_amount(tx, original),
                instructing_agent=first_present(tx.bic("Assgnr"), assignment.bic("Assgnr")),
                instructed_agent=assignee,
                **parties,
                settlement_date=first_present(
                    tx.iso_date("OrgnlIntrBkSttlmDt"), original.iso_date("IntrBkSttlmDt")
                ),
            )


def _quoted_amount(tx: Node, original: Node) -> AmountFields:
    quoted = tx.amount("OrgnlIntrBkSttlmAmt")
    return amount_fields(quoted) if quoted else original_amount(original)
