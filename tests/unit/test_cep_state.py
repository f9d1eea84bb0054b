"""The NFA state: a plain value that pickles, shares events between partial matches, and stays
bounded over a long stream when the pattern has a window."""

from __future__ import annotations

import dataclasses
import pickle
import random

import pytest

from operators.cep import NFA, EventTimeBuffer, NFAState, Pattern, ProcessorOutput, ProcessorState

from .test_cep_support import Ev, a_b_plus_c, kind, render


def _stream(seed: int, count: int, kinds: str = "abcd") -> list[Ev]:
    rng = random.Random(seed)
    ts = 0
    events = []
    for i in range(count):
        ts += rng.randint(1, 3)
        events.append(Ev(f"{rng.choice(kinds)}{i}", ts))
    return events


def test_state_is_frozen_and_survives_pickling_mid_stream() -> None:
    events = _stream(7, 300)
    nfa = NFA(a_b_plus_c(within=30))

    def matches(roundtrip_every: int | None) -> list[str]:
        state: NFAState[Ev] = nfa.initial_state()
        found: list[str] = []
        for index, event in enumerate(events):
            if roundtrip_every and index % roundtrip_every == 0:
                state = pickle.loads(pickle.dumps(state))
            state, new, _ = nfa.advance(state, event, event.ts)
            found.extend(render(m) for m in new)
        return found

    assert matches(None) == matches(roundtrip_every=17)
    state = nfa.initial_state()
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.next_seq = 5  # type: ignore[misc]


def test_partial_matches_share_stored_events() -> None:
    # a followed by any number of b's: every partial match holds "a", stored once
    pattern = Pattern[Ev].begin("a").where(kind("a")).followed_by_any("b").where(kind("b")).times(3)
    nfa = NFA(pattern)
    state = nfa.initial_state()
    for event in [Ev("a0", 1), Ev("b1", 2), Ev("b2", 3)]:
        state, _, _ = nfa.advance(state, event, event.ts)
    assert len(state.partial_matches) >= 3
    assert [e.event.name for e in state.buffer.events] == ["a0", "b1", "b2"]
    # match paths share their prefixes: fewer nodes than the paths' total length
    parents = {node.node_id: node.parent for node in state.buffer.nodes}

    def path_length(node: int | None) -> int:
        return 0 if node is None else 1 + path_length(parents[node])

    assert len(parents) < sum(path_length(p.node) for p in state.partial_matches)


def test_events_no_partial_match_needs_are_dropped() -> None:
    nfa = NFA(Pattern[Ev].begin("a").where(kind("a")).next("b").where(kind("b")))
    state = nfa.initial_state()
    for event in [Ev("a0", 1), Ev("x1", 2), Ev("a2", 3)]:
        state, _, _ = nfa.advance(state, event, event.ts)
    assert [e.event.name for e in state.buffer.events] == ["a2"]
    state, found, _ = nfa.advance(state, Ev("b3", 4), 4)
    assert [render(m) for m in found] == ["a2 b3"]
    assert state.buffer.events == () and state.buffer.nodes == () and state.is_empty


@pytest.mark.parametrize(
    ("name", "pattern", "bound"),
    [
        # relaxed, deterministic: each "a" in the window owns at most one partial match
        (
            "a -> b -> c",
            Pattern[Ev]
            .begin("a")
            .where(kind("a"))
            .followed_by("b")
            .where(kind("b"))
            .followed_by("c")
            .where(kind("c"))
            .within(60),
            60,
        ),
        # a looping stage: per "a", one branch per prefix of b's in the window, plus the loop
        (
            "a -> b+ -> c",
            a_b_plus_c(within=30),
            30 * (30 + 3),
        ),
    ],
)
def test_state_stays_bounded_over_a_long_random_stream(name: str, pattern: Pattern[Ev], bound: int) -> None:
    nfa = NFA(pattern)
    window = nfa.window_ms
    assert window is not None
    state = nfa.initial_state()
    sizes: list[int] = []
    for event in _stream(99, 6000):
        state, _, _ = nfa.advance(state, event, event.ts)
        sizes.append(len(state.partial_matches))
        # nothing older than the window is kept
        assert all(e.timestamp > event.ts - window for e in state.buffer.events), name
        assert all(c.start_timestamp > event.ts - window for c in state.partial_matches), name
    assert max(sizes) <= bound, name
    # and it does not creep up: the second half is no worse than the first
    half = len(sizes) // 2
    assert max(sizes[half:]) <= max(sizes[:half]) * 1.5, name


def test_without_a_window_partial_matches_accumulate() -> None:
    # the contrast that shows within() is what bounds the state: "a" then a "z" that never comes
    nfa = NFA(Pattern[Ev].begin("a").where(kind("a")).followed_by("z").where(kind("z")))
    state = nfa.initial_state()
    for event in _stream(5, 600, kinds="ab"):
        state, _, _ = nfa.advance(state, event, event.ts)
    assert len(state.partial_matches) > 200


def test_generic_value_types_can_be_built_through_their_subscripted_alias() -> None:
    assert NFAState[Ev]().is_empty
    assert len(EventTimeBuffer[Ev]()) == 0
    assert ProcessorState[Ev]().nfa.is_empty
    assert ProcessorOutput[Ev]().matches == ()
