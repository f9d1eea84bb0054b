"""The loyalty core over generated streams: generator, wire format, ledger invariants, statements."""

from __future__ import annotations

import itertools
import random
from collections import Counter, defaultdict
from functools import cache

import pytest

from operators.loyalty import (
    SCHEMA_NAME,
    AccrualConfig,
    ActivityCancelled,
    CardSpend,
    EventRejected,
    FlightFlown,
    HotelStay,
    LedgerEntry,
    LoyaltyEvent,
    ManualAdjustment,
    MemberEnrolled,
    MemberSnapshot,
    PartnerPurchase,
    PiiKey,
    ProfileChanged,
    RedemptionRequested,
    Rules,
    TierChange,
    event_from_record,
    event_to_record,
    load_rules,
    parse_rules,
    statement_chain,
)
from operators.loyalty._time import month_start_ms
from operators.loyalty.outputs import SCHEMA_OF
from operators.loyalty.replay import Replay
from schemas import AvroCodec, UndecodableMessageError
from streamledger.generators.loyalty import LoyaltyRecord, loyalty_events

from .loyalty_fixtures import rules_document

CONFIG = AccrualConfig(PiiKey("test", b"0123456789abcdef0123456789abcdef"))
RULES = load_rules()
YEAR_MS = 366 * 24 * 3600 * 1000


@cache
def _stream() -> tuple[LoyaltyRecord, ...]:
    return tuple(loyalty_events(members=120, events=5000, seed=2026))


@cache
def _replayed() -> Replay:
    events = [record.event for record in _stream()]
    replay = Replay(RULES, CONFIG).process_all(events)
    # Let every timer fire: membership-year reviews and inactivity expiry of everyone.
    replay.advance_watermark(max(e.event_time_ms for e in events) + 3 * YEAR_MS)
    return replay


def test_the_generator_is_deterministic_and_seeded() -> None:
    first = list(loyalty_events(members=20, events=300, seed=1))
    assert first == list(loyalty_events(members=20, events=300, seed=1))
    assert first != list(loyalty_events(members=20, events=300, seed=2))
    assert len(first) == 300


def test_records_are_avro_envelopes_keyed_by_member() -> None:
    codec = AvroCodec(SCHEMA_NAME)
    for record in _stream():
        assert record.key == record.event.member_id.encode()
        assert record.timestamp_ms == record.event.event_time_ms
        assert event_from_record(codec.decode(record.value)) == record.event


def test_a_payload_that_does_not_match_its_event_type_is_undecodable() -> None:
    codec = AvroCodec(SCHEMA_NAME)
    record = event_to_record(CardSpend("e1", "m1", 0, 100, "EUR"))
    decoded = codec.decode(codec.encode(record))
    decoded["event_type"] = "FLIGHT_FLOWN"
    with pytest.raises(UndecodableMessageError, match="payload is not a FlightFlown"):
        event_from_record(decoded)


def test_the_generated_mix_is_realistic() -> None:
    events = [record.event for record in _stream()]
    kinds = Counter(type(e).__name__ for e in events)
    for cls in (
        MemberEnrolled,
        ProfileChanged,
        FlightFlown,
        HotelStay,
        PartnerPurchase,
        CardSpend,
        ActivityCancelled,
        RedemptionRequested,
        ManualAdjustment,
    ):
        assert kinds[cls.__name__] > 0, cls.__name__
    ids = Counter(e.event_id for e in events)
    assert sum(n - 1 for n in ids.values()) > 30  # redelivered duplicates
    position = {e.event_id: i for i, e in reversed(list(enumerate(events)))}
    cancel_first = [
        e
        for i, e in enumerate(events)
        if isinstance(e, ActivityCancelled) and position.get(e.original_event_id, -1) > i
    ]
    assert len(cancel_first) > 20  # cancellations that arrive before their activity
    late = 0
    high = 0
    for e in events:
        late += e.event_time_ms < high
        high = max(high, e.event_time_ms)
    assert late > 100  # out-of-order (late) events
    assert {e.currency for e in events if isinstance(e, CardSpend)} >= {"EUR", "USD", "JPY"}
    assert any(isinstance(e, MemberEnrolled) and e.status_match_tier for e in events)


def test_stream_outcomes_cover_every_path() -> None:
    replay = _replayed()
    codes = Counter(o.code for o in replay.outputs if isinstance(o, EventRejected))
    assert codes["INSUFFICIENT_BALANCE"] > 20 and codes["UNKNOWN_CURRENCY"] > 0
    assert codes["ORPHAN_CANCELLATION"] == 0 and codes["TOO_LATE"] == 0
    kinds = Counter(o.kind for o in replay.outputs if isinstance(o, LedgerEntry))
    assert set(kinds) == {"EARN", "BONUS", "REVERSAL", "REDEEM", "EXPIRE", "ADJUST"}
    directions = Counter(o.direction for o in replay.outputs if isinstance(o, TierChange))
    assert directions["UP"] > 20 and directions["DOWN"] > 5
    assert {state.tier for state in replay.states.values()} == {"BASE"}  # three idle years later
    assert all(not state.pending for state in replay.states.values())


def test_balance_is_the_sum_of_the_ledger_and_never_negative() -> None:
    replay = _replayed()
    running: dict[str, int] = defaultdict(int)
    for entry in replay.ledger():
        assert entry.points != 0
        running[entry.member_id] += entry.points
        assert entry.balance_after == running[entry.member_id] >= 0, entry
    assert set(replay.states) == {e.event.member_id for e in _stream() if isinstance(e.event, MemberEnrolled)}
    for member_id, state in replay.states.items():
        assert state.balance == running[member_id] >= 0
    entry_ids = [entry.entry_id for entry in replay.ledger()]
    assert len(entry_ids) == len(set(entry_ids))


def test_every_ledger_entry_names_its_rule_and_rules_version() -> None:
    rule_ids = {r.rule_id for r in RULES.earn} | {t.rule_id for t in RULES.tiers}
    rule_ids |= {p.rule_id for p in RULES.promotions} | {r.rule_id for r in RULES.redemptions}
    rule_ids |= {RULES.expiry.rule_id, RULES.adjustment.rule_id}
    for entry in _replayed().ledger():
        assert entry.rules_version == RULES.version
        assert entry.rule_id in rule_ids, entry


def test_snapshots_agree_with_the_ledger_and_versions_increase() -> None:
    replay = _replayed()
    last_version: dict[str, int] = {}
    balance: dict[str, int] = defaultdict(int)
    for output in replay.outputs:
        if isinstance(output, LedgerEntry):
            balance[output.member_id] = output.balance_after
        elif isinstance(output, MemberSnapshot):
            assert output.balance == balance[output.member_id]
            assert output.version > last_version.get(output.member_id, 0)
            last_version[output.member_id] = output.version


def test_every_output_encodes_with_its_avro_schema() -> None:
    codecs = {cls: AvroCodec(name) for cls, name in SCHEMA_OF.items()}
    seen: set[type] = set()
    for output in _replayed().outputs:
        if type(output) in seen and random.Random(len(seen)).random() < 0.9:
            continue
        seen.add(type(output))
        codec = codecs[type(output)]
        assert codec.decode(codec.encode(output.to_record()))["member_id"] == output.member_id
    assert seen == {LedgerEntry, EventRejected, TierChange, MemberSnapshot}


def test_statements_chain_from_month_to_month() -> None:
    replay = _replayed()
    by_member: dict[str, list[LedgerEntry]] = defaultdict(list)
    for entry in replay.ledger():
        by_member[entry.member_id].append(entry)
    chained = 0
    for member_id, member_entries in by_member.items():
        chain = statement_chain(member_id, member_entries)
        for previous, current in itertools.pairwise(chain):
            assert current.opening_balance == previous.closing_balance
            start = month_start_ms(current.month)
            assert current.opening_balance == sum(e.points for e in member_entries if e.event_time_ms < start)
            chained += 1
        assert chain[-1].closing_balance == replay.states[member_id].balance
        codec = AvroCodec("loyalty.MonthlyStatement")
        assert codec.decode(codec.encode(chain[-1].to_record()))["month"] == chain[-1].month
    assert chained > 1000


def _order_independent_rules_and_config() -> tuple[Rules, AccrualConfig]:
    """The promise holds while no tier threshold is crossed and no cap binds: one tier, no caps."""
    doc = rules_document("2026.1")
    doc["tiers"]["levels"] = doc["tiers"]["levels"][:1]
    doc["caps"] = {}
    # A shuffled year of events is far outside the default 35-day lateness; widen the horizon.
    config = AccrualConfig(CONFIG.pii_key, dedupe_retention_ms=2 * YEAR_MS, refund_window_months=27)
    return parse_rules(doc), config


def test_final_balance_does_not_depend_on_arrival_order() -> None:
    rules, config = _order_independent_rules_and_config()
    events = [record.event for record in _stream()]
    per_member: dict[str, list[LoyaltyEvent]] = defaultdict(list)
    for event in events:
        # Order-independence is promised for activities, cancellations, credits and profile data;
        # redemptions and debits depend on the balance at the time by nature.
        if isinstance(event, RedemptionRequested):
            continue
        if isinstance(event, ManualAdjustment) and event.points < 0:
            continue
        per_member[event.member_id].append(event)
    candidates = [
        m for m, evs in per_member.items() if sum(isinstance(e, ActivityCancelled) for e in evs) >= 2
    ]
    assert len(candidates) >= 10
    reordered_refunds = 0
    for member_id in candidates[:12]:
        enrolment, *rest = per_member[member_id]
        assert isinstance(enrolment, MemberEnrolled)
        results = set()
        for attempt in range(4):
            shuffled = list(rest)
            random.Random(attempt).shuffle(shuffled)
            order = {e.event_id: i for i, e in enumerate(shuffled)}
            reordered_refunds += sum(
                isinstance(e, ActivityCancelled) and order.get(e.original_event_id, -1) > i
                for i, e in enumerate(shuffled)
            )
            replay = Replay(rules, config).process_all([enrolment, *shuffled])
            state = replay.states[member_id]
            moves = Counter((e.kind, e.points, e.rule_id) for e in replay.ledger(member_id))
            contact = (state.contact.email, state.contact.phone, state.contact.address)
            results.add((state.balance, state.lifetime_points, frozenset(moves.items()), contact))
        assert len(results) == 1, member_id
    assert reordered_refunds > 10
