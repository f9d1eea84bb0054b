"""A description of the machine and the code a benchmark ran on, stored with every result."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

from streamledger.errors import ToolMissingError
from streamledger.stack import toolchain


def cpu_model(cpuinfo: str) -> str | None:
    """The ``model name`` of the first CPU in ``/proc/cpuinfo`` text."""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name":
            return value.strip()
    return None


def memory_total_bytes(meminfo: str) -> int | None:
    """``MemTotal`` from ``/proc/meminfo`` text, in bytes."""
    for line in meminfo.splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return None


def load_average(loadavg: str | None = None) -> float | None:
    """The 1-minute load average (``/proc/loadavg``): how busy the machine was around a run,
    since other work on the same cores changes every number a benchmark reports."""
    text = _read("/proc/loadavg") if loadavg is None else loadavg
    try:
        return float(text.split()[0])
    except (IndexError, ValueError):
        return None


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _first_line(argv: list[str], cwd: Path | None = None) -> str | None:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False, cwd=cwd)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0:
        return None
    lines = (result.stdout or result.stderr).strip().splitlines()
    return lines[0].strip() if lines else None


def java_version() -> str | None:
    try:
        java = toolchain.java_executable()
    except ToolMissingError:
        return None
    return _first_line([java, "-version"])  # java prints its version on stderr


def git_commit(home: Path) -> str | None:
    """``git rev-parse HEAD`` of the checkout, when it is one (read-only)."""
    return _first_line(["git", "rev-parse", "HEAD"], cwd=home)


def _package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def describe(home: Path) -> dict[str, object]:
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model(_read("/proc/cpuinfo")),
        "memory_total_bytes": memory_total_bytes(_read("/proc/meminfo")),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "java": java_version(),
        "apache_flink": _package_version("apache-flink"),
        "confluent_kafka": _package_version("confluent-kafka"),
        "git_commit": git_commit(home),
    }
