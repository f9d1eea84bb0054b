"""Messages that move money forward: pain.001 initiations, pacs.008 and pacs.009 transfers.

Each transaction becomes one event. These messages are the origin of the identifiers every later
message refers to, so they key on their own UETR / EndToEndId; the key's agent is the debtor agent,
which stays the same on every hop (see :mod:`streamledger.iso20022.payment_key`).
"""

from __future__ import annotations

from collections.abc import Iterator

from streamledger.iso20022.context import MessageContext
from streamledger.iso20022.errors import MalformedMessageError
from streamledger.iso20022.events import EventType, PaymentEvent
from streamledger.iso20022.parties import parties_of
from streamledger.iso20022.payment_key import read_identifiers, transaction_key
from streamledger.iso20022.reader import Node, amount_fields, first_present


def initiation_events(root: Node, context: MessageContext) -> Iterator[PaymentEvent]:
    """pain.001: one event per ``PmtInf/CdtTrfTxInf``.

    Debtor, debtor agent, charge bearer and execution date are stated once per ``PmtInf`` and
    apply to each of its transactions. ``settlement_date`` carries the requested execution date:
    the only date an initiation has.
    """
    for instruction in root.children("PmtInf"):
        debtor_agent = instruction.bic("DbtrAgt")
        transactions = instruction.children("CdtTrfTxInf")
        if not transactions:
            raise MalformedMessageError(f"{instruction.path} has no CdtTrfTxInf")
        for tx in transactions:
            identifiers = read_identifiers(tx, "PmtId/", with_tx_id=False)
            yield PaymentEvent(
                **context.fields,
                payment_id=transaction_key(tx, identifiers, debtor_agent),
                event_type=EventType.INITIATION,
                event_time=context.created_at,
                **identifiers,
                **amount_fields(tx.amount("Amt/InstdAmt"), tx.amount("Amt/EqvtAmt/Amt")),
                debtor_agent=debtor_agent,
                creditor_agent=tx.bic("CdtrAgt"),
                debtor_name=instruction.party_name("Dbtr"),
                debtor_account=instruction.account("DbtrAcct"),
                creditor_name=tx.party_name("Cdtr"),
                creditor_account=tx.account("CdtrAcct"),
                settlement_date=instruction.choice_date("ReqdExctnDt"),
                charge_bearer=first_present(tx.text("ChrgBr"), instruction.text("ChrgBr")),
            )


def interbank_transfer_events(root: Node, context: MessageContext) -> Iterator[PaymentEvent]:
    """pacs.008: one event per ``CdtTrfTxInf``."""
    return _transfer_events(root, context, EventType.INTERBANK_TRANSFER)


def fi_transfer_events(root: Node, context: MessageContext) -> Iterator[PaymentEvent]:
    """pacs.009: one event per ``CdtTrfTxInf``; ``cover`` marks a cover payment.

    A cover (pacs.009 COV) carries the underlying customer transfer and, in practice, its UETR, so
    it keys onto the same payment as the pacs.008 it covers. The debtor and creditor here are
    institutions; when they have no separate agent, their own BICs fill ``debtor_agent`` and
    ``creditor_agent``.
    """
    return _transfer_events(root, context, EventType.FI_TRANSFER)


def _transfer_events(root: Node, context: MessageContext, event_type: EventType) -> Iterator[PaymentEvent]:
    header = root.required("GrpHdr")
    transactions = root.children("CdtTrfTxInf")
    if not transactions:
        raise MalformedMessageError(f"{root.path} has no CdtTrfTxInf")
    for tx in transactions:
        parties = parties_of(tx)
        instructing_agent = first_present(tx.bic("InstgAgt"), header.bic("InstgAgt"))
        identifiers = read_identifiers(tx, "PmtId/")
        yield PaymentEvent(
            **context.fields,
            payment_id=transaction_key(
                tx, identifiers, first_present(parties["debtor_agent"], instructing_agent)
            ),
            event_type=event_type,
            event_time=context.event_time(tx.timestamp("AccptncDtTm")),
            **identifiers,
            **amount_fields(tx.amount("IntrBkSttlmAmt")),
            cover=tx.child("UndrlygCstmrCdtTrf") is not None,
            instructing_agent=instructing_agent,
            instructed_agent=first_present(tx.bic("InstdAgt"), header.bic("InstdAgt")),
            **parties,
            settlement_date=first_present(tx.iso_date("IntrBkSttlmDt"), header.iso_date("IntrBkSttlmDt")),
            charge_bearer=tx.text("ChrgBr"),
        )
