"""Rule changes keyed to event time, and the per-customer matcher the fraud job runs."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from typing import Any

import pytest

from operators.cep.alerts import Alert
from operators.cep.errors import RuleDefinitionError
from operators.cep.event_time_buffer import EventTimeBuffer
from operators.cep.fraud_events import EventKind, FraudEvent
from operators.cep.rule_timeline import (
    MAX_SEGMENTS,
    KeyMatcher,
    RuleMatchState,
    RuleTimeline,
    RuleUpdate,
    apply_rule_message,
)
from streamledger.generators import fraud as generator
from streamledger.generators.fraud import Interval, comparable, reference_alerts

VELOCITY = next(r for r in generator.default_rules() if r["rule_id"] == "velocity")


def _v(version: int, **changes: Any) -> dict[str, Any]:
    return {**VELOCITY, "version": version, **changes}


def _apply(
    timeline: RuleTimeline | None, rule: dict[str, Any] | None, at: int, key: bytes = b"velocity"
) -> Any:
    return apply_rule_message(timeline, key, None if rule is None else json.dumps(rule).encode(), at)


def test_versions_govern_half_open_intervals_from_their_timestamp() -> None:
    timeline, update = _apply(None, _v(1), 100)
    assert update is RuleUpdate.ADDED
    timeline, update = _apply(timeline, _v(2, parameters={**VELOCITY["parameters"], "min_payments": 3}), 500)
    assert update is RuleUpdate.UPDATED
    timeline, update = _apply(timeline, _v(3, enabled=False), 900)
    assert update is RuleUpdate.DISABLED
    in_force = {t: d.version if (d := timeline.in_force(t)) else None for t in (99, 100, 499, 500, 899, 900)}
    assert in_force == {99: None, 100: 1, 499: 1, 500: 2, 899: 2, 900: None}
    assert (timeline.end_of(1), timeline.end_of(2)) == (500, 900)


def test_a_message_timestamped_before_the_previous_change_starts_with_it() -> None:
    timeline, _ = _apply(None, _v(1), 1_000)
    timeline, _ = _apply(timeline, _v(2, parameters={**VELOCITY["parameters"], "min_payments": 5}), 400)
    assert [s.effective_from_ms for s in timeline.segments] == [1_000, 1_000]
    assert timeline.in_force(1_000).version == 2


def test_same_version_again_changes_nothing_and_tombstones_disable() -> None:
    timeline, _ = _apply(None, _v(1), 0)
    again, update = _apply(timeline, _v(1), 10)
    assert update is RuleUpdate.UNCHANGED and again == timeline
    deleted, update = _apply(timeline, None, 20)
    assert update is RuleUpdate.DELETED and deleted.in_force(20) is None and deleted.in_force(19).version == 1
    assert _apply(deleted, None, 30)[1] is RuleUpdate.UNCHANGED
    enabled_again, update = _apply(deleted, _v(2), 40)
    assert update is RuleUpdate.ADDED and enabled_again.in_force(40).version == 2


@pytest.mark.parametrize(
    ("key", "value", "field"),
    [
        (b"velocity", b"{oops", None),
        (b"velocity", json.dumps({**VELOCITY, "type": "nope"}).encode(), "type"),
        (
            b"velocity",
            json.dumps({**VELOCITY, "parameters": {"within_ms": 5}}).encode(),
            "parameters.min_payments",
        ),
        (b"other", json.dumps(VELOCITY).encode(), "rule_id"),
        (b"never-seen", None, None),
    ],
)
def test_invalid_messages_are_rejected_with_a_reason(
    key: bytes, value: bytes | None, field: str | None
) -> None:
    with pytest.raises(RuleDefinitionError) as caught:
        apply_rule_message(None, key, value, 0)
    assert caught.value.field == field and str(caught.value)


def test_older_or_conflicting_versions_are_rejected() -> None:
    timeline, _ = _apply(None, _v(2), 0)
    with pytest.raises(RuleDefinitionError, match="older"):
        _apply(timeline, _v(1), 5)
    with pytest.raises(RuleDefinitionError, match="different content"):
        _apply(timeline, _v(2, parameters={**VELOCITY["parameters"], "min_payments": 9}), 5)


def test_history_is_bounded() -> None:
    timeline = None
    for version in range(1, 3 * MAX_SEGMENTS):
        timeline, _ = _apply(timeline, _v(version), version * 10)
    assert timeline is not None and len(timeline.segments) == MAX_SEGMENTS
    assert timeline.in_force(10**9).version == 3 * MAX_SEGMENTS - 1


def _run_like_the_job(
    arrivals: list[FraudEvent], timelines: dict[str, RuleTimeline], lag_ms: int, every: int
) -> list[Alert]:
    """Buffer per customer, release by a bounded-out-of-orderness watermark every ``every``
    events (as the job's timers do), encode nothing: the matcher's semantics only."""
    matcher = KeyMatcher()
    buffers: dict[str, EventTimeBuffer[FraudEvent]] = defaultdict(EventTimeBuffer)
    states: dict[str, dict[str, RuleMatchState]] = defaultdict(dict)
    alerts: list[Alert] = []

    def release(key: str, watermark: int) -> None:
        buffers[key], released = buffers[key].advance_watermark(watermark)
        step = matcher.step(key, released, watermark, timelines, states[key])
        for rule_id, state in step.states.items():
            if state is None:
                states[key].pop(rule_id, None)
            else:
                states[key][rule_id] = state
        alerts.extend(step.alerts)

    max_seen = 0
    for index, event in enumerate(arrivals):
        assert not buffers[event.key].is_late(event.timestamp_ms)
        buffers[event.key] = buffers[event.key].add(event, event.timestamp_ms)
        max_seen = max(max_seen, event.timestamp_ms)
        if index % every == 0:
            for key in list(buffers):
                release(key, max_seen - lag_ms - 1)
    for key in list(buffers):
        release(key, 2**62)
    assert all(not s for s in states.values()), "everything times out at the end"
    return alerts


def test_out_of_order_input_and_mid_stream_changes_give_the_reference_alerts() -> None:
    events = generator.fraud_events(customers=6, events=900, seed=17, max_disorder_ms=4_000)
    first, last = min(e.timestamp_ms for e in events), max(e.timestamp_ms for e in events)
    change = first + (last - first) // 2
    rules = {r["rule_id"]: r for r in generator.default_rules()}
    velocity_v2 = {
        **rules["velocity"],
        "version": 2,
        "parameters": {**rules["velocity"]["parameters"], "min_payments": 3},
    }
    timelines: dict[str, RuleTimeline] = {}
    for rule in rules.values():
        timelines[rule["rule_id"]], _ = _apply(None, rule, first - 1, rule["rule_id"].encode())
    timelines["velocity"], _ = _apply(timelines["velocity"], velocity_v2, change)
    timelines["failed-logins"], _ = _apply(timelines["failed-logins"], None, change, b"failed-logins")
    intervals = [
        Interval(rules["velocity"], first - 1, change),
        Interval(velocity_v2, change),
        Interval(rules["failed-logins"], first - 1, change),
        *(Interval(r, first - 1) for rid, r in rules.items() if rid not in ("velocity", "failed-logins")),
    ]
    expected = reference_alerts(events, intervals)
    assert {(a.rule_id, a.rule_version) for a in expected} >= {
        ("velocity", 1),
        ("velocity", 2),
        ("failed-logins", 1),
    }

    shuffled = sorted(events, key=lambda e: e.timestamp_ms + random.Random(e.event_id).randint(0, 4_000))
    for arrivals, every in ((events, 1), (shuffled, 7), (sorted(events, key=lambda e: e.timestamp_ms), 50)):
        assert comparable(_run_like_the_job(arrivals, timelines, lag_ms=5_000, every=every)) == comparable(
            expected
        )


def test_a_version_change_closes_held_matches_with_the_old_version() -> None:
    """A match the old version completes before its interval ends is reported with the old
    version even when the change is seen only with the next event; partial matches of the old
    version are not continued by the new one."""
    rule = {**VELOCITY, "parameters": {**VELOCITY["parameters"], "min_payments": 2, "min_amount_minor": 0}}
    timeline, _ = _apply(None, rule, 0)
    timeline, _ = _apply(timeline, {**rule, "version": 2}, 1_000)
    pay = [FraudEvent(f"p{i}", "c", EventKind.PAYMENT, t, 10) for i, t in enumerate((100, 200, 900, 1_100))]
    step = KeyMatcher().step("c", [(e.timestamp_ms, e) for e in pay], 5_000, {"velocity": timeline}, {})
    assert [(a.rule_version, a.event_ids) for a in step.alerts] == [(1, ("p0", "p1"))]
    # p2 (v1, alone before the change) and p3 (v2, alone after it) never pair up
