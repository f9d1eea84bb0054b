"""Running account balances from postings: the pure core of the account-balances job.

``apply_posting(state, posting)`` returns the new state and what to emit; it never touches Flink,
so the same function runs in the job, in the unit tests and in the reference model the
exactly-once tests compare against. De-duplication by event ID is the Flink shell's job (it
needs keyed state with a TTL); this module assumes each posting arrives once.

Rules a treasury would insist on:
- an account has exactly one currency, fixed by its first posting; a posting in another
  currency is rejected with a reason (it would otherwise silently mix units);
- a balance that would leave the signed 64-bit range is rejected rather than wrapped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

_INT64_MAX = 2**63 - 1
_INT64_MIN = -(2**63)


def to_epoch_millis(value: datetime | int) -> int:
    """Avro timestamp-millis arrives as an aware datetime from fastavro; keep ints as they are."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return int(value.timestamp() * 1000)
    return int(value)


@dataclass(frozen=True, slots=True)
class Posting:
    event_id: str
    account_id: str
    amount_minor: int
    currency: str
    event_time_ms: int
    source: str
    reference: str | None = None

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Posting:
        return cls(
            event_id=record["event_id"],
            account_id=record["account_id"],
            amount_minor=int(record["amount_minor"]),
            currency=record["currency"],
            event_time_ms=to_epoch_millis(record["event_time"]),
            source=record["source"],
            reference=record.get("reference"),
        )

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "account_id": self.account_id,
            "amount_minor": self.amount_minor,
            "currency": self.currency,
            "event_time": self.event_time_ms,
            "source": self.source,
            "reference": self.reference,
        }


@dataclass(frozen=True, slots=True)
class BalanceState:
    """Keyed state per account. Versioned on disk by ``state.account_balance``."""

    currency: str
    balance_minor: int
    version: int
    last_event_time_ms: int
    #: Event time of the first posting; None for accounts whose state predates state v2.
    opened_at_ms: int | None = None


@dataclass(frozen=True, slots=True)
class BalanceUpdate:
    """Emitted once per applied posting: the projection row and the compacted-topic value."""

    account_id: str
    balance_minor: int
    currency: str
    version: int
    event_id: str
    amount_minor: int
    event_time_ms: int

    def to_record(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "balance_minor": self.balance_minor,
            "currency": self.currency,
            "version": self.version,
            "event_id": self.event_id,
            "amount_minor": self.amount_minor,
            "event_time": self.event_time_ms,
        }


@dataclass(frozen=True, slots=True)
class PostingRejected:
    """A posting the ledger refuses; the job routes it to the dead-letter topic."""

    posting: Posting
    reason: str


Output = BalanceUpdate | PostingRejected


def apply_posting(state: BalanceState | None, posting: Posting) -> tuple[BalanceState | None, Output]:
    """Apply one posting to an account's state."""
    if state is not None and posting.currency != state.currency:
        return state, PostingRejected(
            posting,
            f"account {posting.account_id} is held in {state.currency}, posting is in {posting.currency}",
        )
    balance = (state.balance_minor if state else 0) + posting.amount_minor
    if not _INT64_MIN <= balance <= _INT64_MAX:
        return state, PostingRejected(posting, f"balance of {posting.account_id} would overflow int64")
    version = (state.version if state else 0) + 1
    last_time = max(state.last_event_time_ms if state else posting.event_time_ms, posting.event_time_ms)
    opened = state.opened_at_ms if state else posting.event_time_ms
    new_state = BalanceState(posting.currency, balance, version, last_time, opened)
    return new_state, BalanceUpdate(
        account_id=posting.account_id,
        balance_minor=balance,
        currency=posting.currency,
        version=version,
        event_id=posting.event_id,
        amount_minor=posting.amount_minor,
        event_time_ms=posting.event_time_ms,
    )
