"""What the lifecycle job keeps per payment, and what it publishes: the pure core of its Flink shell.

:func:`on_event` and :func:`on_sla_deadline` are the job's keyed operator without Flink: the shell
(``jobs/payment_lifecycle.py``) only moves :class:`TrackedPayment` in and out of keyed state,
registers the timers this module asks for, and sends the outputs to the sinks.

Per payment it keeps the lifecycle (:mod:`operators.payment_lifecycle.lifecycle`), the pseudonymised
parties (:mod:`operators.payment_lifecycle.parties`), the SLA it was admitted under and the SLA
deadline. Every change that matters
to a reader yields a :class:`StatusUpdate` — the projection row of ``payments.status`` and
``payments.lifecycle`` — and every new timeline entry is reported once, for the append-only
``payments.events`` table.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from operators.payment_lifecycle.lifecycle import PaymentLifecycle, apply
from operators.payment_lifecycle.milestones import Milestones, is_terminal, milestones_of
from operators.payment_lifecycle.parties import Parties, preferred
from operators.payment_lifecycle.timeline import TimelineEntry, entry_of
from streamledger.iso20022.events import PaymentEvent


@dataclass(frozen=True, slots=True)
class TrackedPayment:
    lifecycle: PaymentLifecycle
    parties: Parties | None
    #: Event time (epoch ms) at which the SLA is checked: ``initiated_at + sla``.
    sla_due_ms: int
    #: The watermark passed ``sla_due_ms``: the breach flag is live.
    sla_checked: bool = False
    #: The SLA (ms) the payment was admitted under: the job's setting when its first message
    #: arrived (state v2). A payment is judged by the terms it started under, and the deadline
    #: armed in state and the breach verdict can never disagree after the setting changes. None
    #: only for a value built without it; then the job's current setting applies.
    sla_ms: int | None = None

    def sla(self, setting: timedelta) -> timedelta:
        """The SLA this payment is judged by: its own, else the job's ``setting``."""
        return setting if self.sla_ms is None else timedelta(milliseconds=self.sla_ms)


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """One row of the status projection (schema ``payments.PaymentStatus``)."""

    record: dict[str, Any]

    @property
    def payment_id(self) -> str:
        return str(self.record["payment_id"])


@dataclass(frozen=True, slots=True)
class Outcome:
    state: TrackedPayment
    update: StatusUpdate | None
    #: The entry this event added to the timeline (None for a duplicate or a refused one).
    new_entry: TimelineEntry | None


def epoch_ms(moment: datetime) -> int:
    return int((moment - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(milliseconds=1))


def on_event(state: TrackedPayment | None, event: PaymentEvent, parties: Parties, sla: timedelta) -> Outcome:
    """Take one (already pseudonymised) event in; ``sla`` is the job's setting, which a new
    payment is admitted under (a tracked one keeps its own)."""
    lifecycle, _ = apply(state.lifecycle if state else None, event)
    kept_parties = preferred(state.parties if state else None, parties)
    entry = entry_of(event)
    added = state is None or (lifecycle.version != state.lifecycle.version and entry in lifecycle.timeline)
    admitted = state.sla(sla) if state else sla
    new_state = TrackedPayment(
        lifecycle=lifecycle,
        parties=kept_parties,
        sla_due_ms=epoch_ms(lifecycle.timeline[0].event_time + admitted),
        sla_checked=state.sla_checked if state else False,
        sla_ms=admitted // timedelta(milliseconds=1),
    )
    if state is not None and new_state.sla_due_ms != state.sla_due_ms:
        # An earlier message moved the deadline back; the check is re-armed for the new instant.
        new_state = dataclasses.replace(new_state, sla_checked=False)
    changed = state is None or new_state != state
    if changed and state is not None and new_state.lifecycle.version == state.lifecycle.version:
        # Only bookkeeping moved (which message the parties were read from): the row a reader
        # sees is unchanged, and publishing it again would put the same update twice in the log.
        changed = status_record(new_state, sla) != status_record(state, sla)
    update = StatusUpdate(status_record(new_state, sla)) if changed else None
    return Outcome(new_state, update, entry if added else None)


def on_sla_deadline(state: TrackedPayment, watermark_ms: int, sla: timedelta) -> Outcome:
    """The watermark reached a deadline timer; publish if the payment is now flagged stalled.

    ``sla`` is the job's setting, used only for a payment without an SLA of its own."""
    if state.sla_checked or watermark_ms < state.sla_due_ms:
        return Outcome(state, None, None)
    checked = dataclasses.replace(state, sla_checked=True)
    breached = milestones_of(state.lifecycle).sla_breached(state.sla(sla))
    return Outcome(checked, StatusUpdate(status_record(checked, sla)) if breached else None, None)


def expires_at_ms(state: TrackedPayment, retention: timedelta) -> int | None:
    """When a finished payment may be forgotten: ``retention`` after its latest message."""
    if not is_terminal(state.lifecycle):
        return None
    return epoch_ms(state.lifecycle.last_updated + retention)


def status_record(state: TrackedPayment, sla: timedelta) -> dict[str, Any]:
    """The projection row of a tracked payment (schema ``payments.PaymentStatus``); ``sla`` as in
    :func:`on_sla_deadline`."""
    lifecycle = state.lifecycle
    milestones: Milestones = milestones_of(lifecycle)
    parties = state.parties or Parties()
    return {
        "payment_id": lifecycle.payment_id,
        "status": lifecycle.status.value,
        "status_reason": lifecycle.status_reason,
        "cancellation": lifecycle.cancellation.value if lifecycle.cancellation else None,
        "amount": None if lifecycle.amount is None else format(lifecycle.amount, "f"),
        "currency": lifecycle.currency,
        "reconciliation": milestones.reconciliation.value if milestones.reconciliation else None,
        "uetr": lifecycle.uetr,
        "end_to_end_id": lifecycle.end_to_end_id,
        "hops": len(lifecycle.route),
        "messages": len(lifecycle.timeline),
        "initiated_at": milestones.initiated_at,
        "accepted_at": milestones.accepted_at,
        "settled_at": milestones.settled_at,
        "credited_at": milestones.credited_at,
        "finished_at": milestones.finished_at,
        "initiation_to_settlement_ms": milestones.duration_ms(milestones.initiated_at, milestones.settled_at),
        "initiation_to_credit_ms": milestones.duration_ms(milestones.initiated_at, milestones.credited_at),
        "settlement_to_credit_ms": milestones.duration_ms(milestones.settled_at, milestones.credited_at),
        "terminal": is_terminal(lifecycle),
        "sla_breached": state.sla_checked and milestones.sla_breached(state.sla(sla)),
        "truncated": lifecycle.truncated,
        "debtor_name_token": parties.debtor_name_token,
        "debtor_account_token": parties.debtor_account_token,
        "debtor_account_masked": parties.debtor_account_masked,
        "creditor_name_token": parties.creditor_name_token,
        "creditor_account_token": parties.creditor_account_token,
        "creditor_account_masked": parties.creditor_account_masked,
        "last_updated": lifecycle.last_updated,
        "version": lifecycle.version,
    }
