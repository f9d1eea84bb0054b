"""Buffers out-of-order events until the watermark passes them, then releases them sorted.

The NFA must see events in timestamp order. Flink's CEP operator gets there by keeping every
incoming event in keyed state until a watermark at or past its timestamp arrives, then
processing the buffered events sorted by timestamp; an event at or behind the current watermark
is late and is not processed (it goes to a side output). This is the same rule as a pure value:
events with equal timestamps keep their arrival order, which makes the outcome deterministic.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Generic, TypeVar

from .errors import LateEventError

E = TypeVar("E")


@dataclass(frozen=True, slots=True)
class PendingEvent(Generic[E]):
    timestamp: int
    arrival: int
    event: E


@dataclass(frozen=True)
class EventTimeBuffer(Generic[E]):
    """Events waiting for the watermark, sorted by ``(timestamp, arrival)``."""

    pending: tuple[PendingEvent[E], ...] = ()
    watermark: int | None = None
    next_arrival: int = 0

    def is_late(self, timestamp: int) -> bool:
        """True when the watermark has already passed ``timestamp``: such an event can no longer
        be put in order (events up to the watermark may have been released)."""
        return self.watermark is not None and timestamp <= self.watermark

    def add(self, event: E, timestamp: int) -> EventTimeBuffer[E]:
        """Buffer ``event``. Raises ``LateEventError`` for a late event (check ``is_late`` first)."""
        if self.is_late(timestamp):
            raise LateEventError(f"event at {timestamp} ms is at or behind the watermark {self.watermark} ms")
        item = PendingEvent(timestamp, self.next_arrival, event)
        keys = [(p.timestamp, p.arrival) for p in self.pending]
        index = bisect.bisect_right(keys, (item.timestamp, item.arrival))
        pending = (*self.pending[:index], item, *self.pending[index:])
        return EventTimeBuffer(pending, self.watermark, self.next_arrival + 1)

    def advance_watermark(self, watermark: int) -> tuple[EventTimeBuffer[E], tuple[tuple[int, E], ...]]:
        """Release, in order, every event with ``timestamp <= watermark``. A watermark that does
        not move forward releases nothing (watermarks never go back)."""
        if self.watermark is not None and watermark <= self.watermark:
            return self, ()
        count = 0
        while count < len(self.pending) and self.pending[count].timestamp <= watermark:
            count += 1
        released = tuple((p.timestamp, p.event) for p in self.pending[:count])
        return EventTimeBuffer(self.pending[count:], watermark, self.next_arrival), released

    def __len__(self) -> int:
        return len(self.pending)
