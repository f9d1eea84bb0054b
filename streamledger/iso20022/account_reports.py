"""Account reports: camt.054 debit/credit notifications and camt.053 statements.

Both list booked (or pending) entries on one account; an entry can bundle several transactions
(``NtryDtls/TxDtls``). Each transaction detail that names a payment becomes one event. Details with
no payment identifier at all (fees, interest, cash, card batches) are not payment events and are
skipped, so a statement may legitimately produce no events.

Version differences handled here: in the 2009 versions (.02) the entry status is plain text and a
transaction detail has no amount of its own (``AmtDtls/TxAmt`` carries it); from .08 on the status
is a code choice (``Sts/Cd``) and the references carry a UETR.

An event's time is the entry's booking (else value) date-time, else the transaction's own dates,
else the creation time of the notification or statement, else of the message.

The reported account is the creditor's account on a credit entry and the debtor's on a debit entry;
it fills that side when the transaction detail does not name the account itself. On a debit entry
the account's servicer is the debtor agent, which the payment key uses when no debtor agent is
given.
"""

from __future__ import annotations

from collections.abc import Iterator

from streamledger.iso20022.context import MessageContext
from streamledger.iso20022.events import EventType, PaymentEvent
from streamledger.iso20022.parties import PartyFields, parties_of
from streamledger.iso20022.payment_key import identifies_payment, read_identifiers, transaction_key
from streamledger.iso20022.reader import Node, amount_fields, first_present

CREDIT = "CRDT"
DEBIT = "DBIT"


def notification_events(root: Node, context: MessageContext) -> Iterator[PaymentEvent]:
    """camt.054: one event per ``Ntfctn/Ntry/NtryDtls/TxDtls`` that identifies a payment."""
    return _entry_events(root, context, "Ntfctn", EventType.ACCOUNT_NOTIFICATION)


def statement_events(root: Node, context: MessageContext) -> Iterator[PaymentEvent]:
    """camt.053: one event per ``Stmt/Ntry/NtryDtls/TxDtls`` that identifies a payment."""
    return _entry_events(root, context, "Stmt", EventType.STATEMENT_ENTRY)


def _entry_events(
    root: Node, context: MessageContext, report_element: str, event_type: EventType
) -> Iterator[PaymentEvent]:
    for report in root.children(report_element):
        account = report.account("Acct")
        servicer = report.bic("Acct/Svcr")
        report_time = report.timestamp("CreDtTm")
        for entry in report.children("Ntry"):
            details = [tx for block in entry.children("NtryDtls") for tx in block.children("TxDtls")]
            # Sts/Cd (or Sts/Prtry) from .08 on; plain text before.
            status = first_present(entry.text("Sts/Cd"), entry.text("Sts/Prtry"), entry.text("Sts"))
            for tx in details:
                identifiers = read_identifiers(tx.part("Refs"))
                if not identifies_payment(identifiers):
                    continue
                credit_debit = first_present(tx.text("CdtDbtInd"), entry.text("CdtDbtInd"))
                agents = tx.part("RltdAgts")
                parties = _parties(tx, account, credit_debit)
                key = transaction_key(
                    tx,
                    identifiers,
                    first_present(
                        parties["debtor_agent"],
                        servicer if credit_debit == DEBIT else None,
                        agents.bic("InstgAgt"),
                    ),
                )
                yield PaymentEvent(
                    **context.fields,
                    payment_id=key,
                    event_type=event_type,
                    event_time=context.event_time(
                        first_present(
                            entry.timestamp("BookgDt/DtTm"),
                            entry.timestamp("ValDt/DtTm"),
                            tx.timestamp("RltdDts/TxDtTm"),
                            tx.timestamp("RltdDts/AccptncDtTm"),
                            report_time,
                        )
                    ),
                    **identifiers,
                    status=status,
                    reason=tx.reason("RtrInf"),
                    **amount_fields(
                        tx.amount("Amt"),
                        tx.amount("AmtDtls/TxAmt/Amt"),
                        # The entry amount is the transaction's only when the entry holds just it.
                        entry.amount("Amt") if len(details) == 1 else None,
                    ),
                    credit_debit=credit_debit,
                    instructing_agent=agents.bic("InstgAgt"),
                    instructed_agent=agents.bic("InstdAgt"),
                    **parties,
                    settlement_date=first_present(
                        tx.iso_date("RltdDts/IntrBkSttlmDt"),
                        entry.choice_date("ValDt"),
                        entry.choice_date("BookgDt"),
                    ),
                )


def _parties(tx: Node, account: str | None, credit_debit: str | None) -> PartyFields:
    parties = parties_of(tx.part("RltdPties"))
    agents = tx.part("RltdAgts")
    parties["debtor_agent"] = first_present(agents.bic("DbtrAgt"), parties["debtor_agent"])
    parties["creditor_agent"] = first_present(agents.bic("CdtrAgt"), parties["creditor_agent"])
    if credit_debit == CREDIT:
        parties["creditor_account"] = first_present(parties["creditor_account"], account)
    elif credit_debit == DEBIT:
        parties["debtor_account"] = first_present(parties["debtor_account"], account)
    return parties
