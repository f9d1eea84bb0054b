"""Compiles a ``Pattern`` into the NFA graph the engine runs, following Flink's ``NFACompiler``.

The graph is built backwards, from a FINAL state to the start state, so each stage knows the
state its TAKE edge leads to. Edges are of three kinds, as in Flink:

- TAKE: the event is added to the partial match and the match moves to the target state;
- IGNORE: the event is skipped and the partial match stays (or moves, for an optional stage);
- PROCEED: an epsilon move, evaluated on the same event, to the next stage.

Stage by stage:

- a singleton stage is one state with TAKE to the next stage, an IGNORE edge whose condition
  depends on its contiguity (none for strict, "not my condition" for relaxed, always for
  non-deterministic) and, if optional, a PROCEED edge to the next stage plus a twin state without
  that PROCEED, entered by IGNORE, so skipping the stage branches only once;
- ``times(n, m)`` unrolls into ``m`` singleton states whose inner edges use the stage's inner
  contiguity; the last ``m - n`` are optional;
- a looping stage ends in a state with TAKE to itself and PROCEED to the next stage;
- ``not_next`` is a state whose event must not match (PROCEED to a STOP state if it does);
- ``not_followed_by`` in the middle becomes PROCEED-to-STOP edges on the states waiting for the
  next stage; at the end of a pattern it becomes a PENDING state that is emitted as a match once
  the window has passed without a matching event.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from .conditions import Predicate, TruePredicate, all_of, any_of, negate
from .errors import PatternDefinitionError
from .pattern import RESERVED_STAGE_NAME, Contiguity, Pattern, QuantifierKind, Stage, condition_or_true
from .skip_strategy import AfterMatchSkipStrategy

E = TypeVar("E")


class StateKind(enum.Enum):
    START = "start"
    NORMAL = "normal"
    FINAL = "final"
    STOP = "stop"
    PENDING = "pending"
    """Waiting for a trailing ``not_followed_by`` window to pass; a match when it times out."""


class Action(enum.Enum):
    TAKE = "take"
    IGNORE = "ignore"
    PROCEED = "proceed"


@dataclass(frozen=True, slots=True)
class Transition(Generic[E]):
    action: Action
    source: str
    target: str
    condition: Predicate[E]


@dataclass(frozen=True, slots=True)
class NFAStateDef(Generic[E]):
    """One state of the compiled graph. ``name`` is unique (``stage``, ``stage:1``…); ``stage``
    is the pattern stage it belongs to, the key events taken here are reported under."""

    name: str
    stage: str
    kind: StateKind
    transitions: tuple[Transition[E], ...]


@dataclass(frozen=True)
class CompiledPattern(Generic[E]):
    states: Mapping[str, NFAStateDef[E]]
    start: str
    window_ms: int | None
    skip_strategy: AfterMatchSkipStrategy
    stage_names: tuple[str, ...]


def compile_pattern(pattern: Pattern[E]) -> CompiledPattern[E]:
    """Validate ``pattern`` and build its NFA graph; raises ``PatternDefinitionError``."""
    return _Compiler(pattern).compile()


class _StateBuilder(Generic[E]):
    """A state under construction; edges point at builders so cycles are easy to express."""

    def __init__(self, name: str, stage: str, kind: StateKind) -> None:
        self.name = name
        self.stage = stage
        self.kind = kind
        self.edges: list[tuple[Action, _StateBuilder[E], Predicate[E]]] = []

    def add(self, action: Action, target: _StateBuilder[E], condition: Predicate[E]) -> None:
        self.edges.append((action, target, condition))

    def freeze(self) -> NFAStateDef[E]:
        transitions = tuple(
            Transition(action, self.name, target.name, cond) for action, target, cond in self.edges
        )
        return NFAStateDef(self.name, self.stage, self.kind, transitions)


class _Compiler(Generic[E]):
    def __init__(self, pattern: Pattern[E]) -> None:
        self.pattern = pattern
        self.stages = pattern.stages
        self.states: list[_StateBuilder[E]] = []
        self.name_counts: dict[str, int] = {}
        self.stop_states: dict[str, _StateBuilder[E]] = {}
        # Take condition of the stage(s) that can take the event right after the current stage;
        # the greedy PROCEED condition needs it (only proceed if the next stage would take it).
        self.following_take: Predicate[E] | None = None

    # --- entry point -----------------------------------------------------------------------------

    def compile(self) -> CompiledPattern[E]:
        self._validate()
        sink = self._create_state(RESERVED_STAGE_NAME, StateKind.FINAL)
        sink = self._create_middle_states(sink)
        start = self._convert_stage(0, sink)
        start.kind = StateKind.START
        frozen = {state.name: state.freeze() for state in self.states}
        return CompiledPattern(
            states=frozen,
            start=start.name,
            window_ms=self.pattern.window_ms,
            skip_strategy=self.pattern.skip_strategy,
            stage_names=self.pattern.stage_names,
        )

    def _validate(self) -> None:
        last = self.stages[-1]
        if last.contiguity is Contiguity.NOT_FOLLOWED_BY and self.pattern.window_ms is None:
            raise PatternDefinitionError(
                f"stage {last.name!r}: a pattern can end with not_followed_by() only when within() is set"
            )
        if last.quantifier.greedy:
            raise PatternDefinitionError(
                f"stage {last.name!r}: a greedy stage cannot end a pattern (Flink rejects it too); "
                "end with a singleton or a non-greedy stage"
            )
        skip = self.pattern.skip_strategy
        if skip.stage is not None and skip.stage not in self.pattern.stage_names:
            raise PatternDefinitionError(
                f"skip strategy {skip.kind.value} names stage {skip.stage!r}, which is not in the pattern "
                f"(stages: {', '.join(self.pattern.stage_names)})"
            )

    # --- graph construction (backwards) ------------------------------------------------------------

    def _create_middle_states(self, sink: _StateBuilder[E]) -> _StateBuilder[E]:
        last_sink = sink
        for index in range(len(self.stages) - 1, 0, -1):
            stage = self.stages[index]
            if stage.contiguity is Contiguity.NOT_FOLLOWED_BY:
                if last_sink.kind is StateKind.FINAL:
                    last_sink = self._create_pending_state(stage)
                # otherwise it becomes PROCEED-to-STOP edges on its neighbours' states
            elif stage.contiguity is Contiguity.NOT_NEXT:
                not_condition = condition_or_true(stage)
                not_next = self._create_state(stage.name, StateKind.NORMAL)
                stop = self._create_stop_state(not_condition, stage.name)
                if last_sink.kind is StateKind.FINAL:
                    # IGNORE, not PROCEED: the event that proved "not next" is not part of the match
                    not_next.add(Action.IGNORE, last_sink, negate(not_condition))
                else:
                    not_next.add(Action.PROCEED, last_sink, negate(not_condition))
                not_next.add(Action.PROCEED, stop, not_condition)
                last_sink = not_next
            else:
                last_sink = self._convert_stage(index, last_sink)
        return last_sink

    def _create_pending_state(self, stage: Stage[E]) -> _StateBuilder[E]:
        not_condition = condition_or_true(stage)
        pending = self._create_state(stage.name, StateKind.PENDING)
        stop = self._create_stop_state(not_condition, stage.name)
        pending.add(Action.IGNORE, pending, negate(not_condition))
        pending.add(Action.PROCEED, stop, not_condition)
        return pending

    def _convert_stage(self, index: int, sink: _StateBuilder[E]) -> _StateBuilder[E]:
        stage = self.stages[index]
        quantifier = stage.quantifier
        if quantifier.kind is QuantifierKind.LOOPING:
            looping = self._create_looping(index, self._copy_without_transitive_nots(index, sink))
            first = self._create_times_states(
                index, looping, sink, quantifier.min_times, quantifier.min_times
            )
        elif quantifier.kind is QuantifierKind.TIMES:
            assert quantifier.max_times is not None
            first = self._create_times_states(index, sink, sink, quantifier.min_times, quantifier.max_times)
        else:
            first = self._create_singleton(
                index, sink, sink, condition_or_true(stage), self._ignore_condition(stage), stage.is_optional
            )
        self._add_stop_states(index, first)
        return first

    def _create_times_states(
        self, index: int, sink: _StateBuilder[E], proceed_to: _StateBuilder[E], low: int, high: int
    ) -> _StateBuilder[E]:
        stage = self.stages[index]
        take = _with_until(condition_or_true(stage), stage.until, is_take=True)
        inner_ignore = _with_until(self._inner_ignore_condition(stage), stage.until, is_take=False)
        assert take is not None
        last_sink = sink
        for _ in range(low, high):  # the optional tail: occurrences low+1 .. high
            last_sink = self._create_singleton(
                index, last_sink, proceed_to, take, inner_ignore, optional=True
            )
            self._add_stop_state_to_looping(index, last_sink)
        for _ in range(low - 1):  # required occurrences 2 .. low
            last_sink = self._create_singleton(index, last_sink, None, take, inner_ignore, optional=False)
            self._add_stop_state_to_looping(index, last_sink)
        return self._create_singleton(
            index, last_sink, proceed_to, take, self._ignore_condition(stage), stage.is_optional
        )

    def _create_singleton(
        self,
        index: int,
        sink: _StateBuilder[E],
        proceed_to: _StateBuilder[E] | None,
        take: Predicate[E],
        ignore: Predicate[E] | None,
        optional: bool,
    ) -> _StateBuilder[E]:
        stage = self.stages[index]
        greedy = stage.quantifier.greedy
        state = self._create_state(stage.name, StateKind.NORMAL)
        # taking an event of an optional stage lifts the NOT stages before it
        take_sink = self._copy_without_transitive_nots(index, sink)
        state.add(Action.TAKE, take_sink, take)

        proceed: Predicate[E] = TruePredicate()
        if optional:
            assert proceed_to is not None
            if greedy:
                proceed = _greedy_condition(take, ignore, self.following_take)
            state.add(Action.PROCEED, proceed_to, proceed)

        if ignore is not None:
            if optional:
                # Twin without the PROCEED edge: the "skip this stage" branch was already created
                # on the first event, so an ignoring branch must not create it again.
                twin = self._create_state(stage.name, StateKind.NORMAL)
                twin.add(Action.TAKE, take_sink, take)
                twin.add(Action.IGNORE, twin, ignore)
                self._add_stop_states(index, twin)
                if greedy:
                    assert proceed_to is not None
                    twin.add(Action.PROCEED, proceed_to, proceed)
                state.add(Action.IGNORE, twin, ignore)
            else:
                state.add(Action.IGNORE, state, ignore)

        self.following_take = _following_take(self.following_take, take, optional)
        return state

    def _create_looping(self, index: int, sink: _StateBuilder[E]) -> _StateBuilder[E]:
        stage = self.stages[index]
        greedy = stage.quantifier.greedy
        take = _with_until(condition_or_true(stage), stage.until, is_take=True)
        ignore = _with_until(self._inner_ignore_condition(stage), stage.until, is_take=False)
        assert take is not None
        proceed: Predicate[E] = TruePredicate()
        if greedy:
            proceed = _greedy_condition(take, ignore, self.following_take)

        looping = self._create_state(stage.name, StateKind.NORMAL)
        looping.add(Action.PROCEED, sink, proceed)
        looping.add(Action.TAKE, looping, take)
        self._add_stop_state_to_looping(index, looping)

        if ignore is not None:
            twin = self._create_state(stage.name, StateKind.NORMAL)
            twin.add(Action.TAKE, looping, take)
            twin.add(Action.IGNORE, twin, ignore)
            looping.add(Action.IGNORE, twin, ignore)
            if greedy:
                twin.add(Action.PROCEED, sink, proceed)
            self._add_stop_state_to_looping(index, twin)

        self.following_take = _following_take(self.following_take, take, optional=True)
        return looping

    # --- NOT stages --------------------------------------------------------------------------------

    def _current_not_conditions(self, index: int) -> list[tuple[Predicate[E], str]]:
        """NOT_FOLLOWED_BY stages that still forbid events while waiting for stage ``index``: the
        one right before it, and those reachable backwards through optional stages."""
        found: list[tuple[Predicate[E], str]] = []
        previous = index - 1
        while previous >= 0:
            stage = self.stages[previous]
            if stage.contiguity is Contiguity.NOT_FOLLOWED_BY:
                found.append((condition_or_true(stage), stage.name))
            elif not stage.is_optional:
                break
            previous -= 1
        return found

    def _add_stop_states(self, index: int, state: _StateBuilder[E]) -> None:
        for condition, name in self._current_not_conditions(index):
            state.add(Action.PROCEED, self._create_stop_state(condition, name), condition)

    def _add_stop_state_to_looping(self, index: int, state: _StateBuilder[E]) -> None:
        if index + 1 < len(self.stages):
            following = self.stages[index + 1]
            if following.contiguity is Contiguity.NOT_FOLLOWED_BY:
                condition = condition_or_true(following)
                state.add(Action.PROCEED, self._create_stop_state(condition, following.name), condition)

    def _copy_without_transitive_nots(self, index: int, sink: _StateBuilder[E]) -> _StateBuilder[E]:
        """For an optional stage preceded by NOT stages: the state its TAKE leads to, minus the
        STOP edges of those NOT stages (``a !b c? d`` accepts ``a c b d`` but not ``a b d``)."""
        nots = {name for _, name in self._current_not_conditions(index)}
        if not nots or not self.stages[index].is_optional:
            return sink
        copy = self._create_state(sink.stage, sink.kind)
        for action, target, condition in sink.edges:
            if action is Action.PROCEED:
                if target.kind is StateKind.STOP:
                    if target.stage not in nots:
                        copy.add(action, target, condition)
                else:
                    copy.add(action, self._copy_without_transitive_nots(index, target), condition)
            else:
                copy.add(action, copy if target is sink else target, condition)
        return copy

    # --- helpers -----------------------------------------------------------------------------------

    def _create_state(self, stage: str, kind: StateKind) -> _StateBuilder[E]:
        count = self.name_counts.get(stage, 0)
        self.name_counts[stage] = count + 1
        state: _StateBuilder[E] = _StateBuilder(stage if count == 0 else f"{stage}:{count}", stage, kind)
        self.states.append(state)
        return state

    def _create_stop_state(self, condition: Predicate[E], stage: str) -> _StateBuilder[E]:
        stop = self.stop_states.get(stage)
        if stop is None:
            stop = self._create_state(stage, StateKind.STOP)
            stop.add(Action.TAKE, stop, condition)
            self.stop_states[stage] = stop
        return stop

    @staticmethod
    def _ignore_condition(stage: Stage[E]) -> Predicate[E] | None:
        return _ignore_for(stage.contiguity, condition_or_true(stage))

    @staticmethod
    def _inner_ignore_condition(stage: Stage[E]) -> Predicate[E] | None:
        return _ignore_for(stage.quantifier.inner, condition_or_true(stage))


def _ignore_for(contiguity: Contiguity, take: Predicate[E]) -> Predicate[E] | None:
    if contiguity is Contiguity.RELAXED:
        return negate(take)
    if contiguity is Contiguity.NON_DETERMINISTIC:
        return TruePredicate()
    return None  # strict: no IGNORE edge, a non-matching event kills the branch


def _with_until(
    condition: Predicate[E] | None, until: Predicate[E] | None, *, is_take: bool
) -> Predicate[E] | None:
    if until is not None and condition is not None:
        return all_of(negate(until), condition)
    if until is not None and is_take:
        return negate(until)
    return condition


def _greedy_condition(
    take: Predicate[E], ignore: Predicate[E] | None, following_take: Predicate[E] | None
) -> Predicate[E]:
    """PROCEED of a greedy stage: only when this stage cannot take the event (and the next one
    can), or when this stage could neither take nor ignore it."""
    greedy = negate(take) if following_take is None else all_of(negate(take), following_take)
    stuck = negate(take) if ignore is None else negate(any_of(take, ignore))
    return any_of(greedy, stuck)


def _following_take(previous: Predicate[E] | None, take: Predicate[E], optional: bool) -> Predicate[E]:
    return any_of(take, previous) if optional and previous is not None else take
