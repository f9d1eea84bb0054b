"""``streamledger bench``: throughput, latency and resource measurements of the streamledger jobs.

Benchmarks are measurements, not pass/fail tests: a run writes what it observed (with a
description of the machine and the exact command) to ``benchmarks/results/<job>-<timestamp>.json``;
``benchmarks/README.md`` explains every number and ``benchmarks/RESULTS.md`` collects them.
"""
