"""ISO 20022 payment messages → canonical payment events.

Parses pain, pacs and camt messages (bare, or wrapped with a business application header in any
envelope) from untrusted bytes into one :class:`PaymentEvent` per transaction, each keyed by a
``payment_id`` that is the same for every message about the same payment (see
:mod:`streamledger.iso20022.payment_key`). Supported versions: :data:`SUPPORTED_MESSAGE_TYPES`.

.. warning:: Events carry debtor/creditor names and accounts raw (PII); they must be tokenized
   before reaching any projection.
"""

from streamledger.iso20022.catalogue import SUPPORTED_MESSAGE_TYPES
from streamledger.iso20022.errors import (
    HostileMessageError,
    Iso20022Error,
    MalformedMessageError,
    UnsupportedMessageError,
)
from streamledger.iso20022.events import AppHeader, EventType, ParsedMessage, PaymentEvent
from streamledger.iso20022.parser import parse_message
from streamledger.iso20022.payment_key import group_key, payment_key
from streamledger.iso20022.secure_xml import DEFAULT_MAX_BYTES
from streamledger.iso20022.serialization import event_to_json_dict

__all__ = [
    "DEFAULT_MAX_BYTES",
    "SUPPORTED_MESSAGE_TYPES",
    "AppHeader",
    "EventType",
    "HostileMessageError",
    "Iso20022Error",
    "MalformedMessageError",
    "ParsedMessage",
    "PaymentEvent",
    "UnsupportedMessageError",
    "event_to_json_dict",
    "group_key",
    "parse_message",
    "payment_key",
]
