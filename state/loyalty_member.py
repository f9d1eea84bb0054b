"""State of the loyalty-accrual job (operator uid ``member-accrual``).

Two values per member, each behind a versioned codec (see :mod:`state`), never pickled:

- descriptor ``member``: the accrual core's :class:`~operators.loyalty.MemberState`
  (``loyalty_member.vN.avsc``);
- descriptor ``statements``: the months whose statement is not issued yet, as running totals, and
  the closing balance of the last statement issued (``loyalty_member_statements.vN.avsc``).

The mapping is explicit field by field, so renaming a dataclass field is a compile-time-visible
change here rather than a savepoint that silently stops loading.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from operators.loyalty.pii import Protected
from operators.loyalty.state import (
    Accrual,
    AccrualPart,
    Contact,
    Debt,
    MemberState,
    PendingCancellation,
)
from state.codec import StateCodec

#: v1: every field of MemberState (operators/loyalty/state.py) as of rules 2026.1.
MEMBER_STATE = StateCodec("loyalty_member", current_version=1)

#: v1: last_issued_month, last_closing, open_months.
STATEMENT_STATE = StateCodec("loyalty_member_statements", current_version=1)


@dataclass(frozen=True, slots=True)
class OpenMonth:
    """Running totals of one month whose statement is not issued yet (signs as on the statement)."""

    month: str
    earned: int = 0
    reversed: int = 0
    redeemed: int = 0
    expired: int = 0
    adjusted: int = 0
    entry_count: int = 0

    @property
    def net(self) -> int:
        return self.earned - self.reversed - self.redeemed - self.expired + self.adjusted


@dataclass(frozen=True, slots=True)
class StatementBook:
    """A member's statement bookkeeping: what the next statement opens with, and the open months."""

    last_issued_month: str | None = None
    last_closing: int = 0
    open_months: tuple[OpenMonth, ...] = ()


# ------------------------------------------------------------------------------ member state


def encode_member(state: MemberState) -> bytes:
    return MEMBER_STATE.encode(
        {
            "member_id": state.member_id,
            "enrolled_ms": state.enrolled_ms,
            "tier": state.tier,
            "membership_year_end_ms": state.membership_year_end_ms,
            "balance": state.balance,
            "lifetime_points": state.lifetime_points,
            "clock_ms": state.clock_ms,
            "last_activity_ms": state.last_activity_ms,
            "contact": {
                "name": _protected_record(state.contact.name),
                "email": _protected_record(state.contact.email),
                "phone": _protected_record(state.contact.phone),
                "address": _protected_record(state.contact.address),
            },
            "accruals": [
                {
                    "event_id": a.event_id,
                    "activity": a.activity,
                    "event_time_ms": a.event_time_ms,
                    "qualifying_points": a.qualifying_points,
                    "parts": [
                        {"kind": p.kind, "rule_id": p.rule_id, "points": p.points, "reason": p.reason}
                        for p in a.parts
                    ],
                    "rules_version": a.rules_version,
                    "reversed_by": a.reversed_by,
                }
                for a in state.accruals
            ],
            "seen": [{"event_id": i, "event_time_ms": t} for i, t in state.seen],
            "pending": [
                {
                    "event_id": p.event_id,
                    "original_event_id": p.original_event_id,
                    "event_time_ms": p.event_time_ms,
                    "kind": p.kind,
                }
                for p in state.pending
            ],
            "debts": [
                {
                    "original_event_id": d.original_event_id,
                    "cancellation_event_id": d.cancellation_event_id,
                    "rule_id": d.rule_id,
                    "rules_version": d.rules_version,
                    "points": d.points,
                }
                for d in state.debts
            ],
            "month_accrued": [{"month": m, "points": p} for m, p in state.month_accrued],
            "version": state.version,
        }
    )


def decode_member(data: bytes) -> MemberState:
    r = MEMBER_STATE.decode(data)
    contact = r["contact"]
    return MemberState(
        member_id=r["member_id"],
        enrolled_ms=r["enrolled_ms"],
        tier=r["tier"],
        membership_year_end_ms=r["membership_year_end_ms"],
        balance=r["balance"],
        lifetime_points=r["lifetime_points"],
        clock_ms=r["clock_ms"],
        last_activity_ms=r["last_activity_ms"],
        contact=Contact(
            name=_protected(contact["name"]),
            email=_protected(contact["email"]),
            phone=_protected(contact["phone"]),
            address=_protected(contact["address"]),
        ),
        accruals=tuple(
            Accrual(
                event_id=a["event_id"],
                activity=a["activity"],
                event_time_ms=a["event_time_ms"],
                qualifying_points=a["qualifying_points"],
                parts=tuple(
                    AccrualPart(p["kind"], p["rule_id"], p["points"], p["reason"]) for p in a["parts"]
                ),
                rules_version=a["rules_version"],
                reversed_by=a["reversed_by"],
            )
            for a in r["accruals"]
        ),
        seen=tuple((s["event_id"], s["event_time_ms"]) for s in r["seen"]),
        pending=tuple(
            PendingCancellation(p["event_id"], p["original_event_id"], p["event_time_ms"], p["kind"])
            for p in r["pending"]
        ),
        debts=tuple(
            Debt(
                d["original_event_id"],
                d["cancellation_event_id"],
                d["rule_id"],
                d["rules_version"],
                d["points"],
            )
            for d in r["debts"]
        ),
        month_accrued=tuple((m["month"], m["points"]) for m in r["month_accrued"]),
        version=r["version"],
    )


def _protected_record(value: Protected | None) -> dict[str, Any] | None:
    if value is None:
        return None
    return {"token": value.token, "masked": value.masked, "updated_ms": value.updated_ms}


def _protected(record: dict[str, Any] | None) -> Protected | None:
    if record is None:
        return None
    return Protected(record["token"], record["masked"], record["updated_ms"])


# -------------------------------------------------------------------------- statement book


def encode_statements(book: StatementBook) -> bytes:
    return STATEMENT_STATE.encode(
        {
            "last_issued_month": book.last_issued_month,
            "last_closing": book.last_closing,
            "open_months": [
                {
                    "month": m.month,
                    "earned": m.earned,
                    "reversed": m.reversed,
                    "redeemed": m.redeemed,
                    "expired": m.expired,
                    "adjusted": m.adjusted,
                    "entry_count": m.entry_count,
                }
                for m in book.open_months
            ],
        }
    )


def decode_statements(data: bytes) -> StatementBook:
    r = STATEMENT_STATE.decode(data)
    return StatementBook(
        last_issued_month=r["last_issued_month"],
        last_closing=r["last_closing"],
        open_months=tuple(
            OpenMonth(
                m["month"],
                m["earned"],
                m["reversed"],
                m["redeemed"],
                m["expired"],
                m["adjusted"],
                m["entry_count"],
            )
            for m in r["open_months"]
        ),
    )
