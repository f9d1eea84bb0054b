"""When a payment reached each stage, how long it took, whether its amounts agree, and its SLA.

Operations measure payments by their milestones (initiation → settlement → credit) and act on the
ones that stall. Like the status, every value here is a function of the set of timeline entries,
never of arrival order: a milestone is the *earliest* event time of an entry that proves the stage
(:class:`~operators.payment_lifecycle.status.Evidence`), so a late pacs.002 moves a milestone back
to when it really happened.

=================== ============================================================================
``initiated_at``    earliest entry of any kind (the pain.001 when there is one)
``accepted_at``     earliest entry proving a bank took the payment (pacs.008/009, ACTC/ACSP …)
``settled_at``      earliest ACSC or booked debit
``credited_at``     earliest ACCC/CPUC or booked credit
``finished_at``     for a payment in a terminal status, the earliest entry proving that outcome
=================== ============================================================================

Terminal statuses are CREDITED, REJECTED, RETURNED and CANCELLED: nothing further is expected,
so the job may forget the payment some retention time after its last message (bounded state).

**Reconciliation** compares the instructed amount (the lifecycle's ``amount``/``currency``) with
the amount of the latest settlement or credit that states one:

- ``MATCHED`` — same currency and amount;
- ``PARTIAL`` — less arrived than was instructed (partial settlement, or charges deducted under
  SHAR/CRED — either way something operations should see);
- ``EXCESS`` — more arrived than was instructed;
- ``CURRENCY_MISMATCH`` — settled in another currency than instructed;
- ``None`` — nothing to compare yet.

**SLA**: a payment *breached its SLA* when, at ``initiated_at + sla``, it was neither settled or
credited nor finished. The job checks it with an event-time timer at that instant; because the
check reads milestones (event times), a settlement message that arrives after the timer but
happened before the deadline clears the flag again, and the final answer is order-independent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Final

from operators.payment_lifecycle.lifecycle import PaymentLifecycle
from operators.payment_lifecycle.status import Evidence, PaymentStatus, evidence_of
from operators.payment_lifecycle.timeline import TimelineEntry

TERMINAL_STATUSES: Final = frozenset(
    {PaymentStatus.CREDITED, PaymentStatus.REJECTED, PaymentStatus.RETURNED, PaymentStatus.CANCELLED}
)

_ACCEPTED: Final = frozenset({Evidence.ACCEPTED, Evidence.PENDING, Evidence.SETTLED, Evidence.CREDITED})
_SETTLED: Final = frozenset({Evidence.SETTLED})
_CREDITED: Final = frozenset({Evidence.CREDITED})
_FINISHING: Final[dict[PaymentStatus, frozenset[Evidence]]] = {
    PaymentStatus.CREDITED: frozenset({Evidence.CREDITED}),
    PaymentStatus.REJECTED: frozenset({Evidence.REJECTED}),
    PaymentStatus.RETURNED: frozenset({Evidence.RETURNED}),
    PaymentStatus.CANCELLED: frozenset({Evidence.CANCELLED}),
}


class Reconciliation(StrEnum):
    MATCHED = "MATCHED"
    PARTIAL = "PARTIAL"
    EXCESS = "EXCESS"
    CURRENCY_MISMATCH = "CURRENCY_MISMATCH"


@dataclass(frozen=True, slots=True)
class Milestones:
    initiated_at: datetime
    accepted_at: datetime | None
    settled_at: datetime | None
    credited_at: datetime | None
    finished_at: datetime | None
    reconciliation: Reconciliation | None

    @property
    def settled_or_credited_at(self) -> datetime | None:
        known = [t for t in (self.settled_at, self.credited_at) if t is not None]
        return min(known) if known else None

    def duration_ms(self, start: datetime | None, end: datetime | None) -> int | None:
        """Milliseconds from ``start`` to ``end``; None unless both happened (never negative)."""
        if start is None or end is None:
            return None
        return max(0, int((end - start) / timedelta(milliseconds=1)))

    def sla_breached(self, sla: timedelta) -> bool:
        """At ``initiated_at + sla`` the payment was neither settled/credited nor finished."""
        deadline = self.initiated_at + sla
        done = [t for t in (self.settled_or_credited_at, self.finished_at) if t is not None]
        return not done or min(done) > deadline


def is_terminal(lifecycle: PaymentLifecycle) -> bool:
    return lifecycle.status in TERMINAL_STATUSES


def milestones_of(lifecycle: PaymentLifecycle) -> Milestones:
    """The milestones of a lifecycle (see the module docstring)."""
    graded = [(entry, evidence_of(entry)) for entry in lifecycle.timeline]
    finishing = _FINISHING.get(lifecycle.status)
    return Milestones(
        initiated_at=lifecycle.timeline[0].event_time,
        accepted_at=_earliest(graded, _ACCEPTED),
        settled_at=_earliest(graded, _SETTLED),
        credited_at=_earliest(graded, _CREDITED),
        finished_at=_earliest(graded, finishing) if finishing else None,
        reconciliation=_reconcile(lifecycle, graded),
    )


def _earliest(graded: list[tuple[TimelineEntry, Evidence]], wanted: frozenset[Evidence]) -> datetime | None:
    # The timeline is in order, so the first match is the earliest.
    return next((entry.event_time for entry, evidence in graded if evidence in wanted), None)


def _reconcile(
    lifecycle: PaymentLifecycle, graded: list[tuple[TimelineEntry, Evidence]]
) -> Reconciliation | None:
    if lifecycle.amount is None or lifecycle.currency is None:
        return None
    arrived = next(
        (
            entry
            for entry, evidence in reversed(graded)
            if evidence in (Evidence.SETTLED, Evidence.CREDITED) and entry.amount is not None
        ),
        None,
    )
    if arrived is None or arrived.amount is None:
        return None
    if arrived.currency is not None and arrived.currency != lifecycle.currency:
        return Reconciliation.CURRENCY_MISMATCH
    return _compare(arrived.amount, lifecycle.amount)


def _compare(arrived: Decimal, instructed: Decimal) -> Reconciliation:
    if arrived == instructed:
        return Reconciliation.MATCHED
    return Reconciliation.PARTIAL if arrived < instructed else Reconciliation.EXCESS
