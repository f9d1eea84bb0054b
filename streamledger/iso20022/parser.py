"""Entry point: one ISO 20022 input (file or payload) in, its canonical payment events out.

Messages about one payment reach us from several channels, in any order and possibly twice. This
module does no correlation itself; it only guarantees that every supported message type and version
becomes the same :class:`PaymentEvent` shape with a deterministic ``payment_id``, which is what
lets the stream jobs correlate and deduplicate downstream.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from streamledger.iso20022 import account_reports, cancellations, credit_transfers, returns, status_reports
from streamledger.iso20022.catalogue import family_of
from streamledger.iso20022.context import MessageContext
from streamledger.iso20022.envelope import unwrap
from streamledger.iso20022.errors import (
    Iso20022Error,
    MalformedMessageError,
    UnsupportedMessageError,
    located,
)
from streamledger.iso20022.events import MessageFields, ParsedMessage, PaymentEvent
from streamledger.iso20022.reader import Node, first_present
from streamledger.iso20022.secure_xml import DEFAULT_MAX_BYTES, parse_untrusted


@dataclass(frozen=True, slots=True)
class _Mapping:
    """How one message family is read: its business element, identity, creation time and events."""

    root_element: str
    id_path: str
    created_path: str
    events: Callable[[Node, MessageContext], Iterable[PaymentEvent]]
    # Reports about accounts may list only non-payment entries; payment messages must yield events.
    may_be_empty: bool = False


_GROUP_HEADER = ("GrpHdr/MsgId", "GrpHdr/CreDtTm")
_CASE_ASSIGNMENT = ("Assgnmt/Id", "Assgnmt/CreDtTm")

_MAPPINGS: dict[str, _Mapping] = {
    "pain.001": _Mapping("CstmrCdtTrfInitn", *_GROUP_HEADER, credit_transfers.initiation_events),
    "pain.002": _Mapping("CstmrPmtStsRpt", *_GROUP_HEADER, status_reports.customer_status_events),
    "pacs.008": _Mapping("FIToFICstmrCdtTrf", *_GROUP_HEADER, credit_transfers.interbank_transfer_events),
    "pacs.009": _Mapping("FICdtTrf", *_GROUP_HEADER, credit_transfers.fi_transfer_events),
    "pacs.002": _Mapping("FIToFIPmtStsRpt", *_GROUP_HEADER, status_reports.fi_status_events),
    "pacs.004": _Mapping("PmtRtr", *_GROUP_HEADER, returns.return_events),
    "camt.056": _Mapping("FIToFIPmtCxlReq", *_CASE_ASSIGNMENT, cancellations.cancellation_request_events),
    "camt.029": _Mapping("RsltnOfInvstgtn", *_CASE_ASSIGNMENT, cancellations.cancellation_resolution_events),
    "camt.054": _Mapping(
        "BkToCstmrDbtCdtNtfctn", *_GROUP_HEADER, account_reports.notification_events, may_be_empty=True
    ),
    "camt.053": _Mapping(
        "BkToCstmrStmt", *_GROUP_HEADER, account_reports.statement_events, may_be_empty=True
    ),
}


def parse_message(
    data: bytes, *, source: str = "<bytes>", max_bytes: int = DEFAULT_MAX_BYTES
) -> ParsedMessage:
    """Parse one ISO 20022 message into its canonical events, one per transaction.

    ``source`` names the input (a file path, a topic/offset) and is kept on the result and on
    errors (as ``error.source``) for reporting; it never changes how the input is read.

    Raises :class:`~streamledger.iso20022.errors.HostileMessageError`,
    :class:`~streamledger.iso20022.errors.MalformedMessageError` or
    :class:`~streamledger.iso20022.errors.UnsupportedMessageError`.
    """
    try:
        return _parse(data, source, max_bytes)
    except Iso20022Error as error:
        error.source = source
        raise


def _parse(data: bytes, source: str, max_bytes: int) -> ParsedMessage:
    unwrapped = unwrap(parse_untrusted(data, max_bytes=max_bytes))
    message_type = unwrapped.message_type
    mapping = _MAPPINGS.get(family_of(message_type))
    if mapping is None:  # the catalogue and this table are kept in step by tests
        raise UnsupportedMessageError(f"{message_type} has no mapping to payment events")
    with located(message_type):
        if unwrapped.root_name != mapping.root_element:
            raise MalformedMessageError(
                f"Document holds {unwrapped.root_name}, expected {mapping.root_element}"
            )
        root = unwrapped.root
        header = unwrapped.app_header
        message_id = root.required_text(mapping.id_path)
        created_at = first_present(
            root.timestamp(mapping.created_path), header.created_at if header else None
        )
        if created_at is None:
            raise MalformedMessageError(f"missing {root.path}/{mapping.created_path}")
        business_message_id = header.business_message_id if header else None
        context = MessageContext(
            fields=MessageFields(
                message_type=message_type,
                message_id=message_id,
                business_message_id=business_message_id,
            ),
            created_at=created_at,
        )
        events = tuple(mapping.events(root, context))
        if not events and not mapping.may_be_empty:
            raise MalformedMessageError(f"{root.path} carries no transactions")
    return ParsedMessage(
        message_type=message_type,
        message_id=message_id,
        business_message_id=business_message_id,
        events=events,
        app_header=header,
        source=source,
    )
