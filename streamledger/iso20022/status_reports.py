"""Status reports: pacs.002 between banks, pain.002 from a bank to its customer.

A transaction's status is its own ``TxSts``; when that is absent, the status stated for its payment
information block or group applies to it. A report with no transaction detail at all states one
status for a whole earlier message: it becomes a single ``*_GROUP`` event keyed
``msg:<OrgnlMsgId>`` per original message, because it applies to all of that message's
transactions and cannot be attributed to one payment.

Reports flow back towards the debtor, so when the report does not name the original debtor agent,
the key's agent is the report's instructed agent: the bank that sent the original instruction.
"""

from __future__ import annotations

from collections.abc import Iterator

from streamledger.iso20022.context import MessageContext
from streamledger.iso20022.events import EventType, PaymentEvent
from streamledger.iso20022.parties import parties_of
from streamledger.iso20022.reader import Node, first_present
from streamledger.iso20022.references import (
    group_reference,
    matching_group,
    original_amount,
    transaction_reference,
)


def fi_status_events(root: Node, context: MessageContext) -> Iterator[PaymentEvent]:
    """pacs.002: one event per ``TxInfAndSts``, else one group event per ``OrgnlGrpInfAndSts``."""
    header = root.required("GrpHdr")
    groups = root.children("OrgnlGrpInfAndSts")
    transactions = root.children("TxInfAndSts")
    if not transactions:
        for group in groups:
            yield PaymentEvent(
                **context.fields,
                **group_reference(group),
                event_type=EventType.STATUS_REPORT_GROUP,
                event_time=context.created_at,
                status=group.text("GrpSts"),
                reason=group.reason("StsRsnInf"),
                instructing_agent=header.bic("InstgAgt"),
                instructed_agent=header.bic("InstdAgt"),
            )
        return
    for tx in transactions:
        group = matching_group(groups, tx)
        original = tx.part("OrgnlTxRef")
        parties = parties_of(original)
        instructed_agent = first_present(tx.bic("InstdAgt"), header.bic("InstdAgt"))
        yield PaymentEvent(
            **context.fields,
            **transaction_reference(tx, group, first_present(parties["debtor_agent"], instructed_agent)),
            event_type=EventType.STATUS_REPORT,
            event_time=context.event_time(
                first_present(
                    tx.timestamp("PrcgDt/DtTm"),
                    tx.timestamp("FctvIntrBkSttlmDt/DtTm"),
                    tx.timestamp("AccptncDtTm"),
                )
            ),
            status=first_present(tx.text("TxSts"), group.text("GrpSts")),
            reason=first_present(tx.reason("StsRsnInf"), group.reason("StsRsnInf")),
            **original_amount(original),
            instructing_agent=first_present(tx.bic("InstgAgt"), header.bic("InstgAgt")),
            instructed_agent=instructed_agent,
            **parties,
            settlement_date=first_present(
                tx.choice_date("FctvIntrBkSttlmDt"), original.iso_date("IntrBkSttlmDt")
            ),
        )


def customer_status_events(root: Node, context: MessageContext) -> Iterator[PaymentEvent]:
    """pain.002: one event per ``OrgnlPmtInfAndSts/TxInfAndSts``, else one group event.

    A group event's status is the group status, else the first payment information status. The
    key's agent is the original debtor agent, else the report's ``GrpHdr/DbtrAgt``: a pain.002 is
    sent by the debtor's bank.
    """
    header = root.required("GrpHdr")
    group = root.required("OrgnlGrpInfAndSts")
    instructions = root.children("OrgnlPmtInfAndSts")
    if not any(instruction.child("TxInfAndSts") for instruction in instructions):
        yield PaymentEvent(
            **context.fields,
            **group_reference(group),
            event_type=EventType.CUSTOMER_STATUS_GROUP,
            event_time=context.created_at,
            status=first_present(group.text("GrpSts"), *(i.text("PmtInfSts") for i in instructions)),
            reason=first_present(group.reason("StsRsnInf"), *(i.reason("StsRsnInf") for i in instructions)),
            debtor_agent=header.bic("DbtrAgt"),
            creditor_agent=header.bic("CdtrAgt"),
        )
        return
    for instruction in instructions:
        for tx in instruction.children("TxInfAndSts"):
            original = tx.part("OrgnlTxRef")
            parties = parties_of(original)
            parties["debtor_agent"] = first_present(parties["debtor_agent"], header.bic("DbtrAgt"))
            parties["creditor_agent"] = first_present(parties["creditor_agent"], header.bic("CdtrAgt"))
            yield PaymentEvent(
                **context.fields,
                **transaction_reference(tx, group, parties["debtor_agent"]),
                event_type=EventType.CUSTOMER_STATUS,
                event_time=context.event_time(tx.timestamp("AccptncDtTm")),
                status=first_present(tx.text("TxSts"), instruction.text("PmtInfSts"), group.text("GrpSts")),
                reason=first_present(
                    tx.reason("StsRsnInf"), instruction.reason("StsRsnInf"), group.reason("StsRsnInf")
                ),
                **original_amount(original),
                **parties,
                settlement_date=original.choice_date("ReqdExctnDt"),
            )
