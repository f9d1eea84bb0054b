"""Pure helpers of ``streamledger bench``: percentiles, progress analysis, /proc parsing, CLI."""

from __future__ import annotations

import argparse
import os
import shlex

import pytest

from streamledger.bench import bench_command, machine, procfs, stats
from streamledger.bench.baselines import BASELINES
from streamledger.bench.harness import LiveMetrics, progress_line


def test_percentile_interpolates_linearly_between_ranks() -> None:
    values = [40.0, 10.0, 30.0, 20.0]  # unsorted on purpose
    assert stats.percentile(values, 0) == 10.0
    assert stats.percentile(values, 100) == 40.0
    assert stats.percentile(values, 50) == 25.0
    assert stats.percentile(values, 95) == pytest.approx(38.5)
    assert stats.percentile([7.0], 99) == 7.0


def test_percentile_rejects_empty_input_and_bad_q() -> None:
    with pytest.raises(ValueError):
        stats.percentile([], 50)
    with pytest.raises(ValueError):
        stats.percentile([1.0], 101)


def test_distribution_is_ordered_and_none_for_no_values() -> None:
    assert stats.distribution([]) is None
    d = stats.distribution([float(v) for v in range(1, 1001)])
    assert d is not None
    assert d["count"] == 1000
    assert d["min"] <= d["p50"] <= d["p95"] <= d["p99"] <= d["max"]


def test_latencies_match_outputs_to_inputs_by_event_id() -> None:
    produced = {"a": 10.0, "b": 11.0, "c": 12.0}
    visible = {"a": 10.5, "b": 13.0, "unknown": 20.0}
    assert sorted(stats.latencies_ms(produced, visible)) == [500.0, 2000.0]


def test_committed_progress_excludes_start_up() -> None:
    # submitted at t=100; first checkpoint commits 1000 at t=110, caught up with 5000 at t=120
    samples = [(101.0, 0), (105.0, 0), (110.0, 1000), (115.0, 3000), (120.0, 5000), (121.0, 5000)]
    progress = stats.committed_progress(samples, 100.0, 5000)
    assert progress.startup_seconds == 10.0
    assert progress.caught_up_seconds == 20.0
    assert progress.sustained_records == 4000
    assert progress.sustained_events_per_second == 400.0


def test_committed_progress_without_a_window_has_no_sustained_rate() -> None:
    everything_in_one_checkpoint = [(101.0, 0), (110.0, 500)]
    progress = stats.committed_progress(everything_in_one_checkpoint, 100.0, 500)
    assert progress.startup_seconds == 10.0
    assert progress.sustained_events_per_second is None
    assert stats.committed_progress([], 0.0, 10).startup_seconds is None
    never_done = stats.committed_progress([(1.0, 0), (2.0, 5)], 0.0, 10)
    assert never_done.caught_up_seconds is None and never_done.sustained_events_per_second is None


def test_parse_stat_handles_names_with_spaces_and_parentheses() -> None:
    line = (
        "4242 (python (worker) 1) S 4200 4242 4200 0 -1 4194304 1000 0 0 0 "
        "150 25 3 4 20 0 12 0 123456 1000000 2000 18446744073709551615"
    )
    stat = procfs.parse_stat(line)
    assert (stat.pid, stat.name, stat.ppid, stat.cpu_ticks) == (4242, "python (worker) 1", 4200, 175)


def test_parse_vm_rss_reads_kilobytes_and_is_zero_when_absent() -> None:
    status = "Name:\tjava\nVmPeak:\t 9000 kB\nVmRSS:\t  123456 kB\nThreads:\t40\n"
    assert procfs.parse_vm_rss(status) == 123456 * 1024
    assert procfs.parse_vm_rss("Name:\tkthreadd\n") == 0


def test_descendants_walks_the_whole_tree_only() -> None:
    parents = {1: 0, 10: 1, 11: 10, 12: 10, 13: 12, 20: 1, 21: 20}
    assert procfs.descendants(10, parents) == {10, 11, 12, 13}
    assert procfs.descendants(13, parents) == {13}


def test_this_process_is_sampled_from_proc() -> None:
    sampler = procfs.TreeSampler(interval_s=0.05)
    sampler.start()
    sum(i * i for i in range(200_000))  # burn a little CPU
    sampler.stop()
    report = sampler.report()
    pids = [p["pid"] for p in report["processes"]]
    assert os.getpid() in pids
    assert report["peak_rss_bytes"] > 0
    assert report["cpu_seconds"] >= 0


def test_machine_description_parsers() -> None:
    cpuinfo = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\n\nprocessor\t: 1\n"
    assert machine.cpu_model(cpuinfo) == "AMD EPYC 7B13"
    assert machine.cpu_model("") is None
    assert machine.memory_total_bytes("MemTotal:       24684000 kB\nMemFree: 1 kB\n") == 24684000 * 1024


def test_progress_line_shows_fraction_and_counts() -> None:
    line = progress_line("account-balances", 500, 1000, 10.0)
    assert "50%" in line and "500/1000" in line and "50 ev/s" in line
    assert "[############------------]" in line
    assert "produced 700/1000" in progress_line("account-balances", 500, 1000, 10.0, produced=700)


def test_bench_command_parses_the_documented_options() -> None:
    parser = argparse.ArgumentParser(prog="streamledger")
    bench_command.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(
        shlex.split(
            "bench account-balances --events 20000 --accounts 50 --parallelism 2 --checkpoint-interval 2000 "
            "--rate 500 --out /tmp/r --metrics-port 9464 --flink-conf python.execution-mode=thread "
            "--flink-conf python.fn-execution.bundle.size=1000 --baselines broker,quix "
            "--baseline-events 90000 --no-plot --timeout 7200"
        )
    )
    options = bench_command.options_from_args(args, "streamledger bench ...")
    assert (options.job, options.events, options.keys, options.parallelism) == (
        "account-balances",
        20000,
        50,
        2,
    )
    assert (options.checkpoint_interval_ms, options.rate, options.metrics_port) == (2000, 500.0, 9464)
    assert str(options.out_dir) == "/tmp/r"
    assert options.flink_conf == (
        ("python.execution-mode", "thread"),
        ("python.fn-execution.bundle.size", "1000"),
    )
    assert options.baselines == ("broker", "quix") and options.plot is False
    assert options.baseline_events == 90000 and options.timeout_s == 7200.0
    defaults = bench_command.options_from_args(
        parser.parse_args(["bench", "account-balances", "--events", "10"]), ""
    )
    assert (defaults.rate, defaults.metrics_port, defaults.checkpoint_interval_ms) == (0.0, 0, None)
    assert (defaults.keys, defaults.flink_conf, defaults.baselines, defaults.plot) == (500, (), (), True)
    assert defaults.timeout_s == 1800.0
    every = parser.parse_args(
        ["bench", "loyalty-accrual", "--events", "10", "--keys", "7", "--baselines", "all"]
    )
    assert bench_command.options_from_args(every, "").baselines == BASELINES
    for bad in (["--flink-conf", "novalue"], ["--baselines", "spark"]):
        with pytest.raises(SystemExit):
            parser.parse_args(["bench", "account-balances", "--events", "10", *bad])
    with pytest.raises(SystemExit):
        parser.parse_args(["bench", "account-balances", "--events", "0"])


def test_live_metrics_are_served_on_loopback_when_a_port_is_given() -> None:
    import socket
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    metrics = LiveMetrics("account-balances")
    metrics.committed.labels("account-balances").set(42)
    metrics.serve(port)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
    finally:
        metrics.close()
    assert 'streamledger_bench_committed_records{job="account-balances"} 42.0' in text


def test_live_metrics_are_off_by_default() -> None:
    metrics = LiveMetrics("account-balances")
    metrics.serve(0)
    metrics.close()  # nothing was started, nothing to stop


def test_the_codec_comparison_times_the_same_records_both_ways() -> None:
    import orjson

    from streamledger.bench import codecs

    records = codecs.input_records(300)
    assert set(records) == {"ledger.Posting", "loyalty.LoyaltyEvent", "fraud.FraudEvent"}
    for schema, rows in records.items():
        assert len(rows) > 250, schema  # only the generator's corrupt payloads are left out
        # JSON carries every field Avro does
        assert set(orjson.loads(codecs.as_json(rows[0]))) == set(rows[0]), schema
        timing = codecs.measure(schema, rows[:50])
        assert timing.records == 50
        assert min(timing.avro_encode_us, timing.avro_decode_us, timing.json_decode_us) > 0


def test_the_parse_timing_covers_the_payment_generators_accepted_messages() -> None:
    from streamledger.bench import codecs

    timing = codecs.measure_iso20022_parse(120)
    assert timing.messages > 60  # all but the generator's deliberately malformed messages
    assert timing.transactions_per_message >= 1 and timing.message_bytes > 500 and timing.parse_us > 0
