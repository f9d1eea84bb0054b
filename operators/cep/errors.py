"""Named errors of the CEP library, so callers can tell a bad pattern from a bad rule or bad input.

A pattern mistake (``PatternDefinitionError``) is a programming error and is raised while the
pattern is built or compiled, never while events flow. A rule mistake (``RuleDefinitionError``)
comes from JSON on the control topic and must be reported back without stopping the job. An
input mistake (``EventOrderError``, ``LateEventError``) means the caller broke the event-time
contract the engine relies on.
"""

from __future__ import annotations


class CepError(Exception):
    """Base class of every error this package raises."""


class PatternDefinitionError(CepError):
    """A pattern is malformed: an unknown or duplicate name, a quantifier where it has no meaning,
    a NOT stage in a position Flink CEP rejects too, and so on."""


class SkipStrategyError(CepError):
    """A SKIP_TO_FIRST/SKIP_TO_LAST strategy built with ``throw_on_miss`` found no event for its
    stage in a match."""


class EventOrderError(CepError):
    """An event reached the NFA with a timestamp earlier than time it has already advanced to.

    The NFA is only correct for input in timestamp order; out-of-order input must go through an
    ``EventTimeBuffer`` first."""


class LateEventError(CepError):
    """An event was offered to an ``EventTimeBuffer`` at or behind its watermark."""


class RuleDefinitionError(CepError):
    """A fraud rule definition (JSON from the control topic) is invalid.

    ``field`` names the offending field (``"parameters.within_ms"``) so an operator can fix the
    rule without reading code; ``rule_id`` is set when the definition got far enough to have one.
    """

    def __init__(self, problem: str, *, field: str | None = None, rule_id: str | None = None) -> None:
        self.problem = problem
        self.field = field
        self.rule_id = rule_id
        where = f"rule {rule_id!r}: " if rule_id else ""
        what = f"{field}: " if field else ""
        super().__init__(f"{where}{what}{problem}")
