"""Rules changing while events flow: which version of a rule governs which event time.

The fraud job reads rule definitions from a compacted control topic (key = rule ID, value = the
JSON of ``operators.cep.rules``, or a tombstone). Each accepted message opens a new *segment* of
that rule's timeline:

- **Effective time.** A message takes effect at its Kafka record timestamp (the publisher's
  clock, which is how "from now on" is expressed in event time), or at the previous segment's
  start if that is later, so segments never overlap. Version ``v`` governs the half-open
  event-time interval ``[its effective time, the next segment's effective time)``.
- **Partial matches in flight.** A new version starts from empty NFA state: partial matches of
  the old version are not carried over (its pattern may have other stages or windows). The old
  version is first *closed* at the end of its interval, i.e. time is advanced to ``end - 1``, so
  a match it completes by then (one held back by its skip strategy, a trailing
  ``not_followed_by``) is still reported, with the old version; its other partial matches are
  dropped, as timeouts. Disabling (``"enabled": false``, or a tombstone) closes the rule the
  same way and opens no new segment.
- **Determinism.** Because changes are keyed to event time, not to when the message reached the
  job, a replay gives the same alerts: an event at ``t`` is always matched by the version whose
  interval contains ``t``. This holds as long as the rule reaches the operator before the
  watermark passes its effective time; the job's rules source carries watermarks (with
  idleness), so an active rules stream holds event time back until its messages are in. A rule
  published with a timestamp the stream has already passed applies from the first event of
  each customer that is not yet matched (it cannot rewrite alerts already emitted).

Versions are how replays and reordering are told apart (see ``RuleSet.apply``): the same version
again is ignored, an older one or the same version with other content is rejected. Timelines
keep the last ``MAX_SEGMENTS`` segments per rule, so the broadcast state stays bounded.

``KeyMatcher`` is the per-customer step the job's keyed operator runs when the watermark
releases buffered events: every rule in force, each with its own ``NFAState`` tagged with the
version it belongs to.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .alerts import Alert
from .errors import RuleDefinitionError
from .fraud_events import FraudEvent
from .nfa import NFA, Match
from .nfa_state import NFAState
from .rules import CompiledRule, RuleDefinition, RuleSet, parse_rule, parse_rule_json

MAX_SEGMENTS = 8
"""Segments kept per rule. Older ones only matter to events further behind than eight rule
changes, which the watermark has long passed."""


@dataclass(frozen=True, slots=True)
class Segment:
    """One version of a rule, in force from ``effective_from_ms`` to the next segment."""

    effective_from_ms: int
    definition: RuleDefinition

    def to_json(self) -> dict[str, Any]:
        return {"effective_from_ms": self.effective_from_ms, "definition": self.definition.to_json()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Segment:
        return cls(int(data["effective_from_ms"]), parse_rule(data["definition"]))


class RuleUpdate(enum.Enum):
    ADDED = "added"
    UPDATED = "updated"
    DISABLED = "disabled"
    DELETED = "deleted"
    """A tombstone: disabled, and the compacted topic forgets the rule."""
    UNCHANGED = "unchanged"
    """The same version again (a re-published or replayed message): nothing to do."""


@dataclass(frozen=True, slots=True)
class RuleTimeline:
    """The segments of one rule, oldest first."""

    rule_id: str
    segments: tuple[Segment, ...] = ()

    @property
    def latest(self) -> RuleDefinition | None:
        return self.segments[-1].definition if self.segments else None

    def segment_at(self, timestamp: int) -> Segment | None:
        """The segment whose interval contains ``timestamp``, None before the first."""
        found: Segment | None = None
        for segment in self.segments:
            if segment.effective_from_ms > timestamp:
                break
            found = segment
        return found

    def in_force(self, timestamp: int) -> RuleDefinition | None:
        """The enabled version governing events at ``timestamp``, None when disabled or unknown."""
        segment = self.segment_at(timestamp)
        return segment.definition if segment is not None and segment.definition.enabled else None

    def end_of(self, version: int) -> int | None:
        """When the segment of ``version`` ends (the next segment's start), None while open. A
        version no longer in the kept history ended at the oldest kept segment's start."""
        for index, segment in enumerate(self.segments):
            if segment.definition.version == version and segment.definition.enabled:
                return self.segments[index + 1].effective_from_ms if index + 1 < len(self.segments) else None
        return self.segments[0].effective_from_ms if self.segments else None

    def apply(self, definition: RuleDefinition, timestamp: int) -> tuple[RuleTimeline, RuleUpdate]:
        """A new version published at ``timestamp``; raises ``RuleDefinitionError`` when the
        version is older than the one in force or re-uses its number with other content."""
        current = self.latest
        if current is not None and definition.version < current.version:
            raise RuleDefinitionError(
                f"version {definition.version} is older than version {current.version} in force; "
                "publish a higher version",
                field="version",
                rule_id=definition.rule_id,
            )
        _, change = RuleSet(() if current is None else (current,)).apply(definition)  # may raise
        if change.value == "unchanged":
            return self, RuleUpdate.UNCHANGED
        return self._append(definition, timestamp), RuleUpdate(change.value)

    def delete(self, timestamp: int) -> tuple[RuleTimeline, RuleUpdate]:
        """A tombstone: disable the rule from ``timestamp`` (no-op when already disabled)."""
        current = self.latest
        if current is None or not current.enabled:
            return self, RuleUpdate.UNCHANGED
        return self._append(dataclasses.replace(current, enabled=False), timestamp), RuleUpdate.DELETED

    def _append(self, definition: RuleDefinition, timestamp: int) -> RuleTimeline:
        start = timestamp if not self.segments else max(timestamp, self.segments[-1].effective_from_ms)
        segments = (*self.segments, Segment(start, definition))
        return RuleTimeline(self.rule_id, segments[-MAX_SEGMENTS:])

    def to_json(self) -> str:
        return json.dumps(
            {"rule_id": self.rule_id, "segments": [s.to_json() for s in self.segments]},
            separators=(",", ":"),
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> RuleTimeline:
        data = json.loads(text)
        return cls(data["rule_id"], tuple(Segment.from_json(s) for s in data["segments"]))


def apply_rule_message(
    timeline: RuleTimeline | None, key: bytes | None, value: bytes | None, timestamp: int
) -> tuple[RuleTimeline, RuleUpdate]:
    """One control-topic message: validate it and return the rule's new timeline.

    Raises ``RuleDefinitionError`` (with the reason an operator needs) for an invalid
    definition, a key that is not the rule ID (compaction would then keep the wrong message), a
    stale or conflicting version, or a tombstone for a rule never seen.
    """
    rule_key = key.decode("utf-8", errors="replace") if key else None
    if value is None:
        if timeline is None or rule_key is None:
            raise RuleDefinitionError("tombstone for a rule that was never published", rule_id=rule_key)
        return timeline.delete(timestamp)
    definition = parse_rule_json(value)
    if rule_key != definition.rule_id:
        raise RuleDefinitionError(
            f"the message key {rule_key!r} must be the rule ID (the topic is compacted by key)",
            field="rule_id",
            rule_id=definition.rule_id,
        )
    return (timeline or RuleTimeline(definition.rule_id)).apply(definition, timestamp)


# --- matching one customer's events against every rule in force ------------------------------------


@dataclass(frozen=True)
class RuleMatchState:
    """One rule's partial matches for one customer, and the rule version they belong to."""

    rule_id: str
    version: int
    nfa: NFAState[FraudEvent]


@dataclass(frozen=True)
class MatchStep:
    """What one release of events produced for one customer."""

    states: dict[str, RuleMatchState | None]
    """Changed states by rule ID; None means delete it (nothing in flight)."""
    alerts: tuple[Alert, ...] = ()
    timeouts: tuple[tuple[str, int, Match[FraudEvent]], ...] = ()
    """``(rule_id, version, partial match)`` discarded: window passed or version ended."""
    next_deadline: int | None = None
    """Earliest event time at which a kept partial match times out (the job sets a timer)."""


class _Runtime:
    __slots__ = ("compiled", "nfa")

    def __init__(self, compiled: CompiledRule) -> None:
        self.compiled = compiled
        self.nfa: NFA[FraudEvent] = NFA(compiled.pattern)


class _Collector:
    __slots__ = ("alerts", "key", "timeouts")

    def __init__(self, key: str) -> None:
        self.key = key
        self.alerts: list[Alert] = []
        self.timeouts: list[tuple[str, int, Match[FraudEvent]]] = []

    def add(
        self,
        runtime: _Runtime,
        state: RuleMatchState,
        found: Sequence[Match[FraudEvent]],
        expired: Sequence[Match[FraudEvent]],
    ) -> None:
        self.alerts.extend(runtime.compiled.build_alert(self.key, match) for match in found)
        self.timeouts.extend((state.rule_id, state.version, match) for match in expired)


class KeyMatcher:
    """Matches one customer's released events against every rule in force at their event time.

    Compiled rules are cached by (rule ID, version): compiling builds closures, so it happens
    once per version per worker, never per event. Stateless otherwise; the caller stores the
    ``RuleMatchState`` values it returns.
    """

    def __init__(self) -> None:
        self._cache: dict[tuple[str, int], _Runtime] = {}

    def runtime(self, definition: RuleDefinition) -> _Runtime:
        cache_key = (definition.rule_id, definition.version)
        runtime = self._cache.get(cache_key)
        if runtime is None:
            runtime = self._cache[cache_key] = _Runtime(definition.compile())
        return runtime

    def step(
        self,
        key: str,
        released: Sequence[tuple[int, FraudEvent]],
        watermark: int,
        timelines: Mapping[str, RuleTimeline],
        states: Mapping[str, RuleMatchState],
    ) -> MatchStep:
        """Feed ``released`` (timestamp order) to each rule's NFA, then advance to ``watermark``."""
        out = _Collector(key)
        changed: dict[str, RuleMatchState | None] = {}
        deadline: int | None = None
        for rule_id in sorted(set(timelines) | set(states)):
            timeline = timelines.get(rule_id, RuleTimeline(rule_id))
            original = states.get(rule_id)
            state = self._step_rule(timeline, original, released, watermark, out)
            if state is not None:
                window = self.runtime(_definition_of(timeline, state)).nfa.window_ms
                if window is not None:
                    due = min(p.start_timestamp for p in state.nfa.partial_matches) + window
                    deadline = due if deadline is None else min(deadline, due)
            if state is not original:
                changed[rule_id] = state
        return MatchStep(changed, tuple(out.alerts), tuple(out.timeouts), deadline)

    def _step_rule(
        self,
        timeline: RuleTimeline,
        state: RuleMatchState | None,
        released: Sequence[tuple[int, FraudEvent]],
        watermark: int,
        out: _Collector,
    ) -> RuleMatchState | None:
        for timestamp, event in released:
            definition = timeline.in_force(timestamp)
            if state is not None and (definition is None or definition.version != state.version):
                self._close(timeline, state, out)
                state = None
            if definition is None:
                continue
            runtime = self.runtime(definition)
            if state is None:
                state = RuleMatchState(timeline.rule_id, definition.version, runtime.nfa.initial_state())
            nfa_state, found, expired = runtime.nfa.advance(state.nfa, event, timestamp)
            out.add(runtime, state, found, expired)
            state = RuleMatchState(timeline.rule_id, definition.version, nfa_state)
        if state is None:
            return None
        definition = timeline.in_force(watermark)
        if definition is None or definition.version != state.version:
            self._close(timeline, state, out)
            return None
        runtime = self.runtime(definition)
        nfa_state, found, expired = runtime.nfa.advance_time(state.nfa, watermark)
        out.add(runtime, state, found, expired)
        if nfa_state.is_empty:  # nothing in flight: the customer's state for this rule goes
            return None
        return RuleMatchState(timeline.rule_id, definition.version, nfa_state)

    def _close(self, timeline: RuleTimeline, state: RuleMatchState, out: _Collector) -> None:
        """End a version's interval: emit what completes by its end, drop the rest."""
        runtime = self._runtime_of(timeline, state)
        end = timeline.end_of(state.version)
        if runtime is not None and end is not None:
            _, found, expired = runtime.nfa.advance_time(state.nfa, end - 1)
            out.add(runtime, state, found, expired)

    def _runtime_of(self, timeline: RuleTimeline, state: RuleMatchState) -> _Runtime | None:
        for segment in timeline.segments:
            if segment.definition.version == state.version and segment.definition.enabled:
                return self.runtime(segment.definition)
        return self._cache.get((state.rule_id, state.version))


def _definition_of(timeline: RuleTimeline, state: RuleMatchState) -> RuleDefinition:
    for segment in timeline.segments:
        if segment.definition.version == state.version and segment.definition.enabled:
            return segment.definition
    raise KeyError(f"rule {state.rule_id!r} has no version {state.version}")
