"""The fraud-cep keyed state survives its byte encoding mid-stream, without pickle."""

from __future__ import annotations

import json

import pytest

from operators.cep.event_time_buffer import EventTimeBuffer
from operators.cep.fraud_events import EventKind, FraudEvent
from operators.cep.rule_timeline import KeyMatcher, RuleMatchState, RuleTimeline, apply_rule_message
from state.codec import StateVersionError
from state.fraud_cep import (
    PENDING_STATE,
    RULE_STATE,
    decode_pending,
    decode_rule_state,
    encode_pending,
    encode_rule_state,
)
from streamledger.generators import fraud as generator


def _timelines() -> dict[str, RuleTimeline]:
    timelines = {}
    for rule in generator.default_rules():
        key, value = generator.rule_message(rule)
        timelines[rule["rule_id"]], _ = apply_rule_message(None, key, value, 0)
    return timelines


def test_every_field_of_a_buffered_event_round_trips() -> None:
    located = FraudEvent("e1", "c1", EventKind.PAYMENT, 10, 1234, "CRED", None, 0, 0, 48.5, 2.25)
    redemption = FraudEvent("e2", "c1", EventKind.POINTS_REDEMPTION, 5, points=90, points_balance=100)
    buffer = EventTimeBuffer[FraudEvent]().add(located, 10).add(redemption, 5)
    decoded = decode_pending(encode_pending(buffer))
    assert decoded == buffer
    released = decode_pending(encode_pending(buffer.advance_watermark(7)[0]))
    assert released.watermark == 7 and [p.event for p in released.pending] == [located]


def test_rule_states_round_trip_at_every_step_and_matching_is_unchanged() -> None:
    """Run every default rule over generated activity twice: with the states kept as values,
    and with every state encoded and decoded after every step. Same alerts, equal states."""
    events = generator.fraud_events(customers=3, events=400, seed=13, max_disorder_ms=0)
    timelines = _timelines()
    plain, coded = KeyMatcher(), KeyMatcher()
    plain_states: dict[str, dict[str, RuleMatchState]] = {}
    coded_states: dict[str, dict[str, bytes]] = {}
    plain_alerts, coded_alerts, in_flight = [], [], 0
    for event in events:
        released = [(event.timestamp_ms, event)]
        step = plain.step(event.key, released, event.timestamp_ms, timelines, plain_states.get(event.key, {}))
        states = plain_states.setdefault(event.key, {})
        for rule_id, state in step.states.items():
            if state is None:
                states.pop(rule_id, None)
            else:
                states[rule_id] = state
        plain_alerts.extend(step.alerts)

        decoded = {r: decode_rule_state(b) for r, b in coded_states.get(event.key, {}).items()}
        coded_step = coded.step(event.key, released, event.timestamp_ms, timelines, decoded)
        stored = coded_states.setdefault(event.key, {})
        for rule_id, state in coded_step.states.items():
            if state is None:
                stored.pop(rule_id, None)
            else:
                stored[rule_id] = encode_rule_state(state)
        coded_alerts.extend(coded_step.alerts)
        assert {r: decode_rule_state(b) for r, b in stored.items()} == states
        in_flight = max(in_flight, sum(len(s.nfa.partial_matches) for s in states.values()))
    assert plain_alerts and coded_alerts == plain_alerts
    assert in_flight > 1, "partial matches must have been stored along the way"


def test_state_bytes_carry_their_version() -> None:
    state = RuleMatchState(
        "r", 3, KeyMatcher().runtime(_timelines()["velocity"].segments[0].definition).nfa.initial_state()
    )
    data = encode_rule_state(state)
    assert data[0] == RULE_STATE.current_version == 1
    assert decode_rule_state(data) == state
    assert encode_pending(EventTimeBuffer())[0] == PENDING_STATE.current_version
    with pytest.raises(StateVersionError):
        decode_rule_state(bytes([9]) + data[1:])
    assert b"\x80\x04" not in data and b"operators.cep" not in data  # not a pickle


def test_timeline_json_round_trips() -> None:
    for timeline in _timelines().values():
        assert RuleTimeline.from_json(timeline.to_json()) == timeline
        assert json.loads(timeline.to_json())["rule_id"] == timeline.rule_id
