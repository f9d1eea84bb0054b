"""Loyalty rules file: the bundled version loads; every broken rule is named in the error."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from operators.loyalty.rules import (
    DEFAULT_RULES_VERSION,
    RulesValidationError,
    load_rules,
    parse_rules,
)

from .loyalty_fixtures import rules_document


def _entry(entries: list[dict[str, Any]], field: str, value: str) -> dict[str, Any]:
    """The first entry of a rules-file list whose ``field`` is ``value``."""
    return next(entry for entry in entries if entry[field] == value)


def _earn(doc: dict[str, Any], rule_id: str) -> dict[str, Any]:
    return _entry(doc["earn"], "id", rule_id)


def _level(doc: dict[str, Any], tier: str) -> dict[str, Any]:
    return _entry(doc["tiers"]["levels"], "tier", tier)


def _promo(doc: dict[str, Any], rule_id: str) -> dict[str, Any]:
    return _entry(doc["promotions"], "id", rule_id)


def test_bundled_rules_load_and_are_complete() -> None:
    rules = load_rules()
    assert rules.version == DEFAULT_RULES_VERSION == load_rules(DEFAULT_RULES_VERSION).version
    assert rules.programme_currency == "EUR"
    assert [t.tier for t in rules.tiers] == ["BASE", "SILVER", "GOLD", "PLATINUM"]
    assert rules.qualifying_window_months == 12
    assert {r.activity for r in rules.earn} == {"FLIGHT", "HOTEL", "PARTNER", "CARD"}
    assert rules.earn_rule("FLIGHT", fare_class="J") is not None
    assert rules.earn_rule("FLIGHT", fare_class="Z") is None
    assert rules.earn_rule("PARTNER", partner="RAILCO") is not None
    assert rules.currency("USD") is not None and rules.currency("KZT") is None
    assert rules.monthly_cap is not None and rules.expiry.inactivity_months == 24
    # Decimals stay exact, whether written as strings or as JSON numbers.
    usd = rules.currency("USD")
    assert usd is not None and usd.rate == Decimal("0.92")


def test_json_numbers_are_read_as_exact_decimals() -> None:
    doc = rules_document()
    doc["currencies"]["rates"][1]["rate"] = Decimal("0.92")
    _earn(doc, "earn-card")["points_per_unit"] = 0.1  # a binary float still becomes Decimal("0.1")
    rules = parse_rules(doc)
    card = rules.earn_rule("CARD")
    assert card is not None and card.points_per_unit == Decimal("0.1")


Mutation = Callable[[dict[str, Any]], None]

BROKEN: list[tuple[str, Mutation, str, str]] = [
    (
        "negative earn rate",
        lambda d: _earn(d, "earn-flight-first").update(points_per_unit="-1"),
        "earn-flight-first",
        "'points_per_unit' must be at least 0",
    ),
    (
        "earn rate not a number",
        lambda d: _earn(d, "earn-hotel").update(points_per_unit="five"),
        "earn-hotel",
        "must be a decimal number",
    ),
    (
        "fare class in two rules",
        lambda d: _earn(d, "earn-flight-economy")["fare_classes"].append("J"),
        "earn-flight-economy",
        "fare class J is already covered by rule earn-flight-business",
    ),
    (
        "partner in two rules",
        lambda d: _earn(d, "earn-partner-retail")["partners"].append("RAILCO"),
        "earn-partner-retail",
        "partner RAILCO is already covered by rule earn-partner-rail",
    ),
    (
        "two card rules",
        lambda d: d["earn"].append({"id": "earn-card-2", "activity": "CARD", "points_per_unit": "1"}),
        "earn-card-2",
        "CARD every activity is already covered by rule earn-card",
    ),
    (
        "unknown activity",
        lambda d: _earn(d, "earn-card").update(activity="CRUISE"),
        "earn-card",
        "'activity' must be one of FLIGHT, HOTEL, PARTNER, CARD",
    ),
    (
        "typo in a field name",
        lambda d: _earn(d, "earn-card").update(point_per_unit="1"),
        "earn-card",
        "unknown field(s) 'point_per_unit'",
    ),
    (
        "duplicate rule id",
        lambda d: _earn(d, "earn-card").update(id="earn-hotel"),
        "earn-hotel",
        "rule id is used twice",
    ),
    (
        "tier thresholds not increasing",
        lambda d: _level(d, "GOLD").update(threshold=2000),
        "tier-gold",
        "threshold 2000 must be above the threshold of SILVER (2500)",
    ),
    (
        "lowest tier above zero",
        lambda d: _level(d, "BASE").update(threshold=10),
        "tier-base",
        "the lowest tier must have threshold 0",
    ),
    (
        "tier multiplier below one",
        lambda d: _level(d, "SILVER").update(multiplier="0.5"),
        "tier-silver",
        "'multiplier' must be at least 1",
    ),
    (
        "qualifying window out of range",
        lambda d: d["tiers"].update(qualifying_window_months=0),
        "tiers",
        "'qualifying_window_months' must be at least 1",
    ),
    (
        "promotion ends before it starts",
        lambda d: _promo(d, "promo-2026-summer-hotels").update(end="2026-05-01T00:00:00Z"),
        "promo-2026-summer-hotels",
        "end must be after start",
    ),
    (
        "promotion with multiplier and bonus",
        lambda d: _promo(d, "promo-2026-summer-hotels").update(bonus_points=100),
        "promo-2026-summer-hotels",
        "exactly one of multiplier and bonus_points",
    ),
    (
        "promotion without offset",
        lambda d: _promo(d, "promo-2026-card-launch").update(start="2026-01-15T00:00:00"),
        "promo-2026-card-launch",
        "'start' must be an ISO-8601 instant with offset",
    ),
    (
        "promotion for an unknown activity",
        lambda d: _promo(d, "promo-2026-card-launch").update(activities=["CARD", "CASINO"]),
        "promo-2026-card-launch",
        "unknown values ['CASINO']",
    ),
    (
        "programme currency rate not 1",
        lambda d: d["currencies"]["rates"][0].update(rate="1.1"),
        "fx-2026-01:EUR",
        "programme currency rate must be 1",
    ),
    (
        "programme currency missing from the table",
        lambda d: d.update(programme_currency="NOK"),
        "fx-2026-01",
        "programme currency NOK has no rate",
    ),
    (
        "currency listed twice",
        lambda d: d["currencies"]["rates"].append({"code": "USD", "minor_units": 2, "rate": "0.9"}),
        "fx-2026-01:USD",
        "currency USD is listed twice",
    ),
    (
        "zero exchange rate",
        lambda d: d["currencies"]["rates"][1].update(rate="0"),
        "fx-2026-01:USD",
        "'rate' must be greater than 0",
    ),
    (
        "monthly cap of zero",
        lambda d: d["caps"]["per_month"].update(max_points=0),
        "cap-month",
        "'max_points' must be at least 1",
    ),
    (
        "two caps for one activity",
        lambda d: d["caps"]["per_activity"].append({"id": "cap-2", "activity": "CARD", "max_points": 1}),
        "cap-2",
        "a cap for CARD is already defined",
    ),
    (
        "cap given as a boolean",
        lambda d: d["caps"]["per_activity"][0].update(max_points=True),
        "cap-activity-flight",
        "'max_points' must be a whole number",
    ),
    (
        "unknown redemption kind",
        lambda d: d["redemptions"][0].update(kind="CASH"),
        "redeem-award",
        "'kind' must be one of AWARD, UPGRADE",
    ),
    (
        "expiry of zero months",
        lambda d: d["expiry"].update(inactivity_months=0),
        "expiry-inactivity",
        "'inactivity_months' must be at least 1",
    ),
    (
        "missing section",
        lambda d: d.pop("adjustments"),
        "(root)",
        "missing field 'adjustments'",
    ),
    (
        "bad version",
        lambda d: d.update(version="latest"),
        "(root)",
        "'version' must be a version like 2026.1",
    ),
]


@pytest.mark.parametrize(("mutate", "rule", "problem"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_validation_error_names_the_rule_and_the_problem(mutate: Mutation, rule: str, problem: str) -> None:
    doc = copy.deepcopy(rules_document())
    mutate(doc)
    with pytest.raises(RulesValidationError) as caught:
        parse_rules(doc)
    assert caught.value.rule == rule
    assert problem in caught.value.problem
    assert str(caught.value).startswith(f"rule {rule}: ")
    assert isinstance(caught.value, ValueError)


def test_file_name_and_declared_version_must_agree(tmp_path: Path) -> None:
    doc = rules_document()
    path = tmp_path / "rules-2026.2.json"
    path.write_text(json.dumps(doc, default=str), encoding="utf-8")
    with pytest.raises(RulesValidationError) as caught:
        load_rules(path)
    assert caught.value.rule == "version"
    assert "declares version '2026.1'" in caught.value.problem


def test_unreadable_files_are_reported(tmp_path: Path) -> None:
    broken = tmp_path / "rules-2026.9.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(RulesValidationError, match="not valid JSON"):
        load_rules(broken)
    with pytest.raises(RulesValidationError, match="no rules file"):
        load_rules("1999.1")
    with pytest.raises(RulesValidationError, match="expected an object"):
        parse_rules([])
