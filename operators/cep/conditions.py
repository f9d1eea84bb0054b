"""Conditions a pattern stage tests events with, and the context iterative conditions read.

Users write plain callables: ``lambda e: e.amount > 100`` is a *simple* condition. A condition
that needs the events already matched (Flink's ``IterativeCondition``) is wrapped with
``iterative(fn)`` so the engine knows to pass it a ``ConditionContext``; telling the two apart
explicitly is more reliable than guessing from a callable's signature.

Internally every condition becomes a ``Predicate`` tree (``all_of``/``any_of``/``negate``) because
the compiler derives the IGNORE, PROCEED and greedy edges from the user's conditions by
combining them, exactly as Flink's ``NFACompiler`` does.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

E = TypeVar("E")


class ConditionContext(Protocol[E]):
    """What an iterative condition may look at besides the event under test."""

    @property
    def timestamp(self) -> int:
        """Event time (ms) of the event under test."""
        ...

    def events_for(self, stage: str) -> list[E]:
        """Events this partial match has already accepted for ``stage``, oldest first.

        The event under test is not included, even when it is being tested for ``stage`` itself
        (as in Flink's ``getEventsForPattern``)."""
        ...


@dataclass(frozen=True)
class Iterative(Generic[E]):
    """Marks a two-argument condition ``(event, ctx) -> bool`` as iterative."""

    fn: Callable[[E, ConditionContext[E]], bool]


def iterative(fn: Callable[[E, ConditionContext[E]], bool]) -> Iterative[E]:
    """Wrap ``fn`` so ``Pattern.where`` passes it the partial match's ``ConditionContext``."""
    return Iterative(fn)


Condition = Callable[[E], bool] | Iterative[E]
"""What ``where``/``or_where``/``until`` accept: a simple predicate or an ``iterative`` one."""


class Predicate(ABC, Generic[E]):
    """A node of a condition tree; ``test`` is what the NFA evaluates on an edge."""

    @abstractmethod
    def test(self, event: E, ctx: ConditionContext[E]) -> bool:
        """True when ``event`` satisfies the condition in the partial match ``ctx`` describes."""


@dataclass(frozen=True, slots=True)
class SimplePredicate(Predicate[E]):
    fn: Callable[[E], bool]

    def test(self, event: E, ctx: ConditionContext[E]) -> bool:
        return bool(self.fn(event))


@dataclass(frozen=True, slots=True)
class IterativePredicate(Predicate[E]):
    fn: Callable[[E, ConditionContext[E]], bool]

    def test(self, event: E, ctx: ConditionContext[E]) -> bool:
        return bool(self.fn(event, ctx))


@dataclass(frozen=True, slots=True)
class TruePredicate(Predicate[E]):
    def test(self, event: E, ctx: ConditionContext[E]) -> bool:
        return True


@dataclass(frozen=True, slots=True)
class AllOf(Predicate[E]):
    parts: tuple[Predicate[E], ...]

    def test(self, event: E, ctx: ConditionContext[E]) -> bool:
        return all(p.test(event, ctx) for p in self.parts)


@dataclass(frozen=True, slots=True)
class AnyOf(Predicate[E]):
    parts: tuple[Predicate[E], ...]

    def test(self, event: E, ctx: ConditionContext[E]) -> bool:
        return any(p.test(event, ctx) for p in self.parts)


@dataclass(frozen=True, slots=True)
class Not(Predicate[E]):
    inner: Predicate[E]

    def test(self, event: E, ctx: ConditionContext[E]) -> bool:
        return not self.inner.test(event, ctx)


def to_predicate(condition: Condition[E]) -> Predicate[E]:
    """Turn a user condition into a predicate node."""
    if isinstance(condition, Iterative):
        return IterativePredicate(condition.fn)
    if not callable(condition):
        raise TypeError(f"a condition must be callable or iterative(...), got {type(condition).__name__}")
    return SimplePredicate(condition)


def all_of(*parts: Predicate[E]) -> Predicate[E]:
    """Conjunction that short-circuits left to right (cheap conditions should come first)."""
    return parts[0] if len(parts) == 1 else AllOf(parts)


def any_of(*parts: Predicate[E]) -> Predicate[E]:
    return parts[0] if len(parts) == 1 else AnyOf(parts)


def negate(predicate: Predicate[E]) -> Predicate[E]:
    return predicate.inner if isinstance(predicate, Not) else Not(predicate)
