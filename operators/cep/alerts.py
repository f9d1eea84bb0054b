"""Fraud alerts and how they are scored.

Score formula, the same for every rule so scores compare across rules::

    score = severity × (0.5 + 0.5 × (1 − span_ms / within_ms))      clamped to [0, 1]

``severity`` (0..1) is a rule parameter saying how strongly the pattern indicates fraud;
``span_ms`` is the time from the first to the last matched event. A sequence that unfolds
instantly scores the full severity, one that takes the whole window half of it: the faster a
suspicious sequence happens, the likelier it is scripted rather than a customer's own doing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .fraud_events import FraudEvent
from .nfa import Match


@dataclass(frozen=True, slots=True)
class Alert:
    rule_id: str
    rule_version: int
    key: str
    event_ids: tuple[str, ...]
    """Ids of the matched events, in pattern order."""
    score: float
    detected_at: int
    """Event time (ms) of the last matched event: when the sequence was complete."""
    event_times: tuple[int, ...] = ()
    """Event times (ms) of the matched events, in the order of ``event_ids``."""

    @property
    def alert_id(self) -> str:
        """Deterministic: the same rule version matching the same events always has the same id,
        so a replay into fresh outputs can be de-duplicated against an earlier one."""
        identity = "\x1f".join((self.rule_id, str(self.rule_version), self.key, *self.event_ids))
        return hashlib.sha256(identity.encode()).hexdigest()[:32]

    def to_record(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "rule_version": self.rule_version,
            "key": self.key,
            "event_ids": list(self.event_ids),
            "score": self.score,
            "detected_at": self.detected_at,
        }

    def to_avro_record(self) -> dict[str, Any]:
        """The ``fraud.Alert`` Avro record (``schemas/fraud.Alert.avsc``) the fraud job writes."""
        return {**self.to_record(), "alert_id": self.alert_id, "event_times": list(self.event_times)}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Alert:
        return cls(
            rule_id=record["rule_id"],
            rule_version=int(record["rule_version"]),
            key=record["key"],
            event_ids=tuple(record["event_ids"]),
            score=float(record["score"]),
            detected_at=int(record["detected_at"]),
            event_times=tuple(int(t) for t in record["event_times"]),
        )


AlertBuilder = Callable[[str, Match[FraudEvent]], Alert]
"""``(key, match) -> Alert``, returned by ``RuleDefinition.compile()``."""


def alert_score(severity: float, span_ms: int, within_ms: int) -> float:
    """See the module docstring for the formula and why."""
    speed = 1.0 - min(max(span_ms, 0), within_ms) / within_ms
    return round(min(1.0, max(0.0, severity * (0.5 + 0.5 * speed))), 6)


def alert_builder(rule_id: str, rule_version: int, severity: float, within_ms: int) -> AlertBuilder:
    def build(key: str, match: Match[FraudEvent]) -> Alert:
        events = [event for stage_events in match.values() for event in stage_events]
        if not events:
            raise ValueError("cannot build an alert from an empty match")
        first = min(event.timestamp_ms for event in events)
        last = max(event.timestamp_ms for event in events)
        return Alert(
            rule_id=rule_id,
            rule_version=rule_version,
            key=key,
            event_ids=tuple(event.event_id for event in events),
            score=alert_score(severity, last - first, within_ms),
            detected_at=last,
            event_times=tuple(event.timestamp_ms for event in events),
        )

    return build
