"""The fluent, immutable pattern API (Flink's ``Pattern``), e.g.::

    Pattern[Event].begin("test").where(is_small_payment)
        .followed_by("large").where(iterative(same_creditor_and_large))
        .within(3_600_000)

Every method returns a new ``Pattern``; the one it was called on is unchanged, so a partly built
pattern can be shared and extended safely. Modifiers (``where``, ``times``, ``optional``…) apply
to the most recently added stage, as in Flink. Mistakes that Flink rejects while building a
pattern are rejected here too, with ``PatternDefinitionError``; those Flink only finds while
compiling (a trailing ``not_followed_by`` without ``within``…) are reported by ``compile_pattern``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

from .conditions import Condition, Predicate, TruePredicate, all_of, any_of, to_predicate
from .errors import PatternDefinitionError
from .skip_strategy import NO_SKIP, AfterMatchSkipStrategy

E = TypeVar("E")

RESERVED_STAGE_NAME = "$end$"


class Contiguity(enum.Enum):
    """How a stage relates to the events before it (Flink's ``ConsumingStrategy``)."""

    STRICT = "strict"
    """``next``/``consecutive``: the matching event must come right after the previous one."""
    RELAXED = "relaxed"
    """``followed_by``: skip events that do not match, take the first one that does."""
    NON_DETERMINISTIC = "non_deterministic"
    """``followed_by_any``/``allow_combinations``: also branch on matching events that are skipped."""
    NOT_NEXT = "not_next"
    """``not_next``: the partial match dies if the very next event matches."""
    NOT_FOLLOWED_BY = "not_followed_by"
    """``not_followed_by``: the partial match dies if any event before the next stage matches."""

    @property
    def is_negative(self) -> bool:
        return self in (Contiguity.NOT_NEXT, Contiguity.NOT_FOLLOWED_BY)


class QuantifierKind(enum.Enum):
    SINGLE = "single"
    TIMES = "times"
    LOOPING = "looping"


@dataclass(frozen=True, slots=True)
class Quantifier:
    """How many events a stage accepts: ``min_times`` to ``max_times`` (``None`` = unbounded)."""

    kind: QuantifierKind = QuantifierKind.SINGLE
    min_times: int = 1
    max_times: int | None = 1
    optional: bool = False
    greedy: bool = False
    inner: Contiguity = Contiguity.RELAXED
    """Contiguity between the events a looping/times stage accepts (relaxed unless changed)."""
    inner_set: bool = False


@dataclass(frozen=True)
class Stage(Generic[E]):
    """One named stage of a pattern (Flink calls it an individual pattern)."""

    name: str
    contiguity: Contiguity
    condition: Predicate[E] | None = None
    quantifier: Quantifier = Quantifier()
    until: Predicate[E] | None = None

    @property
    def is_looping(self) -> bool:
        return self.quantifier.kind is QuantifierKind.LOOPING

    @property
    def is_optional(self) -> bool:
        return self.quantifier.optional


@dataclass(frozen=True)
class Pattern(Generic[E]):
    """An immutable pattern sequence. Start one with ``Pattern.begin(name)``."""

    stages: tuple[Stage[E], ...]
    skip_strategy: AfterMatchSkipStrategy = NO_SKIP
    window_ms: int | None = None

    # --- starting and combining ------------------------------------------------------------------

    @classmethod
    def begin(cls, name: str, skip_strategy: AfterMatchSkipStrategy = NO_SKIP) -> Pattern[E]:
        """Start a pattern with stage ``name``; the skip strategy is fixed here, as in Flink."""
        _check_name(name, ())
        # Flink's begin() uses strict contiguity; it never matters because the start state
        # ignores nothing: every event may start a new partial match.
        return cls((Stage(name, Contiguity.STRICT),), skip_strategy)

    def next(self, name: str) -> Pattern[E]:
        """Append a stage whose event must directly follow the previous match (strict)."""
        return self._append(name, Contiguity.STRICT)

    def followed_by(self, name: str) -> Pattern[E]:
        """Append a stage that skips non-matching events and takes the first match (relaxed)."""
        return self._append(name, Contiguity.RELAXED)

    def followed_by_any(self, name: str) -> Pattern[E]:
        """Append a stage that also branches past matching events (non-deterministic relaxed)."""
        return self._append(name, Contiguity.NON_DETERMINISTIC)

    def not_next(self, name: str) -> Pattern[E]:
        """Append a NOT stage: the partial match dies if the next event matches it."""
        self._check_not_after_optional()
        return self._append(name, Contiguity.NOT_NEXT)

    def not_followed_by(self, name: str) -> Pattern[E]:
        """Append a NOT stage: the partial match dies if a matching event occurs before the next
        stage's event; at the end of a pattern it needs ``within`` and the match is emitted once
        the window has passed without such an event."""
        self._check_not_after_optional()
        return self._append(name, Contiguity.NOT_FOLLOWED_BY)

    # --- conditions --------------------------------------------------------------------------------

    def where(self, condition: Condition[E]) -> Pattern[E]:
        """AND ``condition`` to the current stage's condition."""
        new = to_predicate(condition)
        old = self._last.condition
        return self._with_last(condition=new if old is None else all_of(old, new))

    def or_where(self, condition: Condition[E]) -> Pattern[E]:
        """OR ``condition`` with the current stage's condition (Flink's ``or``)."""
        new = to_predicate(condition)
        old = self._last.condition
        return self._with_last(condition=new if old is None else any_of(old, new))

    def subtype(self, cls: type) -> Pattern[E]:
        """Accept only instances of ``cls`` (ANDed, like any ``where``)."""
        return self.where(lambda event: isinstance(event, cls))

    def until(self, condition: Condition[E]) -> Pattern[E]:
        """Stop a looping stage: once an event satisfies ``condition``, the stage takes no more."""
        stage = self._last
        self._check_positive("until")
        if not stage.is_looping:
            raise PatternDefinitionError(
                f"stage {stage.name!r}: until() applies only to looping stages (one_or_more, times_or_more)"
            )
        if stage.until is not None:
            raise PatternDefinitionError(f"stage {stage.name!r}: until() is already set")
        return self._with_last(until=to_predicate(condition))

    # --- quantifiers -------------------------------------------------------------------------------

    def times(self, times: int, max_times: int | None = None) -> Pattern[E]:
        """Accept exactly ``times`` events, or from ``times`` to ``max_times`` when given.

        ``times(0, m)`` means ``times(1, m).optional()``, as in Flink."""
        self._check_quantifiable("times")
        if max_times is None:
            if isinstance(times, bool) or not isinstance(times, int) or times < 1:
                raise PatternDefinitionError(f"times({times!r}): the count must be an integer >= 1")
            quantifier = replace(
                self._last.quantifier, kind=QuantifierKind.TIMES, min_times=times, max_times=times
            )
            return self._with_last(quantifier=quantifier)
        if (
            isinstance(times, bool)
            or isinstance(max_times, bool)
            or not isinstance(times, int)
            or not isinstance(max_times, int)
            or times < 0
            or max_times < max(times, 1)
        ):
            raise PatternDefinitionError(
                f"times({times!r}, {max_times!r}): need integers with 0 <= from <= to and to >= 1"
            )
        optional = self._last.quantifier.optional or times == 0
        quantifier = replace(
            self._last.quantifier,
            kind=QuantifierKind.TIMES,
            min_times=max(times, 1),
            max_times=max_times,
            optional=optional,
        )
        return self._with_last(quantifier=quantifier)

    def one_or_more(self) -> Pattern[E]:
        """Accept one or more events (a looping stage); bound it with ``within`` or ``until``."""
        return self.times_or_more(1)

    def times_or_more(self, times: int) -> Pattern[E]:
        """Accept ``times`` or more events (a looping stage)."""
        self._check_quantifiable("times_or_more")
        if isinstance(times, bool) or not isinstance(times, int) or times < 1:
            raise PatternDefinitionError(f"times_or_more({times!r}): the count must be an integer >= 1")
        quantifier = replace(
            self._last.quantifier, kind=QuantifierKind.LOOPING, min_times=times, max_times=None
        )
        return self._with_last(quantifier=quantifier)

    def optional(self) -> Pattern[E]:
        """Let the current stage match zero events."""
        stage = self._last
        self._check_positive("optional")
        if stage.quantifier.optional:
            raise PatternDefinitionError(f"stage {stage.name!r}: optional() is already applied")
        return self._with_last(quantifier=replace(stage.quantifier, optional=True))

    def greedy(self) -> Pattern[E]:
        """Make a looping/times stage take as many events as it can before the next stage."""
        stage = self._last
        self._check_positive("greedy")
        if stage.quantifier.kind is QuantifierKind.SINGLE:
            raise PatternDefinitionError(
                f"stage {stage.name!r}: greedy() applies only to times/looping stages"
            )
        if stage.quantifier.greedy:
            raise PatternDefinitionError(f"stage {stage.name!r}: greedy() is already applied")
        return self._with_last(quantifier=replace(stage.quantifier, greedy=True))

    def consecutive(self) -> Pattern[E]:
        """Strict contiguity between the events a looping/times stage accepts."""
        return self._set_inner(Contiguity.STRICT, "consecutive")

    def allow_combinations(self) -> Pattern[E]:
        """Non-deterministic relaxed contiguity between the events a looping/times stage accepts."""
        return self._set_inner(Contiguity.NON_DETERMINISTIC, "allow_combinations")

    # --- window ------------------------------------------------------------------------------------

    def within(self, duration_ms: int) -> Pattern[E]:
        """A match must have ``last.ts - first.ts < duration_ms``; a partial match that cannot meet
        that any more is discarded (reported as a timeout). Repeated calls keep the smallest."""
        if isinstance(duration_ms, bool) or not isinstance(duration_ms, int) or duration_ms <= 0:
            raise PatternDefinitionError(
                f"within({duration_ms!r}): the window must be a positive integer (ms)"
            )
        window = duration_ms if self.window_ms is None else min(self.window_ms, duration_ms)
        return replace(self, window_ms=window)

    # --- introspection -----------------------------------------------------------------------------

    @property
    def stage_names(self) -> tuple[str, ...]:
        return tuple(stage.name for stage in self.stages)

    # --- helpers -----------------------------------------------------------------------------------

    @property
    def _last(self) -> Stage[E]:
        return self.stages[-1]

    def _append(self, name: str, contiguity: Contiguity) -> Pattern[E]:
        _check_name(name, self.stage_names)
        return replace(self, stages=(*self.stages, Stage(name, contiguity)))

    def _with_last(
        self,
        *,
        condition: Predicate[E] | None = None,
        quantifier: Quantifier | None = None,
        until: Predicate[E] | None = None,
    ) -> Pattern[E]:
        stage = self._last
        if condition is not None:
            stage = replace(stage, condition=condition)
        if quantifier is not None:
            stage = replace(stage, quantifier=quantifier)
        if until is not None:
            stage = replace(stage, until=until)
        return replace(self, stages=(*self.stages[:-1], stage))

    def _check_positive(self, what: str) -> None:
        stage = self._last
        if stage.contiguity.is_negative:
            raise PatternDefinitionError(f"stage {stage.name!r}: {what}() is not applicable to a NOT stage")

    def _check_quantifiable(self, what: str) -> None:
        stage = self._last
        self._check_positive(what)
        if stage.quantifier.kind is not QuantifierKind.SINGLE:
            raise PatternDefinitionError(
                f"stage {stage.name!r}: {what}(): a quantifier "
                f"({stage.quantifier.kind.value}) is already applied"
            )

    def _check_not_after_optional(self) -> None:
        stage = self._last
        if stage.quantifier.optional:
            raise PatternDefinitionError(
                f"stage {stage.name!r}: a NOT stage cannot follow an optional stage (Flink rejects it "
                "too); write two patterns, one with and one without the optional stage"
            )

    def _set_inner(self, inner: Contiguity, what: str) -> Pattern[E]:
        stage = self._last
        self._check_positive(what)
        if stage.quantifier.kind is QuantifierKind.SINGLE:
            raise PatternDefinitionError(
                f"stage {stage.name!r}: {what}() applies only to times/looping stages"
            )
        if stage.quantifier.inner_set:
            raise PatternDefinitionError(
                f"stage {stage.name!r}: {what}(): consecutive() or allow_combinations() is already applied"
            )
        return self._with_last(quantifier=replace(stage.quantifier, inner=inner, inner_set=True))


def _check_name(name: str, taken: tuple[str, ...]) -> None:
    if not isinstance(name, str) or not name:
        raise PatternDefinitionError(f"a stage name must be a non-empty string, got {name!r}")
    if ":" in name:
        # Internal NFA state names use ':' to number the copies of one stage, as Flink does.
        raise PatternDefinitionError(f"stage name {name!r} must not contain ':'")
    if name == RESERVED_STAGE_NAME:
        raise PatternDefinitionError(f"stage name {name!r} is reserved")
    if name in taken:
        raise PatternDefinitionError(f"stage name {name!r} is used twice; names must be unique")


def condition_or_true(stage: Stage[E]) -> Predicate[E]:
    """The stage's condition, or one that accepts everything when ``where`` was never called."""
    return stage.condition if stage.condition is not None else TruePredicate()
