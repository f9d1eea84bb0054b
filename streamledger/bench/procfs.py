"""CPU time and memory of a process tree, read from ``/proc`` (Linux; no psutil).

The benchmark measures this Python process and everything below it: the PyFlink gateway JVM
(which hosts the embedded MiniCluster) and the Python UDF workers the JVM starts. Processes are
sampled periodically, so the CPU time of a process that exits is counted up to its last sample.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PROC = Path("/proc")


@dataclass(frozen=True)
class Stat:
    """The fields of ``/proc/<pid>/stat`` the benchmark needs."""

    pid: int
    name: str
    ppid: int
    cpu_ticks: int
    """utime + stime of the process itself (exited children are not included)."""


def parse_stat(text: str) -> Stat:
    """Parse one ``/proc/<pid>/stat`` line; the name (field 2) may contain spaces and parentheses."""
    open_paren = text.index("(")
    close_paren = text.rindex(")")
    pid = int(text[:open_paren].strip())
    name = text[open_paren + 1 : close_paren]
    rest = text[close_paren + 2 :].split()
    # rest[0] is field 3 (state): ppid is field 4, utime field 14, stime field 15.
    return Stat(pid=pid, name=name, ppid=int(rest[1]), cpu_ticks=int(rest[11]) + int(rest[12]))


def parse_vm_rss(status_text: str) -> int:
    """Resident set size in bytes from ``/proc/<pid>/status`` (0 for kernel threads and zombies)."""
    for line in status_text.splitlines():
        if line.startswith("VmRSS:"):
            parts = line.split()
            unit = parts[2].lower() if len(parts) > 2 else "kb"
            factor = {"kb": 1024, "mb": 1024**2, "gb": 1024**3}.get(unit, 1)
            return int(parts[1]) * factor
    return 0


def descendants(root: int, parents: Mapping[int, int]) -> set[int]:
    """``root`` and every process below it, given a pid -> parent pid map."""
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    found = {root}
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:  # the process exited between listing and reading
        return None


def snapshot(root: int) -> dict[int, tuple[Stat, int]]:
    """Per pid of the tree under ``root``: its stat and its RSS in bytes, now."""
    stats: dict[int, Stat] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            text = _read(entry / "stat")
            if text:
                stats[int(entry.name)] = parse_stat(text)
    tree = descendants(root, {pid: s.ppid for pid, s in stats.items()})
    result: dict[int, tuple[Stat, int]] = {}
    for pid in tree:
        if pid in stats:
            status = _read(PROC / str(pid) / "status") or ""
            result[pid] = (stats[pid], parse_vm_rss(status))
    return result


@dataclass
class _ProcessUsage:
    name: str
    first_ticks: int
    last_ticks: int
    peak_rss: int
    cmdline: str


@dataclass
class TreeSampler:
    """Samples the tree under ``root`` in a background thread between ``start()`` and ``stop()``."""

    root: int = field(default_factory=os.getpid)
    interval_s: float = 0.5
    _usage: dict[int, _ProcessUsage] = field(default_factory=dict, init=False)
    _peak_total_rss: int = field(default=0, init=False)
    _current_rss: int = field(default=0, init=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False)
    _thread: threading.Thread | None = field(default=None, init=False)
    _started: float = field(default=0.0, init=False)
    _stopped: float = field(default=0.0, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _baseline_taken: bool = field(default=False, init=False)

    def start(self) -> None:
        self._started = time.monotonic()
        self.sample()  # baseline: CPU used before the run is not counted
        self._thread = threading.Thread(target=self._loop, name="bench-procfs", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.sample()
        self._stopped = time.monotonic()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample()

    def sample(self) -> None:
        now = snapshot(self.root)
        with self._lock:
            total = 0
            for pid, (stat, rss) in now.items():
                usage = self._usage.get(pid)
                if usage is None:
                    # Processes present at the baseline count from there; later ones from birth.
                    baseline = stat.cpu_ticks if not self._baseline_taken else 0
                    cmdline = (_read(PROC / str(pid) / "cmdline") or "").replace("\0", " ").strip()
                    usage = _ProcessUsage(stat.name, baseline, stat.cpu_ticks, rss, cmdline[:200])
                    self._usage[pid] = usage
                usage.last_ticks = max(usage.last_ticks, stat.cpu_ticks)
                usage.peak_rss = max(usage.peak_rss, rss)
                total += rss
            self._current_rss = total
            self._baseline_taken = True
            self._peak_total_rss = max(self._peak_total_rss, total)

    @property
    def cpu_seconds(self) -> float:
        with self._lock:
            ticks = sum(u.last_ticks - u.first_ticks for u in self._usage.values())
        return ticks / CLOCK_TICKS

    @property
    def current_rss(self) -> int:
        return self._current_rss

    def report(self) -> dict[str, Any]:
        wall = (self._stopped or time.monotonic()) - self._started
        cpu = self.cpu_seconds
        with self._lock:
            processes = [
                {
                    "pid": pid,
                    "name": u.name,
                    "cmdline": u.cmdline,
                    "cpu_seconds": round((u.last_ticks - u.first_ticks) / CLOCK_TICKS, 2),
                    "peak_rss_bytes": u.peak_rss,
                }
                for pid, u in sorted(self._usage.items())
            ]
        return {
            "method": f"/proc/<pid>/stat utime+stime and /proc/<pid>/status VmRSS of pid {self.root} "
            f"and its descendants, sampled every {self.interval_s} s",
            "wall_seconds": round(wall, 2),
            "cpu_seconds": round(cpu, 2),
            "average_cores_busy": round(cpu / wall, 2) if wall > 0 else None,
            "peak_rss_bytes": self._peak_total_rss,
            "processes": processes,
        }
