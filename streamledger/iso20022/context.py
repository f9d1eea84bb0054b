"""What every per-message mapping needs to know about the message as a whole."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from streamledger.iso20022.events import MessageFields


@dataclass(frozen=True, slots=True)
class MessageContext:
    """Message-level facts shared by all events of one message.

    ``created_at`` is the message's creation time (group header, else the application header); an
    event falls back to it when its transaction carries no timestamp of its own.
    """

    fields: MessageFields
    created_at: datetime

    def event_time(self, transaction_time: datetime | None) -> datetime:
        return transaction_time if transaction_time is not None else self.created_at
