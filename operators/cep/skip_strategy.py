"""After-match skip strategies: how many matches one event may take part in.

The five kinds and their pruning rules follow Flink's ``AfterMatchSkipStrategy``: after a match
is emitted, every pending partial match and every completed-but-not-yet-emitted match whose
*first* event lies at or before (``SKIP_TO_NEXT``, ``SKIP_PAST_LAST_EVENT``) or strictly before
(``SKIP_TO_FIRST``, ``SKIP_TO_LAST``) the strategy's pruning event is discarded.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class SkipKind(enum.Enum):
    NO_SKIP = "no_skip"
    SKIP_TO_NEXT = "skip_to_next"
    SKIP_PAST_LAST_EVENT = "skip_past_last_event"
    SKIP_TO_FIRST = "skip_to_first"
    SKIP_TO_LAST = "skip_to_last"


@dataclass(frozen=True, slots=True)
class AfterMatchSkipStrategy:
    """A skip strategy value; build one with the module constants or ``skip_to_first/last``.

    ``stage`` names the pattern stage SKIP_TO_FIRST/SKIP_TO_LAST jump to. When a match has no
    event for that stage (an optional stage that was skipped) the strategy behaves as NO_SKIP for
    that match, unless ``throw_on_miss`` is set, as Flink's ``throwExceptionOnMiss()``.
    """

    kind: SkipKind
    stage: str | None = None
    throw_on_miss: bool = False

    @property
    def prunes(self) -> bool:
        """Whether matches must be held back and emitted in start order (all but NO_SKIP)."""
        return self.kind is not SkipKind.NO_SKIP

    def with_throw_on_miss(self) -> AfterMatchSkipStrategy:
        if self.kind not in (SkipKind.SKIP_TO_FIRST, SkipKind.SKIP_TO_LAST):
            raise ValueError("throw_on_miss only applies to SKIP_TO_FIRST and SKIP_TO_LAST")
        return AfterMatchSkipStrategy(self.kind, self.stage, throw_on_miss=True)


NO_SKIP = AfterMatchSkipStrategy(SkipKind.NO_SKIP)
SKIP_TO_NEXT = AfterMatchSkipStrategy(SkipKind.SKIP_TO_NEXT)
SKIP_PAST_LAST_EVENT = AfterMatchSkipStrategy(SkipKind.SKIP_PAST_LAST_EVENT)


def skip_to_first(stage: str) -> AfterMatchSkipStrategy:
    """Discard partial matches that started before the first event matched to ``stage``."""
    return AfterMatchSkipStrategy(SkipKind.SKIP_TO_FIRST, stage)


def skip_to_last(stage: str) -> AfterMatchSkipStrategy:
    """Discard partial matches that started before the last event matched to ``stage``."""
    return AfterMatchSkipStrategy(SkipKind.SKIP_TO_LAST, stage)
