"""Matching semantics, one feature at a time, on the examples of the Flink CEP documentation
("FlinkCEP - Complex event processing for Flink"). Expected matches are the ones the
documentation lists (or, where it only describes a rule, derived by hand from that rule)."""

from __future__ import annotations

from typing import Any

import pytest

from operators.cep import (
    NO_SKIP,
    SKIP_PAST_LAST_EVENT,
    SKIP_TO_NEXT,
    AfterMatchSkipStrategy,
    ConditionContext,
    EventOrderError,
    Pattern,
    SkipStrategyError,
    iterative,
    skip_to_first,
    skip_to_last,
)

from .test_cep_support import Ev, as_set, evs, kind, render, run, run_steps

# --- contiguity between stages --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("connect", "expected"),
    [
        # "the c after a causes a to be discarded"
        ("next", []),
        # "skip non-matching events till the next matching one"
        ("followed_by", ["a b1"]),
        # "the most general form"
        ("followed_by_any", ["a b1", "a b2"]),
    ],
)
def test_contiguity_a_b_on_a_c_b1_b2(connect: str, expected: list[str]) -> None:
    start = Pattern[Ev].begin("a").where(kind("a"))
    pattern = getattr(start, connect)("b").where(kind("b"))
    assert as_set(run(pattern, evs("a c b1 b2"))) == expected


# --- contiguity within looping stages: the documentation's "a b+ c" example -----------------------

A_B_PLUS_C = evs("a b1 d1 b2 d2 b3 c")


def _a_any_b_plus() -> Pattern[Ev]:
    # "a followed by any (non-deterministic relaxed) sequence of one or more b's"
    return Pattern[Ev].begin("a").where(kind("a")).followed_by_any("b").where(kind("b")).one_or_more()


def test_a_b_plus_c_strict() -> None:
    # strict between the b's and before c: "the d1 after b1 causes b1 to be discarded, the same
    # happens for b2 because of d2"
    pattern = _a_any_b_plus().consecutive().next("c").where(kind("c"))
    assert run(pattern, A_B_PLUS_C) == ["a b3 c"]


def test_a_b_plus_c_relaxed() -> None:
    pattern = _a_any_b_plus().followed_by("c").where(kind("c"))
    assert as_set(run(pattern, A_B_PLUS_C)) == as_set(
        ["a b1 c", "a b1 b2 c", "a b1 b2 b3 c", "a b2 c", "a b2 b3 c", "a b3 c"]
    )


def test_a_b_plus_c_non_deterministic_relaxed() -> None:
    pattern = _a_any_b_plus().allow_combinations().followed_by("c").where(kind("c"))
    # "notice the {a b1 b3 c}, which is the result of relaxing contiguity between b's"
    assert as_set(run(pattern, A_B_PLUS_C)) == as_set(
        ["a b1 c", "a b1 b2 c", "a b1 b3 c", "a b1 b2 b3 c", "a b2 c", "a b2 b3 c", "a b3 c"]
    )


# --- consecutive() and allow_combinations(): "C D A1 A2 A3 D A4 B" ---------------------------------

C_A_B = evs("C D A1 A2 A3 D A4 B")


def _c_a_plus(connect: str = "followed_by") -> Pattern[Ev]:
    start = Pattern[Ev].begin("start").where(kind("C"))
    middle: Pattern[Ev] = getattr(start, connect)("middle")
    return middle.where(kind("A")).one_or_more()


def _then_b(pattern: Pattern[Ev]) -> Pattern[Ev]:
    return pattern.followed_by("end1").where(kind("B"))


def test_consecutive() -> None:
    assert as_set(run(_then_b(_c_a_plus().consecutive()), C_A_B)) == as_set(
        ["C A1 B", "C A1 A2 B", "C A1 A2 A3 B"]
    )


def test_without_consecutive_inner_contiguity_is_relaxed() -> None:
    assert as_set(run(_then_b(_c_a_plus()), C_A_B)) == as_set(
        ["C A1 B", "C A1 A2 B", "C A1 A2 A3 B", "C A1 A2 A3 A4 B"]
    )


def test_allow_combinations() -> None:
    # The loop is entered with followed_by (relaxed), so it must start at A1.
    assert as_set(run(_then_b(_c_a_plus().allow_combinations()), C_A_B)) == as_set(
        [
            "C A1 B",
            "C A1 A2 B",
            "C A1 A3 B",
            "C A1 A4 B",
            "C A1 A2 A3 B",
            "C A1 A2 A4 B",
            "C A1 A3 A4 B",
            "C A1 A2 A3 A4 B",
        ]
    )


def test_allow_combinations_entered_non_deterministically_gives_every_subset() -> None:
    # A later revision of the documentation lists all 15 non-empty subsets of A1..A4; those that
    # start after A1 need the loop itself to be entered with followed_by_any.
    subsets = [" ".join(f"A{i}" for i in range(1, 5) if mask & (1 << (i - 1))) for mask in range(1, 16)]
    pattern = _then_b(_c_a_plus("followed_by_any").allow_combinations())
    assert as_set(run(pattern, C_A_B)) == as_set(f"C {s} B" for s in subsets)


# --- until() ----------------------------------------------------------------------------------------


def test_until_stops_a_loop() -> None:
    # "(a+ until b)" on "a1 c a2 b a3" -> {a1 a2} {a1} {a2} {a3}
    pattern = Pattern[Ev].begin("a").where(kind("a")).one_or_more().until(kind("b"))
    assert as_set(run(pattern, evs("a1 c a2 b a3"))) == as_set(["a1 a2", "a1", "a2", "a3"])


# --- iterative conditions ---------------------------------------------------------------------------


def test_iterative_condition_sees_events_already_accepted_for_the_stage() -> None:
    # The documentation's condition: accept a "middle" event whose name starts with "foo" if the
    # prices already accepted for "middle" plus its own stay below 5.0.
    def cheap_enough(value: Ev, ctx: ConditionContext[Ev]) -> bool:
        if not value.name.startswith("foo"):
            return False
        return sum(e.price for e in ctx.events_for("middle")) + value.price < 5.0

    pattern = (
        Pattern[Ev]
        .begin("start")
        .where(kind("start"))
        .followed_by("middle")
        .where(iterative(cheap_enough))
        .one_or_more()
        .followed_by("end")
        .where(kind("end"))
    )
    events = [Ev("start", 1), Ev("foo1", 2, 1.0), Ev("foo2", 3, 2.0), Ev("foo3", 4, 3.0), Ev("end", 5)]
    # foo3 would make the sum 6.0, so it is never accepted (and relaxed contiguity skips it)
    assert as_set(run(pattern, events)) == as_set(["start foo1 end", "start foo1 foo2 end"])


def test_context_gives_earlier_stages_and_the_event_timestamp() -> None:
    seen: list[tuple[list[str], list[str], int]] = []

    def record(value: Ev, ctx: ConditionContext[Ev]) -> bool:
        seen.append(
            ([e.name for e in ctx.events_for("a")], [e.name for e in ctx.events_for("b")], ctx.timestamp)
        )
        return value.kind == "b"

    pattern = Pattern[Ev].begin("a").where(kind("a")).next("b").where(iterative(record))
    assert run(pattern, [Ev("a1", 10), Ev("b1", 20)]) == ["a1 b1"]
    # the event under test is not in events_for, even for its own stage
    assert seen == [(["a1"], [], 20)]


def test_where_and_or_where_combine() -> None:
    pattern = (
        Pattern[Ev].begin("x").where(kind("a")).or_where(kind("b")).where(lambda e: not e.name.endswith("9"))
    )
    assert run(pattern, evs("a1 b1 c1 a9 b9")) == ["a1", "b1"]


def test_subtype() -> None:
    class Special(Ev):
        pass

    pattern = Pattern[Ev].begin("x").subtype(Special)
    assert run(pattern, [Ev("a1", 1), Special("s1", 2)]) == ["s1"]


# --- quantifiers --------------------------------------------------------------------------------------


def test_times_exact() -> None:
    pattern = Pattern[Ev].begin("a").where(kind("a")).times(3)
    assert run(pattern, evs("a1 a2 a3 a4")) == ["a1 a2 a3", "a2 a3 a4"]


def test_times_range_and_when_matches_are_emitted() -> None:
    # "expecting 2, 3 or 4 occurrences" — here 2 or 3: a match as soon as 2 are seen
    pattern = Pattern[Ev].begin("a").where(kind("a")).times(2, 3)
    _, _, per_event = run_steps(pattern, evs("a1 a2 a3"))
    assert [as_set(found) for found in per_event] == [[], ["a1 a2"], ["a1 a2 a3", "a2 a3"]]


def test_times_or_more() -> None:
    pattern = Pattern[Ev].begin("a").where(kind("a")).times_or_more(2)
    assert as_set(run(pattern, evs("a1 a2 a3"))) == as_set(["a1 a2", "a1 a2 a3", "a2 a3"])


def test_times_zero_to_n_is_optional() -> None:
    pattern = (
        Pattern[Ev].begin("s").where(kind("s")).followed_by("a").where(kind("a")).times(0, 2).followed_by("e")
    ).where(kind("e"))
    assert as_set(run(pattern, evs("s e"))) == ["s e"]


def test_optional_stage_may_match_or_not() -> None:
    pattern = (
        Pattern[Ev]
        .begin("a")
        .where(kind("a"))
        .followed_by("b")
        .where(kind("b"))
        .optional()
        .followed_by("c")
        .where(kind("c"))
    )
    assert run(pattern, evs("a c")) == ["a c"]
    assert as_set(run(pattern, evs("a b c"))) == as_set(["a b c", "a c"])


def test_one_or_more_optional_means_zero_or_more() -> None:
    pattern = (
        Pattern[Ev]
        .begin("s")
        .where(kind("s"))
        .followed_by("b")
        .where(kind("b"))
        .one_or_more()
        .optional()
        .followed_by("e")
        .where(kind("e"))
    )
    assert run(pattern, evs("s e")) == ["s e"]
    assert as_set(run(pattern, evs("s b1 b2 e"))) == as_set(["s e", "s b1 e", "s b1 b2 e"])


def test_optional_begin() -> None:
    pattern = Pattern[Ev].begin("a").where(kind("a")).optional().followed_by("b").where(kind("b"))
    assert as_set(run(pattern, evs("a b"))) == as_set(["a b", "b"])


def _a_b_plus_c(greedy: bool) -> Pattern[Ev]:
    b_plus = Pattern[Ev].begin("a").where(kind("a")).followed_by("b").where(kind("b")).one_or_more()
    return (b_plus.greedy() if greedy else b_plus).followed_by("c").where(kind("c"))


def test_greedy_repeats_as_many_as_possible() -> None:
    assert as_set(run(_a_b_plus_c(greedy=False), evs("a b1 b2 b3 c"))) == as_set(
        ["a b1 c", "a b1 b2 c", "a b1 b2 b3 c"]
    )
    assert run(_a_b_plus_c(greedy=True), evs("a b1 b2 b3 c")) == ["a b1 b2 b3 c"]


def test_times_range_greedy() -> None:
    pattern = (
        Pattern[Ev]
        .begin("s")
        .where(kind("s"))
        .followed_by("a")
        .where(kind("a"))
        .times(2, 4)
        .greedy()
        .followed_by("e")
        .where(kind("e"))
    )
    assert run(pattern, evs("s a1 a2 a3 e")) == ["s a1 a2 a3 e"]


# --- NOT stages ---------------------------------------------------------------------------------------


def _a_not_b_c(connect: str) -> Pattern[Ev]:
    start = Pattern[Ev].begin("a").where(kind("a"))
    negative: Pattern[Ev] = getattr(start, connect)("not")
    return negative.where(kind("b")).followed_by("c").where(kind("c"))


def test_not_next() -> None:
    # "A matching (negative) event has to directly succeed the previous matching event for the
    # partial match to be discarded."
    pattern = _a_not_b_c("not_next")
    assert run(pattern, evs("a b c")) == []
    assert run(pattern, evs("a d b c")) == ["a c"]


def test_not_followed_by() -> None:
    # "discarded even if other events occur between the matching (negative) event and the
    # previous matching event"
    pattern = _a_not_b_c("not_followed_by")
    assert run(pattern, evs("a d b c")) == []
    assert run(pattern, evs("a c")) == ["a c"]
    assert run(pattern, evs("a d c b")) == ["a c"]


def test_not_next_at_the_end() -> None:
    pattern = Pattern[Ev].begin("a").where(kind("a")).not_next("not").where(kind("b"))
    assert run(pattern, evs("a b")) == []
    _, _, per_event = run_steps(pattern, evs("a d"))
    assert per_event == [[], ["a"]]  # confirmed by the next event; the event is not in the match


def test_not_followed_by_at_the_end_needs_and_waits_for_the_window() -> None:
    # The documentation's example: start, next middle "a", notFollowedBy end "b", within 10 s.
    pattern = (
        Pattern[Ev]
        .begin("start")
        .next("middle")
        .where(kind("a"))
        .not_followed_by("end")
        .where(kind("b"))
        .within(10_000)
    )
    events = [Ev("s1", 0), Ev("a1", 1), Ev("x1", 5_000)]
    assert run(pattern, events, until=9_999) == []
    assert run(pattern, events, until=10_000) == ["s1 a1"]  # window measured from the first event
    assert run(pattern, [Ev("s1", 0), Ev("a1", 1), Ev("b1", 9_999)], until=20_000) == []
    # at 10_000 the window has passed before the b is looked at
    assert run(pattern, [Ev("s1", 0), Ev("a1", 1), Ev("b1", 10_000)]) == ["s1 a1"]


def test_taking_an_optional_stage_lifts_the_not_before_it() -> None:
    # a, not followed by b, optionally c, then d: "a c b d" matches, "a b d" does not
    pattern = (
        Pattern[Ev]
        .begin("a")
        .where(kind("a"))
        .not_followed_by("not")
        .where(kind("b"))
        .followed_by_any("c")
        .where(kind("c"))
        .optional()
        .followed_by_any("d")
        .where(kind("d"))
    )
    assert run(pattern, evs("a c b d")) == ["a c d"]
    assert run(pattern, evs("a b d")) == []


# --- within -------------------------------------------------------------------------------------------


def test_within_and_timeouts() -> None:
    pattern = Pattern[Ev].begin("a").where(kind("a")).followed_by("b").where(kind("b")).within(10)
    assert run(pattern, [Ev("a1", 0), Ev("b1", 9)]) == ["a1 b1"]

    matches, timeouts, _ = run_steps(pattern, [Ev("a1", 0), Ev("b1", 10)])
    assert matches == []
    assert [render(t) for t in timeouts] == ["a1"]
    assert list(timeouts[0]) == ["a"]

    matches, timeouts, _ = run_steps(pattern, [Ev("a1", 0), Ev("x1", 3)], until=10)
    assert [render(t) for t in timeouts] == ["a1"]


def test_smallest_within_wins() -> None:
    pattern = Pattern[Ev].begin("a").where(kind("a")).within(100).followed_by("b").where(kind("b")).within(10)
    assert pattern.window_ms == 10


# --- after-match skip strategies: the documentation's tables ---------------------------------------

B_PLUS_C = evs("b1 b2 b3 c")


def _b_plus_c(skip: AfterMatchSkipStrategy) -> Pattern[Ev]:
    # "b+ c": b's strictly one after the other, the loop greedy, c right after the last b
    return (
        Pattern[Ev]
        .begin("b", skip)
        .where(kind("b"))
        .one_or_more()
        .consecutive()
        .greedy()
        .next("c")
        .where(kind("c"))
    )


@pytest.mark.parametrize(
    ("skip", "expected"),
    [
        (NO_SKIP, ["b1 b2 b3 c", "b2 b3 c", "b3 c"]),
        (SKIP_TO_NEXT, ["b1 b2 b3 c", "b2 b3 c", "b3 c"]),
        (SKIP_PAST_LAST_EVENT, ["b1 b2 b3 c"]),
        (skip_to_first("b"), ["b1 b2 b3 c", "b2 b3 c", "b3 c"]),
        (skip_to_last("b"), ["b1 b2 b3 c", "b3 c"]),
    ],
    ids=["no_skip", "skip_to_next", "skip_past_last_event", "skip_to_first_b", "skip_to_last_b"],
)
def test_skip_strategies_on_b_plus_c(skip: AfterMatchSkipStrategy, expected: list[str]) -> None:
    assert run(_b_plus_c(skip), B_PLUS_C) == expected


@pytest.mark.parametrize(
    ("skip", "expected"),
    [
        (NO_SKIP, ["a b c1 c2 c3 d", "b c1 c2 c3 d", "c1 c2 c3 d"]),
        (skip_to_first("c"), ["a b c1 c2 c3 d", "c1 c2 c3 d"]),
    ],
)
def test_no_skip_versus_skip_to_first(skip: AfterMatchSkipStrategy, expected: list[str]) -> None:
    # "(a | b | c) (b | c) c+.greedy d" on "a b c1 c2 c3 d"
    pattern = (
        Pattern[Ev]
        .begin("x", skip)
        .where(kind("a", "b", "c"))
        .next("y")
        .where(kind("b", "c"))
        .next("c")
        .where(kind("c"))
        .one_or_more()
        .greedy()
        .next("d")
        .where(kind("d"))
    )
    assert run(pattern, evs("a b c1 c2 c3 d")) == expected


@pytest.mark.parametrize(
    ("skip", "expected"),
    [(NO_SKIP, ["a b1", "a b1 b2", "a b1 b2 b3"]), (SKIP_TO_NEXT, ["a b1"])],
)
def test_no_skip_versus_skip_to_next(skip: AfterMatchSkipStrategy, expected: list[str]) -> None:
    # "a b+" on "a b1 b2 b3"
    pattern = Pattern[Ev].begin("a", skip).where(kind("a")).followed_by("b").where(kind("b")).one_or_more()
    assert run(pattern, evs("a b1 b2 b3")) == expected


def _a_optional_b_c(skip: AfterMatchSkipStrategy) -> Pattern[Ev]:
    return (
        Pattern[Ev]
        .begin("a", skip)
        .where(kind("a"))
        .next("b")
        .where(kind("b"))
        .one_or_more()
        .optional()
        .consecutive()
        .next("c")
        .where(kind("c"))
    )


def test_skip_to_a_stage_missing_from_the_match_falls_back_to_no_skip() -> None:
    # "By default a NO_SKIP strategy will be used in this case."
    assert run(_a_optional_b_c(skip_to_first("b")), evs("a c")) == ["a c"]
    assert run(_a_optional_b_c(skip_to_last("b")), evs("a c")) == ["a c"]


def test_skip_to_a_missing_stage_can_raise() -> None:
    with pytest.raises(SkipStrategyError):
        run(_a_optional_b_c(skip_to_first("b").with_throw_on_miss()), evs("a c"))


def _first_then_its_partner(skip: AfterMatchSkipStrategy) -> Pattern[Any]:
    # an "a" waits for an "x", a "b" waits for a "y"
    def partner(value: Ev, ctx: ConditionContext[Ev]) -> bool:
        return value.kind == {"a": "x", "b": "y"}[ctx.events_for("first")[0].kind]

    return (
        Pattern[Ev]
        .begin("first", skip)
        .where(kind("a", "b"))
        .followed_by("second")
        .where(iterative(partner))
        .within(5)
    )


def test_skip_strategy_holds_a_match_back_while_an_earlier_partial_match_may_complete() -> None:
    events = [Ev("a1", 0), Ev("b1", 1), Ev("y1", 2), Ev("x1", 3)]
    # Without skipping, "b1 y1" is emitted as soon as it completes.
    assert run(_first_then_its_partner(NO_SKIP), events) == ["b1 y1", "a1 x1"]
    # SKIP_PAST_LAST_EVENT: "a1 x1" started earlier; once it completes it is emitted first and
    # discards "b1 y1", which started after a1 and before x1.
    _, _, per_event = run_steps(_first_then_its_partner(SKIP_PAST_LAST_EVENT), events)
    assert per_event == [[], [], [], ["a1 x1"]]


def test_held_back_match_is_released_when_the_earlier_partial_match_times_out() -> None:
    events = [Ev("a1", 0), Ev("b1", 1), Ev("y1", 2)]
    matches, timeouts, _ = run_steps(_first_then_its_partner(SKIP_PAST_LAST_EVENT), events, until=5)
    assert [render(t) for t in timeouts] == ["a1"]
    assert [render(m) for m in matches] == ["b1 y1"]


# --- input contract -----------------------------------------------------------------------------------


def test_every_event_may_start_a_match() -> None:
    pattern = Pattern[Ev].begin("a").where(kind("a")).next("b").where(kind("b"))
    assert run(pattern, evs("a1 a2 b1 a3 b2")) == ["a2 b1", "a3 b2"]


def test_events_must_come_in_timestamp_order() -> None:
    pattern = Pattern[Ev].begin("a").where(kind("a")).next("b").where(kind("b"))
    with pytest.raises(EventOrderError):
        run(pattern, [Ev("a1", 5), Ev("b1", 4)])
    # equal timestamps are fine and keep their order
    assert run(pattern, [Ev("a1", 5), Ev("b1", 5)]) == ["a1 b1"]


def test_match_lists_stages_in_pattern_order() -> None:
    pattern = Pattern[Ev].begin("first").where(kind("a")).followed_by("second").where(kind("b")).times(2)
    matches, _, _ = run_steps(pattern, evs("a b1 b2"))
    assert [{name: [e.name for e in events] for name, events in m.items()} for m in matches] == [
        {"first": ["a"], "second": ["b1", "b2"]}
    ]
    assert list(matches[0]) == ["first", "second"]
