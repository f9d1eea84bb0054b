"""``streamledger demo``, ``streamledger run JOB``, ``streamledger generate postings|fraud`` and
``streamledger fraud rules publish|delete``.

``demo`` is the README's first command: it brings up what it needs, produces realistic postings
into a real broker, runs the account-balances job in the embedded MiniCluster until it has
consumed them, then shows what landed (read_committed Kafka, Iceberg through pyiceberg) and
checks it against an independent recomputation from the input log.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from jobs.registry import JOBS
from schemas import AvroCodec
from streamledger import kafka_clients
from streamledger.config import Settings
from streamledger.errors import ConfigError, JobFailedError, StreamledgerError, first_line
from streamledger.generators import postings as posting_generator
from streamledger.reference import expected_balances
from streamledger.stack import iceberg_catalog
from streamledger.stack.local_stack import LocalStack


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    demo = commands.add_parser(
        "demo", help="run the main job end to end on the embedded MiniCluster and show its result"
    )
    demo.add_argument("--accounts", type=int, default=500, help="distinct accounts (default 500)")
    demo.add_argument("--events", type=int, default=20_000, help="postings to produce (default 20000)")
    demo.add_argument("--seed", type=int, default=None, help="generator seed (default: time-based)")
    demo.add_argument("--keep-stack", action="store_true", help="leave the broker running afterwards")
    demo.set_defaults(handler=_demo)

    run = commands.add_parser("run", help="run a job in the embedded MiniCluster")
    run.add_argument("job", choices=list(JOBS))
    run.add_argument(
        "--bounded", action="store_true", help="stop once the input present at start is consumed"
    )
    run.add_argument(
        "--start", default="committed", help="committed (default), earliest, latest or epoch millis"
    )
    run.set_defaults(handler=_run)

    gen = commands.add_parser("generate", help="produce generated input to the local broker")
    kinds = gen.add_subparsers(dest="kind", metavar="KIND", required=True)
    postings = kinds.add_parser("postings", help="account postings (with duplicates, late and bad records)")
    postings.add_argument("--accounts", type=int, default=100)
    postings.add_argument("--events", type=int, default=10_000)
    postings.add_argument("--seed", type=int, default=7)
    postings.set_defaults(handler=_generate_postings)
    payments = kinds.add_parser(
        "payments", help="ISO 20022 payment flows (out of order, duplicates, late and malformed messages)"
    )
    payments.add_argument("--payments", type=int, default=100, help="payments to simulate (default 100)")
    payments.add_argument("--seed", type=int, default=7)
    payments.add_argument(
        "--output", metavar="DIR", default=None, help="write one XML file per message to DIR instead"
    )
    payments.set_defaults(handler=_generate_payments)
    fraud_events = kinds.add_parser("fraud", help="customer activity with planted fraud patterns")
    fraud_events.add_argument("--customers", type=int, default=100)
    fraud_events.add_argument("--events", type=int, default=10_000)
    fraud_events.add_argument("--seed", type=int, default=7)
    fraud_events.set_defaults(handler=_generate_fraud)

    fraud = commands.add_parser("fraud", help="fraud-cep job: manage the rules on the control topic")
    fraud_commands = fraud.add_subparsers(dest="fraud_command", metavar="COMMAND", required=True)
    rules = fraud_commands.add_parser("rules", help="publish, disable or list fraud rules")
    rule_commands = rules.add_subparsers(dest="rules_command", metavar="ACTION", required=True)
    publish = rule_commands.add_parser(
        "publish", help="validate rule JSON (one object or a list) and write it to the rules topic"
    )
    publish.add_argument("file", help="JSON file, or 'defaults' for the built-in rule set")
    publish.add_argument(
        "--effective-from",
        type=int,
        default=None,
        help="event time (epoch ms) it applies from (default: now)",
    )
    publish.set_defaults(handler=_fraud_rules_publish)
    delete = rule_commands.add_parser("delete", help="disable a rule with a tombstone")
    delete.add_argument("rule_id")
    delete.add_argument("--effective-from", type=int, default=None, help="event time (epoch ms), default now")
    delete.set_defaults(handler=_fraud_rules_delete)
    loyalty = kinds.add_parser(
        "loyalty", help="loyalty member events (duplicates, late and out-of-order cancellations, refusals)"
    )
    loyalty.add_argument("--members", type=int, default=200)
    loyalty.add_argument("--events", type=int, default=5_000)
    loyalty.add_argument("--seed", type=int, default=11)
    loyalty.set_defaults(handler=_generate_loyalty)


def _run(args: argparse.Namespace) -> int:
    """Run until Ctrl-C (or, bounded, until the backlog present at start is consumed).

    An unbounded run resumes from the job's newest savepoint or retained checkpoint, so balances
    and de-duplication state carry over; a bounded run is a replay and starts without state.
    """
    from jobs import runner

    start: str | int = int(args.start) if str(args.start).isdigit() else args.start
    if start not in ("committed", "earliest", "latest") and not isinstance(start, int):
        raise ConfigError(f"--start {args.start!r} is not committed, earliest, latest or epoch millis")
    settings = Settings.from_env()
    kafka_clients.require_broker(settings)
    restore = None if args.bounded else runner.latest_restore_point(settings, args.job)
    if restore is not None:
        print(f"resuming {args.job} from {restore}")
    JOBS[args.job].load().run(
        settings,
        bounded=args.bounded,
        start=start,
        flink_config={"execution.state-recovery.path": restore.as_uri()} if restore else None,
    )
    return 0


def _generate_postings(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    records = posting_generator.produce(
        settings,
        settings.postings_topic,
        posting_generator.postings(accounts=args.accounts, events=args.events, seed=args.seed),
    )
    print(f"produced {len(records)} postings to {settings.postings_topic}")
    return 0


def _generate_payments(args: argparse.Namespace) -> int:
    from collections import Counter
    from pathlib import Path

    from streamledger.generators import payments as payment_generator

    if args.payments < 1:
        raise ConfigError("--payments must be at least 1")
    records = payment_generator.payments(args.payments, args.seed)
    if args.output is not None:
        written = payment_generator.write_files(records, Path(args.output))
        kinds = Counter(record.kind.value for record in written)
        print(
            f"wrote {len(written)} messages to {args.output}: "
            + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
        )
        return 0
    settings = Settings.from_env()
    produced = payment_generator.produce(settings, settings.payments_input_topic, records)
    print(
        f"produced {len(produced)} messages about {args.payments} payments to {settings.payments_input_topic}"
    )
    return 0


def _generate_loyalty(args: argparse.Namespace) -> int:
    from streamledger.generators import loyalty as loyalty_generator

    if args.members < 1 or args.events < 0:
        raise ConfigError("--members must be at least 1 and --events at least 0")
    settings = Settings.from_env()
    # The broker refuses timestamps more than an hour ahead of its clock: the events' 450 days
    # of event time end now rather than at the generator's fixed default start + 450 days.
    span_days = 450
    start_ms = int(time.time() * 1000) - span_days * 24 * 3600 * 1000
    records = loyalty_generator.produce(
        settings,
        settings.loyalty_events_topic,
        loyalty_generator.loyalty_events(
            members=args.members, events=args.events, seed=args.seed, start_ms=start_ms, span_days=span_days
        ),
    )
    print(f"produced {len(records)} loyalty events to {settings.loyalty_events_topic}")
    return 0


def _generate_fraud(args: argparse.Namespace) -> int:
    from streamledger.generators import fraud as fraud_generator

    settings = Settings.from_env()
    events = fraud_generator.fraud_events(customers=args.customers, events=args.events, seed=args.seed)
    records = fraud_generator.produce(
        settings, settings.fraud_events_topic, fraud_generator.to_records(events, seed=args.seed)
    )
    print(f"produced {len(records)} fraud events to {settings.fraud_events_topic}")
    return 0


def _fraud_rules_publish(args: argparse.Namespace) -> int:
    """Validate every rule locally first, so a typo is reported here rather than on the DLQ."""
    import json
    from pathlib import Path

    from operators.cep.errors import RuleDefinitionError
    from operators.cep.rules import parse_rule
    from streamledger.generators import fraud as fraud_generator

    if args.file == "defaults":
        loaded: object = fraud_generator.default_rules()
    else:
        try:
            loaded = json.loads(Path(args.file).read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read rules from {args.file}: {exc}") from None
    rules: list[Any] = loaded if isinstance(loaded, list) else [loaded]
    try:
        for rule in rules:
            parse_rule(rule)
    except RuleDefinitionError as exc:
        raise ConfigError(f"invalid rule: {exc}", "fix the rule and publish it again") from None
    settings = Settings.from_env()
    count = fraud_generator.publish_rules(
        settings, [fraud_generator.rule_message(rule) for rule in rules], timestamp_ms=args.effective_from
    )
    print(f"published {count} rule(s) to {settings.fraud_rules_topic}")
    return 0


def _fraud_rules_delete(args: argparse.Namespace) -> int:
    from streamledger.generators import fraud as fraud_generator

    settings = Settings.from_env()
    fraud_generator.publish_rules(settings, [(args.rule_id.encode(), None)], timestamp_ms=args.effective_from)
    print(f"disabled rule {args.rule_id} (tombstone on {settings.fraud_rules_topic})")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from jobs import account_balances

    settings = Settings.from_env()
    stack = LocalStack(settings)
    started = stack.up(["catalog", "kafka"])
    try:
        seed = args.seed if args.seed is not None else int(time.time())
        print(
            f"1/4 producing {args.events} postings over {args.accounts} accounts "
            f"to {settings.postings_topic} (seed {seed})"
        )
        posting_generator.produce(
            settings,
            settings.postings_topic,
            posting_generator.postings(accounts=args.accounts, events=args.events, seed=seed),
        )
        print(
            f"2/4 running {account_balances.JOB_NAME} on the embedded MiniCluster (exactly-once, checkpoint "
            f"every {settings.checkpoint_interval_ms} ms) until it has committed the backlog"
        )
        try:
            report = account_balances.run_until_caught_up(settings)
        except StreamledgerError:
            raise
        except Exception as exc:  # py4j wraps the Java failure; one line is what the user needs
            raise JobFailedError(
                f"{account_balances.JOB_NAME} failed: {first_line(exc)}",
                f"see the Flink log in {settings.state_dir / 'logs'}",
            ) from None
        resumed = (
            f"resumed from {report.restored_from}"
            if report.restored_from
            else "fresh start (no savepoint yet)"
        )
        print(
            f"3/4 {report.records} records processed and committed in {report.seconds:.1f} s "
            f"({report.records / max(report.seconds, 1e-3):,.0f} events/s including job start-up; "
            f"{resumed}); "
            f"stopped with savepoint {report.savepoint}"
        )
        print("4/4 reading what it committed")
        _show_result(settings)
    finally:
        if not args.keep_stack and started.get("kafka"):
            stack.down(["kafka"])
    return 0


def _show_result(settings: Settings) -> None:
    from jobs.account_balances import ICEBERG_NAMESPACE, ICEBERG_TABLE

    balances_codec = AvroCodec("ledger.BalanceUpdate")
    dead_letter_codec = AvroCodec("streamledger.DeadLetter")
    compacted = kafka_clients.latest_by_key(kafka_clients.read_topic(settings, settings.balances_topic))
    balances = {k.decode(): balances_codec.decode(v) for k, v in compacted.items() if v is not None}
    dead_letters = [
        dead_letter_codec.decode(r.value)
        for r in kafka_clients.read_topic(settings, settings.dead_letter_topic)
    ]
    table = iceberg_catalog.load(settings).load_table(f"{ICEBERG_NAMESPACE}.{ICEBERG_TABLE}")
    rows = table.scan().to_arrow()
    snapshots = table.snapshots()

    print(f"\n  {settings.balances_topic} (compacted, read_committed): {len(balances)} accounts")
    print(f"  {'account':14} {'balance':>16} {'ccy':4} {'postings':>8}")
    for account, b in sorted(balances.items(), key=lambda kv: -abs(kv[1]["balance_minor"]))[:8]:
        print(f"  {account:14} {b['balance_minor'] / 100:>16,.2f} {b['currency']:4} {b['version']:>8}")
    print(
        f"\n  Iceberg {ICEBERG_NAMESPACE}.{ICEBERG_TABLE} (pyiceberg): {rows.num_rows} rows, "
        f"{len(snapshots)} snapshots, current {table.current_snapshot().snapshot_id if snapshots else None}"
    )
    by_type: dict[str, int] = {}
    for d in dead_letters:
        by_type[d["error_type"]] = by_type.get(d["error_type"], 0) + 1
    print(f"  {settings.dead_letter_topic}: {len(dead_letters)} dead letters {by_type}")

    inputs = kafka_clients.read_topic(settings, settings.postings_topic, isolation="read_committed")
    expected = expected_balances(
        (r.key, r.value) for r in sorted(inputs, key=lambda r: (r.partition, r.offset))
    )
    latest_ok = {a: (e["balance_minor"], e["version"]) for a, e in expected.latest.items()} == {
        a: (b["balance_minor"], b["version"]) for a, b in balances.items()
    }
    rows_ok = rows.num_rows == len(expected.rows)
    print(
        f"\n  check against an independent recomputation from {len(inputs)} input records "
        f"({expected.duplicates} duplicates dropped): "
        f"balances {'MATCH' if latest_ok else 'DIFFER'}, Iceberg rows {'MATCH' if rows_ok else 'DIFFER'} "
        f"({rows.num_rows} vs {len(expected.rows)} expected)"
    )
    if not (latest_ok and rows_ok):
        raise JobFailedError(
            "the committed outputs differ from the recomputation", "this is a bug: please report it"
        )
