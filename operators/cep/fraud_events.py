"""The event shape the fraud rules read: one flat record per customer action.

Upstream jobs map payments, profile/contact changes, logins and loyalty redemptions onto this
one type and key the stream by ``key`` (the customer), so every rule sees a customer's actions
in one ordered stream, which is what cross-kind sequences (change, then payment) need.
Amounts are in minor units of the account's currency; the rules compare them to thresholds in
the same units.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class EventKind(enum.StrEnum):
    PAYMENT = "payment"
    PROFILE_CHANGE = "profile_change"
    BENEFICIARY_ADDED = "beneficiary_added"
    CONTACT_CHANGE = "contact_change"
    LOGIN_FAILED = "login_failed"
    LOGIN_SUCCEEDED = "login_succeeded"
    POINTS_REDEMPTION = "points_redemption"


@dataclass(frozen=True, slots=True)
class FraudEvent:
    event_id: str
    key: str
    """The customer the event belongs to; the CEP operator is keyed by it."""
    kind: EventKind
    timestamp_ms: int
    amount_minor: int = 0
    """Payment amount (minor units)."""
    creditor: str | None = None
    """Payment creditor account, or the account a ``BENEFICIARY_ADDED`` event registers."""
    changed_field: str | None = None
    """What a ``CONTACT_CHANGE``/``PROFILE_CHANGE`` changed, e.g. ``"email"`` or ``"phone"``."""
    points: int = 0
    """Points redeemed by a ``POINTS_REDEMPTION``."""
    points_balance: int = 0
    """Points balance just before a ``POINTS_REDEMPTION``."""
    latitude: float | None = None
    longitude: float | None = None
    """Where the action happened (card terminal, login IP geolocation), when known."""

    @property
    def has_location(self) -> bool:
        return self.latitude is not None and self.longitude is not None


def timestamp_of(event: FraudEvent) -> int:
    """Event time in epoch ms; the ``timestamp_of`` the ``CepProcessor`` for fraud rules uses."""
    return event.timestamp_ms
