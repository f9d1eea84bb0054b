"""``streamledger bench`` end to end on the test session's broker, for a tiny input.

Checks that a run (with every baseline) completes and writes a well-formed result and plot.
Timing values are never compared with thresholds here: how fast the job is belongs in
benchmarks/, not in a pass/fail test.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest

from streamledger import kafka_clients
from streamledger.bench.baselines import BASELINES, LOGIC_BASELINES
from streamledger.bench.harness import RESULT_FORMAT, BenchOptions, default_quix_python, run_benchmark
from streamledger.stack.local_stack import LocalStack

pytestmark = pytest.mark.stack

EXPECTED_KEYS = {
    "format",
    "job",
    "started_at",
    "command",
    "note",
    "parameters",
    "machine",
    "run",
    "throughput",
    "latency_ms",
    "latency_ms_after_first_output",
    "checkpoints",
    "resources",
    "timeline",
    "baselines",
    "baseline_ratio_measure",
    "plot",
    "not_measured",
}


def _tiny_run(job: str, out_dir: Path, **options: Any) -> BenchOptions:
    """300 events, a checkpoint a second: long enough to commit several times, short for a test."""
    return BenchOptions(job=job, events=300, checkpoint_interval_ms=1000, out_dir=out_dir, **options)


def test_bench_runs_account_balances_and_its_baselines_and_writes_a_result(
    local_stack: LocalStack, tmp_path: Path
) -> None:
    progress = io.StringIO()
    options = _tiny_run(
        "account-balances",
        tmp_path,
        keys=30,
        command_line="streamledger bench account-balances --events 300 --baselines all",
        baselines=BASELINES,
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

    assert result["timeline"]["committed_input"][-1][1] == 300
    assert Path(result["plot"]).read_bytes()[:4] == b"\x89PNG"

    assert set(result["baselines"]) == set(BASELINES)
    quix_installed = default_quix_python(local_stack.settings).is_file()
    for name, baseline in result["baselines"].items():
        assert baseline["description"]
        if name == "quix" and not quix_installed:
            assert baseline["measured"] is False and "bench-setup" in baseline["reason"]
            continue
        assert baseline["measured"] is True, (name, baseline.get("reason"))
        assert baseline["records"] == 300
        assert "ratio_to_job" in baseline
    broker = result["baselines"]["broker"]
    assert broker["producer"]["events_per_second"] > 0 and broker["consumer"]["mb_per_second"] > 0
    passthrough = result["baselines"]["flink-sql-passthrough"]
    assert passthrough["outputs_appended"] >= 300  # every record, plus transaction markers

    assert "committed 300/300" in progress.getvalue()
    topics = kafka_clients.admin_client(local_stack.settings).list_topics(timeout=10).topics
    assert not [t for t in topics if t.startswith("bench-")], "the run's topics are deleted afterwards"


def test_bench_runs_a_key_matched_job_and_the_loyalty_logic_baselines(
    local_stack: LocalStack, tmp_path: Path
) -> None:
    """Jobs whose outputs carry no input event ID are timed per output key; the logic baselines
    run the loyalty-balance logic on the loyalty input (its SQL, its Python step)."""
    options = _tiny_run(
        "loyalty-accrual", tmp_path, keys=20, progress=False, plot=False, baselines=LOGIC_BASELINES
    )

    path, result = run_benchmark(local_stack.settings, options, progress_stream=None)

    assert json.loads(path.read_text()) == result
    assert result["job"] == "loyalty-accrual" and result["run"]["records"] == 300
    assert 0 < result["run"]["output_keys"] <= 20
    assert result["latency_ms"]["sample_size"] == result["run"]["output_keys"]
    assert "last input" in result["latency_ms"]["definition"]
    assert "plot" not in result
    quix_installed = default_quix_python(local_stack.settings).is_file()
    for name, baseline in result["baselines"].items():
        if name == "quix" and not quix_installed:
            continue
        assert baseline["measured"] is True, (name, baseline.get("reason"))
        # A balance row per applied event (all but duplicates and undecodable records), plus
        # transaction markers: far more than nothing, whatever the exact mix.
        assert baseline["outputs_appended"] > 200, name


@pytest.mark.parametrize("job", ["payment-lifecycle", "fraud-cep"])
def test_bench_runs_the_payment_and_fraud_logic_baselines(
    local_stack: LocalStack, tmp_path: Path, job: str
) -> None:
    """The payment logic (strongest evidence per payment, upsert) and the fraud logic (two rules,
    MATCH_RECOGNIZE in SQL, alerts only) run beside their jobs; fraud ratios use committed input."""
    options = _tiny_run(
        job,
        tmp_path,
        keys=20,
        progress=False,
        plot=False,
        baselines=("flink-sql-passthrough", *LOGIC_BASELINES),
    )

    _path, result = run_benchmark(local_stack.settings, options, progress_stream=None)

    assert result["baseline_ratio_measure"] == ("sustained" if job == "fraud-cep" else "processing")
    quix_installed = default_quix_python(local_stack.settings).is_file()
    for name, baseline in result["baselines"].items():
        if name == "quix" and not quix_installed:
            continue
        assert baseline["measured"] is True, (name, baseline.get("reason"))
        if job == "payment-lifecycle" and name != "flink-sql-passthrough":
            # One JSON row per payment a message speaks about, so more rows than messages; a
            # status row per applied row (all but refused messages), plus transaction markers.
            assert baseline["records"] > 300 and baseline["outputs_appended"] > 250, name
        elif job == "fraud-cep" and name != "flink-sql-passthrough":
            # Alerts only: a handful for 300 events of 20 customers, none for most events.
            assert 0 < baseline["outputs_appended"] < 150, name
            if name != "quix":
                assert baseline["rate_source"].startswith("committed input offsets"), name
