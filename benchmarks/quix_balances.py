"""The account-balance logic as a Quix Streams application: the ``quix`` baseline of
``streamledger bench`` (see ``streamledger/bench/baselines.py``).

Runs in its own virtualenv (``make bench-setup``): Quix Streams pins a confluent-kafka older than
the project's. Reads JSON postings, keeps per account the balance and the last event IDs (one
state read and one write per event, like the naive PyFlink baseline), writes one JSON balance per
applied posting, with ``processing_guarantee="exactly-once"``. Stops gracefully on SIGTERM.

Every ``--progress-every`` input records it prints ``processed <count> <unix time>``: Quix Streams
hands its output to Kafka only when it commits, so the output log cannot show its processing
rate the way it shows Flink's; its own counter can.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from quixstreams import Application, State


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
    postings = app.topic(args.input, value_deserializer="bytes", key_deserializer="str")
    balances = app.topic(args.output, value_serializer="json", key_serializer="str")

    processed = [0]

    def apply(raw: bytes, state: State) -> dict[str, Any] | None:
        processed[0] += 1
        if processed[0] % args.progress_every == 0:
            print(f"processed {processed[0]} {time.time():.4f}", file=sys.stdout, flush=True)
        try:
            posting = json.loads(raw)
            event_id, amount = str(posting["event_id"]), int(posting["amount_minor"])
        except (ValueError, KeyError, TypeError):
            return None  # corrupt input is dropped
        account = state.get("account") or {"balance_minor": 0, "seen": []}
        if event_id in account["seen"]:
            return None
        account["balance_minor"] += amount
        account["seen"] = [*account["seen"], event_id][-args.seen_per_key :]
        state.set("account", account)
        return {
            "account_id": posting.get("account_id"),
            "balance_minor": account["balance_minor"],
            "event_id": event_id,
        }

    frame = app.dataframe(postings).apply(apply, stateful=True).filter(lambda value: value is not None)
    frame.to_topic(balances)
    app.run()


if __name__ == "__main__":
    main()
