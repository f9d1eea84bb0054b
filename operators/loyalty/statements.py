"""Monthly points statements, built from the ledger entries of a month and the opening balance.

The job feeds this from event-time tumbling windows of one calendar month (UTC) over the ledger
topic, keyed by member; the opening balance is the previous statement's closing balance (0 for
a member's first month). Entries belong to the month of their ``event_time``.
"""

from __future__ import annotations

from collections.abc import Iterable

from operators.loyalty._time import month_key, next_month
from operators.loyalty.outputs import (
    ADJUST,
    BONUS,
    EARN,
    EXPIRE,
    REDEEM,
    REVERSAL,
    LedgerEntry,
    MonthlyStatement,
)


def monthly_statement(
    member_id: str, month: str, opening_balance: int, entries: Iterable[LedgerEntry]
) -> MonthlyStatement:
    """The statement of ``member_id`` for ``month`` (``YYYY-MM``).

    Raises ValueError for an entry of another member or another month: a statement built from the
    wrong window would silently disagree with the ledger.
    """
    next_month(month)  # validates the format
    totals = {EARN: 0, BONUS: 0, REVERSAL: 0, REDEEM: 0, EXPIRE: 0, ADJUST: 0}
    count = 0
    for entry in entries:
        if entry.member_id != member_id:
            raise ValueError(f"entry {entry.entry_id} belongs to {entry.member_id}, not {member_id}")
        if month_key(entry.event_time_ms) != month:
            raise ValueError(f"entry {entry.entry_id} is in {month_key(entry.event_time_ms)}, not {month}")
        totals[entry.kind] += entry.points
        count += 1
    net = sum(totals.values())
    return MonthlyStatement(
        member_id=member_id,
        month=month,
        opening_balance=opening_balance,
        earned=totals[EARN] + totals[BONUS],
        reversed=-totals[REVERSAL],
        redeemed=-totals[REDEEM],
        expired=-totals[EXPIRE],
        adjusted=totals[ADJUST],
        closing_balance=opening_balance + net,
        entry_count=count,
    )


def statement_chain(
    member_id: str, entries: Iterable[LedgerEntry], *, until_month: str | None = None
) -> list[MonthlyStatement]:
    """Statements for every month from the member's first entry to ``until_month`` (or the last
    entry), months without entries included, each opening with the previous closing balance."""
    by_month: dict[str, list[LedgerEntry]] = {}
    for entry in entries:
        by_month.setdefault(month_key(entry.event_time_ms), []).append(entry)
    if not by_month:
        return []
    month, last = min(by_month), max(by_month)
    if until_month is not None:
        last = max(last, until_month)
    chain: list[MonthlyStatement] = []
    opening = 0
    while month <= last:
        statement = monthly_statement(member_id, month, opening, by_month.get(month, ()))
        chain.append(statement)
        opening = statement.closing_balance
        month = next_month(month)
    return chain
