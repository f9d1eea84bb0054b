"""What ``streamledger bench`` needs to know about each job: its input, its output, its latency key.

One :class:`Workload` per job of :data:`jobs.registry.JOBS`. The harness is the same for every
job; a workload only says how to generate the job's input (with the job's own generator), which
topic to watch for its output, and how an output is matched to the input it reflects:

- ``event`` matching (account-balances): every output carries the ``event_id`` of the posting
  it applied, so latency is measured per input event;
- ``key`` matching (the other jobs): outputs carry no input event ID, so latency is measured per
  output key — from the ``produce()`` call of the key's *last* input record to the moment the
  key's *last* output became visible to a ``read_committed`` consumer.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from streamledger.config import Settings
from streamledger.errors import ConfigError

Matching = Literal["event", "key"]


@dataclass(frozen=True)
class BenchRecord:
    """One input record of a run, with the IDs its latency is tracked under."""

    key: bytes
    value: bytes
    timestamp_ms: int
    ids: tuple[str, ...]
    """Event IDs (``event`` matching) or output keys (``key`` matching) this record leads to."""


@dataclass(frozen=True)
class GeneratorOptions:
    events: int
    keys: int
    seed: int


@dataclass(frozen=True)
class Workload:
    """How the harness drives and observes one job."""

    job: str
    output_topic: Callable[[Settings], str]
    output_schema: str
    matching: Matching
    generate: Callable[[GeneratorOptions], list[BenchRecord]]
    keys_meaning: str
    """What ``--keys`` sets for this job's generator (or why it sets nothing)."""
    output_note: str = ""
    prepare: Callable[[Settings], None] = field(default=lambda _settings: None)
    """Runs after the topics exist and before input is produced (e.g. publish fraud rules)."""
    producer_config: Callable[[Sequence[BenchRecord]], dict[str, Any]] = field(default=lambda _records: {})

    def load(self) -> Any:
        """The job's module, as :data:`jobs.registry.JOBS` names it."""
        from jobs.registry import job

        return job(self.job).load()

    def input_topic(self, settings: Settings) -> str:
        """The topic the job reads, as the job itself declares it."""
        return str(self.load().ENTRYPOINTS.input_topic(settings))


# ---------------------------------------------------------------------------------------- generators
def _postings(options: GeneratorOptions) -> list[BenchRecord]:
    from streamledger.generators import postings

    return [
        BenchRecord(r.key, r.value, r.timestamp_ms, (r.posting.event_id,) if r.posting else ())
        for r in postings.postings(accounts=options.keys, events=options.events, seed=options.seed)
    ]


#: Loyalty events span this many days of event time, ending now: the broker refuses record
#: timestamps more than an hour ahead of its clock (as ``streamledger generate loyalty`` does).
LOYALTY_SPAN_DAYS = 450


def _loyalty(options: GeneratorOptions) -> list[BenchRecord]:
    from streamledger.generators import loyalty

    start_ms = int(time.time() * 1000) - LOYALTY_SPAN_DAYS * 24 * 3600 * 1000
    return [
        BenchRecord(r.key, r.value, r.timestamp_ms, (r.key.decode(),))
        for r in loyalty.loyalty_events(
            members=options.keys,
            events=options.events,
            seed=options.seed,
            start_ms=start_ms,
            span_days=LOYALTY_SPAN_DAYS,
        )
    ]


def _fraud(options: GeneratorOptions) -> list[BenchRecord]:
    from streamledger.generators import fraud

    events = fraud.fraud_events(customers=options.keys, events=options.events, seed=options.seed)
    records = fraud.to_records(events, seed=options.seed, corrupt_rate=0.005)[: options.events]
    return [BenchRecord(r.key, r.value, r.timestamp_ms, (r.key.decode(),)) for r in records]


def _publish_fraud_rules(settings: Settings) -> None:
    """The default rules, in force from a day before the generator's first event."""
    from streamledger.generators import fraud

    fraud.publish_rules(
        settings,
        [fraud.rule_message(rule) for rule in fraud.default_rules()],
        timestamp_ms=fraud.START_MS - 24 * 3600 * 1000,
    )


#: Messages per simulated payment, a first guess refined from the generated set.
_MESSAGES_PER_PAYMENT_GUESS = 6


def _payments(options: GeneratorOptions) -> list[BenchRecord]:
    """Exactly ``events`` messages: enough payments simulated, the delivery order cut at N.

    The output key of each message (the payment IDs of its transactions) comes from the job's own
    parser, run here before the benchmark starts (not timed); a message it refuses maps to no key.
    """
    from streamledger.generators import payments
    from streamledger.iso20022 import Iso20022Error, parse_message

    count = max(1, math.ceil(options.events / _MESSAGES_PER_PAYMENT_GUESS))
    generated = list(payments.payments(count, options.seed))
    while len(generated) < options.events:
        count = math.ceil(count * options.events / max(1, len(generated)) * 1.1)
        generated = list(payments.payments(count, options.seed))
    records: list[BenchRecord] = []
    for message in generated[: options.events]:
        try:
            ids = tuple(dict.fromkeys(e.payment_id for e in parse_message(message.value).events))
        except Iso20022Error:
            ids = ()
        records.append(BenchRecord(message.key, message.value, message.timestamp_ms, ids))
    return records


def _large_messages(records: Sequence[BenchRecord]) -> dict[str, Any]:
    """The producer's per-record limit raised for the deliberately oversized ISO 20022 message,
    which the job must refuse (as :func:`streamledger.generators.payments.produce` does)."""
    largest = max((len(r.value) for r in records), default=0)
    return {"message.max.bytes": max(1_000_000, largest + 64 * 1024)}


WORKLOADS: dict[str, Workload] = {
    w.job: w
    for w in (
        Workload(
            job="account-balances",
            output_topic=lambda s: s.balances_topic,
            output_schema="ledger.BalanceUpdate",
            matching="event",
            generate=_postings,
            keys_meaning="accounts",
        ),
        Workload(
            job="payment-lifecycle",
            output_topic=lambda s: s.payments_status_topic,
            output_schema="payments.PaymentStatus",
            matching="key",
            generate=_payments,
            keys_meaning="not used: the payment generator decides the number of payments (keys) "
            "from N; the distinct payment IDs are recorded as output_keys",
            producer_config=_large_messages,
        ),
        Workload(
            job="loyalty-accrual",
            output_topic=lambda s: s.loyalty_balances_topic,
            output_schema="loyalty.PointsBalance",
            matching="key",
            generate=_loyalty,
            keys_meaning="members",
        ),
        Workload(
            job="fraud-cep",
            output_topic=lambda s: s.fraud_alerts_topic,
            output_schema="fraud.Alert",
            matching="key",
            generate=_fraud,
            keys_meaning="customers",
            output_note="fraud.alerts is an append-only log, not compacted, and only customers with "
            "an alert have output: latency covers those customers only",
            prepare=_publish_fraud_rules,
        ),
    )
}


def workload(job: str) -> Workload:
    try:
        return WORKLOADS[job]
    except KeyError:
        raise ConfigError(f"no benchmark for job {job!r}", f"choose one of {', '.join(WORKLOADS)}") from None
