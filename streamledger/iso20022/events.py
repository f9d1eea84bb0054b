"""The canonical payment event: one transaction's view of one message, whatever its type or version.

Downstream jobs correlate messages about the same payment that arrive from several channels, in any
order and possibly twice. They can only do that if every message type lands in the same shape with
the same key (``payment_id``, see :mod:`streamledger.iso20022.payment_key`), so this shape is the
contract between message parsing and the stream jobs.

.. warning:: **PII.** ``debtor_name``, ``debtor_account``, ``creditor_name`` and
   ``creditor_account`` are carried exactly as received (names, IBANs). Tokenization happens later
   in the pipeline; these fields must never be written to projections, logs or metrics untokenized.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TypedDict


class EventType(StrEnum):
    """What a message says happened to a payment; the value is the wire/JSON spelling.

    ``*_GROUP`` types come from messages that only speak about a whole earlier message (a group
    status, a group cancellation) with no per-transaction detail: they apply to every transaction of
    that message and are keyed ``msg:<original message id>``.
    """

    INITIATION = "INITIATION"
    CUSTOMER_STATUS = "CUSTOMER_STATUS"
    CUSTOMER_STATUS_GROUP = "CUSTOMER_STATUS_GROUP"
    INTERBANK_TRANSFER = "INTERBANK_TRANSFER"
    FI_TRANSFER = "FI_TRANSFER"
    STATUS_REPORT = "STATUS_REPORT"
    STATUS_REPORT_GROUP = "STATUS_REPORT_GROUP"
    RETURN = "RETURN"
    RETURN_GROUP = "RETURN_GROUP"
    CANCELLATION_REQUEST = "CANCELLATION_REQUEST"
    CANCELLATION_REQUEST_GROUP = "CANCELLATION_REQUEST_GROUP"
    CANCELLATION_RESOLUTION = "CANCELLATION_RESOLUTION"
    CANCELLATION_RESOLUTION_GROUP = "CANCELLATION_RESOLUTION_GROUP"
    ACCOUNT_NOTIFICATION = "ACCOUNT_NOTIFICATION"
    STATEMENT_ENTRY = "STATEMENT_ENTRY"


class MessageFields(TypedDict):
    """The fields every event of one message shares; mappings splat them into each event."""

    message_type: str
    message_id: str
    business_message_id: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentEvent:
    """One transaction as one message reports it.

    ``uetr`` and ``end_to_end_id`` identify the payment end to end and read the same on every
    message about it: a message that refers to an earlier one (status report, return, cancellation
    request or resolution, customer status) fills them from ``OrgnlUETR``/``OrgnlEndToEndId``.
    ``tx_id`` and ``instruction_id`` are point-to-point references of this message's own hop and
    stay ``None`` in referring messages, whose ``original_*`` fields carry what they refer to;
    ``payment_id`` is derived from those.

    ``debtor_*``/``creditor_*`` are the parties of the flow this message describes: for a return
    (pacs.004) that is the return flow, in which the original creditor pays back. For statement and
    notification entries, the reported account fills the creditor account of a credit entry and the
    debtor account of a debit entry when the entry does not name it.

    ``event_time`` is when the transaction itself happened where the message says so (acceptance,
    processing, effective settlement or booking time), else when the message was created (group
    header, else application header). It is always UTC; a timestamp without an offset is taken as
    UTC (see :mod:`streamledger.iso20022.values`).

    .. warning:: ``debtor_name``, ``debtor_account``, ``creditor_name`` and ``creditor_account`` are
       PII, carried raw; tokenize before writing them to any projection.
    """

    message_type: str
    message_id: str
    business_message_id: str | None
    payment_id: str
    event_type: EventType
    event_time: datetime
    end_to_end_id: str | None = None
    uetr: str | None = None
    tx_id: str | None = None
    instruction_id: str | None = None
    status: str | None = None
    reason: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    credit_debit: str | None = None
    cover: bool = False
    instructing_agent: str | None = None
    instructed_agent: str | None = None
    debtor_agent: str | None = None
    creditor_agent: str | None = None
    debtor_name: str | None = None
    debtor_account: str | None = None
    creditor_name: str | None = None
    creditor_account: str | None = None
    settlement_date: date | None = None
    charge_bearer: str | None = None
    original_message_id: str | None = None
    original_message_type: str | None = None
    original_end_to_end_id: str | None = None
    original_tx_id: str | None = None
    original_instruction_id: str | None = None
    original_uetr: str | None = None


@dataclass(frozen=True, slots=True)
class AppHeader:
    """What the business application header (head.001) says about the message it wraps."""

    business_message_id: str | None
    message_definition_id: str | None
    created_at: datetime | None


@dataclass(frozen=True, slots=True)
class ParsedMessage:
    """One input file or payload, and the events it fans out to (one per transaction)."""

    message_type: str
    message_id: str
    business_message_id: str | None
    events: tuple[PaymentEvent, ...]
    app_header: AppHeader | None = None
    source: str = "<bytes>"
