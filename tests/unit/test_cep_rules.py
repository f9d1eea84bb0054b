"""Rule definitions as JSON: validation with errors that name the field, round trips, and the
add/update/disable transitions the job applies from the control topic."""

from __future__ import annotations

import json
from typing import Any

import pytest

from operators.cep import RuleDefinitionError
from operators.cep.fraud_rules import RULE_TYPES
from operators.cep.rules import RuleChange, RuleSet, parse_rule, parse_rule_json


def velocity(**overrides: Any) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "rule_id": "velocity-eu",
        "version": 1,
        "type": "payment_velocity",
        "enabled": True,
        "parameters": {"min_payments": 5, "within_ms": 60_000},
    }
    rule.update(overrides)
    return rule


def test_a_valid_rule_gets_its_defaults_and_round_trips() -> None:
    rule = parse_rule(velocity())
    assert rule.rule_id == "velocity-eu" and rule.version == 1 and rule.enabled
    assert rule.params == {"min_payments": 5, "within_ms": 60_000, "min_amount_minor": 0, "severity": 0.6}
    assert parse_rule(rule.to_json()) == rule
    assert parse_rule(json.loads(json.dumps(rule.to_json()))) == rule
    assert parse_rule_json(json.dumps(velocity())) == rule


def test_enabled_defaults_to_true() -> None:
    data = velocity()
    del data["enabled"]
    assert parse_rule(data).enabled


@pytest.mark.parametrize(
    "rule",
    [
        {
            "rule_id": "a",
            "version": 1,
            "type": "payment_velocity",
            "parameters": {"min_payments": 2, "within_ms": 1},
        },
        {
            "rule_id": "b",
            "version": 1,
            "type": "test_then_large_payment",
            "parameters": {"small_max_minor": 100, "large_min_minor": 10_000, "within_ms": 3_600_000},
        },
        {
            "rule_id": "c",
            "version": 1,
            "type": "new_beneficiary_after_profile_change",
            "parameters": {"large_min_minor": 10_000, "within_ms": 3_600_000},
        },
        {
            "rule_id": "d",
            "version": 1,
            "type": "points_drain_after_contact_change",
            "parameters": {"within_ms": 3_600_000, "fields": ["email"], "min_drain_ratio": 0.5},
        },
        {
            "rule_id": "e",
            "version": 1,
            "type": "failed_logins_then_redemption",
            "parameters": {"min_failures": 3, "within_ms": 600_000},
        },
        {"rule_id": "f", "version": 1, "type": "impossible_travel", "parameters": {}},
    ],
    ids=lambda rule: rule["type"],
)
def test_every_rule_type_parses_and_compiles(rule: dict[str, Any]) -> None:
    definition = parse_rule(rule)
    pattern, build_alert = definition.compile()
    assert pattern.window_ms == definition.params["within_ms"]
    assert callable(build_alert)


def test_every_rule_type_is_exercised_above() -> None:
    assert len(RULE_TYPES) == 6


@pytest.mark.parametrize(
    ("data", "field", "fragment"),
    [
        ([1, 2], None, "JSON object"),
        (velocity(rule_id=""), "rule_id", "1-64 characters"),
        (velocity(rule_id="has space"), "rule_id", "1-64 characters"),
        (velocity(rule_id=7), "rule_id", "got 7"),
        (velocity(priority=3), None, "unknown field(s) ['priority']"),
        (velocity(version=0), "version", "integer >= 1"),
        (velocity(version=True), "version", "integer >= 1"),
        (velocity(version="2"), "version", "integer >= 1"),
        (velocity(type="velocity"), "type", "unknown rule type 'velocity'"),
        (velocity(enabled="yes"), "enabled", "true or false"),
        ({k: v for k, v in velocity().items() if k != "parameters"}, "parameters", "required"),
        (velocity(parameters=[5]), "parameters", "JSON object"),
        (velocity(parameters={"min_payments": 5}), "parameters.within_ms", "required"),
        (velocity(parameters={"min_payments": 5, "within_ms": 60_000, "limit": 1}), "parameters", "'limit'"),
        (
            velocity(parameters={"min_payments": True, "within_ms": 60_000}),
            "parameters.min_payments",
            "integer",
        ),
        (
            velocity(parameters={"min_payments": "5", "within_ms": 60_000}),
            "parameters.min_payments",
            "integer",
        ),
        (
            velocity(parameters={"min_payments": 2.5, "within_ms": 60_000}),
            "parameters.min_payments",
            "integer",
        ),
        (velocity(parameters={"min_payments": 1, "within_ms": 60_000}), "parameters.min_payments", ">= 2"),
        (velocity(parameters={"min_payments": 5, "within_ms": 0}), "parameters.within_ms", ">= 1"),
        (
            velocity(parameters={"min_payments": 5, "within_ms": 60_000, "severity": 1.5}),
            "parameters.severity",
            "<= 1",
        ),
        (
            {
                "rule_id": "t",
                "version": 1,
                "type": "test_then_large_payment",
                "parameters": {"small_max_minor": 500, "large_min_minor": 500, "within_ms": 1000},
            },
            "parameters.small_max_minor",
            "below large_min_minor",
        ),
        (
            {
                "rule_id": "p",
                "version": 1,
                "type": "points_drain_after_contact_change",
                "parameters": {"within_ms": 1000, "fields": ["email", "address"]},
            },
            "parameters.fields",
            "['address']",
        ),
        (
            {
                "rule_id": "p",
                "version": 1,
                "type": "points_drain_after_contact_change",
                "parameters": {"fields": []},
            },
            "parameters.fields",
            "non-empty list",
        ),
    ],
)
def test_invalid_rules_say_what_is_wrong(data: Any, field: str | None, fragment: str) -> None:
    with pytest.raises(RuleDefinitionError) as raised:
        parse_rule(data)
    assert raised.value.field == field
    assert fragment in str(raised.value)


def test_error_message_names_the_rule_and_the_field() -> None:
    with pytest.raises(RuleDefinitionError) as raised:
        parse_rule(velocity(parameters={"min_payments": 1, "within_ms": 60_000}))
    assert str(raised.value) == "rule 'velocity-eu': parameters.min_payments: must be >= 2, got 1"
    assert raised.value.rule_id == "velocity-eu"


def test_invalid_json_text() -> None:
    with pytest.raises(RuleDefinitionError, match="not valid JSON"):
        parse_rule_json("{not json")


# --- applying changes from the control topic ------------------------------------------------------


def test_add_update_disable_and_replays() -> None:
    rules = RuleSet()
    v1 = parse_rule(velocity())
    rules, change = rules.apply(v1)
    assert change is RuleChange.ADDED and rules.enabled == (v1,)

    rules, change = rules.apply(v1)  # a replayed message
    assert change is RuleChange.UNCHANGED

    v2 = parse_rule(velocity(version=2, parameters={"min_payments": 8, "within_ms": 60_000}))
    rules, change = rules.apply(v2)
    assert change is RuleChange.UPDATED and rules.get("velocity-eu") == v2

    rules, change = rules.apply(v1)  # an older version arriving late
    assert change is RuleChange.STALE and rules.get("velocity-eu") == v2

    v3 = parse_rule(velocity(version=3, enabled=False))
    rules, change = rules.apply(v3)
    assert change is RuleChange.DISABLED and rules.enabled == () and rules.get("velocity-eu") == v3

    rules, change = rules.apply(v2)  # cannot come back through an old version
    assert change is RuleChange.STALE and rules.enabled == ()

    v4 = parse_rule(velocity(version=4))
    rules, change = rules.apply(v4)
    assert change is RuleChange.ADDED and rules.enabled == (v4,)


def test_reusing_a_version_for_different_content_is_rejected() -> None:
    rules, _ = RuleSet().apply(parse_rule(velocity()))
    changed = parse_rule(velocity(parameters={"min_payments": 9, "within_ms": 60_000}))
    with pytest.raises(RuleDefinitionError, match="higher version"):
        rules.apply(changed)


def test_rule_set_keeps_rules_sorted_by_id() -> None:
    rules = RuleSet()
    for rule_id in ["zeta", "alpha", "mid"]:
        rules, _ = rules.apply(parse_rule(velocity(rule_id=rule_id)))
    assert [r.rule_id for r in rules.rules] == ["alpha", "mid", "zeta"]
