"""The PNG beside each results JSON: throughput over time, latency distribution, baselines.

Drawn from the result itself (plus the latency sample, which the JSON only summarises), so a
plot always shows exactly the run it sits next to.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


def write_png(result: dict[str, Any], path: Path, latencies_ms: Sequence[float] = ()) -> str:
    """Write the plot of ``result`` to ``path``; returns the path as a string."""
    import matplotlib

    matplotlib.use("Agg")  # no display: benchmarks run in terminals and CI
    import matplotlib.pyplot as plt

    baselines = {name: b for name, b in (result.get("baselines") or {}).items() if b.get("events_per_second")}
    panels = 3 if baselines else 2
    figure, axes = plt.subplots(1, panels, figsize=(6 * panels, 4.5))
    params = result["parameters"]
    figure.suptitle(
        f"{result['job']}: {params['events']:,} events, {params['keys']:,} keys, "
        f"checkpoint {params['checkpoint_interval_ms']} ms ({result['started_at']})",
        fontsize=10,
    )

    progress = axes[0]
    line = result.get("timeline") or {}
    for label, key in (("input committed", "committed_input"), ("output appended", "appended_output")):
        points = line.get(key) or []
        if points:
            progress.plot([p[0] for p in points], [p[1] for p in points], label=label)
    progress.set_xlabel("seconds since job submission")
    progress.set_ylabel("records (cumulative)")
    progress.set_title("throughput over time", fontsize=10)
    rate = line.get("appended_output_rate") or []
    if rate:
        per_second = progress.twinx()
        per_second.plot([p[0] for p in rate], [p[1] for p in rate], color="grey", alpha=0.5, lw=0.8)
        per_second.set_ylabel("output records/s", color="grey")
    if progress.get_lines():
        progress.legend(loc="upper left", fontsize=8)

    latency = axes[1]
    if latencies_ms:
        latency.hist([v / 1000.0 for v in latencies_ms], bins=50)
        summary = result["latency_ms"]
        for q in ("p50", "p95", "p99"):
            if summary.get(q) is not None:
                latency.axvline(summary[q] / 1000.0, color="black", ls="--", lw=0.8)
                latency.text(summary[q] / 1000.0, latency.get_ylim()[1] * 0.95, q, fontsize=8, rotation=90)
    else:
        latency.text(0.5, 0.5, "no latency sample", ha="center", va="center", transform=latency.transAxes)
    latency.set_xlabel("end-to-end latency (s)")
    latency.set_ylabel("count")
    latency.set_title("latency distribution", fontsize=10)

    if baselines:
        bars = axes[2]
        names = [f"{result['job']} (job)", *baselines]
        values = [
            result["throughput"].get("processing_events_per_second") or 0.0,
            *(b["events_per_second"] for b in baselines.values()),
        ]
        bars.barh(names, values)
        bars.set_xscale("log")
        bars.set_xlabel("events/s (log scale)")
        bars.set_title("job vs baselines, same run", fontsize=10)
        bars.invert_yaxis()

    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return str(path)
