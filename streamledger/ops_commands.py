"""``streamledger deploy|savepoint|stop|redeploy|replay|jobs``: operate jobs.

Thin command-line layer over :mod:`streamledger.operations` (the cluster) and
:meth:`jobs.entrypoints.JobEntrypoints.replay` (rebuilding projections).
"""

from __future__ import annotations

import argparse
import urllib.error
from datetime import UTC, datetime
from pathlib import Path

from jobs.registry import JOBS
from streamledger.config import Settings
from streamledger.errors import StreamledgerError
from streamledger.operations import Operations, RunningJob, replay_settings, run_replay


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    deploy = commands.add_parser("deploy", help="submit a job to the Flink cluster (detached)")
    deploy.add_argument("job", choices=list(JOBS))
    deploy.add_argument(
        "--from-savepoint", metavar="PATH", help="restore from a savepoint or retained checkpoint"
    )
    deploy.add_argument(
        "--allow-non-restored-state",
        action="store_true",
        help="start even if savepoint state belongs to no operator of this version (it is dropped)",
    )
    deploy.set_defaults(handler=_deploy)

    savepoint = commands.add_parser("savepoint", help="take a savepoint of a running job")
    savepoint.add_argument("job", choices=list(JOBS))
    savepoint.set_defaults(handler=_savepoint)

    stop = commands.add_parser("stop", help="stop a running job with a savepoint")
    stop.add_argument("job", choices=list(JOBS))
    stop.set_defaults(handler=_stop)

    redeploy = commands.add_parser(
        "redeploy", help="stop a job with a savepoint and start the current code from it"
    )
    redeploy.add_argument("job", choices=list(JOBS))
    redeploy.add_argument("--allow-non-restored-state", action="store_true")
    redeploy.set_defaults(handler=_redeploy)

    replay = commands.add_parser(
        "replay",
        help="rebuild a job's projections from its input into fresh topics and tables",
    )
    replay.add_argument("job", choices=list(JOBS))
    replay.add_argument("--id", required=True, help="names the replay: its outputs, group and savepoints")
    replay.add_argument(
        "--from",
        dest="start",
        type=replay_start,
        metavar="earliest|TIMESTAMP|SAVEPOINT",
        help="where a new replay starts: the whole input (earliest, the default), the first record "
        "at or after an ISO-8601 time with zone (state starts empty there), or one of this "
        "replay's own savepoints (default for an existing replay: its newest)",
    )
    replay.set_defaults(handler=_replay)

    jobs = commands.add_parser("jobs", help="what runs on the cluster: state, last checkpoint, input lag")
    jobs.set_defaults(handler=_jobs)


def _deploy(args: argparse.Namespace) -> int:
    ops = Operations(Settings.from_env())
    job_id = ops.deploy(
        args.job, restore_from=args.from_savepoint, allow_non_restored_state=args.allow_non_restored_state
    )
    restored = f" from {args.from_savepoint}" if args.from_savepoint else ""
    print(f"deployed {args.job}{restored}: job {job_id}")
    return 0


def _savepoint(args: argparse.Namespace) -> int:
    print(Operations(Settings.from_env()).savepoint(args.job))
    return 0


def _stop(args: argparse.Namespace) -> int:
    location = Operations(Settings.from_env()).savepoint(args.job, stop=True)
    print(f"stopped {args.job} with savepoint {location}")
    return 0


def _redeploy(args: argparse.Namespace) -> int:
    savepoint, job_id = Operations(Settings.from_env()).redeploy(
        args.job, allow_non_restored_state=args.allow_non_restored_state
    )
    print(f"redeployed {args.job}: savepoint {savepoint}, new job {job_id}")
    return 0


def replay_start(value: str) -> str | int | Path:
    """``--from``: "earliest", a savepoint directory, or an ISO-8601 time with zone (epoch ms)."""
    if value == "earliest":
        return value
    if "/" in value or Path(value).exists():
        return Path(value.removeprefix("file://"))
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is neither earliest, a savepoint directory nor an ISO-8601 time "
            "(e.g. 2026-11-01T00:00:00Z)"
        ) from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{value!r} has no time zone: add Z or an offset such as +01:00")
    return int(moment.timestamp() * 1000)


def _replay(args: argparse.Namespace) -> int:
    report = run_replay(Settings.from_env(), args.job, args.id, args.start)
    settings = replay_settings(Settings.from_env(), args.job, args.id)
    print(
        f"replayed {report.records} records of {args.job} in {report.seconds:.1f} s into topics "
        f"replay-{args.id}.* and the catalog under {settings.state_dir}; savepoint {report.savepoint}"
    )
    return 0


def _event_time(ops: Operations, job: RunningJob) -> str:
    """The job's watermark as a UTC time ("-" before the first one, "?" if the REST API fails)."""
    try:
        reached = ops.event_time(job)
    except (StreamledgerError, urllib.error.HTTPError):
        return "?"
    if reached is None:
        return "-"
    return datetime.fromtimestamp(reached / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def _jobs(args: argparse.Namespace) -> int:
    ops = Operations(Settings.from_env())
    running = ops.running_jobs()
    if not running:
        print(f"no jobs run on {ops.settings.flink_rest_url}")
        return 0
    print(
        f"{'job':18} {'id':32} {'state':10} {'checkpoints':>11} {'last':>7} {'lag':>8} "
        f"{'event time (UTC)':19}  restored from"
    )
    for job in sorted(running, key=lambda j: j.name):
        status = ops.status(job)
        age = "-" if status.last_checkpoint_age_s is None else f"{status.last_checkpoint_age_s:.0f}s ago"
        lag = "?" if status.lag is None else str(status.lag)
        print(
            f"{job.name:18} {job.job_id:32} {job.state:10} {status.completed_checkpoints:>11} "
            f"{age:>7} {lag:>8} {_event_time(ops, job):19}  {status.restored_from or '-'}"
        )
    return 0
