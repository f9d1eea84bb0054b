"""Each fraud rule fires on a positive example and stays quiet on the near misses around it."""

from __future__ import annotations

from typing import Any

import pytest

from operators.cep import NFA, CepProcessor
from operators.cep.alerts import Alert, alert_score
from operators.cep.fraud_events import EventKind, FraudEvent, timestamp_of
from operators.cep.geo import haversine_km
from operators.cep.rules import parse_rule

MINUTE = 60_000
HOUR = 60 * MINUTE
KEY = "cust-1"

PARIS = (48.8566, 2.3522)
NEW_YORK = (40.7128, -74.0060)
LONDON = (51.5074, -0.1278)


def ev(event_id: str, at_ms: int, kind: EventKind, **fields: Any) -> FraudEvent:
    return FraudEvent(event_id=event_id, key=KEY, kind=kind, timestamp_ms=at_ms, **fields)


def pay(event_id: str, at_ms: int, amount: int, creditor: str = "CRED-1", **fields: Any) -> FraudEvent:
    return ev(event_id, at_ms, EventKind.PAYMENT, amount_minor=amount, creditor=creditor, **fields)


def alerts(rule_type: str, parameters: dict[str, Any], events: list[FraudEvent]) -> list[Alert]:
    rule = parse_rule(
        {"rule_id": f"{rule_type}-test", "version": 2, "type": rule_type, "parameters": parameters}
    )
    pattern, build_alert = rule.compile()
    output = CepProcessor(NFA(pattern), timestamp_of).run(events, watermark_lag_ms=0)
    assert output.late == ()
    return [build_alert(KEY, match) for match in output.matches]


def ids(found: list[Alert]) -> list[tuple[str, ...]]:
    return [alert.event_ids for alert in found]


# --- payment velocity ---------------------------------------------------------------------------------

VELOCITY = {"min_payments": 3, "within_ms": 10 * MINUTE, "min_amount_minor": 100}


def test_velocity_fires_once_per_burst() -> None:
    events = [
        pay("p1", 0, 500),
        ev("login", 1 * MINUTE, EventKind.LOGIN_SUCCEEDED),  # other events in between do not matter
        pay("p2", 2 * MINUTE, 500),
        pay("p3", 4 * MINUTE, 500),
        pay("p4", 5 * MINUTE, 500),
    ]
    found = alerts("payment_velocity", VELOCITY, events)
    assert ids(found) == [("p1", "p2", "p3")]
    alert = found[0]
    assert (alert.rule_id, alert.rule_version, alert.key, alert.detected_at) == (
        "payment_velocity-test",
        2,
        KEY,
        4 * MINUTE,
    )
    # severity 0.6 (the default), the burst took 4 of the 10 minutes
    assert alert.score == pytest.approx(0.6 * (0.5 + 0.5 * (1 - 4 / 10)))


@pytest.mark.parametrize(
    "events",
    [
        [pay("p1", 0, 500), pay("p2", 2 * MINUTE, 500)],  # one payment short
        [pay("p1", 0, 500), pay("p2", 5 * MINUTE, 500), pay("p3", 10 * MINUTE, 500)],  # exactly T apart
        [pay("p1", 0, 500), pay("p2", 1 * MINUTE, 99), pay("p3", 2 * MINUTE, 500)],  # one below the minimum
    ],
    ids=["too_few", "window_just_missed", "small_payment_ignored"],
)
def test_velocity_near_misses(events: list[FraudEvent]) -> None:
    assert alerts("payment_velocity", VELOCITY, events) == []


# --- small test payment, then a large one -------------------------------------------------------------

TEST_THEN_LARGE = {"small_max_minor": 200, "large_min_minor": 100_000, "within_ms": HOUR}


def test_test_payment_then_large_payment_to_the_same_creditor() -> None:
    events = [
        pay("t", 0, 100, "CRED-9"),
        pay("other", 5 * MINUTE, 150_000, "CRED-2"),  # large, but to someone else
        pay("big", 20 * MINUTE, 150_000, "CRED-9"),
    ]
    assert ids(alerts("test_then_large_payment", TEST_THEN_LARGE, events)) == [("t", "big")]


@pytest.mark.parametrize(
    "events",
    [
        [pay("t", 0, 100, "CRED-9"), pay("big", MINUTE, 150_000, "CRED-2")],
        [pay("t", 0, 100, "CRED-9"), pay("big", MINUTE, 99_999, "CRED-9")],
        [pay("t", 0, 100, "CRED-9"), pay("big", HOUR, 150_000, "CRED-9")],
        [pay("big", 0, 150_000, "CRED-9"), pay("t", MINUTE, 100, "CRED-9")],
        [pay("t", 0, 201, "CRED-9"), pay("big", MINUTE, 150_000, "CRED-9")],
    ],
    ids=["other_creditor", "not_large_enough", "after_the_window", "wrong_order", "test_too_large"],
)
def test_test_then_large_near_misses(events: list[FraudEvent]) -> None:
    assert alerts("test_then_large_payment", TEST_THEN_LARGE, events) == []


# --- profile change, new beneficiary, large payment ---------------------------------------------------

NEW_BENEFICIARY = {"large_min_minor": 500_000, "within_ms": 24 * HOUR}


def _profile_change(at_ms: int = 0) -> FraudEvent:
    return ev("pc", at_ms, EventKind.PROFILE_CHANGE, changed_field="address")


def _beneficiary(event_id: str, at_ms: int, account: str) -> FraudEvent:
    return ev(event_id, at_ms, EventKind.BENEFICIARY_ADDED, creditor=account)


def test_large_payment_to_a_beneficiary_added_after_a_profile_change() -> None:
    events = [
        _profile_change(),
        _beneficiary("ben1", HOUR, "ACC-1"),
        _beneficiary("ben2", 2 * HOUR, "ACC-2"),
        pay("rent", 3 * HOUR, 600_000, "LANDLORD"),  # an existing payee: not suspicious
        pay("big", 4 * HOUR, 600_000, "ACC-2"),  # to the second new beneficiary
    ]
    assert ids(alerts("new_beneficiary_after_profile_change", NEW_BENEFICIARY, events)) == [
        ("pc", "ben2", "big")
    ]


@pytest.mark.parametrize(
    "events",
    [
        [_profile_change(), _beneficiary("ben", HOUR, "ACC-1"), pay("big", 2 * HOUR, 600_000, "LANDLORD")],
        [_beneficiary("ben", 0, "ACC-1"), _profile_change(HOUR), pay("big", 2 * HOUR, 600_000, "ACC-1")],
        [_profile_change(), _beneficiary("ben", HOUR, "ACC-1"), pay("big", 2 * HOUR, 499_999, "ACC-1")],
        [_profile_change(), _beneficiary("ben", HOUR, "ACC-1"), pay("big", 24 * HOUR, 600_000, "ACC-1")],
    ],
    ids=["existing_payee", "beneficiary_before_the_change", "not_large_enough", "after_the_window"],
)
def test_new_beneficiary_near_misses(events: list[FraudEvent]) -> None:
    assert alerts("new_beneficiary_after_profile_change", NEW_BENEFICIARY, events) == []


# --- points drained after a contact change ------------------------------------------------------------

DRAIN = {"min_drain_ratio": 0.8, "within_ms": 48 * HOUR}


def _contact(field: str, at_ms: int = 0) -> FraudEvent:
    return ev("cc", at_ms, EventKind.CONTACT_CHANGE, changed_field=field)


def _redeem(at_ms: int, points: int, balance: int = 10_000) -> FraudEvent:
    return ev("red", at_ms, EventKind.POINTS_REDEMPTION, points=points, points_balance=balance)


@pytest.mark.parametrize("field", ["email", "phone"])
def test_points_drained_after_an_email_or_phone_change(field: str) -> None:
    events = [_contact(field), _redeem(HOUR, 2_000), _redeem(2 * HOUR, 8_000)]
    assert ids(alerts("points_drain_after_contact_change", DRAIN, events)) == [("cc", "red")]


@pytest.mark.parametrize(
    ("parameters", "events"),
    [
        (DRAIN, [_contact("email"), _redeem(HOUR, 7_999)]),
        (DRAIN, [_contact("address"), _redeem(HOUR, 10_000)]),
        ({**DRAIN, "fields": ["phone"]}, [_contact("email"), _redeem(HOUR, 10_000)]),
        (DRAIN, [_redeem(0, 10_000), _contact("email", HOUR)]),
        (DRAIN, [_contact("email"), _redeem(48 * HOUR, 10_000)]),
        (DRAIN, [_contact("email"), _redeem(HOUR, 0, balance=0)]),
    ],
    ids=[
        "partial_redemption",
        "other_field",
        "field_not_watched",
        "wrong_order",
        "after_the_window",
        "no_balance",
    ],
)
def test_points_drain_near_misses(parameters: dict[str, Any], events: list[FraudEvent]) -> None:
    assert alerts("points_drain_after_contact_change", parameters, events) == []


# --- failed-login burst, then a redemption ------------------------------------------------------------

BURST = {"min_failures": 3, "within_ms": 30 * MINUTE}


def _fail(index: int, at_ms: int) -> FraudEvent:
    return ev(f"f{index}", at_ms, EventKind.LOGIN_FAILED)


def test_failed_login_burst_then_redemption_reports_the_whole_burst() -> None:
    events = [
        *(_fail(i, i * MINUTE) for i in range(1, 6)),
        ev("ok", 6 * MINUTE, EventKind.LOGIN_SUCCEEDED),
        ev("red", 7 * MINUTE, EventKind.POINTS_REDEMPTION, points=100, points_balance=100),
    ]
    found = alerts("failed_logins_then_redemption", BURST, events)
    assert ids(found) == [("f1", "f2", "f3", "f4", "f5", "red")]


@pytest.mark.parametrize(
    "events",
    [
        [_fail(1, 0), _fail(2, MINUTE), ev("red", 2 * MINUTE, EventKind.POINTS_REDEMPTION)],
        [
            _fail(1, 0),
            _fail(2, MINUTE),
            _fail(3, 2 * MINUTE),
            ev("ok", 3 * MINUTE, EventKind.LOGIN_SUCCEEDED),
        ],
        [
            ev("red", 0, EventKind.POINTS_REDEMPTION),
            _fail(1, MINUTE),
            _fail(2, 2 * MINUTE),
            _fail(3, 3 * MINUTE),
        ],
        [
            _fail(1, 0),
            _fail(2, 10 * MINUTE),
            _fail(3, 20 * MINUTE),
            ev("red", 30 * MINUTE, EventKind.POINTS_REDEMPTION),
        ],
    ],
    ids=["too_few_failures", "no_redemption", "redemption_first", "burst_too_slow"],
)
def test_failed_login_near_misses(events: list[FraudEvent]) -> None:
    assert alerts("failed_logins_then_redemption", BURST, events) == []


# --- impossible travel --------------------------------------------------------------------------------

TRAVEL = {"max_speed_kmh": 900, "min_distance_km": 100, "within_ms": 24 * HOUR}


def _at(
    event_id: str, at_ms: int, place: tuple[float, float], kind: EventKind = EventKind.LOGIN_SUCCEEDED
) -> FraudEvent:
    return ev(event_id, at_ms, kind, latitude=place[0], longitude=place[1])


def test_geo_distance_is_sane() -> None:
    assert haversine_km(*PARIS, *NEW_YORK) == pytest.approx(5837, rel=0.01)
    assert haversine_km(*PARIS, *LONDON) == pytest.approx(344, rel=0.01)


def test_impossible_travel() -> None:
    paris_to_ny_hours = haversine_km(*PARIS, *NEW_YORK) / 900  # about 6.5 h at the limit
    events = [
        _at("paris", 0, PARIS),
        ev("no-location", HOUR, EventKind.PAYMENT, amount_minor=100),
        _at("ny", int((paris_to_ny_hours - 0.25) * HOUR), NEW_YORK, EventKind.PAYMENT),
    ]
    found = alerts("impossible_travel", TRAVEL, events)
    assert ids(found) == [("paris", "ny")]


@pytest.mark.parametrize(
    "events",
    [
        [_at("paris", 0, PARIS), _at("london", HOUR, LONDON)],  # 344 km/h
        [_at("paris", 0, PARIS), _at("ny", 7 * HOUR, NEW_YORK)],  # ~834 km/h, just possible
        [_at("paris", 0, PARIS), _at("nearby", 0, (49.2, 2.35))],  # ~38 km: below min_distance
        [_at("paris", 0, PARIS), _at("ny", 24 * HOUR, NEW_YORK)],  # outside the window
        [_at("ny", 0, NEW_YORK), _at("paris", 8 * HOUR, PARIS), _at("london", 9 * HOUR, LONDON)],
    ],
    ids=["plausible_trip", "just_plausible", "gps_jitter", "after_the_window", "chain_of_plausible_trips"],
)
def test_impossible_travel_near_misses(events: list[FraudEvent]) -> None:
    assert alerts("impossible_travel", TRAVEL, events) == []


# --- alerts ---------------------------------------------------------------------------------------------


def test_score_formula() -> None:
    assert alert_score(0.8, 0, 1000) == pytest.approx(0.8)  # instant: full severity
    assert alert_score(0.8, 1000, 1000) == pytest.approx(0.4)  # the whole window: half
    assert alert_score(0.8, 250, 1000) == pytest.approx(0.8 * (0.5 + 0.5 * 0.75))
    assert 0.0 <= alert_score(1.0, -5, 10) <= 1.0


def test_alert_record() -> None:
    alert = Alert("r", 3, KEY, ("e1", "e2"), 0.5, 1234)
    assert alert.to_record() == {
        "rule_id": "r",
        "rule_version": 3,
        "key": KEY,
        "event_ids": ["e1", "e2"],
        "score": 0.5,
        "detected_at": 1234,
    }
