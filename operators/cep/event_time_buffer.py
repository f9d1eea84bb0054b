"""Buffers out-of-order events until the watermark passes them, then releases them sorted.

The NFA must see events in timestamp order. Flink's CEP operator gets there by keeping every
incoming event in keyed state until a watermark at or past its timestamp arrives, then
processing the buffered events sorted by timestamp; an event at or behind the current watermark
is late and is not processed (it goes to a side output). This is the same rule as a pure value:
events with equal timestamps keep their arrival order, which makes the outcome deterministic.

The buffer also counts the late events it refused (:meth:`EventTimeBuffer.refuse_late`): a key
whose events keep arriving behind its released time — a device clock set back, an upstream
replaying old events — is worth a look of its own, and only the key's state knows how often.
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
    #: Late events refused for this key so far (see :meth:`refuse_late`).
    late_events: int = 0

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
        return EventTimeBuffer(pending, self.watermark, self.next_arrival + 1, self.late_events)

    def refuse_late(self) -> EventTimeBuffer[E]:
        """The buffer after refusing one late event: nothing buffered, one more late counted."""
        return EventTimeBuffer(self.pending, self.watermark, self.next_arrival, self.late_events + 1)

    def advance_watermark(self, watermark: int) -> tuple[EventTimeBuffer[E], tuple[tuple[int, E], ...]]:
        """Release, in order, every event with ``timestamp <= watermark``. A watermark that does
        not move forward releases nothing (watermarks never go back)."""
        if self.watermark is not None and watermark <= self.watermark:
            return self, ()
        count = 0
        while count < len(self.pending) and self.pending[count].timestamp <= watermark:
            count += 1
        released = tuple((p.timestamp, p.event) for p in self.pending[:count])
        remaining = EventTimeBuffer(self.pending[count:], watermark, self.next_arrival, self.late_events)
        return remaining, released

    def __len__(self) -> int:
        return len(self.pending)
