"""pacs.004 payment returns: money flowing back along the chain of an earlier transfer.

A return keys onto the payment it returns (``OrgnlUETR``, ``OrgnlEndToEndId``, …). Its parties are
those of the return flow (``RtrChain``): the original creditor's side pays the original debtor's
side back. The key's agent is therefore the original debtor agent as quoted in ``OrgnlTxRef``,
else the creditor agent of the return chain (the same bank), else the instructed agent of the return,
which sent the original instruction.

A return with no ``TxInf`` returns a whole earlier message (``GrpRtr``) and becomes one
``RETURN_GROUP`` event keyed ``msg:<OrgnlMsgId>``.
"""

from __future__ import annotations

from collections.abc import Iterator

from streamledger.iso20022.context import MessageContext
from streamledger.iso20022.events import EventType, PaymentEvent
from streamledger.iso20022.parties import parties_of
from streamledger.iso20022.reader import Node, amount_fields, first_present
from streamledger.iso20022.references import group_reference, transaction_reference


def return_events(root: Node, context: MessageContext) -> Iterator[PaymentEvent]:
    """pacs.004: one event per ``TxInf``, else one group event for ``OrgnlGrpInf``."""
    header = root.required("GrpHdr")
    group = root.part("OrgnlGrpInf")
    transactions = root.children("TxInf")
    if not transactions:
        if group.exists:
            yield PaymentEvent(
                **context.fields,
                **group_reference(group),
                event_type=EventType.RETURN_GROUP,
                event_time=context.created_at,
                reason=group.reason("RtrRsnInf"),
                **amount_fields(header.amount("TtlRtrdIntrBkSttlmAmt")),
                instructing_agent=header.bic("InstgAgt"),
                instructed_agent=header.bic("InstdAgt"),
                settlement_date=header.iso_date("IntrBkSttlmDt"),
            )
        return
    for tx in transactions:
        instructed_agent = first_present(tx.bic("InstdAgt"), header.bic("InstdAgt"))
        chain = parties_of(tx.part("RtrChain"))
        key_agent = first_present(
            tx.part("OrgnlTxRef").bic("DbtrAgt"), chain["creditor_agent"], instructed_agent
        )
        yield PaymentEvent(
            **context.fields,
            **transaction_reference(tx, group, key_agent),
            event_type=EventType.RETURN,
            event_time=context.created_at,
            reason=first_present(tx.reason("RtrRsnInf"), group.reason("RtrRsnInf")),
            **amount_fields(tx.amount("RtrdIntrBkSttlmAmt")),
            instructing_agent=first_present(tx.bic("InstgAgt"), header.bic("InstgAgt")),
            instructed_agent=instructed_agent,
            **chain,
            settlement_date=first_present(tx.iso_date("IntrBkSttlmDt"), header.iso_date("IntrBkSttlmDt")),
            charge_bearer=tx.text("ChrgBr"),
        )
