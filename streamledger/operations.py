"""Operating jobs on a Flink cluster through its REST API: deploy, savepoint, redeploy, list.

The local standalone cluster (``streamledger stack up``) is the target; the same calls work against
any Flink session cluster's REST endpoint. A job is found by its name (``pipeline.name`` =
:data:`jobs.registry.JOBS` key), so operators never copy job IDs around.

Deploying runs Flink's own client (``bin/flink run -d -pym jobs.<module>``) from the pyflink
distribution: that is what builds the job graph with the Python driver, exactly as the Kubernetes
operator's ``PythonDriver`` does. Savepoints are taken in the canonical (portable) format, so a
redeploy may change the state backend or the job's code.

A replay (:func:`run_replay`) runs embedded instead: it rebuilds a job's projections from its input
log into outputs of its own, beside the live ones, so the two can be compared before switching.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
import time
import urllib.error
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobs.registry import JOBS, JobEntry, job
from streamledger import kafka_clients
from streamledger.config import ENV_PREFIX, Settings
from streamledger.errors import (
    ConfigError,
    JobFailedError,
    NonRestoredStateError,
    ServiceUnavailableError,
    StreamledgerError,
    first_line,
)
from streamledger.stack import iceberg_catalog, toolchain
from streamledger.stack.flink_cluster import FlinkCluster, pyflink_home

if TYPE_CHECKING:
    from jobs.entrypoints import JobEntrypoints
    from jobs.runner import RunReport

_ACTIVE = ("CREATED", "INITIALIZING", "RUNNING", "RESTARTING", "RECONCILING", "FAILING", "CANCELLING")
_SUBMITTED = re.compile(r"JobID ([0-9a-f]{32})")
#: Flink's watermark before the first one arrives (Long.MIN_VALUE).
_NO_WATERMARK = -(2**63)


class JobNotFoundError(StreamledgerError):
    """No job of that name is running on the cluster."""


class SavepointFailedError(StreamledgerError):
    """A savepoint (or stop-with-savepoint) did not complete."""


@dataclass(frozen=True)
class RunningJob:
    name: str
    job_id: str
    state: str
    start_time_ms: int


@dataclass(frozen=True)
class JobStatus:
    """One line of ``streamledger jobs``: what runs, its last checkpoint and its input lag."""

    job: RunningJob
    completed_checkpoints: int
    failed_checkpoints: int
    last_checkpoint_path: str | None
    last_checkpoint_age_s: float | None
    restored_from: str | None
    lag: int | None


class Operations:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.cluster = FlinkCluster(settings)

    # ------------------------------------------------------------------ queries
    def running_jobs(self) -> list[RunningJob]:
        overview = self.cluster.rest("/jobs/overview")
        return [
            RunningJob(j["name"], j["jid"], j["state"], int(j["start-time"]))
            for j in overview.get("jobs", [])
            if j["state"] in _ACTIVE
        ]

    def find(self, name: str) -> RunningJob:
        """The active job called ``name`` (the newest, should there be two)."""
        job(name)  # an unknown name is a ConfigError listing the choices
        matches = [j for j in self.running_jobs() if j.name == name]
        if not matches:
            raise JobNotFoundError(
                f"no job {name!r} is running on {self.settings.flink_rest_url}",
                f"`streamledger deploy {name}` starts it; `streamledger jobs` lists what runs",
            )
        return max(matches, key=lambda j: j.start_time_ms)

    def status(self, running: RunningJob) -> JobStatus:
        checkpoints = self.cluster.rest(f"/jobs/{running.job_id}/checkpoints")
        counts = checkpoints.get("counts", {})
        latest = checkpoints.get("latest") or {}
        completed = latest.get("completed") or {}
        restored = latest.get("restored") or {}
        age = None
        if completed.get("latest_ack_timestamp"):
            age = max(0.0, time.time() - completed["latest_ack_timestamp"] / 1000)
        return JobStatus(
            job=running,
            completed_checkpoints=int(counts.get("completed", 0)),
            failed_checkpoints=int(counts.get("failed", 0)),
            last_checkpoint_path=completed.get("external_path"),
            last_checkpoint_age_s=age,
            restored_from=restored.get("external_path"),
            lag=self._lag(running.name),
        )

    def input_watermarks(self, running: RunningJob) -> dict[str, int | None]:
        """Per task (vertex name), the event time its slowest subtask has reached: the lowest
        ``currentInputWatermark``; None where no watermark arrived yet (and for sources, which
        have no input). Event-time timers of an operator fire as its input watermark passes them."""
        vertices = self.cluster.rest(f"/jobs/{running.job_id}").get("vertices", [])
        reached: dict[str, int | None] = {}
        for vertex in vertices:
            metrics = self.cluster.rest(f"/jobs/{running.job_id}/vertices/{vertex['id']}/watermarks")
            values = [int(m["value"]) for m in metrics if m.get("id", "").endswith(".currentInputWatermark")]
            lowest = min(values, default=_NO_WATERMARK)
            reached[str(vertex["name"])] = None if lowest <= _NO_WATERMARK else lowest
        return reached

    def event_time(self, running: RunningJob) -> int | None:
        """How far in event time the job has got: the lowest input watermark of its tasks that
        have one (sources have no input; a task whose other input is idle, like the fraud rules,
        reports none). None before the first watermark. From the REST API's metrics, which the
        JobManager fetches every 10 s: it may trail the job by that much."""
        reached = [w for w in self.input_watermarks(running).values() if w is not None]
        return min(reached, default=None)

    def _lag(self, name: str) -> int | None:
        """Records in the job's main input not yet committed by its consumer group."""
        entry = job(name)
        try:
            topic = entry.load().ENTRYPOINTS.input_topic(self.settings)
            ends = kafka_clients.end_offsets(self.settings, topic)
            committed = kafka_clients.resume_offsets(self.settings, name, topic)
        except Exception:  # lag is informative; a broker hiccup must not break `jobs`
            return None
        return sum(max(0, end - committed.get(p, 0)) for p, end in ends.items())

    # ------------------------------------------------------------------ savepoints
    def savepoint(self, name: str, *, stop: bool = False, timeout_s: float = 300.0) -> str:
        """Trigger a savepoint of the running job ``name`` (and stop it, for ``stop``); its path."""
        running = self.find(name)
        directory = (self.settings.savepoints_dir / name).as_uri()
        if stop:
            path = f"/jobs/{running.job_id}/stop"
            body: dict[str, Any] = {"targetDirectory": directory, "drain": False, "formatType": "CANONICAL"}
        else:
            path = f"/jobs/{running.job_id}/savepoints"
            body = {"target-directory": directory, "cancel-job": False, "formatType": "CANONICAL"}
        trigger = self.cluster.rest(path, method="POST", body=body)["request-id"]
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            result = self.cluster.rest(f"/jobs/{running.job_id}/savepoints/{trigger}")
            if result.get("status", {}).get("id") == "COMPLETED":
                operation = result.get("operation", {})
                if "location" in operation:
                    return str(operation["location"])
                cause = str(operation.get("failure-cause", {}).get("stack-trace", "unknown cause"))
                raise SavepointFailedError(
                    f"savepoint of {name} failed: {first_line(cause)}",
                    f"see the JobManager log in {self.cluster.directory / 'log'}",
                )
            time.sleep(0.5)
        raise SavepointFailedError(f"savepoint of {name} did not complete within {timeout_s:.0f} s")

    # ------------------------------------------------------------------ deploy
    def deploy(
        self,
        name: str,
        *,
        restore_from: str | None = None,
        allow_non_restored_state: bool = False,
        args: tuple[str, ...] = (),
        timeout_s: float = 180.0,
    ) -> str:
        """Submit job ``name`` (detached), optionally from a savepoint/checkpoint; its job ID."""
        entry = job(name)
        self.cluster.rest("/overview")  # a cluster that is down fails here, in one line
        argv = self._flink_run_argv(entry, restore_from, allow_non_restored_state, args)
        result = subprocess.run(
            argv, env=self._client_env(), capture_output=True, text=True, timeout=timeout_s, check=False
        )
        found = _SUBMITTED.search(result.stdout)
        if result.returncode != 0 or found is None:
            output = result.stdout + result.stderr
            refusal = NonRestoredStateError.in_flink_output(name, output)
            if refusal is not None:
                raise refusal
            raise JobFailedError(
                f"deploying {name} failed: {_cause(output)}", f"see {self.cluster.directory / 'log'}"
            )
        job_id = found.group(1)
        self._wait_until_started(name, job_id, timeout_s)
        return job_id

    def _wait_until_started(self, name: str, job_id: str, timeout_s: float) -> None:
        """A detached submission returns once the cluster accepted the job; restoring its state
        happens after that. Wait until it runs, so a refused restore fails the deploy, in one line."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            state = self.cluster.rest(f"/jobs/{job_id}")["state"]
            if state in ("RUNNING", "FINISHED"):
                return
            if state in ("FAILED", "CANCELED"):
                root = self.cluster.rest(f"/jobs/{job_id}/exceptions").get("root-exception") or state
                refusal = NonRestoredStateError.in_flink_output(name, root)
                if refusal is not None:
                    raise refusal
                raise JobFailedError(
                    f"{name} ({job_id}) failed while starting: {_cause(root)}",
                    f"see {self.cluster.directory / 'log'}",
                )
            time.sleep(0.5)
        raise JobFailedError(
            f"{name} ({job_id}) did not start within {timeout_s:.0f} s",
            f"see {self.cluster.directory / 'log'}",
        )

    def redeploy(self, name: str, *, allow_non_restored_state: bool = False) -> tuple[str, str]:
        """Stop ``name`` with a savepoint and start the current code from it: (savepoint, new job ID)."""
        savepoint = self.savepoint(name, stop=True)
        return savepoint, self.deploy(
            name, restore_from=savepoint, allow_non_restored_state=allow_non_restored_state
        )

    def _flink_run_argv(
        self, entry: JobEntry, restore_from: str | None, allow_non_restored_state: bool, args: tuple[str, ...]
    ) -> list[str]:
        argv = [
            "bash",
            str(pyflink_home() / "bin" / "flink"),
            "run",
            "--detached",
            "--jobmanager",
            f"127.0.0.1:{self.settings.flink_rest_port}",
        ]
        if restore_from is not None:
            argv += ["--fromSavepoint", restore_from]
            if allow_non_restored_state:
                argv.append("--allowNonRestoredState")
        argv += ["-pyexec", sys.executable, "-pyclientexec", sys.executable, *entry.driver_args, *args]
        return argv

    def _client_env(self) -> dict[str, str]:
        """The client sees the same Settings as this process, and the jars the jobs need."""
        env = dict(os.environ)
        for field in self.settings.__dataclass_fields__:
            value = getattr(self.settings, field)
            if value is not None:
                env[ENV_PREFIX + field.upper()] = str(value)
        env["JAVA_HOME"] = toolchain.java_home()
        env["HADOOP_CLASSPATH"] = toolchain.system_classpath(self.settings)
        env["FLINK_CONF_DIR"] = str(self.cluster.conf_dir)
        return env


def _cause(output: str) -> str:
    """The line of a Flink client's output that says what went wrong."""
    for marker in ("Caused by:", "Error:", "Exception:"):
        lines = [line.strip() for line in output.splitlines() if marker in line]
        if lines:
            return lines[-1][:300]
    tail = [line.strip() for line in output.splitlines() if line.strip()]
    return tail[-1][:300] if tail else "no output"


def wait_for_checkpoints(ops: Operations, name: str, completed: int, timeout_s: float = 120.0) -> JobStatus:
    """Block until job ``name`` has completed at least ``completed`` checkpoints."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            status = ops.status(ops.find(name))
            if status.completed_checkpoints >= completed:
                return status
        except (JobNotFoundError, ServiceUnavailableError, urllib.error.HTTPError):
            pass
        if time.monotonic() > deadline:
            raise JobFailedError(f"{name} did not complete {completed} checkpoints within {timeout_s:.0f} s")
        time.sleep(0.5)


def savepoint_path(location: str) -> Path:
    """A savepoint location (``file:/...``) as a local path."""
    return Path(location.removeprefix("file:"))


def replay_settings(settings: Settings, job_name: str, replay_id: str) -> Settings:
    """The live input, and everything the replay writes fresh: topics prefixed ``replay-<id>``, its
    own Iceberg catalog and warehouse, its own state directory under ``replays/<id>``."""
    entry = JOBS[job_name].load().ENTRYPOINTS
    input_field = next(
        f for f in settings.topic_fields if getattr(settings, f) == entry.input_topic(settings)
    )
    root = settings.state_dir / "replays" / replay_id
    renamed = settings.with_topic_prefix(f"replay-{replay_id}")
    return dataclasses.replace(
        renamed,
        **{input_field: getattr(settings, input_field)},
        state_root=root,
        catalog_db=root / "catalog" / "iceberg_catalog.db",
        warehouse=root / "warehouse",
    )


def run_replay(live: Settings, job: str, replay_id: str, start: str | int | Path | None = None) -> RunReport:
    """Create the replay's fresh outputs (idempotent) and run it until it has caught up."""
    from streamledger.stack.local_stack import LocalStack

    if not replay_id.replace("-", "").isalnum():
        raise ConfigError(f"--id {replay_id!r} must be letters, digits and dashes")
    settings = replay_settings(live, job, replay_id)
    LocalStack(settings).kafka.ensure_topics()
    iceberg_catalog.initialize(settings)
    entrypoints: JobEntrypoints = JOBS[job].load().ENTRYPOINTS
    if isinstance(start, Path):
        return entrypoints.replay(settings, replay_id, restore_from=start)
    return entrypoints.replay(settings, replay_id, start=start)
