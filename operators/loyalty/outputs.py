"""What the accrual core emits. Each type maps to an Avro schema ``schemas/loyalty.<Name>.avsc``.

None of them holds contact data in clear: member snapshots carry tokens and masked forms only,
reasons are built from rule ids, amounts and codes (never from free text of an event).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

EARN = "EARN"
BONUS = "BONUS"
REVERSAL = "REVERSAL"
REDEEM = "REDEEM"
EXPIRE = "EXPIRE"
ADJUST = "ADJUST"
ENTRY_KINDS = (EARN, BONUS, REVERSAL, REDEEM, EXPIRE, ADJUST)


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One points movement (schema ``loyalty.LedgerEntry``)."""

    entry_id: str
    member_id: str
    kind: str
    points: int
    balance_after: int
    reason: str
    rule_id: str
    rules_version: str
    source_event_id: str
    event_time_ms: int
    related_event_id: str | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "entry_id": self.entry_id,
            "member_id": self.member_id,
            "kind": self.kind,
            "points": self.points,
            "balance_after": self.balance_after,
            "reason": self.reason,
            "rule_id": self.rule_id,
            "rules_version": self.rules_version,
            "source_event_id": self.source_event_id,
            "related_event_id": self.related_event_id,
            "event_time": self.event_time_ms,
        }


@dataclass(frozen=True, slots=True)
class EventRejected:
    """A refused event with a machine-readable code and a reason (schema ``loyalty.EventRejected``)."""

    member_id: str
    event_id: str
    event_type: str
    code: str
    reason: str
    event_time_ms: int

    def to_record(self) -> dict[str, Any]:
        return {
            "member_id": self.member_id,
            "event_id": self.event_id,
            "event_type": self.event_type,
            "code": self.code,
            "reason": self.reason,
            "event_time": self.event_time_ms,
        }


@dataclass(frozen=True, slots=True)
class TierChange:
    """A tier upgrade or downgrade (schema ``loyalty.TierChange``)."""

    member_id: str
    from_tier: str
    to_tier: str
    direction: str
    qualifying_points: int
    rule_id: str
    rules_version: str
    reason: str
    source_event_id: str
    event_time_ms: int

    def to_record(self) -> dict[str, Any]:
        return {
            "member_id": self.member_id,
            "from_tier": self.from_tier,
            "to_tier": self.to_tier,
            "direction": self.direction,
            "qualifying_points": self.qualifying_points,
            "rule_id": self.rule_id,
            "rules_version": self.rules_version,
            "reason": self.reason,
            "source_event_id": self.source_event_id,
            "event_time": self.event_time_ms,
        }


@dataclass(frozen=True, slots=True)
class MemberSnapshot:
    """The member after a change (schema ``loyalty.MemberSnapshot``, compacted topic value)."""

    member_id: str
    version: int
    tier: str
    balance: int
    points_owed: int
    qualifying_points: int
    lifetime_points: int
    membership_year_end_ms: int
    last_activity_ms: int
    name_token: str | None
    name_masked: str | None
    email_token: str | None
    email_masked: str | None
    phone_token: str | None
    phone_masked: str | None
    address_token: str | None
    address_masked: str | None
    rules_version: str
    event_time_ms: int

    def to_record(self) -> dict[str, Any]:
        return {
            "member_id": self.member_id,
            "version": self.version,
            "tier": self.tier,
            "balance": self.balance,
            "points_owed": self.points_owed,
            "qualifying_points": self.qualifying_points,
            "lifetime_points": self.lifetime_points,
            "membership_year_end": self.membership_year_end_ms,
            "last_activity": self.last_activity_ms,
            "name_token": self.name_token,
            "name_masked": self.name_masked,
            "email_token": self.email_token,
            "email_masked": self.email_masked,
            "phone_token": self.phone_token,
            "phone_masked": self.phone_masked,
            "address_token": self.address_token,
            "address_masked": self.address_masked,
            "rules_version": self.rules_version,
            "event_time": self.event_time_ms,
        }


@dataclass(frozen=True, slots=True)
class MonthlyStatement:
    """A member's month (schema ``loyalty.MonthlyStatement``)."""

    member_id: str
    month: str
    opening_balance: int
    earned: int
    reversed: int
    redeemed: int
    expired: int
    adjusted: int
    closing_balance: int
    entry_count: int

    def to_record(self) -> dict[str, Any]:
        return {
            "member_id": self.member_id,
            "month": self.month,
            "opening_balance": self.opening_balance,
            "earned": self.earned,
            "reversed": self.reversed,
            "redeemed": self.redeemed,
            "expired": self.expired,
            "adjusted": self.adjusted,
            "closing_balance": self.closing_balance,
            "entry_count": self.entry_count,
        }


Output = LedgerEntry | EventRejected | TierChange | MemberSnapshot

#: Output type -> Avro schema name, for the job's sinks and for round-trip tests.
SCHEMA_OF: dict[type[Any], str] = {
    LedgerEntry: "loyalty.LedgerEntry",
    EventRejected: "loyalty.EventRejected",
    TierChange: "loyalty.TierChange",
    MemberSnapshot: "loyalty.MemberSnapshot",
    MonthlyStatement: "loyalty.MonthlyStatement",
}
