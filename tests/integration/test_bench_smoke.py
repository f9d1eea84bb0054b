"""``streamledger bench`` end to end on the test session's broker, for a tiny input.

Checks that a run completes and writes a well-formed result. Timing values are never compared
with thresholds here: how fast the job is belongs in benchmarks/, not in a pass/fail test.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from streamledger import kafka_clients
from streamledger.bench.harness import RESULT_FORMAT, BenchOptions, run_benchmark
from streamledger.stack.local_stack import LocalStack

pytestmark = pytest.mark.stack

EXPECTED_KEYS = {
    "format",
    "job",
    "started_at",
    "command",
    "parameters",
    "machine",
    "run",
    "throughput",
    "latency_ms",
    "latency_ms_after_first_output",
    "checkpoints",
    "resources",
    "not_measured",
}


def test_bench_runs_account_balances_and_writes_a_result(local_stack: LocalStack, tmp_path: Path) -> None:
    progress = io.StringIO()
    options = BenchOptions(
        job="account-balances",
        events=300,
        accounts=30,
        checkpoint_interval_ms=1000,
        out_dir=tmp_path,
        command_line="streamledger bench account-balances --events 300",
    )

    path, returned = run_benchmark(local_stack.settings, options, progress_stream=progress)

    assert path.parent == tmp_path and path.name.startswith("account-balances-") and path.suffix == ".json"
    result = json.loads(path.read_text())
    assert result == returned
    assert set(result) == EXPECTED_KEYS
    assert result["format"] == RESULT_FORMAT
    assert result["job"] == "account-balances"
    assert result["command"] == options.command_line
    assert result["parameters"]["events"] == 300
    assert result["parameters"]["checkpoint_interval_ms"] == 1000

    run = result["run"]
    assert run["records"] == 300
    assert run["seconds"] > 0
    assert 0 < run["outputs_visible"] <= 300  # duplicates and rejects produce no balance update

    throughput = result["throughput"]
    assert throughput["events_per_second"] > 0
    assert throughput["events_per_second_per_core"] > 0
    assert throughput["cpu_count"] == os.cpu_count()

    latency = result["latency_ms"]
    assert latency["sample_size"] == run["outputs_visible"]
    assert 0 <= latency["min"] <= latency["p50"] <= latency["p95"] <= latency["p99"] <= latency["max"]

    assert isinstance(result["checkpoints"]["measured"], bool)
    if result["checkpoints"]["measured"]:
        assert result["checkpoints"]["completed"] >= 1

    resources = result["resources"]
    assert resources["cpu_seconds"] > 0 and resources["peak_rss_bytes"] > 0
    assert any(p["name"] == "java" for p in resources["processes"]), "the gateway JVM is measured"

    machine = result["machine"]
    assert machine["cpu_count"] == os.cpu_count() and machine["python"].startswith("3.11")
    assert result["not_measured"]

    assert "committed 300/300" in progress.getvalue()
    topics = kafka_clients.admin_client(local_stack.settings).list_topics(timeout=10).topics
    assert not [t for t in topics if t.startswith("bench-")], "the run's topics are deleted afterwards"
