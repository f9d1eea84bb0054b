"""A payment's lifecycle as keyed state: ``apply(state, event) -> (new state, outputs)``.

The state of one ``payment_id`` is the deduplicated set of its timeline entries (see
:mod:`operators.payment_lifecycle.timeline` for the dedupe key), kept in timeline order, plus what
is derived from them: route, status, cancellation (:mod:`operators.payment_lifecycle.status`),
amount and references. Everything derived is recomputed from the whole set on each change rather
than advanced by transitions, so the state after a set of events is the same whatever order they
arrived in and however often each was delivered (``version`` aside, beyond the cap; see below). A
redelivered message changes nothing: ``apply`` returns the very same state and no output.

Outputs: one :class:`LifecycleChanged` when the view an operator acts on — status, its reason,
cancellation — changed; nothing when an event only adds a line to the timeline (a late status
report that confirms what is already known) or was a duplicate.

Bounded state: at most :data:`MAX_ENTRIES` entries per payment. A real payment has a few dozen
messages at most; the cap protects the job from a key that collects far more (a sender reusing one
UETR for many payments). Beyond it, the entries kept are the strongest by
:class:`~operators.payment_lifecycle.status.Evidence` (an accepted cancellation, a return, a
rejection … before mere acknowledgements), earliest first among equals — a choice that depends only
on the entries, so even a truncated timeline, and all that is derived from it, is the same for every
delivery order. ``truncated`` records that something was left out.

``version`` counts the entries this state has taken in. While the cap is not reached it equals the
number of entries, so it too is independent of delivery order; every output has a higher version
than the one before, which lets a compacted topic or a projection drop stale rows. Beyond the cap it
keeps counting entries that displace others and only then depends on delivery order.

Late data: this core accepts any event at any time. Bounding lateness is the Flink job's business:
it will route events older than the watermark minus the allowed lateness to a side output for
reconciliation instead of applying them, because by then the payment's state may have expired and
the event would start a new, misleading lifecycle of its own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Final

from operators.payment_lifecycle.route import Leg, route_of
from operators.payment_lifecycle.status import CancellationStatus, PaymentStatus, derive, evidence_of
from operators.payment_lifecycle.timeline import OrderKey, TimelineEntry, entry_of
from streamledger.iso20022.events import EventType, PaymentEvent

MAX_ENTRIES: Final = 256

# Where the payment's amount is read from, in order of preference: what the customer instructed,
# else what the first transfer settled (later legs may have had charges deducted).
_AMOUNT_SOURCES: Final = (
    frozenset({EventType.INITIATION}),
    frozenset({EventType.INTERBANK_TRANSFER, EventType.FI_TRANSFER}),
    frozenset(EventType),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentLifecycle:
    """Everything known about one payment. Build it with :func:`apply`, never by hand.

    ``timeline`` is the deduplicated set of entries in timeline order. ``last_updated`` is the
    latest event time among them (event time, not processing time: the core has no clock).
    """

    payment_id: str
    timeline: tuple[TimelineEntry, ...]
    route: tuple[Leg, ...]
    status: PaymentStatus
    status_reason: str | None
    cancellation: CancellationStatus | None
    amount: Decimal | None
    currency: str | None
    uetr: str | None
    end_to_end_id: str | None
    last_updated: datetime
    truncated: bool
    version: int

    def view(self) -> tuple[PaymentStatus, str | None, CancellationStatus | None]:
        """What an operator acts on; a change to it is what :func:`apply` reports."""
        return self.status, self.status_reason, self.cancellation


@dataclass(frozen=True, slots=True, kw_only=True)
class LifecycleChanged:
    """The view of a payment changed. ``previous_status`` is ``None`` for a payment's first event.

    ``cause`` is the timeline entry of the event that changed it (not the raw event, which carries
    PII); ``version`` is the new state's version.
    """

    payment_id: str
    previous_status: PaymentStatus | None
    status: PaymentStatus
    status_reason: str | None
    previous_cancellation: CancellationStatus | None
    cancellation: CancellationStatus | None
    cause: TimelineEntry
    version: int


def apply(
    state: PaymentLifecycle | None, event: PaymentEvent, *, max_entries: int = MAX_ENTRIES
) -> tuple[PaymentLifecycle, tuple[LifecycleChanged, ...]]:
    """Take one event into a payment's state (``None`` for a payment not seen yet).

    ``max_entries`` must stay the same for the life of a state; it is a parameter for tests.
    Raises ``ValueError`` for an event of another payment: the job keys its state by ``payment_id``,
    so that would be a wiring bug.
    """
    if max_entries < 1:
        raise ValueError(f"max_entries must be positive, got {max_entries}")
    entry = entry_of(event)
    if state is None:
        first = _lifecycle(event.payment_id, (entry,), truncated=False, version=1)
        return first, (_changed(None, first, entry),)
    if event.payment_id != state.payment_id:
        raise ValueError(f"event for {event.payment_id} applied to the state of {state.payment_id}")
    equal = next((kept for kept in state.timeline if kept == entry), None)
    if equal is not None:
        if equal.order_key() <= entry.order_key():
            return state, ()  # a duplicate delivery
        # Equal but written differently (an amount of "1.0" against "1.00"): keep the one that sorts
        # first, so the state does not depend on which came first. The view cannot change.
        timeline = _in_order(entry if kept == entry else kept for kept in state.timeline)
        return _lifecycle(state.payment_id, timeline, truncated=state.truncated, version=state.version), ()
    candidates = [*state.timeline, entry]
    truncated = state.truncated
    if len(candidates) > max_entries:
        truncated = True
        weakest = max(candidates, key=_retention_rank)
        if weakest == entry:  # refused: only the fact that something was left out can be new
            return (state if state.truncated else dataclasses.replace(state, truncated=True)), ()
        candidates.remove(weakest)
    new_state = _lifecycle(
        state.payment_id, _in_order(candidates), truncated=truncated, version=state.version + 1
    )
    if new_state.view() == state.view():
        return new_state, ()
    return new_state, (_changed(state, new_state, entry),)


def fold(events: Iterable[PaymentEvent], *, max_entries: int = MAX_ENTRIES) -> dict[str, PaymentLifecycle]:
    """Every payment's lifecycle after ``events``, by ``payment_id``: what the job's keyed state
    holds once it has applied them, one at a time, through :func:`apply`."""
    states: dict[str, PaymentLifecycle] = {}
    for event in events:
        states[event.payment_id], _ = apply(states.get(event.payment_id), event, max_entries=max_entries)
    return states


def restore(
    payment_id: str, entries: Iterable[TimelineEntry], *, truncated: bool, version: int
) -> PaymentLifecycle:
    """The state that held ``entries``, as read back from keyed state: everything derived (route,
    status, amounts …) is recomputed, so only the entries need storing and a fix to a derivation
    rule applies to restored payments too."""
    return _lifecycle(payment_id, _in_order(entries), truncated=truncated, version=version)


def _in_order(entries: Iterable[TimelineEntry]) -> tuple[TimelineEntry, ...]:
    return tuple(sorted(entries, key=TimelineEntry.order_key))


def _retention_rank(entry: TimelineEntry) -> tuple[int, OrderKey]:
    """Strongest evidence first, then earliest: the entries kept when the cap bites."""
    return -evidence_of(entry), entry.order_key()


def _lifecycle(
    payment_id: str, timeline: tuple[TimelineEntry, ...], *, truncated: bool, version: int
) -> PaymentLifecycle:
    """A state holding ``timeline``, with everything else derived from it."""
    route = route_of(timeline)
    derived = derive(timeline, route)
    priced = _priced_entry(timeline)
    return PaymentLifecycle(
        payment_id=payment_id,
        timeline=timeline,
        route=route,
        status=derived.status,
        status_reason=derived.status_reason,
        cancellation=derived.cancellation,
        amount=priced.amount if priced else None,
        currency=priced.currency if priced else None,
        uetr=next((entry.uetr for entry in timeline if entry.uetr), None),
        end_to_end_id=next((entry.end_to_end_id for entry in timeline if entry.end_to_end_id), None),
        last_updated=timeline[-1].event_time,
        truncated=truncated,
        version=version,
    )


def _priced_entry(timeline: tuple[TimelineEntry, ...]) -> TimelineEntry | None:
    for sources in _AMOUNT_SOURCES:
        found = next((e for e in timeline if e.event_type in sources and e.amount is not None), None)
        if found is not None:
            return found
    return None


def _changed(
    previous: PaymentLifecycle | None, state: PaymentLifecycle, cause: TimelineEntry
) -> LifecycleChanged:
    return LifecycleChanged(
        payment_id=state.payment_id,
        previous_status=previous.status if previous else None,
        status=state.status,
        status_reason=state.status_reason,
        previous_cancellation=previous.cancellation if previous else None,
        cancellation=state.cancellation,
        cause=cause,
        version=state.version,
    )
