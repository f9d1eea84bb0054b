"""Event-time pattern matching for one key: an ``EventTimeBuffer`` in front of an ``NFA``.

This is the whole per-key behaviour the Flink shell (a ``KeyedProcessFunction``) needs, kept
pure so it is tested without Flink: the shell stores ``ProcessorState`` in keyed state, calls
``on_event`` for each element and ``on_watermark`` from an event-time timer, and forwards the
output (matches downstream, timeouts and late events to side outputs).

``timestamp_of`` extracts an event's event time in epoch milliseconds; it is a constructor
argument rather than part of the state so the state stays a plain value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from .event_time_buffer import EventTimeBuffer
from .nfa import NFA, Match
from .nfa_state import NFAState

E = TypeVar("E")


@dataclass(frozen=True)
class ProcessorState(Generic[E]):
    nfa: NFAState[E] = field(default_factory=NFAState)
    buffer: EventTimeBuffer[E] = field(default_factory=EventTimeBuffer)


@dataclass(frozen=True)
class ProcessorOutput(Generic[E]):
    matches: tuple[Match[E], ...] = ()
    timeouts: tuple[Match[E], ...] = ()
    late: tuple[E, ...] = ()


class CepProcessor(Generic[E]):
    """Runs one ``NFA`` over out-of-order input, releasing events as the watermark passes them."""

    def __init__(self, nfa: NFA[E], timestamp_of: Callable[[E], int]) -> None:
        self.nfa = nfa
        self.timestamp_of = timestamp_of

    def initial_state(self) -> ProcessorState[E]:
        return ProcessorState(self.nfa.initial_state(), EventTimeBuffer())

    def on_event(self, state: ProcessorState[E], event: E) -> tuple[ProcessorState[E], ProcessorOutput[E]]:
        """Buffer ``event``; a late one is returned in ``output.late`` and otherwise dropped."""
        timestamp = self.timestamp_of(event)
        if state.buffer.is_late(timestamp):
            return state, ProcessorOutput(late=(event,))
        return ProcessorState(state.nfa, state.buffer.add(event, timestamp)), ProcessorOutput()

    def on_watermark(
        self, state: ProcessorState[E], watermark: int
    ) -> tuple[ProcessorState[E], ProcessorOutput[E]]:
        """Process every buffered event the watermark passed, in order, then advance time."""
        buffer, released = state.buffer.advance_watermark(watermark)
        nfa_state = state.nfa
        matches: list[Match[E]] = []
        timeouts: list[Match[E]] = []
        for timestamp, event in released:
            nfa_state, found, expired = self.nfa.advance(nfa_state, event, timestamp)
            matches.extend(found)
            timeouts.extend(expired)
        nfa_state, found, expired = self.nfa.advance_time(nfa_state, watermark)
        matches.extend(found)
        timeouts.extend(expired)
        return ProcessorState(nfa_state, buffer), ProcessorOutput(tuple(matches), tuple(timeouts))

    def run(
        self, events: Iterable[E], watermark_lag_ms: int, final_watermark: int | None = None
    ) -> ProcessorOutput[E]:
        """Feed ``events`` in arrival order with a bounded-out-of-orderness watermark
        (``max timestamp seen - watermark_lag_ms - 1``, as Flink's ``forBoundedOutOfOrderness``),
        then a final watermark (default: past every event). For tests, replays and backfills."""
        state = self.initial_state()
        matches: list[Match[E]] = []
        timeouts: list[Match[E]] = []
        late: list[E] = []
        max_seen: int | None = None

        def collect(output: ProcessorOutput[E]) -> None:
            matches.extend(output.matches)
            timeouts.extend(output.timeouts)
            late.extend(output.late)

        for event in events:
            state, output = self.on_event(state, event)
            collect(output)
            timestamp = self.timestamp_of(event)
            max_seen = timestamp if max_seen is None else max(max_seen, timestamp)
            state, output = self.on_watermark(state, max_seen - watermark_lag_ms - 1)
            collect(output)
        if final_watermark is None:
            final_watermark = (max_seen if max_seen is not None else 0) + (self.nfa.window_ms or 0) + 1
        state, output = self.on_watermark(state, final_watermark)
        collect(output)
        return ProcessorOutput(tuple(matches), tuple(timeouts), tuple(late))
