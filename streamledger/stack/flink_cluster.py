"""A standalone Flink cluster (one JobManager, one TaskManager) from the pyflink distribution.

The embedded MiniCluster is the default for ``demo`` and most tests; this cluster exists for what
needs a REST API and separate processes: savepoints, redeploys, and killing a TaskManager in a
fault test. Both daemons run in the foreground scripts of the distribution's ``bin/`` (which
``exec`` the JVM), detached and tracked by pid, with config and logs under
``.streamledger/flink-cluster``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streamledger.config import Settings
from streamledger.errors import ServiceUnavailableError
from streamledger.stack import processes, toolchain


def pyflink_home() -> Path:
    """The Flink distribution that ships inside the apache-flink wheel."""
    import pyflink

    return Path(pyflink.__file__).resolve().parent


def python_runtime_jars() -> list[Path]:
    """flink-python, which the distribution keeps in ``opt/``: daemons that run PyFlink jobs need it
    on their classpath (the official image's docs move it to ``lib/``; we add it without touching
    the installed wheel)."""
    return sorted((pyflink_home() / "opt").glob("flink-python-*.jar"))


@dataclass(frozen=True)
class FlinkCluster:
    settings: Settings

    @property
    def directory(self) -> Path:
        return self.settings.flink_cluster_dir

    @property
    def conf_dir(self) -> Path:
        return self.directory / "conf"

    @property
    def jobmanager(self) -> processes.DaemonProcess:
        return self._daemon("jobmanager")

    @property
    def taskmanager(self) -> processes.DaemonProcess:
        return self._daemon("taskmanager")

    def _daemon(self, role: str) -> processes.DaemonProcess:
        return processes.DaemonProcess(
            name=f"flink-{role}",
            pid_file=self.directory / f"{role}.pid",
            log_file=self.directory / "log" / f"{role}.out",
            # Passed as a dynamic property (see _script_argv), so it is on the command line of the
            # launcher script and of the JVM it execs: unique to this checkout.
            marker=f"streamledger.cluster={self.conf_dir}",
        )

    # ------------------------------------------------------------------ life cycle
    def running(self) -> bool:
        return self.jobmanager.running() and self.taskmanager.running()

    def up(self) -> bool:
        """Start both daemons and wait until a TaskManager registered. False if already up."""
        if self.running():
            return False
        s = self.settings
        if not self.jobmanager.running():
            processes.ensure_port_free(
                "127.0.0.1", s.flink_rest_port, "Flink REST API", "STREAMLEDGER_FLINK_REST_PORT"
            )
        self._write_config()
        env = self._daemon_env()
        if not self.jobmanager.running():
            self.jobmanager.start(self._script_argv("jobmanager.sh"), env=env)
        if not self.taskmanager.running():
            self.taskmanager.start(self._script_argv("taskmanager.sh"), env=env)
        ready = processes.wait_until(
            lambda: self.registered_taskmanagers() >= 1,
            timeout_s=s.flink_start_timeout_s,
            still_starting=lambda: self.jobmanager.running(),
            interval_s=0.5,
        )
        if not ready:
            failed = self.jobmanager if not self.jobmanager.running() else self.taskmanager
            self.down()
            raise failed.fail_start(
                f"the Flink cluster (REST {s.flink_rest_url})",
                f"read {failed.log_file}; fix the cause and run `streamledger stack up` again",
            )
        return True

    def down(self) -> bool:
        # A TaskManager's graceful shutdown waits for a JobManager that is going away too; the
        # cluster holds no state of its own (checkpoints are on disk), so don't wait long.
        stopped_tm = self.taskmanager.stop(timeout_s=10)
        stopped_jm = self.jobmanager.stop(timeout_s=15)
        return stopped_tm or stopped_jm

    # ------------------------------------------------------------------ REST
    def rest(self, path: str, timeout_s: float = 5.0, *, method: str = "GET", body: Any = None) -> Any:
        """Call the REST API; a cluster that does not answer is one clear error, not a traceback.

        A 4xx status is raised as :class:`urllib.error.HTTPError` for the caller to interpret
        (404: no such job or trigger); a 5xx means the cluster cannot serve yet, like no answer.
        """
        url = f"{self.settings.flink_rest_url}{path}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - loopback URL
            url, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            if error.code < 500:
                raise
            # 503 while the JobManager is still starting (or failing over): not ready, not a bug.
            raise ServiceUnavailableError(
                f"the Flink REST API at {self.settings.flink_rest_url} answered {error.code}",
                "wait until the cluster is up (`streamledger stack status`)",
            ) from None
        except (urllib.error.URLError, OSError, ValueError):
            raise ServiceUnavailableError(
                f"the Flink REST API at {self.settings.flink_rest_url} does not answer",
                "start the cluster with `streamledger stack up`",
            ) from None

    def registered_taskmanagers(self) -> int:
        try:
            overview = self.rest("/overview", timeout_s=2)
        except ServiceUnavailableError:
            return 0
        return int(overview.get("taskmanagers", 0))

    # ------------------------------------------------------------------ internals
    def _script_argv(self, script: str) -> list[str]:
        return [
            "bash",
            str(pyflink_home() / "bin" / script),
            "start-foreground",
            "-D",
            f"streamledger.cluster={self.conf_dir}",
        ]

    def _daemon_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "FLINK_CONF_DIR": str(self.conf_dir),
                "FLINK_LOG_DIR": str(self.directory / "log"),
                "FLINK_PID_DIR": str(self.directory),
                "JAVA_HOME": toolchain.java_home(),
                "HADOOP_CLASSPATH": os.pathsep.join(
                    [toolchain.system_classpath(self.settings), *map(str, python_runtime_jars())]
                ),
            }
        )
        return env

    def _write_config(self) -> None:
        """The distribution's config (it carries the JVM flags Java 17 needs) plus ours."""
        import yaml  # PyYAML arrives with apache-beam; the config is standard YAML in Flink 2.x

        s = self.settings
        shipped = pyflink_home() / "conf"
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        for name in ("log4j-console.properties", "log4j.properties", "logback-console.xml"):
            if (shipped / name).is_file():
                shutil.copy(shipped / name, self.conf_dir / name)
        config = yaml.safe_load((shipped / "config.yaml").read_text()) or {}
        java_opts = config.get("env", {}).get("java", {}).get("opts", {}).get("all", "")
        ours: dict[str, Any] = {
            "env.java.opts.all": java_opts,
            "jobmanager.rpc.address": "127.0.0.1",
            "jobmanager.rpc.port": s.flink_rest_port + 1,
            "jobmanager.bind-host": "127.0.0.1",
            "jobmanager.memory.process.size": "1024m",
            "taskmanager.bind-host": "127.0.0.1",
            "taskmanager.host": "127.0.0.1",
            "taskmanager.numberOfTaskSlots": s.flink_taskmanager_slots,
            "taskmanager.memory.process.size": "2560m",
            "rest.address": "127.0.0.1",
            "rest.bind-address": "127.0.0.1",
            "rest.port": s.flink_rest_port,
            "parallelism.default": s.parallelism,
            "python.executable": sys.executable,
            "python.client.executable": sys.executable,
            "jobmanager.execution.failover-strategy": "region",
            "execution.checkpointing.dir": s.checkpoints_dir.as_uri(),
            "execution.checkpointing.savepoint-dir": s.savepoints_dir.as_uri(),
            "state.backend.type": "rocksdb",
            # A lost TaskManager on this one machine is noticed within seconds (a dead process
            # fails two heartbeat RPCs in a row, 2 s apart), not after Flink's default 50 s.
            "heartbeat.interval": 2000,
            "heartbeat.timeout": 10000,
        }
        (self.conf_dir / "config.yaml").write_text(yaml.safe_dump(ours, sort_keys=True))
