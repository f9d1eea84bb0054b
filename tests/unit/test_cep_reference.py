"""Differential testing of the NFA against a brute-force matcher written from the documented rules.

The reference covers sequences of singleton stages joined by strict (``next``), relaxed
(``followed_by``) or non-deterministic relaxed (``followed_by_any``) contiguity, optionally with
one ``not_next``/``not_followed_by`` stage between two of them, and an optional ``within``. It
enumerates every tuple of event positions and keeps those the documented rules allow:

- the i-th stage's event satisfies its condition;
- strict: it is the event right after the previous stage's event;
- relaxed: no event between the previous stage's event and it satisfies its condition ("skip
  non-matching events till the next matching one");
- non-deterministic relaxed: any later event;
- ``not_next`` before a stage: the event right after the previous stage's event does not match
  the NOT condition;
- ``not_followed_by`` before a stage: no event strictly between the two matched events matches
  the NOT condition. Flink's NFA adds one case the documentation does not spell out: if the
  stage's own event also matches the NOT condition, the partial match is discarded too, unless
  that event completes the whole match (the STOP transition discards every branch the event
  creates except completed matches); the reference models that;
- ``within(w)``: last timestamp - first timestamp < w.

A match is emitted when its last event is processed, so the comparison is per input event.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter
from dataclasses import dataclass

from operators.cep import NFA, Pattern

from .test_cep_support import Ev

KINDS = "abc"
CONNECTIVES = ("next", "followed_by", "followed_by_any")
NOTS = ("not_next", "not_followed_by")


@dataclass(frozen=True)
class Spec:
    """A generated pattern: positive stages, how each joins the previous one, NOT stages."""

    accepts: tuple[frozenset[str], ...]
    joins: tuple[str, ...]  # joins[i] connects stage i+1 to stage i
    nots: tuple[tuple[str, frozenset[str]] | None, ...]  # nots[i]: NOT stage before stage i+1
    within: int | None

    def build(self) -> Pattern[Ev]:
        def accepts(kinds: frozenset[str]) -> object:
            return lambda e: e.kind in kinds

        pattern = Pattern[Ev].begin("s0").where(accepts(self.accepts[0]))  # type: ignore[arg-type]
        for i in range(1, len(self.accepts)):
            negative = self.nots[i - 1]
            if negative is not None:
                how, kinds = negative
                pattern = getattr(pattern, how)(f"n{i}").where(accepts(kinds))
            pattern = getattr(pattern, self.joins[i - 1])(f"s{i}").where(accepts(self.accepts[i]))
        return pattern if self.within is None else pattern.within(self.within)


def reference_matches(spec: Spec, events: list[Ev]) -> Counter[tuple[int, tuple[int, ...]]]:
    """``(index of the event completing the match, positions of the matched events)`` counts."""
    found: Counter[tuple[int, tuple[int, ...]]] = Counter()
    stages = len(spec.accepts)
    for positions in itertools.combinations(range(len(events)), stages):
        if all(_allowed(spec, events, positions, i) for i in range(stages)):
            first, last = events[positions[0]], events[positions[-1]]
            if spec.within is None or last.ts - first.ts < spec.within:
                found[(positions[-1], positions)] += 1
    return found


def _allowed(spec: Spec, events: list[Ev], positions: tuple[int, ...], i: int) -> bool:
    here = positions[i]
    if events[here].kind not in spec.accepts[i]:
        return False
    if i == 0:
        return True
    previous = positions[i - 1]
    between = range(previous + 1, here)
    join = spec.joins[i - 1]
    if join == "next" and here != previous + 1:
        return False
    if join == "followed_by" and any(events[k].kind in spec.accepts[i] for k in between):
        return False
    negative = spec.nots[i - 1]
    if negative is not None:
        how, kinds = negative
        if how == "not_next" and events[previous + 1].kind in kinds:
            return False
        if how == "not_followed_by" and any(events[k].kind in kinds for k in between):
            return False
        is_last = i == len(positions) - 1
        if how == "not_followed_by" and not is_last and events[here].kind in kinds:
            return False
    return True


def nfa_matches(spec: Spec, events: list[Ev]) -> Counter[tuple[int, tuple[int, ...]]]:
    position = {id(event): index for index, event in enumerate(events)}
    nfa = NFA(spec.build())
    state = nfa.initial_state()
    found: Counter[tuple[int, tuple[int, ...]]] = Counter()
    for index, event in enumerate(events):
        state, matches, _ = nfa.advance(state, event, event.ts)
        for match in matches:
            found[(index, tuple(position[id(e)] for stage in match.values() for e in stage))] += 1
    return found


def random_spec(rng: random.Random) -> Spec:
    stages = rng.randint(2, 4)

    def kinds() -> frozenset[str]:
        return frozenset(rng.sample(KINDS, rng.randint(1, 2)))

    accepts = tuple(kinds() for _ in range(stages))
    joins = tuple(rng.choice(CONNECTIVES) for _ in range(stages - 1))
    nots = tuple((rng.choice(NOTS), kinds()) if rng.random() < 0.3 else None for _ in range(stages - 1))
    within = rng.choice([None, 3, 6, 12])
    return Spec(accepts, joins, nots, within)


def random_events(rng: random.Random, count: int) -> list[Ev]:
    ts = 0
    events = []
    for i in range(count):
        ts += rng.choice([0, 1, 1, 2, 3])  # equal timestamps happen too
        events.append(Ev(f"{rng.choice(KINDS)}{i}", ts))
    return events


def test_reference_matcher_agrees_with_documented_example() -> None:
    # sanity check of the reference itself: "a b" on "a c b1 b2"
    events = [Ev("a0", 1), Ev("c1", 2), Ev("b2", 3), Ev("b3", 4)]
    spec = Spec((frozenset("a"), frozenset("b")), ("followed_by_any",), (None,), None)
    assert reference_matches(spec, events) == Counter({(2, (0, 2)): 1, (3, (0, 3)): 1})
    relaxed = Spec(spec.accepts, ("followed_by",), (None,), None)
    assert reference_matches(relaxed, events) == Counter({(2, (0, 2)): 1})


def test_nfa_matches_the_brute_force_reference_on_random_input() -> None:
    rng = random.Random(20240611)
    for trial in range(1000):
        spec = random_spec(rng)
        events = random_events(rng, rng.randint(4, 18))
        expected = reference_matches(spec, events)
        actual = nfa_matches(spec, events)
        assert actual == expected, (trial, spec, [e.name for e in events])
