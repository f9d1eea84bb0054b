"""The NFA engine: runs a compiled pattern over events given in timestamp order.

``NFA`` holds only the compiled (immutable) graph; all that changes lives in the ``NFAState``
passed in and returned, so one ``NFA`` serves every key and the state can be stored per key::

    nfa = NFA(pattern)
    state = nfa.initial_state()
    state, matches, timeouts = nfa.advance(state, event, timestamp)
    state, matches, timeouts = nfa.advance_time(state, watermark)

``advance`` first advances time to the event's timestamp (pruning partial matches whose window
has passed), then lets every partial match and a fresh start react to the event, exactly the
order Flink's CEP operator uses (``advanceTime`` then ``process`` for each released event).

A match is ``dict[stage name, list of events]`` in pattern order; a stage that matched nothing
(an optional one) is absent. A timed-out partial match has the same shape.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Generic, TypeVar

from .compiler import Action, CompiledPattern, StateKind, Transition, compile_pattern
from .errors import EventOrderError, SkipStrategyError
from .nfa_state import BufferedEvent, ComputationState, MatchNode, NFAState, SharedBuffer
from .pattern import Pattern
from .skip_strategy import AfterMatchSkipStrategy, SkipKind

E = TypeVar("E")

Match = dict[str, list[E]]
"""Stage name -> events accepted for it, in pattern order."""

StepResult = tuple[NFAState[E], list[Match[E]], list[Match[E]]]
"""``(new state, matches, timed-out partial matches)``."""


class NFA(Generic[E]):
    """A compiled pattern, ready to run. Build once, reuse for every key."""

    def __init__(self, pattern: Pattern[E]) -> None:
        self._compiled = compile_pattern(pattern)
        self._states = self._compiled.states
        self._start = self._compiled.start
        self._window = self._compiled.window_ms
        self._skip = self._compiled.skip_strategy

    @property
    def compiled(self) -> CompiledPattern[E]:
        return self._compiled

    @property
    def window_ms(self) -> int | None:
        return self._window

    @property
    def skip_strategy(self) -> AfterMatchSkipStrategy:
        return self._skip

    def initial_state(self) -> NFAState[E]:
        return NFAState()

    # --- public steps ----------------------------------------------------------------------------

    def advance(self, state: NFAState[E], event: E, timestamp: int) -> StepResult[E]:
        """Process one event. Raises ``EventOrderError`` if ``timestamp`` is before ``state.time``."""
        if state.time is not None and timestamp < state.time:
            raise EventOrderError(
                f"event at {timestamp} ms arrived after the NFA advanced to {state.time} ms; "
                "feed out-of-order input through an EventTimeBuffer"
            )
        work: _Workspace[E] = _Workspace(state)
        partials, completed, matches, timeouts = self._expire(work, state, timestamp)

        seq = state.next_seq
        work.events[seq] = BufferedEvent(seq, timestamp, event)
        start = ComputationState(self._start, None, seq, timestamp)
        next_partials: list[ComputationState] = []
        potential: list[ComputationState] = []
        for computation in (*partials, start):
            retained: list[ComputationState] = []
            stopped = False
            for successor in self._successors(work, computation, event, seq, timestamp):
                kind = self._states[successor.state].kind
                if kind is StateKind.FINAL:
                    potential.append(successor)
                elif kind is StateKind.STOP:
                    stopped = True
                else:
                    retained.append(successor)
            if not stopped:  # a NOT stage matched: this whole branch is discarded
                next_partials.extend(retained)
        next_partials.sort(key=_start_order)

        next_partials, completed, emitted = self._emit(work, next_partials, completed, potential)
        matches.extend(emitted)
        new_state = work.freeze(next_partials, completed, seq + 1, timestamp)
        return new_state, matches, timeouts

    def advance_time(self, state: NFAState[E], watermark: int) -> StepResult[E]:
        """Advance event time without an event: time out partial matches whose window has passed,
        emit trailing ``not_followed_by`` matches whose window passed cleanly, and emit matches a
        skip strategy was holding back for a partial match that has now timed out."""
        work: _Workspace[E] = _Workspace(state)
        partials, completed, matches, timeouts = self._expire(work, state, watermark)
        time = watermark if state.time is None else max(state.time, watermark)
        return work.freeze(partials, completed, state.next_seq, time), matches, timeouts

    # --- time ------------------------------------------------------------------------------------

    def _expire(
        self, work: _Workspace[E], state: NFAState[E], time: int
    ) -> tuple[list[ComputationState], tuple[ComputationState, ...], list[Match[E]], list[Match[E]]]:
        if self._window is None:
            return list(state.partial_matches), state.completed_matches, [], []
        kept: list[ComputationState] = []
        pending_done: list[ComputationState] = []
        timeouts: list[Match[E]] = []
        for computation in state.partial_matches:
            if time - computation.start_timestamp >= self._window:
                if self._states[computation.state].kind is StateKind.PENDING:
                    pending_done.append(computation)
                else:
                    timeouts.append(work.materialize(computation.node))
            else:
                kept.append(computation)
        partials, completed, matches = self._emit(work, kept, state.completed_matches, pending_done)
        return partials, completed, matches, timeouts

    # --- one computation state, one event ------------------------------------------------------

    def _successors(
        self, work: _Workspace[E], computation: ComputationState, event: E, seq: int, timestamp: int
    ) -> list[ComputationState]:
        is_start = computation.node is None
        context = _Context(work, computation.node, timestamp)
        successors: list[ComputationState] = []
        for edge in self._decision_edges(computation.state, event, context):
            if edge.action is Action.IGNORE:
                if not is_start:  # the start state never ignores: every event may start a match
                    successors.append(replace(computation, state=edge.target))
                continue
            node = work.add_node(self._states[edge.source].stage, seq, computation.node)
            start_seq, start_ts = (
                (seq, timestamp) if is_start else (computation.start_seq, computation.start_timestamp)
            )
            successors.append(ComputationState(edge.target, node, start_seq, start_ts))
            final = self._final_after_proceed(edge.target, event, context)
            if final is not None:
                successors.append(ComputationState(final, node, start_seq, start_ts))
        return successors

    def _decision_edges(self, state: str, event: E, context: _Context[E]) -> list[Transition[E]]:
        """TAKE and IGNORE edges enabled for ``event``, following enabled PROCEED edges."""
        edges: list[Transition[E]] = []
        stack = [state]
        while stack:
            for edge in self._states[stack.pop()].transitions:
                if edge.condition.test(event, context):
                    if edge.action is Action.PROCEED:
                        stack.append(edge.target)
                    else:
                        edges.append(edge)
        return edges

    def _final_after_proceed(self, state: str, event: E, context: _Context[E]) -> str | None:
        """The FINAL state, if PROCEED edges lead there from ``state`` (an optional or looping
        stage ending the pattern completes a match as soon as it has taken an event)."""
        stack = [state]
        while stack:
            for edge in self._states[stack.pop()].transitions:
                if edge.action is Action.PROCEED and edge.condition.test(event, context):
                    if self._states[edge.target].kind is StateKind.FINAL:
                        return edge.target
                    stack.append(edge.target)
        return None

    # --- emitting matches ------------------------------------------------------------------------

    def _emit(
        self,
        work: _Workspace[E],
        partials: list[ComputationState],
        completed: Sequence[ComputationState],
        potential: list[ComputationState],
    ) -> tuple[list[ComputationState], tuple[ComputationState, ...], list[Match[E]]]:
        potential = sorted(potential, key=_start_order)
        if not self._skip.prunes:
            return partials, tuple(completed), [work.materialize(match.node) for match in potential]
        # Emit in start order, and only a match no live partial match started before: emitting
        # it prunes according to the strategy, and may prune partial matches still running.
        queue = sorted((*completed, *potential), key=_start_order)
        emitted: list[Match[E]] = []
        while queue:
            earliest = queue[0]
            if partials and partials[0].start_seq < earliest.start_seq:
                break
            queue.pop(0)
            path = work.path(earliest.node)
            pruning = self._pruning_seq(path)
            if pruning is not None:
                strict = self._skip.kind in (SkipKind.SKIP_TO_FIRST, SkipKind.SKIP_TO_LAST)
                partials = [p for p in partials if not _pruned(p.start_seq, pruning, strict)]
                queue = [c for c in queue if not _pruned(c.start_seq, pruning, strict)]
            emitted.append(work.materialize_path(path))
        return partials, tuple(queue), emitted

    def _pruning_seq(self, path: Sequence[MatchNode]) -> int | None:
        kind = self._skip.kind
        if kind is SkipKind.SKIP_TO_NEXT:
            return path[0].seq
        if kind is SkipKind.SKIP_PAST_LAST_EVENT:
            return path[-1].seq
        stage_seqs = [node.seq for node in path if node.stage == self._skip.stage]
        if not stage_seqs:
            if self._skip.throw_on_miss:
                raise SkipStrategyError(
                    f"{kind.value}: the match has no event for stage {self._skip.stage!r} to skip to"
                )
            return None
        pruning = stage_seqs[0] if kind is SkipKind.SKIP_TO_FIRST else stage_seqs[-1]
        if self._skip.throw_on_miss and pruning == path[0].seq:
            # Flink's strict mode (used by MATCH_RECOGNIZE): skipping to the match's own first
            # event would find the same match again.
            raise SkipStrategyError(
                f"{kind.value}: stage {self._skip.stage!r} starts the match; skipping to it would loop"
            )
        return pruning


def _start_order(computation: ComputationState) -> int:
    return computation.start_seq


def _pruned(start_seq: int, pruning_seq: int, strict: bool) -> bool:
    return start_seq < pruning_seq if strict else start_seq <= pruning_seq


class _Workspace(Generic[E]):
    """Mutable scratch copy of a ``SharedBuffer`` for the duration of one step."""

    def __init__(self, state: NFAState[E]) -> None:
        self.events: dict[int, BufferedEvent[E]] = {e.seq: e for e in state.buffer.events}
        self.nodes: dict[int, MatchNode] = {n.node_id: n for n in state.buffer.nodes}
        self.next_node_id = state.next_node_id

    def add_node(self, stage: str, seq: int, parent: int | None) -> int:
        node_id = self.next_node_id
        self.next_node_id += 1
        self.nodes[node_id] = MatchNode(node_id, stage, seq, parent)
        return node_id

    def path(self, node_id: int | None) -> list[MatchNode]:
        """The nodes from the first accepted event to ``node_id``."""
        path: list[MatchNode] = []
        while node_id is not None:
            node = self.nodes[node_id]
            path.append(node)
            node_id = node.parent
        path.reverse()
        return path

    def materialize(self, node_id: int | None) -> Match[E]:
        return self.materialize_path(self.path(node_id))

    def materialize_path(self, path: Iterable[MatchNode]) -> Match[E]:
        match: Match[E] = {}
        for node in path:
            match.setdefault(node.stage, []).append(self.events[node.seq].event)
        return match

    def events_for(self, node_id: int | None, stage: str) -> list[E]:
        return [self.events[node.seq].event for node in self.path(node_id) if node.stage == stage]

    def freeze(
        self,
        partials: Sequence[ComputationState],
        completed: Sequence[ComputationState],
        next_seq: int,
        time: int,
    ) -> NFAState[E]:
        """Keep only nodes and events that a live computation still reaches."""
        live: set[int] = set()
        for computation in (*partials, *completed):
            node_id = computation.node
            while node_id is not None and node_id not in live:
                live.add(node_id)
                node_id = self.nodes[node_id].parent
        nodes = tuple(self.nodes[i] for i in sorted(live))
        seqs = sorted({node.seq for node in nodes})
        buffer = SharedBuffer(tuple(self.events[s] for s in seqs), nodes)
        return NFAState(tuple(partials), tuple(completed), buffer, next_seq, self.next_node_id, time)


class _Context(Generic[E]):
    """``ConditionContext`` for one computation state and the event under test."""

    __slots__ = ("_cache", "_node", "_work", "timestamp")

    def __init__(self, work: _Workspace[E], node: int | None, timestamp: int) -> None:
        self._work = work
        self._node = node
        self._cache: dict[str, list[E]] = {}
        self.timestamp = timestamp

    def events_for(self, stage: str) -> list[E]:
        # Conditions run once per edge, so one event may ask several times; the path is fixed
        # while the event is evaluated. A copy, so a condition cannot alter what others see.
        found = self._cache.get(stage)
        if found is None:
            found = self._cache[stage] = self._work.events_for(self._node, stage)
        return list(found)
