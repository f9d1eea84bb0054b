"""The fraud rule types, each a parametrised pattern built with the pattern API.

A rule *type* (this module) fixes the shape of the sequence; a rule *definition*
(``operators.cep.rules``) picks a type and its parameters and carries an id and a version, so
thresholds are tuned by publishing JSON, not by deploying code. Every rule has ``within_ms``
(the pattern's window, which also bounds the state a rule keeps per customer) and ``severity``
(see ``operators.cep.alerts`` for the score formula), and uses SKIP_PAST_LAST_EVENT so one
burst of activity raises one alert rather than one per overlapping partial match.
"""

from __future__ import annotations

from collections.abc import Mapping

from .conditions import ConditionContext, Iterative, iterative
from .fraud_events import EventKind, FraudEvent
from .geo import haversine_km
from .pattern import Pattern
from .rule_types import ParameterSpec, ParamKind, ParamValue, RuleType
from .skip_strategy import SKIP_PAST_LAST_EVENT

MAX_WINDOW_MS = 30 * 24 * 3600 * 1000
"""A month: longer windows would keep a customer's partial matches, and their events, for longer
than any of these rules needs, and state size grows with the window."""


def _within(default: int | None = None) -> ParameterSpec:
    return ParameterSpec(
        "within_ms", ParamKind.INT, "window from the first to the last event (ms)", default, 1, MAX_WINDOW_MS
    )


def _severity(default: float) -> ParameterSpec:
    return ParameterSpec(
        "severity", ParamKind.FLOAT, "how strongly a match indicates fraud (0..1)", default, 0, 1
    )


def _int(params: Mapping[str, ParamValue], name: str) -> int:
    value = params[name]
    assert isinstance(value, int)
    return value


def _float(params: Mapping[str, ParamValue], name: str) -> float:
    value = params[name]
    assert isinstance(value, int | float)
    return float(value)


def _strings(params: Mapping[str, ParamValue], name: str) -> tuple[str, ...]:
    value = params[name]
    assert isinstance(value, tuple)
    return value


def _is_payment(event: FraudEvent) -> bool:
    return event.kind is EventKind.PAYMENT


def _large_payment_to_creditor_of(stage: str, large_min: int) -> Iterative[FraudEvent]:
    """A payment of at least ``large_min`` to the creditor of the first event matched by ``stage``."""

    def large_to_same_creditor(event: FraudEvent, ctx: ConditionContext[FraudEvent]) -> bool:
        if not _is_payment(event) or event.amount_minor < large_min:
            return False
        return event.creditor is not None and event.creditor == ctx.events_for(stage)[0].creditor

    return iterative(large_to_same_creditor)


# --- payment velocity ---------------------------------------------------------------------------


def build_payment_velocity(params: Mapping[str, ParamValue]) -> Pattern[FraudEvent]:
    """``min_payments`` payments (of at least ``min_amount_minor``) within the window; other
    events in between do not matter (relaxed inner contiguity)."""
    min_amount = _int(params, "min_amount_minor")
    return (
        Pattern[FraudEvent]
        .begin("payments", SKIP_PAST_LAST_EVENT)
        .where(lambda e: _is_payment(e) and e.amount_minor >= min_amount)
        .times(_int(params, "min_payments"))
        .within(_int(params, "within_ms"))
    )


PAYMENT_VELOCITY = RuleType(
    "payment_velocity",
    "at least N payments within T",
    (
        ParameterSpec("min_payments", ParamKind.INT, "payments that make a burst", None, 2, 1000),
        ParameterSpec("min_amount_minor", ParamKind.INT, "ignore payments below this amount", 0, 0),
        _within(),
        _severity(0.6),
    ),
    build_payment_velocity,
)


# --- small test payment, then a large one to the same creditor ----------------------------------


def build_test_then_large(params: Mapping[str, ParamValue]) -> Pattern[FraudEvent]:
    """A small "test" payment, then the first large payment to the *same* creditor."""
    small_max = _int(params, "small_max_minor")
    return (
        Pattern[FraudEvent]
        .begin("test", SKIP_PAST_LAST_EVENT)
        .where(lambda e: _is_payment(e) and 0 < e.amount_minor <= small_max)
        .followed_by("large")
        .where(_large_payment_to_creditor_of("test", _int(params, "large_min_minor")))
        .within(_int(params, "within_ms"))
    )


def _check_small_below_large(params: Mapping[str, ParamValue]) -> tuple[str, str] | None:
    if _int(params, "small_max_minor") >= _int(params, "large_min_minor"):
        return "small_max_minor", "must be below large_min_minor"
    return None


TEST_THEN_LARGE = RuleType(
    "test_then_large_payment",
    "a small test payment, then a large payment to the same creditor within T",
    (
        ParameterSpec("small_max_minor", ParamKind.INT, "largest amount that counts as a test", None, 1),
        ParameterSpec("large_min_minor", ParamKind.INT, "smallest amount that counts as large", None, 1),
        _within(),
        _severity(0.8),
    ),
    build_test_then_large,
    _check_small_below_large,
)


# --- profile change, new beneficiary, large payment to it ----------------------------------------


def build_new_beneficiary_after_profile_change(params: Mapping[str, ParamValue]) -> Pattern[FraudEvent]:
    """A profile change, then a beneficiary added (any of them: ``followed_by_any``), then a
    large payment to that beneficiary, all within the window."""
    return (
        Pattern[FraudEvent]
        .begin("profile_change", SKIP_PAST_LAST_EVENT)
        .where(lambda e: e.kind is EventKind.PROFILE_CHANGE)
        .followed_by_any("new_beneficiary")
        .where(lambda e: e.kind is EventKind.BENEFICIARY_ADDED and e.creditor is not None)
        .followed_by("large_payment")
        .where(_large_payment_to_creditor_of("new_beneficiary", _int(params, "large_min_minor")))
        .within(_int(params, "within_ms"))
    )


NEW_BENEFICIARY_AFTER_PROFILE_CHANGE = RuleType(
    "new_beneficiary_after_profile_change",
    "a profile change, a new beneficiary and a large payment to it within T",
    (
        ParameterSpec("large_min_minor", ParamKind.INT, "smallest amount that counts as large", None, 1),
        _within(),
        _severity(0.85),
    ),
    build_new_beneficiary_after_profile_change,
)


# --- contact change, then points drained --------------------------------------------------------

CONTACT_FIELDS = ("email", "phone")


def build_points_drain_after_contact_change(params: Mapping[str, ParamValue]) -> Pattern[FraudEvent]:
    """An e-mail/phone change (the usual first step of an account takeover), then a redemption
    of at least ``min_drain_ratio`` of the balance the customer had."""
    fields = frozenset(_strings(params, "fields"))
    ratio = _float(params, "min_drain_ratio")

    def drains(event: FraudEvent) -> bool:
        return (
            event.kind is EventKind.POINTS_REDEMPTION
            and event.points_balance > 0
            and event.points >= ratio * event.points_balance
        )

    return (
        Pattern[FraudEvent]
        .begin("contact_change", SKIP_PAST_LAST_EVENT)
        .where(lambda e: e.kind is EventKind.CONTACT_CHANGE and e.changed_field in fields)
        .followed_by("redemption")
        .where(drains)
        .within(_int(params, "within_ms"))
    )


POINTS_DRAIN_AFTER_CONTACT_CHANGE = RuleType(
    "points_drain_after_contact_change",
    "loyalty points drained by a redemption within T after an e-mail/phone change",
    (
        ParameterSpec(
            "min_drain_ratio", ParamKind.FLOAT, "share of the balance one redemption takes", 0.8, 0.01, 1
        ),
        ParameterSpec(
            "fields",
            ParamKind.STRINGS,
            "contact fields whose change counts",
            CONTACT_FIELDS,
            None,
            None,
            CONTACT_FIELDS,
        ),
        _within(),
        _severity(0.75),
    ),
    build_points_drain_after_contact_change,
)


# --- failed-login burst, then a redemption ------------------------------------------------------


def build_failed_logins_then_redemption(params: Mapping[str, ParamValue]) -> Pattern[FraudEvent]:
    """At least ``min_failures`` failed logins, then a points redemption. The loop is greedy so
    the alert carries every failure of the burst, not just the first ``min_failures``."""
    return (
        Pattern[FraudEvent]
        .begin("failed_logins", SKIP_PAST_LAST_EVENT)
        .where(lambda e: e.kind is EventKind.LOGIN_FAILED)
        .times_or_more(_int(params, "min_failures"))
        .greedy()
        .followed_by("redemption")
        .where(lambda e: e.kind is EventKind.POINTS_REDEMPTION)
        .within(_int(params, "within_ms"))
    )


FAILED_LOGINS_THEN_REDEMPTION = RuleType(
    "failed_logins_then_redemption",
    "a burst of failed logins followed by a points redemption within T",
    (
        ParameterSpec("min_failures", ParamKind.INT, "failed logins that make a burst", None, 2, 1000),
        _within(),
        _severity(0.7),
    ),
    build_failed_logins_then_redemption,
)


# --- impossible travel ----------------------------------------------------------------------------


def build_impossible_travel(params: Mapping[str, ParamValue]) -> Pattern[FraudEvent]:
    """Two located activities further apart than ``max_speed_kmh`` allows in the time between
    them. The iterative condition compares each later activity with the origin's location; a
    distance below ``min_distance_km`` never counts (geolocation of IPs is that coarse)."""
    max_speed = _float(params, "max_speed_kmh")
    min_distance = _float(params, "min_distance_km")

    def too_far(event: FraudEvent, ctx: ConditionContext[FraudEvent]) -> bool:
        if not event.has_location:
            return False
        origin = ctx.events_for("origin")[-1]
        assert origin.latitude is not None and origin.longitude is not None
        assert event.latitude is not None and event.longitude is not None
        distance = haversine_km(origin.latitude, origin.longitude, event.latitude, event.longitude)
        if distance < min_distance:
            return False
        hours = (event.timestamp_ms - origin.timestamp_ms) / 3_600_000
        return hours <= 0 or distance / hours > max_speed

    return (
        Pattern[FraudEvent]
        .begin("origin", SKIP_PAST_LAST_EVENT)
        .where(lambda e: e.has_location)
        .followed_by("destination")
        .where(iterative(too_far))
        .within(_int(params, "within_ms"))
    )


IMPOSSIBLE_TRAVEL = RuleType(
    "impossible_travel",
    "two activities too far apart for the time between them",
    (
        ParameterSpec("max_speed_kmh", ParamKind.FLOAT, "fastest plausible travel speed", 900.0, 1, 20_000),
        ParameterSpec(
            "min_distance_km", ParamKind.FLOAT, "distances below this never count", 100.0, 0, 20_100
        ),
        _within(24 * 3600 * 1000),
        _severity(0.9),
    ),
    build_impossible_travel,
)


RULE_TYPES: Mapping[str, RuleType] = {
    rule_type.name: rule_type
    for rule_type in (
        PAYMENT_VELOCITY,
        TEST_THEN_LARGE,
        NEW_BENEFICIARY_AFTER_PROFILE_CHANGE,
        POINTS_DRAIN_AFTER_CONTACT_CHANGE,
        FAILED_LOGINS_THEN_REDEMPTION,
        IMPOSSIBLE_TRAVEL,
    )
}
