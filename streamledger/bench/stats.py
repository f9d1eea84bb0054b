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


def key_latencies_ms(
    last_produced_at: Mapping[str, float], last_visible_at: Mapping[str, float]
) -> list[float]:
    """Per key: from the ``produce()`` of its last input to its last output becoming visible.

    Keys whose last output became visible *before* their last input was produced (the last input
    changed nothing, e.g. a duplicate) are left out: that output does not reflect the input.
    """
    return [
        (visible - last_produced_at[key]) * 1000.0
        for key, visible in last_visible_at.items()
        if key in last_produced_at and visible >= last_produced_at[key]
    ]


@dataclass(frozen=True)
class OutputRate:
    """Input events per second, read off the growth of the output log between two fractions."""

    events_per_second: float
    window_seconds: float
    low_fraction: float
    high_fraction: float
    lower_bound: bool = False
    """True when ``low`` and ``high`` were reached in the same sample: the window is taken from the
    previous sample, so the real rate is at least this (faster than the polling resolves)."""


def output_rate(
    samples: Sequence[tuple[float, int]], records: int, low: float = 0.1, high: float = 0.9
) -> OutputRate | None:
    """The processing rate from ``(time, records appended to the output log)`` samples.

    The time between the samples at which the output log first held ``low`` and ``high`` of
    everything appended during the run covers ``high - low`` of the work, so the rate of input
    events is ``(high - low) * records`` over that time. It excludes start-up and the final
    transaction commit, is not quantised by checkpoints (records are appended inside open
    transactions), and assumes outputs are spread evenly over inputs. When both fractions were
    reached in the same sample the rate is a lower bound (``lower_bound``). None when the output
    log did not grow.
    """
    if not samples or records <= 0 or not 0.0 <= low < high <= 1.0:
        return None
    initial = samples[0][1]
    final = samples[-1][1] - initial
    if final <= 0:
        return None
    i_low = next(i for i, (_, n) in enumerate(samples) if n - initial >= low * final)
    i_high = next(i for i, (_, n) in enumerate(samples) if n - initial >= high * final)
    lower_bound = i_high == i_low
    if lower_bound:
        if i_low == 0:
            return None
        i_low -= 1  # all of it landed between two samples: bound the window by the previous one
    window = samples[i_high][0] - samples[i_low][0]
    if window <= 0:
        return None
    return OutputRate((high - low) * records / window, window, low, high, lower_bound)


def ratio(value: float | None, reference: float | None, digits: int = 3) -> float | None:
    """``value / reference``, None when either is missing or the reference is not positive."""
    if value is None or reference is None or reference <= 0:
        return None
    return round(value / reference, digits)


def rate_series(
    samples: Sequence[tuple[float, int]], start: float, bucket_s: float = 1.0
) -> list[tuple[float, float]]:
    """``(seconds since start, records per second)`` per bucket, from cumulative samples (for plots)."""
    if len(samples) < 2 or bucket_s <= 0:
        return []
    series: list[tuple[float, float]] = []
    previous_t, previous_n = samples[0]
    bucket_end = previous_t + bucket_s
    for t, n in samples[1:]:
        if t >= bucket_end:
            span = t - previous_t
            series.append((round(t - start, 3), (n - previous_n) / span if span > 0 else 0.0))
            previous_t, previous_n = t, n
            bucket_end = t + bucket_s
    return series
