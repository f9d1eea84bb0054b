"""Shared helpers for the CEP tests (this module holds no tests of its own).

Events are named like the Flink CEP documentation writes them: ``a``, ``b1``, ``b2``, ``c``; an
event's *kind* is its name without the trailing digits, so ``kind("b")`` accepts ``b1`` and
``b2``. A match is rendered as the event names in pattern order, e.g. ``"a b1 b2 c"``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from operators.cep import NFA, NO_SKIP, AfterMatchSkipStrategy, Match, Pattern


@dataclass(frozen=True)
class Ev:
    name: str
    ts: int
    price: float = 0.0

    @property
    def kind(self) -> str:
        return self.name.rstrip("0123456789")


def evs(spec: str, *, start: int = 1, step: int = 1) -> list[Ev]:
    """``"a b1 c"`` -> events at timestamps start, start+step, ..."""
    return [Ev(name, start + i * step) for i, name in enumerate(spec.split())]


def kind(*kinds: str) -> Any:
    return lambda event: event.kind in kinds


def a_b_plus_c(within: int, skip: AfterMatchSkipStrategy = NO_SKIP) -> Pattern[Ev]:
    """``a``, then one or more ``b``, then ``c`` (relaxed contiguity throughout), within ``within``."""
    return (
        Pattern[Ev]
        .begin("a", skip)
        .where(kind("a"))
        .followed_by("b")
        .where(kind("b"))
        .one_or_more()
        .followed_by("c")
        .where(kind("c"))
        .within(within)
    )


def render(match: Match[Any]) -> str:
    return " ".join(event.name for stage_events in match.values() for event in stage_events)


def run(pattern: Pattern[Any], events: Sequence[Ev], *, until: int | None = None) -> list[str]:
    """Matches, in emission order, of ``pattern`` over ``events`` (taken in order, at their
    timestamps), then of advancing time to ``until`` when given."""
    return [render(m) for m in run_steps(pattern, events, until=until)[0]]


def run_steps(
    pattern: Pattern[Any], events: Sequence[Ev], *, until: int | None = None
) -> tuple[list[Match[Any]], list[Match[Any]], list[list[str]]]:
    """``(matches, timeouts, matches emitted per event)``."""
    nfa = NFA(pattern)
    state = nfa.initial_state()
    matches: list[Match[Any]] = []
    timeouts: list[Match[Any]] = []
    per_event: list[list[str]] = []
    for event in events:
        state, found, expired = nfa.advance(state, event, event.ts)
        matches.extend(found)
        timeouts.extend(expired)
        per_event.append([render(m) for m in found])
    if until is not None:
        state, found, expired = nfa.advance_time(state, until)
        matches.extend(found)
        timeouts.extend(expired)
    return matches, timeouts, per_event


def as_set(matches: Iterable[str]) -> list[str]:
    """Sorted, for comparing where the documentation gives a set of matches, not an order."""
    return sorted(matches)
