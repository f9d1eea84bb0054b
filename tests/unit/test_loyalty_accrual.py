"""The pure loyalty accrual core, event by event: earning, caps, reversals, dedupe, tiers, expiry."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from operators.loyalty import (
    AccrualConfig,
    ActivityCancelled,
    CardSpend,
    EventRejected,
    FlightFlown,
    HotelStay,
    LedgerEntry,
    LoyaltyEvent,
    ManualAdjustment,
    MemberEnrolled,
    MemberSnapshot,
    MemberState,
    Output,
    PartnerPurchase,
    PiiKey,
    ProfileChanged,
    RedemptionRequested,
    Rules,
    TierChange,
    apply,
    load_rules,
    monthly_statement,
    on_inactivity_timer,
    on_membership_year_end,
    parse_rules,
    timers,
)

from .loyalty_fixtures import rules_document

KEY = PiiKey("test", b"0123456789abcdef0123456789abcdef")
CONFIG = AccrualConfig(KEY)
RULES = load_rules()
DAY = 24 * 3600 * 1000
_ids = itertools.count(1)


def ms(year: int, month: int, day: int, hour: int = 12) -> int:
    return int(datetime(year, month, day, hour, tzinfo=UTC).timestamp() * 1000)


def rules_with(change: Any) -> Rules:
    doc = rules_document("2026.1")
    change(doc)
    return parse_rules(doc)


def eid() -> str:
    return f"ev-{next(_ids):06d}"


class Member:
    """Feeds events for one member through ``apply`` and keeps what came out."""

    def __init__(
        self,
        *,
        enrolled: int = ms(2026, 1, 5),
        tier: str | None = None,
        rules: Rules = RULES,
        config: AccrualConfig = CONFIG,
        member_id: str = "m-1",
    ) -> None:
        self.rules, self.config, self.member_id = rules, config, member_id
        self.state: MemberState | None = None
        self.outputs: list[Output] = []
        enrolment = MemberEnrolled(
            eid(), member_id, enrolled, "Jane", "Doe", "jane.doe@example.com", "+44 7700 900123", None, tier
        )
        self.enrolment = enrolment
        self.send(enrolment)

    def send(self, event: LoyaltyEvent) -> tuple[Output, ...]:
        self.state, outputs = apply(self.state, event, self.rules, self.config)
        self.outputs.extend(outputs)
        return outputs

    @property
    def s(self) -> MemberState:
        assert self.state is not None
        return self.state

    def flight(
        self, when: int, fare: str = "Y", miles: int = 429, event_id: str | None = None
    ) -> FlightFlown:
        return FlightFlown(event_id or eid(), self.member_id, when, "SL", "SL42", "CDG", "NCE", fare, miles)

    def hotel(self, when: int, nights: int = 2, minor: int = 30000, currency: str = "EUR") -> HotelStay:
        return HotelStay(eid(), self.member_id, when, "HTL-NCE-01", nights, minor, currency)

    def card(self, when: int, minor: int, currency: str = "EUR") -> CardSpend:
        return CardSpend(eid(), self.member_id, when, minor, currency)

    def cancel(self, when: int, original: str) -> ActivityCancelled:
        return ActivityCancelled(eid(), self.member_id, when, original, "REFUNDED")

    def redeem(self, when: int, points: int, kind: str = "AWARD") -> RedemptionRequested:
        return RedemptionRequested(eid(), self.member_id, when, kind, points)

    def adjust(self, when: int, points: int) -> ManualAdjustment:
        return ManualAdjustment(
            eid(), self.member_id, when, "agent-007", "GOODWILL", points, note="call notes"
        )


def entries(outputs: tuple[Output, ...] | list[Output]) -> list[LedgerEntry]:
    return [o for o in outputs if isinstance(o, LedgerEntry)]


def rejections(outputs: tuple[Output, ...] | list[Output]) -> list[EventRejected]:
    return [o for o in outputs if isinstance(o, EventRejected)]


def movements(outputs: tuple[Output, ...] | list[Output]) -> list[tuple[str, int, str]]:
    return [(e.kind, e.points, e.rule_id) for e in entries(outputs)]


# ---------------------------------------------------------------------------------------- earning


@pytest.mark.parametrize(
    ("fare", "points", "rule"),
    [
        ("F", 1287, "earn-flight-first"),
        ("J", 858, "earn-flight-business"),
        ("W", 643, "earn-flight-premium"),  # 1.5 x 429 = 643.5, rounded down
        ("Y", 429, "earn-flight-economy"),
        ("L", 214, "earn-flight-discount"),
    ],
)
def test_flight_earns_per_mile_by_fare_class(fare: str, points: int, rule: str) -> None:
    member = Member()
    out = member.send(member.flight(ms(2026, 2, 1), fare))
    assert movements(out) == [("EARN", points, rule)]
    entry = entries(out)[0]
    assert entry.rules_version == "2026.1" and entry.balance_after == points
    assert "CDG-NCE" in entry.reason and f"fare class {fare}" in entry.reason
    assert member.s.balance == points == member.s.lifetime_points


def test_spend_based_activities_earn_per_programme_currency_unit() -> None:
    member = Member()
    hotel = member.send(member.hotel(ms(2026, 5, 4), nights=2, minor=30000))
    assert movements(hotel) == [("EARN", 1500, "earn-hotel")]
    partner = PartnerPurchase(eid(), "m-1", ms(2026, 5, 5), "RAILCO", 8000, "EUR", "RAI-1")
    assert movements(member.send(partner)) == [("EARN", 120, "earn-partner-rail")]
    assert movements(member.send(member.card(ms(2026, 5, 6), 10001))) == [("EARN", 50, "earn-card")]
    # Qualifying points: 25 per hotel night, 0.1 per euro at the rail partner, none for card spend.
    snap = [o for o in member.outputs if isinstance(o, MemberSnapshot)][-1]
    assert snap.qualifying_points == 2 * 25 + 8
    assert snap.balance == 1500 + 120 + 50


def test_activity_without_an_earn_rule_is_rejected_with_a_reason() -> None:
    member = Member()
    out = member.send(member.flight(ms(2026, 2, 1), fare="Z"))
    [rejected] = rejections(out)
    assert rejected.code == "NO_EARN_RULE" and "fare class 'Z'" in rejected.reason
    partner = PartnerPurchase(eid(), "m-1", ms(2026, 2, 2), "NOBODY", 1000, "EUR")
    assert rejections(member.send(partner))[0].code == "NO_EARN_RULE"
    assert rejections(member.send(member.card(ms(2026, 2, 3), -500)))[0].code == "INVALID_EVENT"
    assert member.s.balance == 0


def test_tier_multiplier_is_booked_as_a_bonus_entry_of_the_tier_rule() -> None:
    member = Member(tier="GOLD")
    out = member.send(member.flight(ms(2026, 2, 1), "Y", 429))
    assert movements(out) == [("EARN", 429, "earn-flight-economy"), ("BONUS", 214, "tier-gold")]
    assert member.s.balance == 643
    platinum = Member(tier="PLATINUM")
    assert movements(platinum.send(platinum.card(ms(2026, 5, 1), 10000))) == [
        ("EARN", 50, "earn-card"),
        ("BONUS", 50, "tier-platinum"),
    ]


@pytest.mark.parametrize(
    ("when", "promoted"),
    [
        (ms(2026, 5, 31, 23), False),
        (ms(2026, 6, 1, 0), True),
        (ms(2026, 8, 31, 23), True),
        (ms(2026, 9, 1, 0), False),  # the end is exclusive
    ],
)
def test_multiplier_promotion_only_inside_its_window(when: int, promoted: bool) -> None:
    member = Member()
    out = member.send(member.hotel(when, nights=2, minor=30000))
    expected = [("EARN", 1500, "earn-hotel")]
    if promoted:
        expected.append(("BONUS", 1500, "promo-2026-summer-hotels"))
    assert movements(out) == expected


def test_bonus_points_promotion_and_tier_bonus_stack_on_base_points() -> None:
    member = Member(tier="SILVER")
    inside = member.send(member.flight(ms(2026, 3, 15), "Y", 429))
    assert movements(inside) == [
        ("EARN", 429, "earn-flight-economy"),
        ("BONUS", 107, "tier-silver"),
        ("BONUS", 500, "promo-2026-spring-flights"),
    ]
    outside = member.send(member.flight(ms(2026, 4, 1, 0), "Y", 429))
    assert movements(outside) == [("EARN", 429, "earn-flight-economy"), ("BONUS", 107, "tier-silver")]


# ------------------------------------------------------------------------------------------- caps


def test_per_activity_cap_trims_bonuses_first() -> None:
    member = Member(tier="GOLD")
    out = member.send(member.card(ms(2026, 5, 1), 2_000_000))  # 20,000 EUR: 10,000 base + 5,000 bonus
    assert movements(out) == [("EARN", 5000, "earn-card")]
    assert "capped by cap-activity-card" in entries(out)[0].reason
    assert member.s.balance == 5000


def test_monthly_cap_limits_earning_per_calendar_month() -> None:
    member = Member(rules=rules_with(lambda d: d["caps"]["per_month"].update(max_points=1000)))
    earned = [
        sum(e.points for e in entries(member.send(member.flight(when, "Y", 429))))
        for when in (ms(2026, 2, 1), ms(2026, 2, 10), ms(2026, 2, 20), ms(2026, 2, 27), ms(2026, 3, 2))
    ]
    assert earned == [429, 429, 142, 0, 429 + 500]  # March: new month (and the spring promotion)
    assert "capped by cap-month" in entries(member.outputs)[-3].reason
    # The capped activity still counts for tier qualification (caps limit points, not status).
    assert member.s.accrual(member.s.accruals[3].event_id) is not None
    assert member.s.accruals[3].qualifying_points == 214


# ----------------------------------------------------------------------------------- currencies


def test_spend_is_converted_to_the_programme_currency() -> None:
    member = Member()
    usd = member.send(member.card(ms(2026, 5, 1), 12345, "USD"))  # 123.45 USD = 113.574 EUR
    assert movements(usd) == [("EARN", 56, "earn-card")]
    assert "123.45 USD = 113.57 EUR at 0.92 (fx-2026-01)" in entries(usd)[0].reason
    jpy = member.send(member.card(ms(2026, 5, 2), 10000, "JPY"))  # no minor units: 10,000 JPY = 61 EUR
    assert movements(jpy) == [("EARN", 30, "earn-card")]
    hotel = member.send(member.hotel(ms(2026, 5, 3), nights=1, minor=20000, currency="GBP"))  # 234 EUR
    assert movements(hotel) == [("EARN", 1170, "earn-hotel")]


def test_unknown_currency_is_rejected_with_a_reason() -> None:
    member = Member()
    before = member.s.balance
    out = member.send(member.card(ms(2026, 5, 1), 10000, "KZT"))
    [rejected] = rejections(out)
    assert rejected.code == "UNKNOWN_CURRENCY"
    assert "'KZT'" in rejected.reason and "fx-2026-01" in rejected.reason
    assert not entries(out) and member.s.balance == before


# ------------------------------------------------------------------------------------- reversals


def test_cancellation_reverses_exactly_what_the_activity_earned() -> None:
    member = Member(tier="SILVER")
    flight = member.flight(ms(2026, 3, 10), "J", 3625)
    earned = member.send(flight)
    member.send(member.card(ms(2026, 3, 11), 10000))
    balance = member.s.balance
    out = member.send(member.cancel(ms(2026, 3, 20), flight.event_id))
    reversals = entries(out)
    assert [(e.kind, -e.points, e.rule_id, e.rules_version) for e in reversals] == [
        ("REVERSAL", e.points, e.rule_id, e.rules_version) for e in entries(earned)
    ]
    assert all(e.related_event_id == flight.event_id for e in reversals)
    assert member.s.balance == balance - sum(e.points for e in entries(earned))
    assert member.s.lifetime_points == member.s.balance
    assert member.s.qualifying_points(member.s.clock_ms, 12) == 0


def test_cancellation_before_its_activity_waits_and_then_reverses_exactly() -> None:
    in_order = Member(tier="GOLD", member_id="m-a")
    flight_a = in_order.flight(ms(2026, 3, 10), "C", 883, event_id="fl-a")
    in_order.send(flight_a)
    in_order.send(ActivityCancelled("cx-a", "m-a", ms(2026, 3, 12), "fl-a", "CANCELLED"))

    reverse = Member(tier="GOLD", member_id="m-b")
    early = reverse.send(ActivityCancelled("cx-b", "m-b", ms(2026, 3, 12), "fl-b", "CANCELLED"))
    assert early == ()  # nothing to do yet: the cancellation waits in state
    assert [p.original_event_id for p in reverse.s.pending] == ["fl-b"]
    late = reverse.send(replace(flight_a, event_id="fl-b", member_id="m-b"))
    kinds = [e.kind for e in entries(late)]
    assert kinds == ["EARN", "BONUS", "BONUS", "REVERSAL", "REVERSAL", "REVERSAL"]
    assert reverse.s.pending == ()
    assert reverse.s.balance == in_order.s.balance == 0
    assert sorted(movements(reverse.outputs)) == sorted(movements(in_order.outputs))
    # The reversal is dated at the cancellation, the later of the two.
    assert {e.event_time_ms for e in entries(late) if e.kind == "REVERSAL"} == {ms(2026, 3, 12)}


def test_a_second_cancellation_reverses_nothing() -> None:
    member = Member()
    flight = member.flight(ms(2026, 2, 1))
    member.send(flight)
    member.send(member.cancel(ms(2026, 2, 2), flight.event_id))
    [rejected] = rejections(member.send(member.cancel(ms(2026, 2, 3), flight.event_id)))
    assert rejected.code == "ALREADY_REVERSED"
    pending = Member(member_id="m-2")
    pending.send(ActivityCancelled("c1", "m-2", ms(2026, 2, 2), "later", "CANCELLED"))
    second = pending.send(ActivityCancelled("c2", "m-2", ms(2026, 2, 3), "later", "REFUNDED"))
    assert rejections(second)[0].code == "ALREADY_REVERSED"


def test_cancelling_something_that_earned_nothing_is_rejected() -> None:
    member = Member()
    redemption = member.redeem(ms(2026, 2, 1), 5000)
    member.send(redemption)  # rejected: balance 0
    [rejected] = rejections(member.send(member.cancel(ms(2026, 2, 2), redemption.event_id)))
    assert rejected.code == "NOTHING_TO_REVERSE"
    # ... also when the cancellation came first and the activity turns out to be refused.
    member.send(ActivityCancelled("cx-k", "m-1", ms(2026, 2, 3), "card-k", "CANCELLED"))
    out = member.send(CardSpend("card-k", "m-1", ms(2026, 2, 2), 1000, "KZT"))
    assert sorted(r.code for r in rejections(out)) == ["NOTHING_TO_REVERSE", "UNKNOWN_CURRENCY"]
    assert member.s.pending == ()


def test_a_cancellation_whose_activity_never_arrives_is_dropped_after_the_retention() -> None:
    member = Member()
    member.send(ActivityCancelled("cx-lost", "m-1", ms(2026, 2, 1), "never", "CANCELLED"))
    assert member.send(member.card(ms(2026, 3, 1), 1000)) and member.s.pending  # 28 days: still waiting
    out = member.send(member.card(ms(2026, 3, 10), 1000))  # 37 days: behind the 35-day horizon
    [orphan] = rejections(out)
    assert (orphan.code, orphan.event_id) == ("ORPHAN_CANCELLATION", "cx-lost")
    assert member.s.pending == ()


def test_a_reversal_never_takes_the_balance_below_zero() -> None:
    member = Member()
    flight = member.flight(ms(2026, 2, 1), "J", 3625)  # 7,250 points
    member.send(flight)
    member.send(member.redeem(ms(2026, 2, 2), 7000))
    out = member.send(member.cancel(ms(2026, 2, 3), flight.event_id))
    assert [e.points for e in entries(out)] == [-250]
    assert member.s.balance == 0 and member.s.points_owed == 7000
    assert "7000 points owed" in entries(out)[0].reason
    # Owed points are recovered from the next credits, under the reversed rule.
    # The flight made the member SILVER; the cancellation does not downgrade before the year end.
    recovery = member.send(member.hotel(ms(2026, 2, 10), nights=2, minor=30000))  # 1,500 + 375 points
    assert movements(recovery) == [
        ("EARN", 1500, "earn-hotel"),
        ("BONUS", 375, "tier-silver"),
        ("REVERSAL", -1875, "earn-flight-business"),
    ]
    assert member.s.balance == 0 and member.s.points_owed == 7000 - 1875
    assert all(e.balance_after >= 0 for e in entries(member.outputs))


# ------------------------------------------------------------------------------------- dedupe


def test_duplicates_change_nothing_for_every_event_type() -> None:
    member = Member()
    events: list[LoyaltyEvent] = [
        member.flight(ms(2026, 2, 1), "J", 3625),
        member.card(ms(2026, 2, 2), 5000),
        member.redeem(ms(2026, 2, 3), 1000),
        member.adjust(ms(2026, 2, 4), 300),
        ProfileChanged(eid(), "m-1", ms(2026, 2, 5), email="new@example.org"),
    ]
    events.append(member.cancel(ms(2026, 2, 6), events[1].event_id))
    for event in events:
        member.send(event)
        before = member.state
        assert member.send(event) == ()
        assert member.state is before
    enrolment = MemberEnrolled(eid(), "m-9", ms(2026, 1, 1), "A", "B", "a@example.com")
    state, _ = apply(None, enrolment, RULES, CONFIG)
    assert apply(state, enrolment, RULES, CONFIG) == (state, ())


def test_a_refused_event_stays_refused_when_redelivered() -> None:
    member = Member()
    redemption = member.redeem(ms(2026, 2, 1), 2000)
    assert rejections(member.send(redemption))[0].code == "INSUFFICIENT_BALANCE"
    member.send(member.adjust(ms(2026, 2, 2), 5000))
    assert member.send(redemption) == ()  # not re-evaluated against the new balance
    assert member.s.balance == 5000


def test_events_behind_the_dedupe_horizon_are_rejected_and_memory_is_pruned() -> None:
    member = Member()
    start = ms(2026, 2, 1)
    for day in range(0, 120, 3):
        member.send(member.card(start + day * DAY, 1000))
    horizon = member.s.clock_ms - CONFIG.dedupe_retention_ms
    assert all(when >= horizon for _, when in member.s.seen)
    assert len(member.s.seen) <= 35 // 3 + 2
    late = member.card(horizon - 1, 1000)
    balance = member.s.balance
    [rejected] = rejections(member.send(late))
    assert rejected.code == "TOO_LATE" and member.s.balance == balance
    # A redelivered activity is still recognised while its accrual is kept (beyond the horizon).
    first_card = member.s.accruals[0].event_id
    first = next(e for e in entries(member.outputs) if e.source_event_id == first_card)
    assert member.send(CardSpend(first_card, "m-1", first.event_time_ms, 1000, "EUR")) == ()


# --------------------------------------------------------------------------------- redemptions


def test_redemption_is_rejected_rather_than_going_negative() -> None:
    member = Member()
    member.send(member.adjust(ms(2026, 2, 1), 3000))
    [rejected] = rejections(member.send(member.redeem(ms(2026, 2, 2), 5000)))
    assert rejected.code == "INSUFFICIENT_BALANCE"
    assert "5000 points exceeds the balance of 3000" in rejected.reason
    assert member.s.balance == 3000
    out = member.send(member.redeem(ms(2026, 2, 3), 3000))
    assert movements(out) == [("REDEEM", -3000, "redeem-award")]
    assert member.s.balance == 0
    assert rejections(member.send(member.redeem(ms(2026, 2, 4), 1000)))[0].code == "INSUFFICIENT_BALANCE"
    assert rejections(member.send(member.redeem(ms(2026, 2, 5), 500)))[0].code == "BELOW_MINIMUM"
    assert rejections(member.send(member.redeem(ms(2026, 2, 6), 4000, "UPGRADE")))[0].code == "BELOW_MINIMUM"
    assert member.s.balance == 0


def test_manual_adjustments_are_bounded() -> None:
    member = Member()
    assert movements(member.send(member.adjust(ms(2026, 2, 1), 800))) == [("ADJUST", 800, "adjust-manual")]
    assert rejections(member.send(member.adjust(ms(2026, 2, 2), -900)))[0].code == "INSUFFICIENT_BALANCE"
    assert rejections(member.send(member.adjust(ms(2026, 2, 3), 100_001)))[0].code == "ADJUSTMENT_TOO_LARGE"
    assert movements(member.send(member.adjust(ms(2026, 2, 4), -800))) == [("ADJUST", -800, "adjust-manual")]
    assert "GOODWILL" in entries(member.outputs)[0].reason
    assert all("call notes" not in repr(o) for o in member.outputs)  # the agent's free text stays out


def test_events_before_enrolment_and_second_enrolments_are_rejected() -> None:
    state, out = apply(None, CardSpend("c", "m-x", ms(2026, 2, 1), 100, "EUR"), RULES, CONFIG)
    assert state is None and rejections(out)[0].code == "NOT_ENROLLED"
    member = Member()
    again = MemberEnrolled(eid(), "m-1", ms(2026, 2, 1), "J", "D", "j@example.com")
    assert rejections(member.send(again))[0].code == "ALREADY_ENROLLED"
    bad = MemberEnrolled(eid(), "m-y", ms(2026, 2, 1), "J", "D", "j@example.com", status_match_tier="DIAMOND")
    state, out = apply(None, bad, RULES, CONFIG)
    assert state is None and rejections(out)[0].code == "UNKNOWN_TIER"


# ---------------------------------------------------------------------------------------- tiers


def test_upgrade_is_immediate_and_the_crossing_activity_earns_at_the_old_tier() -> None:
    member = Member()
    first = member.send(member.flight(ms(2026, 2, 1), "J", 3625))  # 5,437 qualifying points
    assert movements(first) == [("EARN", 7250, "earn-flight-business")]
    [change] = [o for o in first if isinstance(o, TierChange)]
    assert (change.from_tier, change.to_tier, change.direction, change.rule_id) == (
        "BASE",
        "SILVER",
        "UP",
        "tier-silver",
    )
    assert change.qualifying_points == 5437 and member.s.tier == "SILVER"
    second = member.send(member.flight(ms(2026, 2, 8), "Y", 429))
    assert ("BONUS", 107, "tier-silver") in movements(second)


def test_downgrade_only_at_membership_year_end_on_the_rolling_window() -> None:
    member = Member(enrolled=ms(2026, 1, 5))
    fl1, fl2 = member.flight(ms(2026, 2, 1), "J", 3625), member.flight(ms(2026, 2, 2), "J", 3625)
    member.send(fl1)
    member.send(fl2)
    assert member.s.tier == "GOLD"  # 10,874 qualifying points
    member.send(member.cancel(ms(2026, 3, 1), fl2.event_id))
    assert member.s.tier == "GOLD"  # qualifying points fell to 5,437, but no downgrade mid-year
    year_end = member.s.membership_year_end_ms
    assert year_end == ms(2027, 1, 5)
    assert timers(member.s, RULES).membership_year_end_ms == year_end
    state, out = on_membership_year_end(member.s, year_end - 1, RULES)
    assert (state, out) == (member.s, ())  # a stale timer changes nothing
    state, out = on_membership_year_end(member.s, year_end, RULES)
    [change] = [o for o in out if isinstance(o, TierChange)]
    assert (change.from_tier, change.to_tier, change.direction) == ("GOLD", "SILVER", "DOWN")
    assert change.source_event_id == f"year-end@{year_end}"
    assert state.membership_year_end_ms == ms(2028, 1, 5)
    # A year later the February 2026 flight is out of the 12-month window.
    state, out = on_membership_year_end(state, ms(2028, 1, 5), RULES)
    assert [(c.to_tier, c.direction) for c in out if isinstance(c, TierChange)] == [("BASE", "DOWN")]


def test_the_qualifying_window_is_rolling_and_configurable() -> None:
    member = Member(enrolled=ms(2026, 1, 5))
    member.send(member.flight(ms(2026, 2, 1), "W", 3625))  # 3,625 qualifying
    member.send(member.flight(ms(2027, 2, 15), "W", 3625))  # 12.5 months later: the first one has left
    assert member.s.tier == "SILVER"
    member.send(member.flight(ms(2027, 3, 1), "W", 3625))
    assert member.s.tier == "GOLD"  # 7,250 within the window
    six = rules_with(lambda d: d["tiers"].update(qualifying_window_months=6))
    short = Member(enrolled=ms(2026, 1, 5), rules=six, member_id="m-6")
    short.send(short.flight(ms(2026, 2, 1), "J", 3625))
    short.send(short.flight(ms(2026, 6, 1), "J", 3625))
    assert short.s.tier == "GOLD"
    _, out = on_membership_year_end(short.s, ms(2027, 1, 5), six)  # window Jul 2026 - Jan 2027: empty
    assert [(c.to_tier, c.direction) for c in out if isinstance(c, TierChange)] == [("BASE", "DOWN")]


def test_status_match_holds_until_the_first_year_end() -> None:
    member = Member(tier="PLATINUM", enrolled=ms(2026, 1, 5))
    assert member.s.tier == "PLATINUM"
    assert [(c.to_tier, c.direction) for c in member.outputs if isinstance(c, TierChange)] == [
        ("PLATINUM", "UP")
    ]
    member.send(member.flight(ms(2026, 6, 1), "J", 3625))
    state, _ = on_membership_year_end(member.s, ms(2027, 1, 5), RULES)
    assert state.tier == "SILVER"


# --------------------------------------------------------------------------------------- expiry


def test_balance_expires_after_months_without_activity() -> None:
    member = Member()
    member.send(member.flight(ms(2026, 2, 1), "J", 3625))
    deadline = timers(member.s, RULES).inactivity_expiry_ms
    assert deadline == ms(2028, 2, 1)  # 24 months after the last activity
    assert on_inactivity_timer(member.s, deadline - 1, RULES) == (member.s, ())
    state, out = on_inactivity_timer(member.s, deadline + 5 * DAY, RULES)
    [expired] = entries(out)
    assert (expired.kind, expired.points, expired.rule_id) == ("EXPIRE", -7250, "expiry-inactivity")
    assert expired.event_time_ms == deadline and expired.balance_after == 0
    assert state.balance == 0 and timers(state, RULES).inactivity_expiry_ms is None
    assert on_inactivity_timer(state, deadline + 10 * DAY, RULES) == (state, ())


def test_activity_moves_the_expiry_deadline_and_its_period_is_configurable() -> None:
    six = rules_with(lambda d: d["expiry"].update(inactivity_months=6))
    member = Member(rules=six)
    member.send(member.card(ms(2026, 2, 1), 100000))
    old_deadline = timers(member.s, six).inactivity_expiry_ms
    assert old_deadline == ms(2026, 8, 1)
    member.send(member.adjust(ms(2026, 7, 15), 10))
    assert on_inactivity_timer(member.s, old_deadline, six) == (member.s, ())  # stale timer
    assert timers(member.s, six).inactivity_expiry_ms == ms(2027, 1, 15)


# ------------------------------------------------------------------------------------ profile


def test_profile_changes_last_write_wins_by_event_time() -> None:
    member = Member()
    newer = ProfileChanged(eid(), "m-1", ms(2026, 3, 2), email="newest@example.org")
    older = ProfileChanged(eid(), "m-1", ms(2026, 3, 1), email="older@example.org", phone="+33 6 12 34 56 78")
    member.send(newer)
    member.send(older)  # arrives late: its e-mail is stale, its phone is not
    contact = member.s.contact
    assert contact.email is not None and contact.email.masked == "n***@example.org"
    assert contact.phone is not None and contact.phone.masked == "+*********78"


# -------------------------------------------------------------------------------- statements


def test_monthly_statement_sums_a_month_of_entries() -> None:
    member = Member()
    card = member.card(ms(2026, 4, 3), 10000)
    for event in (
        member.flight(ms(2026, 4, 1), "J", 3625),  # 7,250 points, and SILVER from here on
        card,  # 50 + 12 SILVER bonus
        member.redeem(ms(2026, 4, 5), 2000),
        member.adjust(ms(2026, 4, 6), -100),
        member.cancel(ms(2026, 4, 7), card.event_id),
    ):
        member.send(event)
    statement = monthly_statement("m-1", "2026-04", 40, entries(member.outputs))
    assert (statement.earned, statement.reversed, statement.redeemed) == (7312, 62, 2000)
    assert (statement.adjusted, statement.expired, statement.entry_count) == (-100, 0, 7)
    assert statement.closing_balance == 40 + member.s.balance == 40 + 5150
    with pytest.raises(ValueError, match="not 2026-03"):
        monthly_statement("m-1", "2026-03", 0, entries(member.outputs))
    with pytest.raises(ValueError, match="not m-2"):
        monthly_statement("m-2", "2026-04", 0, entries(member.outputs))
    with pytest.raises(ValueError, match="YYYY-MM"):
        monthly_statement("m-1", "2026-2", 0, [])
