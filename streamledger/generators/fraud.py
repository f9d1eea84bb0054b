"""Realistic input for the fraud-cep job: customer activity with planted fraud patterns.

Pure and deterministic for a seed, so a test, the CLI and a benchmark regenerate the exact input
they produced. Each customer lives in a home city and mostly logs in, pays a few usual
creditors and redeems a few points there. Now and then a *scenario* is planted: one of the
sequences the default rules look for (a burst of payments, a test payment then a large one, a
profile change before a new beneficiary is paid, a contact change before the points are
drained, a failed-login burst before a redemption, a login from another continent an hour after
one at home). Background activity produces near misses on its own, which is the point: the
reference, not the generator, decides what matches.

Events arrive out of order by up to ``max_disorder_ms`` (less than the job's 5 s watermark lag,
so none is late), as several upstream channels interleave in practice.

``reference_alerts`` is what the fraud-cep job must produce for such input: each rule version
compiled from its JSON and run with ``CepProcessor.run`` over exactly the events its interval
covers, one customer at a time. It shares the NFA with the job but none of the job's own
bookkeeping (buffering in keyed state, the state codec, the rule timeline, the Flink wiring),
which is what the tests compare it against.
"""

from __future__ import annotations

import json
import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from operators.cep import NFA, CepProcessor
from operators.cep.alerts import Alert
from operators.cep.fraud_events import EventKind, FraudEvent, timestamp_of
from operators.cep.fraud_wire import event_to_record
from operators.cep.rules import parse_rule
from schemas import AvroCodec
from streamledger.config import Settings
from streamledger.generators import postings

START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
MINUTE = 60_000

CITIES: Mapping[str, tuple[float, float]] = {
    "paris": (48.8566, 2.3522),
    "berlin": (52.5200, 13.4050),
    "madrid": (40.4168, -3.7038),
    "amsterdam": (52.3676, 4.9041),
    "milan": (45.4642, 9.1900),
    "new-york": (40.7128, -74.0060),
    "singapore": (1.3521, 103.8198),
    "sao-paulo": (-23.5505, -46.6333),
}
_HOME_CITIES = ("paris", "berlin", "madrid", "amsterdam", "milan")
_FAR_CITIES = ("new-york", "singapore", "sao-paulo")


@dataclass(frozen=True)
class FraudRecord:
    """One record as produced; ``event`` is None for a deliberately corrupt payload."""

    key: bytes
    value: bytes
    timestamp_ms: int
    event: FraudEvent | None


def default_rules(version: int = 1) -> list[dict[str, Any]]:
    """One rule of every type, with thresholds that fit the generated activity."""
    return [
        {
            "rule_id": "velocity",
            "version": version,
            "type": "payment_velocity",
            "parameters": {"min_payments": 4, "min_amount_minor": 1_000, "within_ms": 2 * MINUTE},
        },
        {
            "rule_id": "test-then-large",
            "version": version,
            "type": "test_then_large_payment",
            "parameters": {"small_max_minor": 200, "large_min_minor": 100_000, "within_ms": 30 * MINUTE},
        },
        {
            "rule_id": "new-beneficiary",
            "version": version,
            "type": "new_beneficiary_after_profile_change",
            "parameters": {"large_min_minor": 200_000, "within_ms": 60 * MINUTE},
        },
        {
            "rule_id": "points-drain",
            "version": version,
            "type": "points_drain_after_contact_change",
            "parameters": {"min_drain_ratio": 0.8, "within_ms": 120 * MINUTE},
        },
        {
            "rule_id": "failed-logins",
            "version": version,
            "type": "failed_logins_then_redemption",
            "parameters": {"min_failures": 3, "within_ms": 10 * MINUTE},
        },
        {
            "rule_id": "impossible-travel",
            "version": version,
            "type": "impossible_travel",
            "parameters": {"within_ms": 60 * MINUTE},
        },
    ]


class _Customer:
    """One customer's activity, generated forward in time."""

    def __init__(self, key: str, rng: random.Random, seed: int) -> None:
        self.key = key
        self.rng = rng
        self.seed = seed
        self.home = CITIES[rng.choice(_HOME_CITIES)]
        self.creditors = [f"{key}-cred-{i}" for i in range(rng.randint(2, 5))]
        self.points = rng.randint(1_000, 50_000)
        self.count = 0

    def _event(self, at: int, kind: EventKind, **fields: Any) -> FraudEvent:
        self.count += 1
        return FraudEvent(f"fe-{self.seed}-{self.key}-{self.count:06d}", self.key, kind, at, **fields)

    def _near_home(self) -> dict[str, float]:
        lat, lon = self.home
        return {
            "latitude": lat + self.rng.uniform(-0.05, 0.05),
            "longitude": lon + self.rng.uniform(-0.05, 0.05),
        }

    def _redeem(self, at: int, share: float) -> FraudEvent:
        points = max(1, int(self.points * share))
        event = self._event(at, EventKind.POINTS_REDEMPTION, points=points, points_balance=self.points)
        self.points = max(0, self.points - points) + self.rng.randint(0, 500)
        return event

    def background(self, at: int) -> FraudEvent:
        rng = self.rng
        roll = rng.random()
        if roll < 0.30:
            return self._event(at, EventKind.LOGIN_SUCCEEDED, **self._near_home())
        if roll < 0.70:
            amount = int(rng.lognormvariate(8.5, 1.2))
            located = self._near_home() if rng.random() < 0.7 else {}
            return self._event(
                at, EventKind.PAYMENT, amount_minor=amount, creditor=rng.choice(self.creditors), **located
            )
        if roll < 0.78:
            return self._event(at, EventKind.LOGIN_FAILED)
        if roll < 0.88:
            self.points += rng.randint(100, 2_000)
            return self._redeem(at, rng.uniform(0.01, 0.3))
        if roll < 0.92:
            return self._event(
                at, EventKind.CONTACT_CHANGE, changed_field=rng.choice(("email", "phone", "address"))
            )
        if roll < 0.96:
            return self._event(at, EventKind.PROFILE_CHANGE, changed_field=rng.choice(("name", "address")))
        creditor = f"{self.key}-cred-{len(self.creditors)}"
        self.creditors.append(creditor)
        return self._event(at, EventKind.BENEFICIARY_ADDED, creditor=creditor)

    def scenario(self, at: int) -> list[FraudEvent]:
        """A planted fraud sequence starting at ``at`` (events in time order)."""
        rng = self.rng
        pick = rng.randrange(6)
        gap: Callable[[int, int], int] = lambda low, high: rng.randint(low, high)  # noqa: E731
        out: list[FraudEvent] = []
        if pick == 0:  # velocity burst
            for _ in range(rng.randint(4, 6)):
                at += gap(2_000, 20_000)
                out.append(
                    self._event(
                        at,
                        EventKind.PAYMENT,
                        amount_minor=rng.randint(2_000, 30_000),
                        creditor=rng.choice(self.creditors),
                    )
                )
        elif pick == 1:  # test payment, then a large one to the same new creditor
            creditor = f"{self.key}-mule-{self.count}"
            out.append(
                self._event(at, EventKind.PAYMENT, amount_minor=rng.randint(1, 200), creditor=creditor)
            )
            at += gap(MINUTE, 20 * MINUTE)
            out.append(
                self._event(
                    at, EventKind.PAYMENT, amount_minor=rng.randint(100_000, 900_000), creditor=creditor
                )
            )
        elif pick == 2:  # profile change, new beneficiary, large payment to it
            creditor = f"{self.key}-mule-{self.count}"
            out.append(self._event(at, EventKind.PROFILE_CHANGE, changed_field="address"))
            at += gap(MINUTE, 10 * MINUTE)
            out.append(self._event(at, EventKind.BENEFICIARY_ADDED, creditor=creditor))
            at += gap(MINUTE, 20 * MINUTE)
            out.append(
                self._event(
                    at, EventKind.PAYMENT, amount_minor=rng.randint(200_000, 2_000_000), creditor=creditor
                )
            )
        elif pick == 3:  # contact change, then the points drained
            out.append(
                self._event(at, EventKind.CONTACT_CHANGE, changed_field=rng.choice(("email", "phone")))
            )
            at += gap(MINUTE, 60 * MINUTE)
            out.append(self._redeem(at, rng.uniform(0.85, 1.0)))
        elif pick == 4:  # failed-login burst, then a redemption
            for _ in range(rng.randint(3, 6)):
                at += gap(1_000, 30_000)
                out.append(self._event(at, EventKind.LOGIN_FAILED))
            at += gap(10_000, 3 * MINUTE)
            out.append(self._redeem(at, rng.uniform(0.1, 0.5)))
        else:  # a login at home, then activity from another continent soon after
            out.append(self._event(at, EventKind.LOGIN_SUCCEEDED, **self._near_home()))
            at += gap(5 * MINUTE, 50 * MINUTE)
            lat, lon = CITIES[rng.choice(_FAR_CITIES)]
            out.append(self._event(at, EventKind.LOGIN_SUCCEEDED, latitude=lat, longitude=lon))
        return out


def fraud_events(
    *,
    customers: int,
    events: int,
    seed: int = 7,
    start_ms: int = START_MS,
    mean_gap_ms: int = 20_000,
    scenario_rate: float = 0.04,
    max_disorder_ms: int = 3_000,
) -> list[FraudEvent]:
    """``events`` events over ``customers`` customers, in *arrival* order.

    Each customer's activity has gaps averaging ``mean_gap_ms``; ``scenario_rate`` of the steps
    plant a fraud scenario instead of one background event. Arrival order is event time plus a
    random delay of up to ``max_disorder_ms``.
    """
    if customers < 1 or events < 0:
        raise ValueError("customers must be >= 1 and events >= 0")
    rng = random.Random(seed)
    per_customer = -(-events // customers) if events else 0
    generated: list[FraudEvent] = []
    for index in range(customers):
        customer = _Customer(f"cust-{index:05d}", random.Random(rng.getrandbits(64)), seed)
        clock = start_ms + customer.rng.randint(0, mean_gap_ms)
        stream: list[FraudEvent] = []
        while len(stream) < per_customer:
            if customer.rng.random() < scenario_rate:
                stream.extend(customer.scenario(clock))
                clock = max(clock, stream[-1].timestamp_ms)
            else:
                stream.append(customer.background(clock))
            clock += max(1, int(customer.rng.expovariate(1 / mean_gap_ms)))
        generated.extend(stream[:per_customer])
    generated.sort(key=lambda e: (e.timestamp_ms, e.event_id))
    generated = generated[:events]
    arrival = {e.event_id: e.timestamp_ms + rng.randint(0, max_disorder_ms) for e in generated}
    return sorted(generated, key=lambda e: (arrival[e.event_id], e.event_id))


def to_records(
    events: Iterable[FraudEvent], *, seed: int = 7, corrupt_rate: float = 0.0
) -> list[FraudRecord]:
    """Avro-encode ``events`` (key = customer, timestamp = event time); ``corrupt_rate`` of
    them are followed by a garbage record for the same customer (it must reach the DLQ)."""
    rng = random.Random(seed ^ 0x5EED)
    codec = AvroCodec("fraud.FraudEvent")
    records: list[FraudRecord] = []
    for event in events:
        records.append(
            FraudRecord(event.key.encode(), codec.encode(event_to_record(event)), event.timestamp_ms, event)
        )
        if rng.random() < corrupt_rate:
            garbage = b"\xc3\x01" + rng.randbytes(16)
            records.append(FraudRecord(event.key.encode(), garbage, event.timestamp_ms, None))
    return records


def shift(events: Sequence[FraudEvent], offset_ms: int, id_prefix: str) -> list[FraudEvent]:
    """The same activity ``offset_ms`` later under new event IDs (continuing a stream)."""
    return [
        replace(e, event_id=f"{id_prefix}{e.event_id}", timestamp_ms=e.timestamp_ms + offset_ms)
        for e in events
    ]


def produce(settings: Settings, topic: str, records: Iterable[FraudRecord]) -> list[FraudRecord]:
    """Produce records (idempotent, acks=all) with their event time as record timestamp."""
    produced = list(records)
    _produce(settings, topic, [(r.key, r.value, r.timestamp_ms) for r in produced])
    return produced


def rule_message(rule: Mapping[str, Any]) -> tuple[bytes, bytes]:
    """Key and value of a rule definition on the control topic."""
    return str(rule["rule_id"]).encode(), json.dumps(rule, sort_keys=True).encode()


def publish_rules(
    settings: Settings,
    messages: Iterable[tuple[bytes, bytes | None]],
    *,
    timestamp_ms: int | None = None,
) -> int:
    """Write rule messages (key, JSON value or None for a tombstone) to the rules topic.

    ``timestamp_ms`` is the record timestamp, i.e. the event time from which the change takes
    effect (default: now).
    """
    at = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    rows = [(key, value, at) for key, value in messages]
    _produce(settings, settings.fraud_rules_topic, rows)
    return len(rows)


@dataclass(frozen=True)
class _Row:
    key: bytes
    value: bytes | None
    timestamp_ms: int


def _produce(settings: Settings, topic: str, rows: Sequence[tuple[bytes, bytes | None, int]]) -> None:
    postings.produce(settings, topic, [_Row(key, value, at) for key, value, at in rows])


# --- the expected output ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    """Rule definition JSON in force for event times ``[start, end)`` (``end`` None: open)."""

    rule: Mapping[str, Any]
    start: int
    end: int | None = None


def reference_alerts(events: Sequence[FraudEvent], intervals: Iterable[Interval]) -> list[Alert]:
    """Alerts of every interval's rule over ``events`` (given in arrival order; a customer's
    events are matched in timestamp order, ties in arrival order, as the job releases them)."""
    by_key: dict[str, list[FraudEvent]] = defaultdict(list)
    for event in events:
        by_key[event.key].append(event)
    alerts: list[Alert] = []
    for interval in intervals:
        definition = parse_rule(dict(interval.rule))
        if not definition.enabled:
            continue
        pattern, build_alert = definition.compile()
        processor = CepProcessor(NFA(pattern), timestamp_of)
        for key, key_events in by_key.items():
            covered = sorted(
                (
                    e
                    for e in key_events
                    if e.timestamp_ms >= interval.start
                    and (interval.end is None or e.timestamp_ms < interval.end)
                ),
                key=timestamp_of,  # stable: ties keep arrival order
            )
            if not covered:
                continue
            final = None if interval.end is None else interval.end - 1
            output = processor.run(covered, watermark_lag_ms=0, final_watermark=final)
            alerts.extend(build_alert(key, match) for match in output.matches)
    return alerts


AlertKey = tuple[str, int, str, tuple[str, ...], tuple[int, ...], float, int]


def comparable(alerts: Iterable[Alert]) -> list[AlertKey]:
    """Alerts as sorted tuples: the job emits them in no particular order across customers."""
    return sorted(
        (a.rule_id, a.rule_version, a.key, a.event_ids, a.event_times, a.score, a.detected_at) for a in alerts
    )
