"""Properties of the accrual core that must hold for *any* member history, explored by Hypothesis:
duplicates change nothing, no balance ever goes negative, and a refund reverses the same points
whether it arrives before or after the activity it refunds."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from operators.loyalty import ActivityCancelled, LoyaltyEvent, MemberState, Output, apply

from .test_loyalty_accrual import CONFIG, DAY, RULES, Member, entries, ms

START = ms(2026, 1, 10)


@dataclass(frozen=True)
class Step:
    kind: str
    amount: int
    #: For a refund: which earlier activity (index among activities so far, modulo their number).
    target: int = 0


steps = st.lists(
    st.one_of(
        st.builds(Step, st.just("flight"), st.integers(100, 6000)),
        st.builds(Step, st.just("hotel"), st.integers(1, 7)),
        st.builds(Step, st.just("card"), st.integers(100, 500_000)),
        st.builds(Step, st.just("redeem"), st.integers(1, 20_000)),
        st.builds(Step, st.just("refund"), st.just(0), st.integers(0, 50)),
    ),
    max_size=25,
)


def history(member: Member, plan: list[Step]) -> list[LoyaltyEvent]:
    """The events of ``plan``, one a day, refunds pointing at earlier activities."""
    events: list[LoyaltyEvent] = []
    activities: list[str] = []
    for day, step in enumerate(plan, start=1):
        when = START + day * DAY
        if step.kind == "flight":
            event: LoyaltyEvent = member.flight(when, "J" if step.amount > 3000 else "Y", step.amount)
        elif step.kind == "hotel":
            event = member.hotel(when, nights=step.amount)
        elif step.kind == "card":
            event = member.card(when, step.amount)
        elif step.kind == "redeem":
            event = member.redeem(when, step.amount)
        elif activities:
            event = member.cancel(when, activities[step.target % len(activities)])
        else:
            continue
        if step.kind in ("flight", "hotel", "card"):
            activities.append(event.event_id)
        events.append(event)
    return events


def replay(events: list[LoyaltyEvent]) -> tuple[MemberState | None, list[Output]]:
    """Apply ``events`` in the given order to a member with no state, as the job would."""
    state: MemberState | None = None
    outputs: list[Output] = []
    for event in events:
        state, out = apply(state, event, RULES, CONFIG)
        outputs.extend(out)
    return state, outputs


def ledger(outputs: list[Output]) -> Counter[tuple[str, int, str]]:
    return Counter((e.kind, e.points, e.rule_id) for e in entries(outputs))


@settings(max_examples=80, deadline=None)
@given(plan=steps, data=st.data())
def test_redelivered_events_change_nothing(plan: list[Step], data: st.DataObject) -> None:
    member = Member()
    events = [member.enrolment, *history(member, plan)]
    repeats = data.draw(st.lists(st.integers(0, len(events) - 1), max_size=8), label="redelivered")
    delivered = list(events)
    for index in sorted(repeats, reverse=True):
        delivered.insert(index + 1, events[index])  # a redelivery comes after the original
    once_state, once_outputs = replay(events)
    state, outputs = replay(delivered)
    assert state == once_state
    assert ledger(outputs) == ledger(once_outputs)


@settings(max_examples=80, deadline=None)
@given(plan=steps)
def test_no_balance_is_ever_negative(plan: list[Step]) -> None:
    member = Member()
    for event in history(member, plan):
        member.send(event)
        assert member.s.balance >= 0
    assert all(e.balance_after >= 0 for e in entries(member.outputs))


@settings(max_examples=80, deadline=None)
@given(plan=steps)
def test_a_refund_reverses_exactly_what_its_activity_earned_whether_it_arrives_before_or_after(
    plan: list[Step],
) -> None:
    """Per refunded activity, the reversal equals that activity's own earning, in either order.

    Redemptions are left out (a reversal never takes the balance below zero; what it cannot take
    is owed, so the booked amount depends on the balance at that moment). What the activity earned
    may itself differ between the orders — a tier reached through an activity that is already
    known to be refunded is never granted — but the reversal always matches it exactly.
    """
    member = Member()
    events = history(member, [step for step in plan if step.kind != "redeem"])
    refunds = [e for e in events if isinstance(e, ActivityCancelled)]
    others = [e for e in events if not isinstance(e, ActivityCancelled)]
    for order in ([member.enrolment, *events], [member.enrolment, *refunds, *others]):
        _, outputs = replay(order)
        booked = entries(outputs)
        for refunded in {r.original_event_id for r in refunds}:
            earned = sum(e.points for e in booked if e.source_event_id == refunded and e.kind != "REVERSAL")
            reversed_points = sum(
                e.points for e in booked if e.kind == "REVERSAL" and e.related_event_id == refunded
            )
            assert reversed_points == -earned, refunded
