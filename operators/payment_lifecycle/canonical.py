"""The canonical payment event on the wire (``schemas/payments.PaymentEvent.avsc``).

The parse step turns each raw ISO 20022 message into one record per transaction and pseudonymises
the parties on the way: the record has tokens and masked forms where :class:`PaymentEvent` has
names and accounts, so raw PII never crosses the network shuffle, reaches keyed state, or lands in
a checkpoint. Reading a record back gives the event *without* its raw party fields, plus the
:class:`~operators.payment_lifecycle.parties.Parties` the lifecycle keeps.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any, Final

from operators.payment_lifecycle.parties import PARTY_FIELDS, Parties, source_rank
from streamledger.iso20022.events import EventType, PaymentEvent

SCHEMA_NAME: Final = "payments.PaymentEvent"

_RAW_PARTY_FIELDS: Final = frozenset({"debtor_name", "debtor_account", "creditor_name", "creditor_account"})
_EVENT_FIELDS: Final = tuple(
    f.name for f in dataclasses.fields(PaymentEvent) if f.name not in _RAW_PARTY_FIELDS
)


def to_record(event: PaymentEvent, parties: Parties, source: str) -> dict[str, Any]:
    """The Avro record of ``event`` with its parties replaced by ``parties`` (tokens, masks)."""
    record: dict[str, Any] = {name: getattr(event, name) for name in _EVENT_FIELDS}
    record["event_type"] = event.event_type.value
    record["amount"] = None if event.amount is None else str(event.amount)
    record.update({name: getattr(parties, name) for name in PARTY_FIELDS})
    record["source"] = source
    return record


def from_record(record: dict[str, Any]) -> tuple[PaymentEvent, Parties]:
    """The event (raw party fields empty) and its pseudonymised parties."""
    values = {name: record[name] for name in _EVENT_FIELDS}
    values["event_type"] = EventType(record["event_type"])
    values["amount"] = None if record["amount"] is None else Decimal(record["amount"])
    event = PaymentEvent(**values)
    parties = Parties(
        **{name: record[name] for name in PARTY_FIELDS},
        source=source_rank(event),
    )
    return event, parties
