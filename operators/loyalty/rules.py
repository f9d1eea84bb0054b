"""Programme rules as data: a versioned JSON file under ``operators/loyalty/rules/``, validated on load.

A rules file is named ``rules-<version>.json`` and carries the same ``version`` inside. Every rule
has an ``id`` unique in the file; every ledger entry the accrual core writes records the id of the
rule that produced it and the version of the file, so a statement line can always be explained.

Sections (see ``rules-2026.1.json`` for a complete example):

``programme_currency``
    ISO 4217 code spend-based earning is converted to (its rate in ``currencies`` must be 1).
``currencies``
    ``{"id", "rates": [{"code", "minor_units", "rate"}]}``: ``rate`` is how many programme-currency
    units one unit of ``code`` is worth. Spend in a currency not listed is rejected with a reason.
``earn``
    One rule per activity type and selector. ``FLIGHT`` rules select by ``fare_classes`` and earn
    per mile flown; ``PARTNER`` rules select by ``partners``; ``HOTEL``, ``PARTNER`` and ``CARD`` earn
    per programme-currency unit spent. ``points_per_unit`` and ``qualifying_per_unit`` are decimals;
    ``HOTEL`` rules may add ``qualifying_per_night``. Results are rounded down to whole points.
``tiers``
    ``{"qualifying_window_months", "levels": [{"id", "tier", "threshold", "multiplier"}]}``, levels
    in ascending order, the first with threshold 0. A tier's multiplier applies to the base points
    of an activity (the extra part is booked as a BONUS entry under the tier level's rule id).
``promotions``
    Date-bounded ``[start, end)`` on event time, for a set of ``activities``; exactly one of
    ``multiplier`` (> 1, applied to base points) or ``bonus_points`` (fixed, per activity).
``caps``
    ``per_activity`` (max points one activity may earn, by activity type) and ``per_month`` (max
    points activities may earn per member and calendar month, UTC, by event time). Bonuses are
    trimmed first, then base points.
``redemptions``
    ``[{"id", "kind", "min_points"}]`` for ``AWARD`` and ``UPGRADE``.
``expiry``
    ``{"id", "inactivity_months"}``: the whole balance expires after that many months without
    activity.
``adjustments``
    ``{"id", "max_abs_points"}``: the largest manual adjustment an agent may book.

Numbers that are not whole (rates, multipliers) may be given as JSON numbers or strings; they are
read as exact decimals, never as binary floats.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from operators.loyalty._time import parse_instant

RULES_DIR = Path(__file__).resolve().parent / "rules"
DEFAULT_RULES_VERSION = "2026.1"

ACTIVITY_TYPES = ("FLIGHT", "HOTEL", "PARTNER", "CARD")
REDEMPTION_KINDS = ("AWARD", "UPGRADE")

_VERSION = re.compile(r"^[0-9]{4}\.[0-9]+$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_TIER = re.compile(r"^[A-Z][A-Z_]{0,31}$")
_RULE_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


class RulesValidationError(ValueError):
    """A rules file is not usable. ``rule`` names the offending rule (its id, or its path in the file)."""

    def __init__(self, rule: str, problem: str) -> None:
        self.rule = rule
        self.problem = problem
        super().__init__(f"rule {rule}: {problem}")


@dataclass(frozen=True, slots=True)
class CurrencyRate:
    code: str
    minor_units: int
    rate: Decimal


@dataclass(frozen=True, slots=True)
class EarnRule:
    rule_id: str
    activity: str
    points_per_unit: Decimal
    qualifying_per_unit: Decimal
    qualifying_per_night: int = 0
    fare_classes: frozenset[str] = frozenset()
    partners: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class TierLevel:
    rule_id: str
    tier: str
    threshold: int
    multiplier: Decimal


@dataclass(frozen=True, slots=True)
class Promotion:
    rule_id: str
    activities: frozenset[str]
    start_ms: int
    end_ms: int
    multiplier: Decimal | None
    bonus_points: int | None

    def applies(self, activity: str, event_time_ms: int) -> bool:
        return activity in self.activities and self.start_ms <= event_time_ms < self.end_ms


@dataclass(frozen=True, slots=True)
class Cap:
    rule_id: str
    max_points: int
    activity: str | None = None  # None: the monthly cap


@dataclass(frozen=True, slots=True)
class RedemptionRule:
    rule_id: str
    kind: str
    min_points: int


@dataclass(frozen=True, slots=True)
class ExpiryRule:
    rule_id: str
    inactivity_months: int


@dataclass(frozen=True, slots=True)
class AdjustmentRule:
    rule_id: str
    max_abs_points: int


@dataclass(frozen=True, slots=True)
class Rules:
    """One validated rules version. Immutable; lookups are linear over a handful of rules."""

    version: str
    programme_currency: str
    currency_table_id: str
    currencies: tuple[CurrencyRate, ...]
    earn: tuple[EarnRule, ...]
    qualifying_window_months: int
    tiers: tuple[TierLevel, ...]
    promotions: tuple[Promotion, ...]
    activity_caps: tuple[Cap, ...]
    monthly_cap: Cap | None
    redemptions: tuple[RedemptionRule, ...]
    expiry: ExpiryRule
    adjustment: AdjustmentRule

    def currency(self, code: str) -> CurrencyRate | None:
        return next((c for c in self.currencies if c.code == code), None)

    def earn_rule(self, activity: str, *, fare_class: str = "", partner: str = "") -> EarnRule | None:
        for rule in self.earn:
            if rule.activity != activity:
                continue
            if activity == "FLIGHT" and fare_class not in rule.fare_classes:
                continue
            if activity == "PARTNER" and partner not in rule.partners:
                continue
            return rule
        return None

    def tier_level(self, tier: str) -> TierLevel | None:
        return next((t for t in self.tiers if t.tier == tier), None)

    def tier_rank(self, tier: str) -> int:
        """Position of ``tier`` in the ladder; a tier this version does not know ranks lowest."""
        return next((i for i, t in enumerate(self.tiers) if t.tier == tier), -1)

    def eligible_tier(self, qualifying_points: int) -> TierLevel:
        """Highest tier whose threshold ``qualifying_points`` reaches."""
        eligible = self.tiers[0]
        for level in self.tiers:
            if qualifying_points >= level.threshold:
                eligible = level
        return eligible

    def active_promotions(self, activity: str, event_time_ms: int) -> tuple[Promotion, ...]:
        return tuple(p for p in self.promotions if p.applies(activity, event_time_ms))

    def activity_cap(self, activity: str) -> Cap | None:
        return next((c for c in self.activity_caps if c.activity == activity), None)

    def redemption(self, kind: str) -> RedemptionRule | None:
        return next((r for r in self.redemptions if r.kind == kind), None)


# ---------------------------------------------------------------------------------------- loading


def load_rules(source: str | Path | None = None) -> Rules:
    """Load and validate a rules file.

    ``source`` is a version (``"2026.1"``, looked up in the packaged ``rules/`` folder), a path to a
    JSON file, or None for :data:`DEFAULT_RULES_VERSION`. Raises :class:`RulesValidationError`.
    """
    if source is None:
        source = DEFAULT_RULES_VERSION
    if isinstance(source, str) and _VERSION.match(source):
        path = RULES_DIR / f"rules-{source}.json"
    else:
        path = Path(source)
    if not path.is_file():
        raise RulesValidationError("file", f"no rules file at {path}")
    try:
        document = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RulesValidationError("file", f"{path.name} is not valid JSON: {exc}") from None
    rules = parse_rules(document)
    expected = path.name.removeprefix("rules-").removesuffix(".json")
    if path.name.startswith("rules-") and expected != rules.version:
        raise RulesValidationError(
            "version", f"file {path.name} declares version {rules.version!r}; the name says {expected!r}"
        )
    return rules


def parse_rules(document: Any) -> Rules:
    """Validate an already-parsed JSON document (floats preferably as :class:`~decimal.Decimal`)."""
    root = _Section("(root)", document)
    ids = _IdRegistry()
    version = root.text("version", _VERSION, "a version like 2026.1")
    programme_currency = root.text("programme_currency", _CURRENCY, "an ISO 4217 code")

    fx = root.section("currencies")
    currency_table_id = ids.claim(fx)
    currencies: list[CurrencyRate] = []
    for index, raw in enumerate(fx.items("rates")):
        entry = _Section(f"{currency_table_id}.rates[{index}]", raw)
        code = entry.text("code", _CURRENCY, "an ISO 4217 code")
        entry.name = f"{currency_table_id}:{code}"
        if any(c.code == code for c in currencies):
            raise RulesValidationError(entry.name, f"currency {code} is listed twice")
        minor_units = entry.integer("minor_units", minimum=0, maximum=4)
        rate = entry.decimal("rate", positive=True)
        entry.done()
        currencies.append(CurrencyRate(code, minor_units, rate))
    fx.done()
    programme = next((c for c in currencies if c.code == programme_currency), None)
    if programme is None:
        raise RulesValidationError(currency_table_id, f"programme currency {programme_currency} has no rate")
    if programme.rate != 1:
        raise RulesValidationError(
            f"{currency_table_id}:{programme_currency}",
            f"programme currency rate must be 1, got {programme.rate}",
        )

    earn = tuple(_earn_rule(raw, index, ids) for index, raw in enumerate(root.items("earn")))
    _check_earn_selectors(earn)

    tiers_section = root.section("tiers")
    window = tiers_section.integer("qualifying_window_months", minimum=1, maximum=36)
    tiers: list[TierLevel] = []
    for index, raw in enumerate(tiers_section.items("levels")):
        level = _Section(f"tiers.levels[{index}]", raw)
        rule_id = ids.claim(level)
        tier = level.text("tier", _TIER, "an upper-case tier name")
        threshold = level.integer("threshold", minimum=0)
        multiplier = level.decimal("multiplier", minimum=Decimal(1))
        level.done()
        if tiers and tier in {t.tier for t in tiers}:
            raise RulesValidationError(rule_id, f"tier {tier} is defined twice")
        if not tiers and threshold != 0:
            raise RulesValidationError(rule_id, f"the lowest tier must have threshold 0, got {threshold}")
        if tiers and threshold <= tiers[-1].threshold:
            raise RulesValidationError(
                rule_id,
                f"threshold {threshold} must be above the threshold of {tiers[-1].tier} "
                f"({tiers[-1].threshold})",
            )
        tiers.append(TierLevel(rule_id, tier, threshold, multiplier))
    if not tiers:
        raise RulesValidationError("tiers.levels", "at least one tier is required")
    tiers_section.done()

    promotions: list[Promotion] = []
    for index, raw in enumerate(root.items("promotions", required=False)):
        promo = _Section(f"promotions[{index}]", raw)
        rule_id = ids.claim(promo)
        activities = promo.choices("activities", ACTIVITY_TYPES)
        start_ms = promo.instant("start")
        end_ms = promo.instant("end")
        if end_ms <= start_ms:
            raise RulesValidationError(rule_id, "end must be after start")
        promo_multiplier = promo.opt_decimal("multiplier", minimum=Decimal(1))
        bonus = promo.opt_integer("bonus_points", minimum=1)
        if (promo_multiplier is None) == (bonus is None):
            raise RulesValidationError(rule_id, "exactly one of multiplier and bonus_points is required")
        if promo_multiplier is not None and promo_multiplier == 1:
            raise RulesValidationError(rule_id, "multiplier must be greater than 1")
        promo.done()
        promotions.append(Promotion(rule_id, activities, start_ms, end_ms, promo_multiplier, bonus))

    caps_section = root.section("caps")
    activity_caps: list[Cap] = []
    for index, raw in enumerate(caps_section.items("per_activity", required=False)):
        cap = _Section(f"caps.per_activity[{index}]", raw)
        rule_id = ids.claim(cap)
        activity = cap.choice("activity", ACTIVITY_TYPES)
        if any(c.activity == activity for c in activity_caps):
            raise RulesValidationError(rule_id, f"a cap for {activity} is already defined")
        activity_caps.append(Cap(rule_id, cap.integer("max_points", minimum=1), activity))
        cap.done()
    monthly_cap: Cap | None = None
    if caps_section.has("per_month"):
        month = caps_section.section("per_month")
        monthly_cap = Cap(ids.claim(month), month.integer("max_points", minimum=1))
        month.done()
    caps_section.done()

    redemptions: list[RedemptionRule] = []
    for index, raw in enumerate(root.items("redemptions")):
        red = _Section(f"redemptions[{index}]", raw)
        rule_id = ids.claim(red)
        kind = red.choice("kind", REDEMPTION_KINDS)
        if any(r.kind == kind for r in redemptions):
            raise RulesValidationError(rule_id, f"a redemption rule for {kind} is already defined")
        redemptions.append(RedemptionRule(rule_id, kind, red.integer("min_points", minimum=1)))
        red.done()

    expiry_section = root.section("expiry")
    expiry = ExpiryRule(
        ids.claim(expiry_section), expiry_section.integer("inactivity_months", minimum=1, maximum=120)
    )
    expiry_section.done()

    adjustments = root.section("adjustments")
    adjustment = AdjustmentRule(ids.claim(adjustments), adjustments.integer("max_abs_points", minimum=1))
    adjustments.done()
    root.done()

    return Rules(
        version=version,
        programme_currency=programme_currency,
        currency_table_id=currency_table_id,
        currencies=tuple(currencies),
        earn=earn,
        qualifying_window_months=window,
        tiers=tuple(tiers),
        promotions=tuple(promotions),
        activity_caps=tuple(activity_caps),
        monthly_cap=monthly_cap,
        redemptions=tuple(redemptions),
        expiry=expiry,
        adjustment=adjustment,
    )


def _earn_rule(raw: Any, index: int, ids: _IdRegistry) -> EarnRule:
    section = _Section(f"earn[{index}]", raw)
    rule_id = ids.claim(section)
    activity = section.choice("activity", ACTIVITY_TYPES)
    points = section.decimal("points_per_unit", minimum=Decimal(0))
    qualifying = section.opt_decimal("qualifying_per_unit", minimum=Decimal(0)) or Decimal(0)
    per_night = 0
    fare_classes: frozenset[str] = frozenset()
    partners: frozenset[str] = frozenset()
    if activity == "FLIGHT":
        fare_classes = section.strings("fare_classes", re.compile(r"^[A-Z]$"), "a one-letter fare class")
    if activity == "PARTNER":
        partners = section.strings("partners", re.compile(r"^[A-Z0-9_]{2,32}$"), "an upper-case partner id")
    if activity == "HOTEL":
        per_night = section.opt_integer("qualifying_per_night", minimum=0) or 0
    section.done()
    return EarnRule(rule_id, activity, points, qualifying, per_night, fare_classes, partners)


def _check_earn_selectors(earn: tuple[EarnRule, ...]) -> None:
    """Every activity must resolve to at most one earn rule."""
    claimed: dict[tuple[str, str], str] = {}
    for rule in earn:
        if rule.activity == "FLIGHT":
            keys = [("FLIGHT", f"fare class {c}") for c in sorted(rule.fare_classes)]
        elif rule.activity == "PARTNER":
            keys = [("PARTNER", f"partner {p}") for p in sorted(rule.partners)]
        else:
            keys = [(rule.activity, "every activity")]
        for key in keys:
            if key in claimed:
                raise RulesValidationError(
                    rule.rule_id, f"{key[0]} {key[1]} is already covered by rule {claimed[key]}"
                )
            claimed[key] = rule.rule_id


class _IdRegistry:
    def __init__(self) -> None:
        self.seen: set[str] = set()

    def claim(self, section: _Section) -> str:
        rule_id = section.text("id", _RULE_ID, "a lower-case rule id")
        if rule_id in self.seen:
            raise RulesValidationError(rule_id, f"rule id is used twice (again at {section.name})")
        self.seen.add(rule_id)
        section.name = rule_id
        return rule_id


class _Section:
    """A JSON object being validated; errors name the rule (its id once known, else its path)."""

    def __init__(self, name: str, raw: Any) -> None:
        self.name = name
        if not isinstance(raw, Mapping):
            raise RulesValidationError(name, f"expected an object, got {_kind(raw)}")
        self.raw: Mapping[str, Any] = raw
        self.used: set[str] = set()

    def has(self, key: str) -> bool:
        return key in self.raw

    def _get(self, key: str, required: bool) -> Any:
        self.used.add(key)
        if key not in self.raw or self.raw[key] is None:
            if required:
                raise RulesValidationError(self.name, f"missing field {key!r}")
            return None
        return self.raw[key]

    def section(self, key: str) -> _Section:
        value = self._get(key, True)
        return _Section(key if self.name == "(root)" else f"{self.name}.{key}", value)

    def items(self, key: str, *, required: bool = True) -> list[Any]:
        value = self._get(key, required)
        if value is None:
            return []
        if not isinstance(value, list):
            raise RulesValidationError(self.name, f"{key!r} must be a list, got {_kind(value)}")
        return value

    def text(self, key: str, pattern: re.Pattern[str], what: str) -> str:
        value = self._get(key, True)
        if not isinstance(value, str) or not pattern.match(value):
            raise RulesValidationError(self.name, f"{key!r} must be {what}, got {value!r}")
        return value

    def choice(self, key: str, allowed: tuple[str, ...]) -> str:
        value = self._get(key, True)
        if value not in allowed:
            raise RulesValidationError(
                self.name, f"{key!r} must be one of {', '.join(allowed)}, got {value!r}"
            )
        return str(value)

    def choices(self, key: str, allowed: tuple[str, ...]) -> frozenset[str]:
        values = self.items(key)
        if not values:
            raise RulesValidationError(self.name, f"{key!r} must not be empty")
        bad = [v for v in values if v not in allowed]
        if bad:
            raise RulesValidationError(self.name, f"{key!r} has unknown values {bad!r}; allowed: {allowed}")
        return frozenset(values)

    def strings(self, key: str, pattern: re.Pattern[str], what: str) -> frozenset[str]:
        values = self.items(key)
        if not values:
            raise RulesValidationError(self.name, f"{key!r} must not be empty")
        for value in values:
            if not isinstance(value, str) or not pattern.match(value):
                raise RulesValidationError(self.name, f"every entry of {key!r} must be {what}, got {value!r}")
        if len(set(values)) != len(values):
            raise RulesValidationError(self.name, f"{key!r} lists a value twice")
        return frozenset(values)

    def integer(self, key: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
        value = self.opt_integer(key, minimum=minimum, maximum=maximum)
        if value is None:
            raise RulesValidationError(self.name, f"missing field {key!r}")
        return value

    def opt_integer(self, key: str, *, minimum: int | None = None, maximum: int | None = None) -> int | None:
        value = self._get(key, False)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise RulesValidationError(self.name, f"{key!r} must be a whole number, got {value!r}")
        _check_bounds(self.name, key, Decimal(value), minimum, maximum)
        return value

    def decimal(self, key: str, *, minimum: Decimal | None = None, positive: bool = False) -> Decimal:
        value = self.opt_decimal(key, minimum=minimum, positive=positive)
        if value is None:
            raise RulesValidationError(self.name, f"missing field {key!r}")
        return value

    def opt_decimal(
        self, key: str, *, minimum: Decimal | None = None, positive: bool = False
    ) -> Decimal | None:
        value = self._get(key, False)
        if value is None:
            return None
        number = _to_decimal(value)
        if number is None:
            raise RulesValidationError(self.name, f"{key!r} must be a decimal number, got {value!r}")
        if positive and number <= 0:
            raise RulesValidationError(self.name, f"{key!r} must be greater than 0, got {number}")
        _check_bounds(self.name, key, number, minimum, None)
        return number

    def instant(self, key: str) -> int:
        value = self._get(key, True)
        problem = RulesValidationError(
            self.name, f"{key!r} must be an ISO-8601 instant with offset, got {value!r}"
        )
        if not isinstance(value, str):
            raise problem
        try:
            return parse_instant(value)
        except ValueError:
            raise problem from None

    def done(self) -> None:
        unknown = sorted(set(self.raw) - self.used)
        if unknown:
            raise RulesValidationError(self.name, f"unknown field(s) {', '.join(map(repr, unknown))}")


def _check_bounds(
    name: str, key: str, value: Decimal, minimum: Decimal | int | None, maximum: Decimal | int | None
) -> None:
    if minimum is not None and value < minimum:
        raise RulesValidationError(name, f"{key!r} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise RulesValidationError(name, f"{key!r} must be at most {maximum}, got {value}")


def _to_decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal | int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(str(value))
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            return None
    else:
        return None
    return number if number.is_finite() else None


def _kind(value: Any) -> str:
    return type(value).__name__
