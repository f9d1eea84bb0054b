"""The pure balance core, and its agreement with the independent reference model."""

from __future__ import annotations

from collections import Counter

from operators.account_balance import BalanceState, BalanceUpdate, Posting, PostingRejected, apply_posting
from streamledger.generators import postings as posting_generator
from streamledger.reference import expected_balances


def _posting(event_id: str, amount: int, currency: str = "EUR", t: int = 1_000) -> Posting:
    return Posting(event_id, "acct-1", amount, currency, t, "card")


def test_first_posting_opens_the_account_in_its_currency() -> None:
    state, out = apply_posting(None, _posting("e1", 1250))
    assert state == BalanceState("EUR", 1250, 1, 1_000, opened_at_ms=1_000)
    assert out == BalanceUpdate("acct-1", 1250, "EUR", 1, "e1", 1250, 1_000)


def test_the_opening_time_stays_that_of_the_first_posting_and_survives_unknown() -> None:
    state, _ = apply_posting(None, _posting("e1", 100, t=5_000))
    state, _ = apply_posting(state, _posting("e2", 100, t=1_000))
    assert state is not None and state.opened_at_ms == 5_000  # first applied, not earliest in time
    upgraded = BalanceState("EUR", 100, 1, 5_000, opened_at_ms=None)  # from a v1 savepoint
    state, _ = apply_posting(upgraded, _posting("e3", 100, t=6_000))
    assert state is not None and state.opened_at_ms is None


def test_debits_can_take_the_balance_negative_and_versions_count_postings() -> None:
    state, _ = apply_posting(None, _posting("e1", 100))
    state, out = apply_posting(state, _posting("e2", -300, t=500))
    assert isinstance(out, BalanceUpdate)
    assert (out.balance_minor, out.version) == (-200, 2)
    assert state is not None and state.last_event_time_ms == 1_000  # a late posting does not move it back


def test_posting_in_another_currency_is_rejected_and_changes_nothing() -> None:
    state, _ = apply_posting(None, _posting("e1", 100))
    after, out = apply_posting(state, _posting("e2", 5, currency="USD"))
    assert after == state
    assert isinstance(out, PostingRejected)
    assert "EUR" in out.reason and "USD" in out.reason


def test_balance_overflow_is_rejected_not_wrapped() -> None:
    state, _ = apply_posting(None, _posting("e1", 2**63 - 10))
    after, out = apply_posting(state, _posting("e2", 100))
    assert after == state and isinstance(out, PostingRejected)


def test_operator_and_reference_model_agree_on_a_generated_log() -> None:
    """Two independent implementations of the same contract must give the same outputs."""
    records = list(posting_generator.postings(accounts=30, events=4000, seed=5))
    expected = expected_balances((r.key, r.value) for r in records)

    seen: set[str] = set()
    states: dict[str, BalanceState | None] = {}
    updates: list[BalanceUpdate] = []
    rejected = 0
    for record in records:
        if record.posting is None or record.posting.event_id in seen:
            continue
        seen.add(record.posting.event_id)
        account = record.posting.account_id
        states[account], out = apply_posting(states.get(account), record.posting)
        if isinstance(out, PostingRejected):
            rejected += 1
        else:
            updates.append(out)

    assert [(u.account_id, u.version, u.balance_minor, u.event_id) for u in updates] == [
        (r["account_id"], r["version"], r["balance_minor"], r["event_id"]) for r in expected.rows
    ]
    assert rejected == Counter(t for t, _ in expected.dead_letters)["REJECTED"]
    assert expected.duplicates > 0
