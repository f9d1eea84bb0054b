"""Keyed state of one member (frozen) and the operational configuration of the accrual core."""

from __future__ import annotations

from dataclasses import dataclass

from operators.loyalty._time import DAY_MS, add_months
from operators.loyalty.pii import PiiKey, Protected

#: De-duplication retention: event IDs are remembered for 35 days of event time behind the latest
#: event of the member. An event older than that horizon is rejected as TOO_LATE rather than
#: risking a double credit. Partner feeds must deliver within this lateness.
DEFAULT_DEDUPE_RETENTION_MS = 35 * DAY_MS

#: How long an activity's accrual is kept so a cancellation can reverse it (and the rolling
#: qualifying window can count it): the longer of this and the qualifying window.
DEFAULT_REFUND_WINDOW_MONTHS = 13


@dataclass(frozen=True, slots=True)
class AccrualConfig:
    """Operational settings (the programme's rules live in the rules file, not here)."""

    pii_key: PiiKey
    dedupe_retention_ms: int = DEFAULT_DEDUPE_RETENTION_MS
    refund_window_months: int = DEFAULT_REFUND_WINDOW_MONTHS

    def __post_init__(self) -> None:
        if self.dedupe_retention_ms <= 0:
            raise ValueError(f"dedupe_retention_ms must be positive, got {self.dedupe_retention_ms}")
        if self.refund_window_months < 1:
            raise ValueError(f"refund_window_months must be at least 1, got {self.refund_window_months}")
        if self.refund_window_months * 28 * DAY_MS < self.dedupe_retention_ms:
            raise ValueError("refund_window_months must cover at least dedupe_retention_ms")


@dataclass(frozen=True, slots=True)
class AccrualPart:
    """One EARN or BONUS movement of an activity, kept so a cancellation can mirror it exactly."""

    kind: str
    rule_id: str
    points: int
    reason: str


@dataclass(frozen=True, slots=True)
class Accrual:
    """What one activity earned (points per rule, qualifying points) and whether it was reversed."""

    event_id: str
    activity: str
    event_time_ms: int
    qualifying_points: int
    parts: tuple[AccrualPart, ...]
    rules_version: str
    reversed_by: str | None = None

    @property
    def points(self) -> int:
        return sum(part.points for part in self.parts)


@dataclass(frozen=True, slots=True)
class Debt:
    """Points of a reversal the balance could not cover; recovered from the next credits."""

    original_event_id: str
    cancellation_event_id: str
    rule_id: str
    rules_version: str
    points: int


@dataclass(frozen=True, slots=True)
class PendingCancellation:
    """A cancellation that arrived before its activity; applied when the activity arrives."""

    event_id: str
    original_event_id: str
    event_time_ms: int
    kind: str


@dataclass(frozen=True, slots=True)
class Contact:
    """Contact data as tokens and masked forms only (see :mod:`operators.loyalty.pii`)."""

    name: Protected | None = None
    email: Protected | None = None
    phone: Protected | None = None
    address: Protected | None = None


@dataclass(frozen=True, slots=True)
class MemberState:
    """Everything the core knows about one member. Bounded: see the retention notes per field.

    ``seen`` holds (event id, event time) of every accepted or refused event back to
    ``clock_ms - dedupe_retention_ms``; ``accruals`` holds activities back to the longer of the
    refund window and the qualifying window; ``pending`` holds cancellations waiting for their
    activity, dropped (as ORPHAN_CANCELLATION) once they fall behind the de-duplication horizon;
    ``month_accrued`` holds per-month earnings for the monthly cap, for months inside the horizon.
    """

    member_id: str
    enrolled_ms: int
    tier: str
    membership_year_end_ms: int
    balance: int
    lifetime_points: int
    clock_ms: int
    last_activity_ms: int
    contact: Contact
    accruals: tuple[Accrual, ...] = ()
    seen: tuple[tuple[str, int], ...] = ()
    pending: tuple[PendingCancellation, ...] = ()
    debts: tuple[Debt, ...] = ()
    month_accrued: tuple[tuple[str, int], ...] = ()
    version: int = 0

    @property
    def points_owed(self) -> int:
        return sum(debt.points for debt in self.debts)

    def accrual(self, event_id: str) -> Accrual | None:
        return next((a for a in self.accruals if a.event_id == event_id), None)

    def has_seen(self, event_id: str) -> bool:
        return any(seen_id == event_id for seen_id, _ in self.seen)

    def accrued_in(self, month: str) -> int:
        return next((points for key, points in self.month_accrued if key == month), 0)

    def qualifying_points(self, at_ms: int, window_months: int) -> int:
        """Qualifying points of non-reversed activities with event time in ``(at - window, at]``."""
        start = add_months(at_ms, -window_months)
        return sum(
            a.qualifying_points
            for a in self.accruals
            if a.reversed_by is None and start < a.event_time_ms <= at_ms
        )
