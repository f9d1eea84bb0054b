"""``streamledger bench JOB``: measure a job on the embedded MiniCluster against the local broker.

The broker must already run (``streamledger stack up kafka catalog``); the benchmark creates its
own topics and Iceberg catalog, so it never touches the data of ``demo`` or of another run.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from streamledger.bench.baselines import BASELINES
from streamledger.bench.harness import JOBS, BenchOptions, run_benchmark
from streamledger.config import Settings


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, not {value}")
    return value


def _flink_conf(text: str) -> tuple[str, str]:
    key, separator, value = text.partition("=")
    if not separator or not key.strip() or not value.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, not {text!r}")
    return key.strip(), value.strip()


def _baselines(text: str) -> tuple[str, ...]:
    names = BASELINES if text == "all" else tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in BASELINES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown baseline(s) {', '.join(unknown) or text!r}; "
            f"choose all or some of {', '.join(BASELINES)}"
        )
    return names


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    bench = commands.add_parser(
        "bench",
        help="measure a job's throughput, latency and resource use (needs `stack up kafka catalog`)",
        description="Produce generated input into fresh topics on the running local broker, run the job on "
        "the embedded MiniCluster until it has committed all of it, and write the measurements to "
        "<out>/<job>-<timestamp>.json. See benchmarks/README.md.",
    )
    bench.add_argument("job", choices=JOBS)
    bench.add_argument("--events", type=_positive_int, required=True, help="input records to produce")
    bench.add_argument(
        "--keys",
        "--accounts",
        dest="keys",
        type=_positive_int,
        default=500,
        help="distinct keys: accounts, loyalty members or fraud customers (default 500; "
        "payment-lifecycle's generator decides its own)",
    )
    bench.add_argument("--parallelism", type=_positive_int, default=1, help="job parallelism (default 1)")
    bench.add_argument(
        "--checkpoint-interval",
        type=_positive_int,
        default=None,
        metavar="MS",
        help="checkpoint interval in ms (default: STREAMLEDGER_CHECKPOINT_INTERVAL_MS, 5000)",
    )
    bench.add_argument(
        "--rate",
        type=_non_negative_float,
        default=0.0,
        metavar="R",
        help="produce R events/s while the job runs; 0 (default) pre-loads all input before it starts",
    )
    bench.add_argument("--seed", type=int, default=7, help="generator seed (default 7)")
    bench.add_argument(
        "--out", type=Path, default=None, help="results folder (default benchmarks/results in the checkout)"
    )
    bench.add_argument(
        "--metrics-port",
        type=int,
        default=0,
        metavar="PORT",
        help="serve live Prometheus metrics on 127.0.0.1:PORT (default 0: off)",
    )
    bench.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    bench.add_argument("--keep-topics", action="store_true", help="leave the run's topics on the broker")
    bench.add_argument(
        "--flink-conf",
        type=_flink_conf,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="Flink configuration entry for the job, applied last (repeatable), "
        "e.g. python.execution-mode=thread or python.fn-execution.bundle.size=1000",
    )
    bench.add_argument(
        "--baselines",
        type=_baselines,
        default=(),
        metavar="all|NAME,...",
        help="after the job, run these baselines on the same input and report ratios "
        f"({', '.join(BASELINES)})",
    )
    bench.add_argument(
        "--baseline-events",
        type=_positive_int,
        default=None,
        metavar="M",
        help="input records of the baselines (default: --events); the same generator and seed",
    )
    bench.add_argument(
        "--quix-python",
        type=Path,
        default=None,
        metavar="PATH",
        help="interpreter of the Quix Streams virtualenv (default .streamledger/quix-venv/bin/python, "
        "made by `make bench-setup`)",
    )
    bench.add_argument(
        "--timeout",
        type=float,
        default=1800.0,
        metavar="S",
        help="give up on the job (and each baseline) after S seconds (default 1800; a run of 10^6 "
        "events at a few hundred events/s needs more)",
    )
    bench.add_argument("--no-plot", action="store_true", help="do not write the PNG plot")
    bench.add_argument("--note", default="", help="free text stored with the result (e.g. machine shared)")
    bench.set_defaults(handler=_bench)


def options_from_args(args: argparse.Namespace, command_line: str) -> BenchOptions:
    return BenchOptions(
        job=args.job,
        events=args.events,
        keys=args.keys,
        parallelism=args.parallelism,
        checkpoint_interval_ms=args.checkpoint_interval,
        rate=args.rate,
        seed=args.seed,
        out_dir=args.out,
        metrics_port=args.metrics_port,
        progress=not args.no_progress,
        command_line=command_line,
        keep_topics=args.keep_topics,
        flink_conf=tuple(args.flink_conf),
        baselines=tuple(args.baselines),
        baseline_events=args.baseline_events,
        quix_python=args.quix_python,
        plot=not args.no_plot,
        note=args.note,
        timeout_s=args.timeout,
    )


def summary(result: dict[str, Any]) -> str:
    """The few lines printed after a run."""
    t, lat, run = result["throughput"], result["latency_ms"], result["run"]
    ck = result["checkpoints"]
    res = result["resources"]
    lines = [
        f"{result['job']}: {run['records']} records in {run['seconds']:.1f} s = "
        f"{t['events_per_second']} events/s ({t['events_per_second_per_core']} per core, start-up included)",
        f"  sustained (first commit to caught up): {t['sustained_events_per_second']} events/s "
        f"({t['sustained_events_per_second_per_core']} per core), start-up {t['startup_seconds']} s",
        f"  end-to-end latency ms (n={lat['sample_size']}): p50 {lat.get('p50')} p95 {lat.get('p95')} "
        f"p99 {lat.get('p99')}",
        f"  CPU {res['cpu_seconds']} s ({res['average_cores_busy']} cores busy), "
        f"peak RSS {res['peak_rss_bytes'] / 2**20:,.0f} MiB",
    ]
    if ck.get("measured"):
        duration = ck["end_to_end_duration_ms"] or {}
        size = ck["checkpointed_size_bytes"] or {}
        lines.append(
            f"  checkpoints: {ck['completed']} completed, duration p50 {duration.get('p50')} ms, "
            f"checkpointed size p50 {size.get('p50')} bytes"
        )
    else:
        lines.append(f"  checkpoints: not measured ({ck.get('reason')})")
    lines.append(f"  processing rate (output log 10-90 %): {t.get('processing_events_per_second')} events/s")
    for name, baseline in (result.get("baselines") or {}).items():
        if baseline.get("measured"):
            lines.append(
                f"  baseline {name}: {baseline.get('events_per_second')} events/s "
                f"(x{baseline.get('ratio_to_job')} the job)"
            )
        else:
            lines.append(f"  baseline {name}: not measured ({baseline.get('reason')})")
    if result.get("plot"):
        lines.append(f"  plot: {result['plot']}")
    return "\n".join(lines)


def _bench(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    command_line = shlex.join(["streamledger", *sys.argv[1:]])
    path, result = run_benchmark(settings, options_from_args(args, command_line))
    print(summary(result))
    print(f"results: {path}")
    return 0
