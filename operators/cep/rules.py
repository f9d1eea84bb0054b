"""Fraud rules as data: parsing and validating rule definitions, and applying rule changes.

The fraud job receives rule definitions as JSON on a control topic::

    {"rule_id": "velocity-eu", "version": 3, "type": "payment_velocity", "enabled": true,
     "parameters": {"min_payments": 5, "within_ms": 60000}}

Publishing a definition adds the rule, publishing a higher version updates it, and publishing a
higher version with ``"enabled": false`` disables it. ``parse_rule`` validates a definition
completely, raising ``RuleDefinitionError`` naming the offending field, so a bad message is
rejected (and reported) instead of reaching the running job. ``RuleSet.apply`` is the pure
state transition the job applies per message; when a rule is updated or disabled the job must
drop that rule's NFA state, because partial matches of the old pattern mean nothing to the new.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from .alerts import AlertBuilder, alert_builder
from .errors import PatternDefinitionError, RuleDefinitionError
from .fraud_events import FraudEvent
from .fraud_rules import RULE_TYPES
from .pattern import Pattern
from .rule_types import ParamValue, RuleType

RULE_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
TOP_LEVEL_FIELDS = ("rule_id", "version", "type", "parameters", "enabled")


class CompiledRule(NamedTuple):
    pattern: Pattern[FraudEvent]
    build_alert: AlertBuilder


@dataclass(frozen=True, slots=True)
class RuleDefinition:
    """A validated rule: parameters have their defaults filled in and their final types."""

    rule_id: str
    version: int
    rule_type: str
    parameters: tuple[tuple[str, ParamValue], ...]
    enabled: bool = True

    @property
    def params(self) -> dict[str, ParamValue]:
        return dict(self.parameters)

    @property
    def type_spec(self) -> RuleType:
        return RULE_TYPES[self.rule_type]

    def compile(self) -> CompiledRule:
        """The rule's pattern and the function turning its matches into alerts."""
        params = self.params
        try:
            pattern = self.type_spec.build(params)
        except PatternDefinitionError as error:  # parameters passed validation but not the pattern API
            raise RuleDefinitionError(str(error), field="parameters", rule_id=self.rule_id) from error
        severity = params["severity"]
        within = params["within_ms"]
        assert isinstance(severity, int | float) and isinstance(within, int)
        return CompiledRule(pattern, alert_builder(self.rule_id, self.version, float(severity), within))

    def to_json(self) -> dict[str, Any]:
        """The JSON form ``parse_rule`` accepts; ``parse_rule(d.to_json()) == d``."""
        return {
            "rule_id": self.rule_id,
            "version": self.version,
            "type": self.rule_type,
            "enabled": self.enabled,
            "parameters": {
                name: list(value) if isinstance(value, tuple) else value for name, value in self.parameters
            },
        }


def parse_rule(data: Any) -> RuleDefinition:
    """Validate a decoded JSON rule definition; raises ``RuleDefinitionError``."""
    if not isinstance(data, Mapping):
        raise RuleDefinitionError(f"a rule definition must be a JSON object, got {type(data).__name__}")
    rule_id = data.get("rule_id")
    if not isinstance(rule_id, str) or not RULE_ID_PATTERN.fullmatch(rule_id):
        raise RuleDefinitionError(
            f"must be 1-64 characters of letters, digits, '_', '.', '-' starting with a letter or digit, "
            f"got {rule_id!r}",
            field="rule_id",
        )
    unknown = sorted(set(data) - set(TOP_LEVEL_FIELDS))
    if unknown:
        raise RuleDefinitionError(
            f"unknown field(s) {unknown}; a rule has {list(TOP_LEVEL_FIELDS)}", rule_id=rule_id
        )
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise RuleDefinitionError(
            f"must be an integer >= 1, got {version!r}", field="version", rule_id=rule_id
        )
    rule_type = data.get("type")
    if rule_type not in RULE_TYPES:
        raise RuleDefinitionError(
            f"unknown rule type {rule_type!r}; known: {sorted(RULE_TYPES)}", field="type", rule_id=rule_id
        )
    assert isinstance(rule_type, str)
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise RuleDefinitionError(f"must be true or false, got {enabled!r}", field="enabled", rule_id=rule_id)
    if "parameters" not in data:
        raise RuleDefinitionError("is required", field="parameters", rule_id=rule_id)
    values = RULE_TYPES[rule_type].validate_parameters(data["parameters"], rule_id)
    definition = RuleDefinition(rule_id, version, rule_type, tuple(sorted(values.items())), enabled)
    definition.compile()  # a definition that validates must also build
    return definition


def parse_rule_json(text: str | bytes) -> RuleDefinition:
    """``parse_rule`` for a raw control-topic message."""
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as error:
        raise RuleDefinitionError(f"not valid JSON: {error}") from error
    return parse_rule(data)


class RuleChange(enum.Enum):
    ADDED = "added"
    """A new rule, or a disabled one enabled again by a higher version: start with empty state."""
    UPDATED = "updated"
    """A higher version of an enabled rule: drop the old pattern's partial matches."""
    DISABLED = "disabled"
    UNCHANGED = "unchanged"
    """The same version again (a replayed message): nothing to do."""
    STALE = "stale"
    """An older version than the one in force (an out-of-order or replayed message): ignored."""


@dataclass(frozen=True, slots=True)
class RuleSet:
    """Every rule the job knows, enabled or not, by id. Disabled rules are kept so a replayed
    older version cannot bring them back."""

    rules: tuple[RuleDefinition, ...] = ()

    def get(self, rule_id: str) -> RuleDefinition | None:
        return next((rule for rule in self.rules if rule.rule_id == rule_id), None)

    @property
    def enabled(self) -> tuple[RuleDefinition, ...]:
        return tuple(rule for rule in self.rules if rule.enabled)

    def apply(self, rule: RuleDefinition) -> tuple[RuleSet, RuleChange]:
        """Apply one definition from the control topic. Re-using a version number for different
        content is an error: versions are how replays and reordering are told apart."""
        current = self.get(rule.rule_id)
        if current is not None:
            if rule.version < current.version:
                return self, RuleChange.STALE
            if rule.version == current.version:
                if rule == current:
                    return self, RuleChange.UNCHANGED
                raise RuleDefinitionError(
                    f"version {rule.version} already exists with different content; publish a higher version",
                    field="version",
                    rule_id=rule.rule_id,
                )
        others = tuple(r for r in self.rules if r.rule_id != rule.rule_id)
        updated = RuleSet(tuple(sorted((*others, rule), key=lambda r: r.rule_id)))
        if not rule.enabled:
            return updated, RuleChange.DISABLED
        return updated, RuleChange.ADDED if current is None or not current.enabled else RuleChange.UPDATED
