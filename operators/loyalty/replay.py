"""A reference driver for the accrual core: what the Flink job does, in plain Python.

Events are applied in arrival order per member; a watermark trails the largest event time seen by
``out_of_orderness_ms`` and fires the members' event-time timers (membership-year review,
inactivity expiry) in timestamp order, exactly as the job's keyed timers do. Tests, the demo and
benchmarks use it to compute the expected output of a stream.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field

from operators.loyalty.accrual import apply, on_inactivity_timer, on_membership_year_end, timers
from operators.loyalty.events import LoyaltyEvent
from operators.loyalty.outputs import LedgerEntry, Output
from operators.loyalty.rules import Rules
from operators.loyalty.state import AccrualConfig, MemberState

_YEAR_END = "year-end"
_INACTIVITY = "inactivity"


@dataclass
class Replay:
    rules: Rules
    config: AccrualConfig
    out_of_orderness_ms: int = 0
    states: dict[str, MemberState] = field(default_factory=dict)
    outputs: list[Output] = field(default_factory=list)
    watermark_ms: int = field(default=-(2**63), init=False)
    _queue: list[tuple[int, str, str]] = field(default_factory=list, init=False, repr=False)
    _registered: set[tuple[int, str, str]] = field(default_factory=set, init=False, repr=False)

    def process(self, event: LoyaltyEvent) -> tuple[Output, ...]:
        """Apply one event, then fire every timer the advanced watermark makes due."""
        state, outputs = apply(self.states.get(event.member_id), event, self.rules, self.config)
        self.outputs.extend(outputs)
        if state is not None:
            self.states[event.member_id] = state
            self._register(state)
        fired = self.advance_watermark(event.event_time_ms - self.out_of_orderness_ms)
        return (*outputs, *fired)

    def process_all(self, events: Iterable[LoyaltyEvent]) -> Replay:
        for event in events:
            self.process(event)
        return self

    def advance_watermark(self, to_ms: int) -> list[Output]:
        """Fire due timers (``timestamp <= to_ms``), in timestamp order, as the job would."""
        fired: list[Output] = []
        self.watermark_ms = max(self.watermark_ms, to_ms)
        while self._queue and self._queue[0][0] <= self.watermark_ms:
            due, member_id, kind = heapq.heappop(self._queue)
            self._registered.discard((due, member_id, kind))
            state = self.states[member_id]
            if kind == _YEAR_END:
                state, outputs = on_membership_year_end(state, due, self.rules)
            else:
                state, outputs = on_inactivity_timer(state, due, self.rules)
            self.states[member_id] = state
            self._register(state)
            fired.extend(outputs)
        self.outputs.extend(fired)
        return fired

    def ledger(self, member_id: str | None = None) -> list[LedgerEntry]:
        return [
            o
            for o in self.outputs
            if isinstance(o, LedgerEntry) and (member_id is None or o.member_id == member_id)
        ]

    def _register(self, state: MemberState) -> None:
        due = timers(state, self.rules)
        wanted = [(due.membership_year_end_ms, state.member_id, _YEAR_END)]
        if due.inactivity_expiry_ms is not None:
            wanted.append((due.inactivity_expiry_ms, state.member_id, _INACTIVITY))
        for timer in wanted:
            if timer not in self._registered:
                self._registered.add(timer)
                heapq.heappush(self._queue, timer)
