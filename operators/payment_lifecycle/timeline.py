"""One line of a payment's story: what one message said about it, reduced to what the lifecycle reads.

The lifecycle keeps these entries rather than the raw :class:`PaymentEvent`, for two reasons:

* **Deduplication.** An entry holds exactly the facts the lifecycle derives anything from, so the
  entry itself is the dedupe key: message type and id, event type, the transaction's identity
  (UETR, end-to-end id, transaction id, instruction id), status, reason, credit/debit mark, amount,
  currency, the two agents, the cover flag and the event time. A message delivered twice — from two
  channels, or once bare and once in an envelope with its own business message id — yields two equal
  entries, which collapse into one. Two different transactions, or two different answers in one
  message, never do, so a genuine double payment stays visible.
* **PII.** Names and accounts never enter keyed state or a change record (see the warning in
  :mod:`streamledger.iso20022.events`).

Agents are stored as normalized BICs (upper case, no ``XXX`` branch), the form the payment key uses,
so ``DEUTDEFF`` and ``DEUTDEFFXXX`` name the same bank on every leg.

Timeline order is total and depends on nothing but the entry: event time, then process stage (at
the same instant, a message that answers another comes after it: pain.001, pacs.008/pacs.009,
pacs.002, pain.002, camt.054/camt.053, camt.056, camt.029, pacs.004), then message type and id, then
every remaining field. It never looks at arrival order or at other entries, so any delivery order of
the same messages gives the same timeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Final

from streamledger.iso20022.events import EventType, PaymentEvent
from streamledger.iso20022.payment_key import normalize_bic

# Process stage of each event type: the tie-break for messages stamped with the same instant.
STAGE: Final[dict[EventType, int]] = {
    EventType.INITIATION: 0,
    EventType.INTERBANK_TRANSFER: 1,
    EventType.FI_TRANSFER: 1,
    EventType.STATUS_REPORT: 2,
    EventType.STATUS_REPORT_GROUP: 2,
    EventType.CUSTOMER_STATUS: 3,
    EventType.CUSTOMER_STATUS_GROUP: 3,
    EventType.ACCOUNT_NOTIFICATION: 4,
    EventType.STATEMENT_ENTRY: 4,
    EventType.CANCELLATION_REQUEST: 5,
    EventType.CANCELLATION_REQUEST_GROUP: 5,
    EventType.CANCELLATION_RESOLUTION: 6,
    EventType.CANCELLATION_RESOLUTION_GROUP: 6,
    EventType.RETURN: 7,
    EventType.RETURN_GROUP: 7,
}

_Text = tuple[bool, str]
OrderKey = tuple[datetime, int, str, str, str, tuple[_Text, ...], bool]


def _text(value: str | None) -> _Text:
    """Sortable form of an optional text: absent sorts before any value."""
    return (value is not None, value or "")


@dataclass(frozen=True, slots=True, kw_only=True)
class TimelineEntry:
    """What one message says about the payment (one transaction of it), without PII."""

    event_time: datetime
    event_type: EventType
    message_type: str
    message_id: str
    status: str | None = None
    reason: str | None = None
    instructing_agent: str | None = None
    instructed_agent: str | None = None
    uetr: str | None = None
    end_to_end_id: str | None = None
    tx_id: str | None = None
    instruction_id: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    credit_debit: str | None = None
    cover: bool = False

    def order_key(self) -> OrderKey:
        """Position in the timeline (see the module docstring); distinct entries never tie.

        The amount takes part as written (``"1.0"`` and ``"1.00"`` differ), so that of two entries
        that compare equal, the lifecycle can keep the same one whatever order they came in.
        """
        return (
            self.event_time,
            STAGE[self.event_type],
            self.message_type,
            self.message_id,
            self.event_type.value,
            tuple(
                _text(value)
                for value in (
                    self.uetr,
                    self.end_to_end_id,
                    self.tx_id,
                    self.instruction_id,
                    self.status,
                    self.reason,
                    self.credit_debit,
                    self.instructing_agent,
                    self.instructed_agent,
                    None if self.amount is None else str(self.amount),
                    self.currency,
                )
            ),
            self.cover,
        )


def entry_of(event: PaymentEvent) -> TimelineEntry:
    """The timeline entry of one canonical event."""
    return TimelineEntry(
        event_time=event.event_time,
        event_type=event.event_type,
        message_type=event.message_type,
        message_id=event.message_id,
        status=event.status,
        reason=event.reason,
        instructing_agent=normalize_bic(event.instructing_agent),
        instructed_agent=normalize_bic(event.instructed_agent),
        uetr=event.uetr,
        end_to_end_id=event.end_to_end_id,
        tx_id=event.tx_id,
        instruction_id=event.instruction_id,
        amount=event.amount,
        currency=event.currency,
        credit_debit=event.credit_debit,
        cover=event.cover,
    )
