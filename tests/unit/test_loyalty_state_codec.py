"""The loyalty job's keyed state survives its byte encoding exactly (what a savepoint holds)."""

from __future__ import annotations

from dataclasses import fields, replace
from functools import cache

import pytest

from operators.loyalty import AccrualConfig, MemberState, PiiKey, load_rules
from operators.loyalty.replay import Replay
from operators.loyalty.state import Debt, PendingCancellation
from state.codec import StateVersionError
from state.loyalty_member import (
    MEMBER_STATE,
    OpenMonth,
    StatementBook,
    decode_member,
    decode_statements,
    encode_member,
    encode_statements,
)
from streamledger.generators.loyalty import loyalty_events

CONFIG = AccrualConfig(PiiKey("test", b"0123456789abcdef0123456789abcdef"))
YEAR_MS = 366 * 24 * 3600 * 1000


@cache
def _states() -> tuple[MemberState, ...]:
    """Every intermediate state of every member over a generated stream, timers included."""
    rules = load_rules()
    replay = Replay(rules, CONFIG)
    seen: list[MemberState] = []
    events = [record.event for record in loyalty_events(members=60, events=2500, seed=77)]
    for event in events:
        replay.process(event)
        if event.member_id in replay.states:
            seen.append(replay.states[event.member_id])
    replay.advance_watermark(max(e.event_time_ms for e in events) + 3 * YEAR_MS)
    seen.extend(replay.states.values())
    return tuple(seen)


def test_every_generated_member_state_round_trips_exactly() -> None:
    states = _states()
    for state in states:
        assert decode_member(encode_member(state)) == state


def test_the_generated_states_cover_every_optional_and_repeated_field() -> None:
    """The round trip above is only as strong as the states it saw: make sure they are varied."""
    states = _states()
    assert any(s.accruals and any(a.reversed_by for a in s.accruals) for s in states)
    assert any(s.pending for s in states)
    assert any(s.month_accrued for s in states)
    assert any(s.contact.address is None for s in states) and any(s.contact.address for s in states)
    assert any(s.contact.phone is None for s in states) and any(s.contact.phone for s in states)
    assert len({s.tier for s in states}) > 1


def test_debts_and_empty_collections_round_trip() -> None:
    base = _states()[0]
    indebted = replace(
        base,
        debts=(
            Debt("act-1", "cxl-1", "earn-card", "2026.1", 42),
            Debt("act-2", "cxl-2", "tier-gold", "2026.1", 7),
        ),
        pending=(PendingCancellation("cxl-3", "act-3", 5, "REFUNDED"),),
    )
    assert decode_member(encode_member(indebted)) == indebted
    bare = replace(base, accruals=(), seen=(), pending=(), debts=(), month_accrued=())
    assert decode_member(encode_member(bare)) == bare


def test_the_encoding_maps_every_member_state_field() -> None:
    """A field added to MemberState without a new state schema version must fail here."""
    record = MEMBER_STATE.decode(encode_member(_states()[0]))
    schema_fields = set(record)
    assert schema_fields == {f.name for f in fields(MemberState)}


def test_statement_book_round_trips() -> None:
    books = [
        StatementBook(),
        StatementBook("2026-03", 1250, (OpenMonth("2026-04", 10, 2, 3, 0, -5, 4),)),
        StatementBook(
            None, 0, (OpenMonth("2026-01", earned=7, entry_count=1), OpenMonth("2026-02", expired=9))
        ),
    ]
    for book in books:
        assert decode_statements(encode_statements(book)) == book


def test_state_written_by_an_unknown_version_is_refused() -> None:
    encoded = bytearray(encode_member(_states()[0]))
    encoded[0] = MEMBER_STATE.current_version + 1
    with pytest.raises(StateVersionError):
        decode_member(bytes(encoded))
