"""The pattern builder: immutability, and the malformed patterns it (or the compiler) rejects."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from operators.cep import NFA, Contiguity, Pattern, PatternDefinitionError, skip_to_first
from operators.cep.compiler import Action, StateKind, compile_pattern

from .test_cep_support import Ev, kind


def test_builders_return_new_patterns_and_leave_the_original_alone() -> None:
    base = Pattern[Ev].begin("a").where(kind("a"))
    longer = base.followed_by("b").where(kind("b")).one_or_more().within(10)
    assert base.stage_names == ("a",)
    assert base.window_ms is None
    assert longer.stage_names == ("a", "b")
    assert longer.stages[1].contiguity is Contiguity.RELAXED
    assert longer.stages[1].is_looping
    # the same prefix can be extended two ways
    strict = base.next("c")
    assert strict.stages[1].contiguity is Contiguity.STRICT and base.stage_names == ("a",)


def _a() -> Pattern[Ev]:
    return Pattern[Ev].begin("a").where(kind("a"))


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Pattern[Ev].begin(""), "non-empty"),
        (lambda: Pattern[Ev].begin("a:b"), "':'"),
        (lambda: Pattern[Ev].begin("$end$"), "reserved"),
        (lambda: _a().followed_by("a"), "used twice"),
        (lambda: _a().times(0), ">= 1"),
        (lambda: _a().times(True), ">= 1"),
        (lambda: _a().times(3, 2), "0 <= from <= to"),
        (lambda: _a().times(2).times(3), "already applied"),
        (lambda: _a().one_or_more().times(2), "already applied"),
        (lambda: _a().times_or_more(0), ">= 1"),
        (lambda: _a().optional().optional(), "already applied"),
        (lambda: _a().greedy(), "times/looping"),
        (lambda: _a().times(2).greedy().greedy(), "already applied"),
        (lambda: _a().consecutive(), "times/looping"),
        (lambda: _a().times(2).consecutive().allow_combinations(), "already applied"),
        (lambda: _a().times(2).until(kind("b")), "looping"),
        (lambda: _a().one_or_more().until(kind("b")).until(kind("c")), "already set"),
        (lambda: _a().not_next("n").optional(), "NOT stage"),
        (lambda: _a().not_followed_by("n").one_or_more(), "NOT stage"),
        (lambda: _a().optional().not_next("n"), "cannot follow an optional"),
        (lambda: _a().optional().not_followed_by("n"), "cannot follow an optional"),
        (lambda: _a().within(0), "positive"),
    ],
)
def test_malformed_patterns_are_rejected_while_building(build: Callable[[], Any], message: str) -> None:
    with pytest.raises(PatternDefinitionError, match=message):
        build()


def test_a_condition_must_be_callable() -> None:
    with pytest.raises(TypeError):
        _a().where(42)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        # "A pattern sequence cannot end with notFollowedBy() if the time interval is not defined"
        (_a().not_followed_by("n").where(kind("b")), "within"),
        (_a().followed_by("b").one_or_more().greedy(), "greedy"),
        (Pattern[Ev].begin("a", skip_to_first("missing")).followed_by("b"), "missing"),
    ],
)
def test_malformed_patterns_are_rejected_when_compiled(pattern: Pattern[Ev], message: str) -> None:
    with pytest.raises(PatternDefinitionError, match=message):
        NFA(pattern)


def test_compiled_graph_has_take_ignore_and_proceed_edges_like_flink() -> None:
    # a, then relaxed b+, then strict c
    pattern = _a().followed_by("b").where(kind("b")).one_or_more().next("c").where(kind("c"))
    compiled = compile_pattern(pattern)
    states = compiled.states
    assert states[compiled.start].kind is StateKind.START
    assert {s.kind for s in states.values()} == {StateKind.START, StateKind.NORMAL, StateKind.FINAL}

    def edges(name: str) -> dict[Action, str]:
        found = {t.action: t.target for t in states[name].transitions}
        assert len(found) == len(states[name].transitions), "one edge per action here"
        return found

    first_b = edges(compiled.start)[Action.TAKE]
    assert list(edges(compiled.start)) == [Action.TAKE]  # the start state never ignores
    assert states[first_b].stage == "b"
    assert edges(first_b) == {Action.TAKE: edges(first_b)[Action.TAKE], Action.IGNORE: first_b}  # relaxed
    looping = edges(first_b)[Action.TAKE]
    # the loop takes into itself, proceeds to c, and ignores into a twin without the PROCEED
    assert edges(looping)[Action.TAKE] == looping
    c_state = edges(looping)[Action.PROCEED]
    twin = edges(looping)[Action.IGNORE]
    assert edges(twin) == {Action.TAKE: looping, Action.IGNORE: twin}
    assert states[c_state].stage == "c"
    assert list(edges(c_state)) == [Action.TAKE]  # strict: no IGNORE edge
    assert states[edges(c_state)[Action.TAKE]].kind is StateKind.FINAL
