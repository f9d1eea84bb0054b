"""Background JVM processes of the local stack: pid files, ports, readiness waits, clean stops.

The stack runs without Docker, so streamledger itself owns the life cycle of its broker and Flink
daemons. A pid file alone can lie (the pid may have been reused after a reboot), so liveness also
checks that the process' command line still carries the marker it was started with.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from streamledger.errors import PortInUseError, ServiceStartError


def port_accepts_connections(host: str, port: int, timeout_s: float = 0.5) -> bool:
    """True when something listens on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def ensure_port_free(host: str, port: int, what: str, env_var: str) -> None:
    """Fail with one line naming the port, the service and the setting to change."""
    if port_accepts_connections(host, port):
        raise PortInUseError(
            f"port {port} on {host} is already in use, so the {what} cannot start",
            f"stop whatever listens there (e.g. `ss -ltnp 'sport = :{port}'`) "
            f"or set {env_var} to a free port",
        )


def port_bindable(host: str, port: int) -> bool:
    """True when a JVM server could bind host:port now.

    Java's server sockets set SO_REUSEADDR (Kafka's SocketServer and Flink's Netty and Pekko
    endpoints all open them so), so connections of a predecessor in TIME_WAIT do not stop them:
    probe the same way, and only a socket still listening there makes the port unbindable.
    """
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def wait_until_bindable(host: str, port: int, what: str, env_var: str, timeout_s: float = 90.0) -> None:
    """Fail in one line if someone listens on the port; wait while a predecessor is still letting go
    of it (a killed broker's listening socket can outlive the process by a moment)."""
    ensure_port_free(host, port, what, env_var)
    if not wait_until(lambda: port_bindable(host, port), timeout_s=timeout_s, interval_s=0.5):
        raise PortInUseError(
            f"port {port} on {host} stayed unavailable for {timeout_s:.0f} s, so the {what} cannot start",
            f"check `ss -tanp 'sport = :{port}'` or set {env_var} to a free port",
        )


def pid_alive(pid: int, marker: str | None = None) -> bool:
    """True when pid runs and (if given) its command line contains ``marker``.

    A daemon started by this very process (as in a test session) stays a zombie after it exits
    until it is reaped; ``kill(pid, 0)`` still succeeds on a zombie, so reap it first.
    """
    try:
        reaped, _ = os.waitpid(pid, os.WNOHANG)
        if reaped == pid:
            return False
    except ChildProcessError:
        pass  # not our child: its parent (or init) reaps it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    if marker is None:
        return True
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return False
    return marker in cmdline


_EXCEPTION_LINE = re.compile(r"^(Caused by: )?[\w$.]+(Exception|Error)\b")


def log_tail(path: Path, lines: int = 12) -> str:
    """What a user needs from a log when a service did not come up.

    The last error lines when there are any (a JVM's last lines are usually its shutdown
    chatter, not the cause), else the last lines.
    """
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no log at {path})"
    errors = [line for line in text if " ERROR " in line or _EXCEPTION_LINE.match(line)]
    return "\n".join((errors or text)[-lines:])


def wait_until(
    ready: Callable[[], bool],
    *,
    timeout_s: float,
    still_starting: Callable[[], bool] = lambda: True,
    interval_s: float = 0.25,
) -> bool:
    """Poll ``ready`` until it holds, the timeout passes, or ``still_starting`` turns false."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if ready():
            return True
        if not still_starting():
            return ready()
        time.sleep(interval_s)
    return ready()


@dataclass(frozen=True)
class DaemonProcess:
    """A long-running process started detached from the CLI, tracked by a pid file."""

    name: str
    pid_file: Path
    log_file: Path
    #: A string unique to this process' command line, used to recognise it after pid reuse.
    marker: str

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if pid_alive(pid, self.marker) else None

    def running(self) -> bool:
        return self.pid() is not None

    def start(self, argv: Sequence[str], env: dict[str, str] | None = None) -> int:
        """Start detached (own session, so Ctrl-C on the CLI does not kill it).

        Returns once the process is recognisable by its marker: for a moment after the fork its
        ``/proc/<pid>/cmdline`` is still empty, and a readiness wait that asked ``running()`` then
        took the daemon for dead and gave up on a JobManager that was starting normally.
        """
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            process = subprocess.Popen(
                list(argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        self.pid_file.write_text(str(process.pid))
        wait_until(
            lambda: pid_alive(process.pid, self.marker),
            timeout_s=10,
            still_starting=lambda: process.poll() is None,
            interval_s=0.01,
        )
        return process.pid

    def stop(self, timeout_s: float = 30.0) -> bool:
        """SIGTERM, wait, then SIGKILL. Returns False when it was not running."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        if not wait_until(lambda: not pid_alive(pid), timeout_s=timeout_s):
            os.kill(pid, signal.SIGKILL)
            wait_until(lambda: not pid_alive(pid), timeout_s=10)
        self.pid_file.unlink(missing_ok=True)
        return True

    def kill(self) -> None:
        """SIGKILL without a grace period, the whole process group: what fault-injection tests use.

        The group (the daemon started its own session) includes the processes it spawned — a
        TaskManager's Python workers — which die with it, as they do when a machine or container
        goes down; killing only the JVM would leave them running as orphans.
        """
        pid = self.pid()
        if pid is not None:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:  # not a group leader after all: the process alone
                os.kill(pid, signal.SIGKILL)
            wait_until(lambda: not pid_alive(pid), timeout_s=10)

    def fail_start(self, what: str, remedy: str) -> ServiceStartError:
        """An error carrying the tail of the log, so the user sees why without digging."""
        return ServiceStartError(
            f"{what} did not come up; last lines of {self.log_file}:\n{log_tail(self.log_file)}\n",
            remedy,
        )
