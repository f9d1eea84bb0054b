"""Daemon processes as the local stack runs them: started detached, found again, killed whole."""

from __future__ import annotations

import os
from pathlib import Path

from streamledger.stack.processes import DaemonProcess, pid_alive, wait_until


def test_kill_takes_the_children_with_it_like_a_lost_machine(tmp_path: Path) -> None:
    marker = f"daemon-test-{tmp_path.name}"
    daemon = DaemonProcess("worker-parent", tmp_path / "d.pid", tmp_path / "d.log", marker)
    children = tmp_path / "children"
    # A parent that starts a child (as a TaskManager starts Python workers) and records its pid.
    daemon.start(["bash", "-c", f"sleep 300 & echo $! > {children}; wait # {marker}"])
    assert wait_until(lambda: children.is_file() and children.read_text().strip() != "", timeout_s=10)
    child = int(children.read_text())
    assert daemon.running() and pid_alive(child)

    daemon.kill()

    assert not daemon.running()
    assert wait_until(lambda: not pid_alive(child), timeout_s=10)


def test_a_recycled_pid_without_the_marker_is_not_taken_for_the_daemon(tmp_path: Path) -> None:
    daemon = DaemonProcess("other", tmp_path / "o.pid", tmp_path / "o.log", "a-marker-nobody-has")
    (tmp_path / "o.pid").write_text(str(os.getpid()))  # alive, but not our daemon
    assert not daemon.running()


def test_a_started_daemon_is_recognised_at_once(tmp_path: Path) -> None:
    """No window after start in which the daemon looks dead to a readiness wait."""
    for attempt in range(5):
        marker = f"daemon-start-{tmp_path.name}-{attempt}"
        daemon = DaemonProcess("starter", tmp_path / f"s{attempt}.pid", tmp_path / "s.log", marker)
        daemon.start(["bash", "-c", f"sleep 30; true # {marker}"])  # bash stays, holding the marker
        try:
            assert daemon.running()
        finally:
            daemon.kill()
