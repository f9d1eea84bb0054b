"""Where a payment is, and why: its status and cancellation, derived from everything said about it.

Messages about one payment arrive in any order, twice, or late, so the status is never advanced
step by step. Each entry is graded for what it proves (its :class:`Evidence`), and the status is
recomputed from the whole set of entries by the precedence rules below. The result is a function of
the set: every delivery order gives the same answer. Where a rule needs "the latest" entry, it means
the latest in timeline order (:mod:`operators.payment_lifecycle.timeline`), never the latest to
arrive.

What each message proves (``TxSts`` is ExternalPaymentTransactionStatus1Code):

==================================== =============================================================
pain.001                             INITIATED
pacs.008, pacs.009                   ACCEPTED: a bank took the instruction and sent it on
pacs.002/pain.002 ``TxSts``          ACTC ACCP ACSP ACWC ACWP ACFC ACIS ACPD PATC PRES → ACCEPTED;
                                     PDNG RCVD BLCK → PENDING; ACSC → SETTLED; ACCC CPUC →
                                     CREDITED; RJCT → REJECTED; CANC → CANCELLED
pacs.004                             RETURNED
camt.054/camt.053 booked entry       (``BOOK``) with return information (``RtrInf``) → RETURNED;
                                     else CRDT → CREDITED, DBIT → SETTLED (debtor side booked).
                                     Pending or information-only entries prove nothing.
camt.056                             cancellation REQUESTED
camt.029 ``TxCxlSts`` / ``Conf``     ACCR, CNCL → cancellation accepted (CANCELLED); PDCR →
                                     cancellation PENDING; RJCR → cancellation REJECTED
==================================== =============================================================

Other codes (a partial acceptance of a cancellation, a modification confirmation, a group-only
status such as PART) appear in the timeline without moving the status or the cancellation.

Status precedence, strongest first; the first rule that holds decides:

1. **CANCELLED** — a cancellation was accepted (camt.029 ACCR/CNCL) or a status report says CANC.
   It beats RETURNED: the pacs.004 that follows an accepted cancellation (typically reason FOCR) is
   only how an already settled payment's money goes back, and "cancelled at the debtor's request"
   is the answer to "why". The reason is the cancellation request's (camt.056 ``CxlRsnInf``, e.g.
   DUPL, FRAD), else the resolution's.
2. **RETURNED** — a pacs.004 or a booked return entry. It beats everything below: a return moves
   money back after settlement, so it overrides SETTLED and CREDITED, and after a rejection further
   down a multi-hop route it is how the legs that had already settled unwind.
3. **REJECTED** — an RJCT that is not superseded. Settlement is final (a settled leg can only be
   undone by a return), so a rejection is superseded by proof that the payment got past the point
   where it was rejected: a credit to the creditor (rule 4) on any leg, or an ACSC on the same leg
   or a later one (a rejected duplicate, a re-routed payment). So in A → B → C → D, an RJCT on
   B → C stands even though A → B settled: the payment will not reach the creditor and its money
   waits at B for a return. An RJCT whose leg is unknown (pain.002 names no interbank leg) is only
   superseded by a credit.
4. **CREDITED** — ACCC/CPUC, or a booked credit entry: the creditor has the money.
5. **SETTLED** — ACSC, or a booked debit entry.
6. **ACCEPTED** or **PENDING** — whichever in-flight signal is latest, since a held payment can be
   released and a released one held again at the next bank. A pacs.008 is ACCEPTED, not PENDING:
   PENDING is kept for an explicit hold (PDNG, RCVD, BLCK), which is what operations need to see.
7. Otherwise **INITIATED** when the set holds nothing but pain.001 messages, else **ACCEPTED**: any
   other message (a camt.056, an unbooked entry, an unknown status code) means a bank holds it.

The status reason is the reason code of the entry that decided (the latest one, when several
could), e.g. the RJCT's ``StsRsnInf`` or the pacs.004's ``RtrRsnInf``.

Cancellation: ACCEPTED once any bank accepted it (final: the payment is stopped, or its money comes
back); otherwise the state of the latest case message — camt.056 REQUESTED, camt.029 PDCR PENDING,
RJCR REJECTED — so a new request after a rejection reopens the case. ``None`` without any.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Final

from operators.payment_lifecycle.route import Direction, Leg, direction, hop_index
from operators.payment_lifecycle.timeline import TimelineEntry
from streamledger.iso20022.account_reports import CREDIT, DEBIT
from streamledger.iso20022.events import EventType
from streamledger.iso20022.reader import first_present


class PaymentStatus(StrEnum):
    """Where the payment is; the value is the JSON spelling."""

    INITIATED = "INITIATED"
    ACCEPTED = "ACCEPTED"
    PENDING = "PENDING"
    SETTLED = "SETTLED"
    CREDITED = "CREDITED"
    REJECTED = "REJECTED"
    RETURNED = "RETURNED"
    CANCELLED = "CANCELLED"


class CancellationStatus(StrEnum):
    """Where a request to cancel the payment is; the value is the JSON spelling."""

    REQUESTED = "REQUESTED"
    PENDING = "PENDING"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"


class Evidence(IntEnum):
    """What one entry proves about the payment on its own.

    Ordered by how much it can decide: when a payment's entries exceed the cap, the strongest are
    kept first (see :mod:`operators.payment_lifecycle.lifecycle`).
    """

    NOTHING = 0
    INITIATED = 1
    ACCEPTED = 2
    PENDING = 3
    CANCELLATION_REQUESTED = 4
    CANCELLATION_PENDING = 5
    CANCELLATION_REJECTED = 6
    SETTLED = 7
    CREDITED = 8
    REJECTED = 9
    RETURNED = 10
    CANCELLED = 11


_TRANSACTION_STATUS: Final[Mapping[str, Evidence]] = {
    **dict.fromkeys(
        ("ACTC", "ACCP", "ACSP", "ACWC", "ACWP", "ACFC", "ACIS", "ACPD", "PATC", "PRES"), Evidence.ACCEPTED
    ),
    **dict.fromkeys(("PDNG", "RCVD", "BLCK"), Evidence.PENDING),
    "ACSC": Evidence.SETTLED,
    "ACCC": Evidence.CREDITED,
    "CPUC": Evidence.CREDITED,
    "RJCT": Evidence.REJECTED,
    "CANC": Evidence.CANCELLED,
}
_CANCELLATION_STATUS: Final[Mapping[str, Evidence]] = {
    "ACCR": Evidence.CANCELLED,
    "CNCL": Evidence.CANCELLED,
    "PDCR": Evidence.CANCELLATION_PENDING,
    "RJCR": Evidence.CANCELLATION_REJECTED,
}
BOOKED: Final = "BOOK"

_STATUS_REPORTS: Final = frozenset(
    {
        EventType.STATUS_REPORT,
        EventType.STATUS_REPORT_GROUP,
        EventType.CUSTOMER_STATUS,
        EventType.CUSTOMER_STATUS_GROUP,
    }
)
_FIXED: Final[Mapping[EventType, Evidence]] = {
    EventType.INITIATION: Evidence.INITIATED,
    EventType.INTERBANK_TRANSFER: Evidence.ACCEPTED,
    EventType.FI_TRANSFER: Evidence.ACCEPTED,
    EventType.RETURN: Evidence.RETURNED,
    EventType.RETURN_GROUP: Evidence.RETURNED,
    EventType.CANCELLATION_REQUEST: Evidence.CANCELLATION_REQUESTED,
    EventType.CANCELLATION_REQUEST_GROUP: Evidence.CANCELLATION_REQUESTED,
}
_RESOLUTIONS: Final = frozenset({EventType.CANCELLATION_RESOLUTION, EventType.CANCELLATION_RESOLUTION_GROUP})
_ACCOUNT_ENTRIES: Final = frozenset({EventType.ACCOUNT_NOTIFICATION, EventType.STATEMENT_ENTRY})

_IN_FLIGHT: Final = {Evidence.ACCEPTED: PaymentStatus.ACCEPTED, Evidence.PENDING: PaymentStatus.PENDING}
_CASE: Final = {
    Evidence.CANCELLATION_REQUESTED: CancellationStatus.REQUESTED,
    Evidence.CANCELLATION_PENDING: CancellationStatus.PENDING,
    Evidence.CANCELLATION_REJECTED: CancellationStatus.REJECTED,
}


def evidence_of(entry: TimelineEntry) -> Evidence:
    """What ``entry`` proves by itself (the table in the module docstring)."""
    fixed = _FIXED.get(entry.event_type)
    if fixed is not None:
        return fixed
    status = entry.status or ""
    if entry.event_type in _STATUS_REPORTS:
        return _TRANSACTION_STATUS.get(status, Evidence.NOTHING)
    if entry.event_type in _RESOLUTIONS:
        return _CANCELLATION_STATUS.get(status, Evidence.NOTHING)
    if entry.event_type in _ACCOUNT_ENTRIES and status == BOOKED:
        if entry.reason is not None:  # RtrInf: the booking of returned funds
            return Evidence.RETURNED
        return {CREDIT: Evidence.CREDITED, DEBIT: Evidence.SETTLED}.get(
            entry.credit_debit or "", Evidence.NOTHING
        )
    return Evidence.NOTHING


@dataclass(frozen=True, slots=True)
class Derivation:
    """The derived view of a payment: what :func:`derive` returns."""

    status: PaymentStatus
    status_reason: str | None
    cancellation: CancellationStatus | None


_Graded = Sequence[tuple[TimelineEntry, Evidence]]


def derive(timeline: Sequence[TimelineEntry], route: Sequence[Leg]) -> Derivation:
    """Status, its reason and the cancellation state of a payment (rules in the module docstring).

    ``timeline`` must be in timeline order and ``route`` derived from it.
    """
    graded = [(entry, evidence_of(entry)) for entry in timeline]
    status, reason = _status(graded, hop_index(route))
    return Derivation(status, reason, _cancellation(graded))


def _latest(graded: _Graded, wanted: Collection[Evidence]) -> TimelineEntry | None:
    return next((entry for entry, evidence in reversed(graded) if evidence in wanted), None)


def _status(graded: _Graded, hops: Mapping[Direction, int]) -> tuple[PaymentStatus, str | None]:
    cancelled = _latest(graded, {Evidence.CANCELLED})
    if cancelled is not None:
        request = _latest(graded, {Evidence.CANCELLATION_REQUESTED})
        return PaymentStatus.CANCELLED, first_present(request.reason if request else None, cancelled.reason)
    returned = _latest(graded, {Evidence.RETURNED})
    if returned is not None:
        return PaymentStatus.RETURNED, returned.reason
    rejection = _standing_rejection(graded, hops)
    if rejection is not None:
        return PaymentStatus.REJECTED, rejection.reason
    for evidence, status in (
        (Evidence.CREDITED, PaymentStatus.CREDITED),
        (Evidence.SETTLED, PaymentStatus.SETTLED),
    ):
        decisive = _latest(graded, {evidence})
        if decisive is not None:
            return status, decisive.reason
    in_flight = _latest(graded, _IN_FLIGHT.keys())
    if in_flight is not None:
        return _IN_FLIGHT[evidence_of(in_flight)], in_flight.reason
    if all(entry.event_type is EventType.INITIATION for entry, _ in graded):
        return PaymentStatus.INITIATED, None
    return PaymentStatus.ACCEPTED, None


def _standing_rejection(graded: _Graded, hops: Mapping[Direction, int]) -> TimelineEntry | None:
    """The latest rejection nothing proves wrong: no credit at all, no settlement on its leg or later."""
    if _latest(graded, {Evidence.CREDITED}) is not None:
        return None
    settled = [
        hop
        for entry, evidence in graded
        if evidence == Evidence.SETTLED and (hop := _hop(entry, hops)) is not None
    ]
    for rejection, evidence in reversed(graded):
        if evidence != Evidence.REJECTED:
            continue
        rejected = _hop(rejection, hops)
        if rejected is None or all(hop < rejected for hop in settled):
            return rejection
    return None


def _hop(entry: TimelineEntry, hops: Mapping[Direction, int]) -> int | None:
    leg = direction(entry)
    return None if leg is None else hops.get(leg)


def _cancellation(graded: _Graded) -> CancellationStatus | None:
    if _latest(graded, {Evidence.CANCELLED}) is not None:
        return CancellationStatus.ACCEPTED
    case = _latest(graded, _CASE.keys())
    return None if case is None else _CASE[evidence_of(case)]
