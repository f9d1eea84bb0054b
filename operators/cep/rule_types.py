"""Declarative parameter schemas for rule types, so a rule arriving as JSON is validated field by
field with a message an analyst can act on ("parameters.within_ms must be >= 1000, got 5")."""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import RuleDefinitionError
from .fraud_events import FraudEvent
from .pattern import Pattern

ParamValue = int | float | tuple[str, ...]


class ParamKind(enum.Enum):
    INT = "integer"
    FLOAT = "number"
    STRINGS = "list of strings"


@dataclass(frozen=True, slots=True)
class ParameterSpec:
    name: str
    kind: ParamKind
    description: str
    default: ParamValue | None = None
    """``None`` makes the parameter required."""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None
    """For STRINGS: the allowed values."""

    def validate(self, raw: Any, rule_id: str | None) -> ParamValue:
        field = f"parameters.{self.name}"

        def fail(problem: str) -> RuleDefinitionError:
            return RuleDefinitionError(problem, field=field, rule_id=rule_id)

        if self.kind is ParamKind.STRINGS:
            if not isinstance(raw, list) or not raw or not all(isinstance(item, str) for item in raw):
                raise fail(f"must be a non-empty list of strings, got {raw!r}")
            if self.choices is not None:
                unknown = sorted(set(raw) - set(self.choices))
                if unknown:
                    raise fail(f"unknown value(s) {unknown}; allowed: {list(self.choices)}")
            return tuple(dict.fromkeys(raw))
        # bool is an int in Python but never a meaningful count or amount in a rule
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise fail(f"must be a {self.kind.value}, got {raw!r}")
        if self.kind is ParamKind.INT:
            if isinstance(raw, float):
                if not raw.is_integer():
                    raise fail(f"must be an integer, got {raw!r}")
                raw = int(raw)
            value: int | float = raw
        else:
            value = float(raw)
            if not math.isfinite(value):
                raise fail(f"must be a finite number, got {raw!r}")
        if self.minimum is not None and value < self.minimum:
            raise fail(f"must be >= {_fmt(self.minimum)}, got {raw!r}")
        if self.maximum is not None and value > self.maximum:
            raise fail(f"must be <= {_fmt(self.maximum)}, got {raw!r}")
        return value


@dataclass(frozen=True, slots=True)
class RuleType:
    """A kind of fraud rule: its parameters and how to build its pattern from them."""

    name: str
    description: str
    parameters: tuple[ParameterSpec, ...]
    build: Callable[[Mapping[str, ParamValue]], Pattern[FraudEvent]]
    check: Callable[[Mapping[str, ParamValue]], tuple[str, str] | None] | None = None
    """Cross-parameter check: ``(field, problem)`` when the combination is invalid."""

    def validate_parameters(self, raw: Any, rule_id: str | None) -> dict[str, ParamValue]:
        if not isinstance(raw, Mapping):
            raise RuleDefinitionError(
                f"must be a JSON object, got {raw!r}", field="parameters", rule_id=rule_id
            )
        known = {spec.name: spec for spec in self.parameters}
        unknown = sorted(set(raw) - set(known))
        if unknown:
            raise RuleDefinitionError(
                f"unknown parameter(s) {unknown} for type {self.name!r}; known: {sorted(known)}",
                field="parameters",
                rule_id=rule_id,
            )
        values: dict[str, ParamValue] = {}
        for spec in self.parameters:
            if spec.name in raw:
                values[spec.name] = spec.validate(raw[spec.name], rule_id)
            elif spec.default is not None:
                values[spec.name] = spec.default
            else:
                raise RuleDefinitionError("is required", field=f"parameters.{spec.name}", rule_id=rule_id)
        if self.check is not None:
            problem = self.check(values)
            if problem is not None:
                field, message = problem
                raise RuleDefinitionError(message, field=f"parameters.{field}", rule_id=rule_id)
        return values


def _fmt(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)
