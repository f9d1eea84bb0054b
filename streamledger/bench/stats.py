"""Pure helpers for turning samples into the numbers a benchmark reports (no I/O, no clocks)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) with linear interpolation between closest ranks.

    Same definition as numpy's default (``method="linear"``); ``values`` need not be sorted.
    """
    if not values:
        raise ValueError("percentile of no values")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"q must be between 0 and 100, not {q}")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = math.ceil(rank)
    if low == high:
        return float(ordered[low])
    return float(ordered[low] + (ordered[high] - ordered[low]) * (rank - low))


def distribution(values: Sequence[float], digits: int = 1) -> dict[str, float | int] | None:
    """count, min, p50, p95, p99, max and mean of ``values`` (None when there are none)."""
    if not values:
        return None
    return {
        "count": len(values),
        "min": round(min(values), digits),
        "p50": round(percentile(values, 50), digits),
        "p95": round(percentile(values, 95), digits),
        "p99": round(percentile(values, 99), digits),
        "max": round(max(values), digits),
        "mean": round(sum(values) / len(values), digits),
    }


def latencies_ms(produced_at: Mapping[str, float], visible_at: Mapping[str, float]) -> list[float]:
    """End-to-end latency in ms of every event ID seen on both sides (same clock, seconds)."""
    return [
        (visible - produced_at[event_id]) * 1000.0
        for event_id, visible in visible_at.items()
        if event_id in produced_at
    ]


@dataclass(frozen=True)
class Progress:
    """When committed input first moved and when it reached the target, from polled samples."""

    startup_seconds: float | None
    """From the start of the run to the first sample that showed committed progress."""
    caught_up_seconds: float | None
    """From the start of the run to the first sample at or beyond the target."""
    sustained_records: int
    """Records committed between those two samples."""
    sustained_seconds: float | None

    @property
    def sustained_events_per_second(self) -> float | None:
        if not self.sustained_seconds or self.sustained_records <= 0:
            return None
        return self.sustained_records / self.sustained_seconds


def committed_progress(samples: Sequence[tuple[float, int]], start: float, target: int) -> Progress:
    """Analyse ``(time, committed records)`` samples (time-ordered) of one run starting at ``start``.

    The first sample above the initial count marks the end of start-up (the job has completed
    its first checkpoint with data); the first sample at ``target`` marks "caught up". The
    records committed between the two, over the time between them, is the sustained rate:
    throughput with job start-up and the first checkpoint excluded.
    """
    if not samples:
        return Progress(None, None, 0, None)
    initial = samples[0][1]
    first = next(((t, n) for t, n in samples if n > initial), None)
    done = next(((t, n) for t, n in samples if n >= target), None)
    if first is None:
        return Progress(None, done[0] - start if done else None, 0, None)
    if done is None:
        return Progress(first[0] - start, None, 0, None)
    return Progress(
        startup_seconds=first[0] - start,
        caught_up_seconds=done[0] - start,
        sustained_records=done[1] - first[1],
        sustained_seconds=done[0] - first[0] if done[0] > first[0] else None,
    )
