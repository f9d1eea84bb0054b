"""Out-of-order input: the event-time buffer, the per-key processor, and the property that
reordering within the allowed lateness does not change the matches."""

from __future__ import annotations

import random
from typing import Any

import pytest

from operators.cep import (
    NFA,
    SKIP_PAST_LAST_EVENT,
    SKIP_TO_NEXT,
    CepProcessor,
    EventTimeBuffer,
    LateEventError,
    Pattern,
)

from .test_cep_support import Ev, a_b_plus_c, kind, render

# --- EventTimeBuffer ------------------------------------------------------------------------------


def test_buffer_releases_up_to_the_watermark_in_timestamp_then_arrival_order() -> None:
    buffer: EventTimeBuffer[str] = EventTimeBuffer()
    for name, ts in [("c", 30), ("a", 10), ("b1", 20), ("d", 40), ("b2", 20)]:
        buffer = buffer.add(name, ts)
    buffer, released = buffer.advance_watermark(30)
    assert released == ((10, "a"), (20, "b1"), (20, "b2"), (30, "c"))
    assert len(buffer) == 1
    buffer, released = buffer.advance_watermark(39)
    assert released == ()
    buffer, released = buffer.advance_watermark(40)
    assert released == ((40, "d"),)


def test_buffer_rejects_late_events_and_ignores_watermarks_going_back() -> None:
    buffer = EventTimeBuffer[str]().add("a", 10)
    buffer, _ = buffer.advance_watermark(15)
    assert buffer.is_late(15) and buffer.is_late(3) and not buffer.is_late(16)
    with pytest.raises(LateEventError):
        buffer.add("late", 15)
    buffer = buffer.add("b", 16)
    same, released = buffer.advance_watermark(12)
    assert same is buffer and released == ()


def test_buffer_is_an_immutable_value() -> None:
    empty: EventTimeBuffer[str] = EventTimeBuffer()
    one = empty.add("a", 1)
    assert len(empty) == 0 and len(one) == 1


# --- CepProcessor -----------------------------------------------------------------------------------


def _a_then_b(within: int = 100) -> Pattern[Ev]:
    return Pattern[Ev].begin("a").where(kind("a")).followed_by("b").where(kind("b")).within(within)


def _ts(event: Ev) -> int:
    return event.ts


def test_processor_buffers_until_the_watermark() -> None:
    processor = CepProcessor(NFA(_a_then_b()), _ts)
    state = processor.initial_state()
    state, out = processor.on_event(state, Ev("b1", 20))
    state, out = processor.on_event(state, Ev("a1", 10))  # arrives late but before the watermark
    assert out.matches == ()
    state, out = processor.on_watermark(state, 19)
    assert out.matches == ()
    state, out = processor.on_watermark(state, 20)
    assert [render(m) for m in out.matches] == ["a1 b1"]


def test_processor_reports_late_events_and_timeouts() -> None:
    processor = CepProcessor(NFA(_a_then_b(within=10)), _ts)
    state = processor.initial_state()
    state, _ = processor.on_event(state, Ev("a1", 5))
    state, out = processor.on_watermark(state, 8)
    state, out = processor.on_event(state, Ev("b0", 8))
    assert [e.name for e in out.late] == ["b0"]
    state, out = processor.on_watermark(state, 15)
    assert [render(t) for t in out.timeouts] == ["a1"]
    assert state.nfa.is_empty


def test_run_uses_a_bounded_out_of_orderness_watermark() -> None:
    processor = CepProcessor(NFA(_a_then_b()), _ts)
    # b1 at 20 arrives before a1 at 10: fine with a lag of 10, late with a lag of 5
    events = [Ev("b1", 20), Ev("a1", 10), Ev("b2", 30)]
    # in event-time order a1 is followed first by b1 (relaxed contiguity takes the first b)
    assert [render(m) for m in processor.run(events, watermark_lag_ms=10).matches] == ["a1 b1"]
    output = processor.run([Ev("b1", 20), Ev("x", 30), Ev("a1", 10)], watermark_lag_ms=5)
    assert [e.name for e in output.late] == ["a1"]


# --- the out-of-order property ------------------------------------------------------------------------

LAG = 8


def _patterns() -> list[Pattern[Ev]]:
    return [
        _a_then_b(within=15),
        Pattern[Ev]
        .begin("a")
        .where(kind("a"))
        .next("b")
        .where(kind("b"))
        .followed_by_any("c")
        .where(kind("c")),
        a_b_plus_c(within=20, skip=SKIP_PAST_LAST_EVENT),
        Pattern[Ev]
        .begin("a", SKIP_TO_NEXT)
        .where(kind("a"))
        .not_followed_by("no_b")
        .where(kind("b"))
        .within(12),
        Pattern[Ev].begin("a").where(kind("a", "b")).times(2, 3).consecutive().next("c").where(kind("c")),
    ]


def _ordered_events(rng: random.Random, count: int) -> list[Ev]:
    ts = 0
    events = []
    for i in range(count):
        ts += rng.randint(1, 4)  # distinct: equal timestamps are ordered by arrival, by design
        events.append(Ev(f"{rng.choice('abcd')}{i}", ts))
    return events


def _shuffle_within_lag(rng: random.Random, events: list[Ev]) -> list[Ev]:
    # every event is delayed by at most LAG ms of event time, so none arrives behind a
    # watermark of (max timestamp seen - LAG - 1)
    return sorted(events, key=lambda e: (e.ts + rng.randint(0, LAG), rng.random()))


def _summary(output: Any) -> tuple[list[str], list[str], list[str]]:
    return (
        [render(m) for m in output.matches],
        sorted(render(t) for t in output.timeouts),
        [e.name for e in output.late],
    )


@pytest.mark.parametrize("pattern_index", range(len(_patterns())))
def test_shuffled_input_within_the_lag_gives_the_same_matches_as_ordered_input(pattern_index: int) -> None:
    pattern = _patterns()[pattern_index]
    rng = random.Random(1000 + pattern_index)
    for _ in range(40):
        events = _ordered_events(rng, rng.randint(5, 40))
        processor = CepProcessor(NFA(pattern), _ts)
        expected = _summary(processor.run(events, LAG))
        shuffled = _shuffle_within_lag(rng, events)
        assert _summary(processor.run(shuffled, LAG)) == expected
        assert expected[2] == []

        # and both equal feeding the NFA directly, in order
        nfa = NFA(pattern)
        state = nfa.initial_state()
        direct: list[str] = []
        for event in events:
            state, found, _ = nfa.advance(state, event, event.ts)
            direct.extend(render(m) for m in found)
        state, found, _ = nfa.advance_time(state, events[-1].ts + 10_000)
        direct.extend(render(m) for m in found)
        assert expected[0] == direct
