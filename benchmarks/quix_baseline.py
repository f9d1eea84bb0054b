"""The logic of a job as a Quix Streams application: the ``quix`` baseline of
``streamledger bench`` (see ``streamledger/bench/baselines.py``).

Runs in its own virtualenv (``make bench-setup``): Quix Streams pins a confluent-kafka older than
the project's. Reads the job's input as JSON and applies, per key, the step of
``streamledger/bench/baseline_logic.py`` (the naive PyFlink baseline's step too; standard library
only, so it is imported from the checkout): one state read and one write per event, one JSON
row out per applied event (per alert for fraud-cep), with ``processing_guarantee="exactly-once"``.
Stops gracefully on SIGTERM.

Every ``--progress-every`` input records it prints ``processed <count> <unix time>``: Quix Streams
hands its output to Kafka only when it commits, so the output log cannot show its processing
rate the way it shows Flink's; its own counter can.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from quixstreams import Application, State

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from streamledger.bench import baseline_logic


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--broker", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--commit-interval", type=float, required=True, help="seconds")
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--seen-per-key", type=int, default=100)
    parser.add_argument("--progress-every", type=int, default=500)
    parser.add_argument("--logic", choices=baseline_logic.LOGICS, default=baseline_logic.ACCOUNT_BALANCES)
    parser.add_argument(
        "--params", required=True, help="JSON file: the logic's parameters (earn table, rule thresholds)"
    )
    args = parser.parse_args()

    app = Application(
        broker_address=args.broker,
        consumer_group=args.group,
        auto_offset_reset="earliest",
        processing_guarantee="exactly-once",
        commit_interval=args.commit_interval,
        state_dir=args.state_dir,
        loglevel="WARNING",
    )
    events = app.topic(args.input, value_deserializer="bytes", key_deserializer="str")
    outputs = app.topic(args.output, value_serializer="json", key_serializer="str")

    params = json.loads(Path(args.params).read_text())
    processed = [0]

    def apply(raw: bytes, state: State) -> dict[str, Any] | None:
        processed[0] += 1
        if processed[0] % args.progress_every == 0:
            print(f"processed {processed[0]} {time.time():.4f}", file=sys.stdout, flush=True)
        before = state.get("state")
        after, output = baseline_logic.step(args.logic, before, raw, params, args.seen_per_key)
        if after is not before:
            state.set("state", after)
        return output

    frame = app.dataframe(events).apply(apply, stateful=True).filter(lambda value: value is not None)
    frame.to_topic(outputs)
    app.run()


if __name__ == "__main__":
    main()
