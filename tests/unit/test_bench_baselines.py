"""Pure logic of the benchmark's baselines, rates, key latencies, workloads and plot (no broker)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streamledger.bench import baseline_inputs, baselines, harness, machine, plot, stats, workloads
from streamledger.bench.workloads import GeneratorOptions


def test_output_rate_reads_the_slope_between_ten_and_ninety_per_cent() -> None:
    # 1000 outputs appended evenly from t=10 to t=20 (after 10 s of start-up), then 3 markers
    samples = [(float(t), 0) for t in range(0, 10)] + [(10.0 + i, 100 * i) for i in range(11)]
    samples.append((25.0, 1003))
    rate = stats.output_rate(samples, records=2000)
    assert rate is not None
    # 10 % of 1003 is reached at t=12, 90 % at t=20: 0.8 * 2000 records in 8 s
    assert rate.window_seconds == pytest.approx(8.0)
    assert rate.events_per_second == pytest.approx(200.0)


def test_output_rate_is_none_without_growth() -> None:
    assert stats.output_rate([], 10) is None
    assert stats.output_rate([(0.0, 5), (1.0, 5)], 10) is None
    assert stats.output_rate([(0.0, 0), (1.0, 5), (2.0, 10)], 0) is None
    assert stats.output_rate([(0.0, 500)], 500) is None


def test_output_rate_faster_than_the_polling_is_a_lower_bound() -> None:
    rate = stats.output_rate([(0.0, 0), (0.5, 0), (1.0, 500), (1.5, 500)], 500)
    assert rate is not None and rate.lower_bound
    assert rate.window_seconds == 0.5 and rate.events_per_second == pytest.approx(800.0)
    resolved = stats.output_rate([(0.0, 0), (1.0, 100), (2.0, 500)], 500)
    assert resolved is not None and not resolved.lower_bound


def test_quix_progress_lines_become_samples_from_zero() -> None:
    log = "WARNING something\nprocessed 200 1000.5\nprocessed 400 1001.0\nprocessed x 1\n"
    assert baselines.quix_progress(log) == [(1000.5, 0), (1000.5, 200), (1001.0, 400)]
    assert baselines.quix_progress("") == []


def test_key_latency_runs_from_the_last_input_to_the_last_output_of_each_key() -> None:
    last_produced = {"m1": 1.0, "m2": 2.0, "m3": 3.0}
    last_visible = {"m1": 1.5, "m2": 1.9, "other": 9.0}  # m2's last output predates its last input
    assert stats.key_latencies_ms(last_produced, last_visible) == [500.0]


def test_ratio_and_rate_series() -> None:
    assert stats.ratio(50.0, 200.0) == 0.25
    assert (
        stats.ratio(None, 200.0) is None and stats.ratio(1.0, 0.0) is None and stats.ratio(1.0, None) is None
    )
    series = stats.rate_series([(0.0, 0), (0.5, 50), (1.0, 100), (2.0, 300), (2.5, 300)], start=0.0)
    assert series == [(1.0, 100.0), (2.0, 200.0)]
    assert stats.rate_series([(0.0, 0)], 0.0) == []


def test_baseline_ratios_compare_with_the_job_rate() -> None:
    measured = {
        "flink-sql-passthrough": {"measured": True, "events_per_second": 4000.0},
        "quix": {"measured": False, "reason": "no interpreter"},
    }
    rated = baselines.with_ratios(measured, 400.0)
    assert rated["flink-sql-passthrough"]["ratio_to_job"] == 10.0
    assert rated["quix"]["ratio_to_job"] is None and rated["quix"]["reason"] == "no interpreter"
    assert baselines.with_ratios(measured, None)["flink-sql-passthrough"]["ratio_to_job"] is None


def test_every_baseline_is_described_and_runnable() -> None:
    assert set(baselines.DESCRIPTIONS) == set(baselines.BASELINES)
    assert set(baselines._RUNNERS) == set(baselines.BASELINES)
    assert set(baselines.LOGIC_BASELINES) <= set(baselines.BASELINES)


def test_json_postings_keep_keys_timestamps_and_corrupt_bytes() -> None:
    records = workloads.workload("account-balances").generate(GeneratorOptions(events=400, keys=20, seed=3))
    encoded = baseline_inputs.json_postings(records)
    assert [(r.key, r.timestamp_ms, r.ids) for r in encoded] == [
        (r.key, r.timestamp_ms, r.ids) for r in records
    ]
    decoded = 0
    for original, record in zip(records, encoded, strict=True):
        if original.ids:
            posting = json.loads(record.value)
            assert posting["event_id"] == original.ids[0] and posting["account_id"] == record.key.decode()
            assert isinstance(posting["event_time_ms"], int)
            decoded += 1
        else:
            assert record.value == original.value  # corrupt input stays corrupt
    assert decoded > 350


@pytest.mark.parametrize("job", sorted(workloads.WORKLOADS))
def test_every_job_has_a_workload_that_generates_exactly_n_records(job: str) -> None:
    spec = workloads.workload(job)
    assert job == spec.load().JOB_NAME
    records = spec.generate(GeneratorOptions(events=300, keys=15, seed=5))
    assert len(records) == 300
    with_ids = [r for r in records if r.ids]
    assert len(with_ids) > 200
    if spec.matching == "key" and job != "payment-lifecycle":
        assert {i for r in with_ids for i in r.ids} <= {r.key.decode() for r in records}
    assert set(harness.JOBS) == set(workloads.WORKLOADS)


def test_payment_workload_maps_messages_to_payment_ids() -> None:
    records = workloads.workload("payment-lifecycle").generate(GeneratorOptions(events=120, keys=1, seed=7))
    payment_ids = {i for r in records for i in r.ids}
    assert 5 < len(payment_ids) < 120  # several messages per payment
    assert workloads.workload("payment-lifecycle").producer_config(records)["message.max.bytes"] >= 1_000_000


def test_unknown_job_is_refused_with_the_choices() -> None:
    with pytest.raises(Exception, match="account-balances"):
        workloads.workload("nope")


def test_load_average_parser() -> None:
    assert machine.load_average("0.52 0.60 0.70 1/234 5678\n") == 0.52
    assert machine.load_average("") is None


def test_flink_conf_comes_last_in_the_overrides() -> None:
    from streamledger.config import Settings

    overrides = harness.flink_overrides(
        Settings(), 8081, (("rest.port", "9999"), ("python.execution-mode", "thread"))
    )
    assert overrides["rest.port"] == "9999" and overrides["python.execution-mode"] == "thread"


def test_timeline_is_relative_to_submission_and_thinned() -> None:
    committed = [(100.0 + i * 0.25, i * 10) for i in range(20)]
    appended = [(100.0 + i * 0.1, 5 + i * 3) for i in range(50)]
    line = harness.timeline(100.0, committed, appended)
    assert line["committed_input"][0] == [0.0, 0] and line["committed_input"][-1] == [4.75, 190]
    assert line["appended_output"][0] == [0.0, 0]
    assert len(line["appended_output"]) < len(appended)


def test_plot_is_written_as_png(tmp_path: Path) -> None:
    result = {
        "job": "account-balances",
        "started_at": "2026-11-23T00:00:00+00:00",
        "parameters": {"events": 1000, "keys": 10, "checkpoint_interval_ms": 5000},
        "timeline": {
            "committed_input": [[0.0, 0], [5.0, 500], [10.0, 1000]],
            "appended_output": [[0.0, 0], [4.0, 600], [8.0, 990]],
            "appended_output_rate": [[1.0, 100.0], [2.0, 150.0]],
        },
        "latency_ms": {"p50": 1500.0, "p95": 2500.0, "p99": 2900.0},
        "throughput": {"processing_events_per_second": 120.0},
        "baselines": {
            "broker": {"events_per_second": 50_000.0},
            "quix": {"measured": False, "events_per_second": None},
        },
    }
    path = plot.write_png(result, tmp_path / "run.png", [1000.0, 1500.0, 2000.0, 2900.0])
    assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    empty = plot.write_png({**result, "baselines": None, "timeline": {}}, tmp_path / "empty.png")
    assert Path(empty).stat().st_size > 0
