"""The fraud-cep job against a real broker, the MiniCluster and a real Iceberg catalog.

Expected alerts always come from the pure-Python reference (``CepProcessor.run`` per customer
and rule version, over the events each version's interval covers), never from numbers written
into the test. Rule changes are published with the record timestamp they take effect from.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType

from jobs import fraud_cep
from operators.cep.fraud_events import EventKind, FraudEvent
from schemas import AvroCodec
from streamledger import kafka_clients
from streamledger.config import Settings
from streamledger.generators import fraud as generator
from streamledger.generators.fraud import Interval, comparable, reference_alerts
from streamledger.stack.local_stack import LocalStack

from .fraud_outputs import ALERT, committed_alerts, iceberg_alerts, run_until
from .stack_support import isolated_settings

pytestmark = pytest.mark.stack

DEAD_LETTER = AvroCodec("streamledger.DeadLetter")
HOUR = 3_600_000


def _keep_rule_history(settings: Settings) -> None:
    """Turn compaction off on this test's rules topic.

    The bounded test publishes a whole history of rule versions (with event-time timestamps
    months in the past) before the job starts. On the compacted production topic the log
    cleaner may then keep only the latest version of each rule by the time the job reads it
    (a running job keeps the history in broadcast state; only a fresh start reads the log), so
    what the job sees would depend on the cleaner's timing. Keeping every message makes the
    expected intervals deterministic.
    """
    resource = ConfigResource(
        ResourceType.TOPIC,
        settings.fraud_rules_topic,
        incremental_configs=[
            ConfigEntry("cleanup.policy", "delete", incremental_operation=AlterConfigOpType.SET),
            ConfigEntry("retention.ms", "-1", incremental_operation=AlterConfigOpType.SET),
        ],
    )
    admin = kafka_clients.admin_client(settings)  # must outlive the futures it returns
    for future in admin.incremental_alter_configs([resource]).values():
        future.result(timeout=30)


def _rules() -> dict[str, dict[str, Any]]:
    return {rule["rule_id"]: rule for rule in generator.default_rules()}


def _with(rule: Mapping[str, Any], **changes: Any) -> dict[str, Any]:
    return {**rule, **changes}


def _publish(settings: Settings, at: int, *messages: tuple[bytes, bytes | None]) -> None:
    generator.publish_rules(settings, messages, timestamp_ms=at)


def _msg(rule: Mapping[str, Any]) -> tuple[bytes, bytes]:
    return generator.rule_message(rule)


def _dead_letters(settings: Settings) -> list[dict[str, Any]]:
    return [
        DEAD_LETTER.decode(r.value)
        for r in kafka_clients.read_topic(settings, settings.dead_letter_topic)
        if r.value is not None
    ]


# --- one bounded run over a stream with rule changes, shared by the assertions below ------------------


@dataclass(frozen=True)
class BoundedRun:
    settings: Settings
    events: list[FraudEvent]
    corrupt: int
    intervals: list[Interval]
    change_points: dict[str, int]
    rejected: dict[bytes, str]
    """Key of each invalid rule message -> a word its rejection reason must contain."""


@pytest.fixture(scope="module")
def bounded_run(local_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> BoundedRun:
    settings = isolated_settings(local_stack, tmp_path_factory.mktemp("fraud-bounded"))
    _keep_rule_history(settings)
    events = generator.fraud_events(customers=12, events=1500, seed=5)
    first = min(e.timestamp_ms for e in events)
    span = max(e.timestamp_ms for e in events) - first
    points = {
        name: first + span * share // 100 for name, share in (("add", 25), ("update", 40), ("disable", 55))
    }
    points["delete"] = first + span * 70 // 100
    rules = _rules()
    start = first - HOUR

    _publish(settings, start, *(_msg(r) for rule_id, r in rules.items() if rule_id != "impossible-travel"))
    invalid: dict[bytes, str] = {}
    _publish(settings, start + 1, (b"broken", b"{not json"))
    invalid[b"broken"] = "JSON"
    _publish(settings, points["add"], _msg(rules["impossible-travel"]))
    velocity_v2 = _with(
        rules["velocity"], version=2, parameters={**rules["velocity"]["parameters"], "min_payments": 3}
    )
    _publish(settings, points["update"], _msg(velocity_v2))
    _publish(settings, points["update"] + 1, _msg(velocity_v2))  # the same version again: no change
    _publish(settings, points["update"] + 2, _msg(_with(rules["velocity"], version=1)))  # older: rejected
    _publish(
        settings,
        points["update"] + 3,
        (b"typo", json.dumps(_with(rules["velocity"], rule_id="typo", type="nope")).encode()),
    )
    invalid[b"typo"] = "type"
    _publish(settings, points["disable"], _msg(_with(rules["points-drain"], version=2, enabled=False)))
    conflicting = _with(
        rules["test-then-large"], parameters={**rules["test-then-large"]["parameters"], "within_ms": 1000}
    )
    _publish(settings, points["disable"] + 1, _msg(conflicting))  # version 1 again, other content
    _publish(settings, points["disable"] + 2, (b"other-key", _msg(_with(rules["velocity"], version=3))[1]))
    invalid[b"other-key"] = "key"
    _publish(settings, points["delete"], (b"failed-logins", None))
    _publish(settings, points["delete"] + 1, (b"never-published", None))
    invalid[b"never-published"] = "never"

    records = generator.to_records(events, seed=5, corrupt_rate=0.01)
    generator.produce(settings, settings.fraud_events_topic, records)

    fraud_cep.create(settings, bounded=True, start="earliest").execute()

    intervals = [
        Interval(rules["velocity"], start, points["update"]),
        Interval(velocity_v2, points["update"]),
        Interval(rules["test-then-large"], start),
        Interval(rules["new-beneficiary"], start),
        Interval(rules["points-drain"], start, points["disable"]),
        Interval(rules["failed-logins"], start, points["delete"]),
        Interval(rules["impossible-travel"], points["add"]),
    ]
    # velocity v1 re-published after v2, and test-then-large v1 with other content, are rejected
    # too; their keys are those of valid rules, so they are counted rather than keyed.
    return BoundedRun(settings, events, sum(r.event is None for r in records), intervals, points, invalid)


def test_alerts_on_kafka_equal_the_reference(bounded_run: BoundedRun) -> None:
    expected = reference_alerts(bounded_run.events, bounded_run.intervals)
    found = committed_alerts(bounded_run.settings)
    assert len(expected) > 50, "the generated input must exercise the rules"
    assert comparable(found) == comparable(expected)
    assert all(ALERT.decode(ALERT.encode(a.to_avro_record()))["alert_id"] == a.alert_id for a in found)


def test_alerts_in_iceberg_equal_the_reference(bounded_run: BoundedRun) -> None:
    expected = reference_alerts(bounded_run.events, bounded_run.intervals)
    assert comparable(iceberg_alerts(bounded_run.settings)) == comparable(expected)


def test_rule_changes_take_effect_from_their_timestamp(bounded_run: BoundedRun) -> None:
    """Each change splits a rule's alerts exactly at its timestamp, and the split matters: the
    same rules without the changes would have produced different alerts."""
    found = committed_alerts(bounded_run.settings)
    points = bounded_run.change_points
    by_version = Counter((a.rule_id, a.rule_version) for a in found)
    assert by_version[("velocity", 1)] > 0 and by_version[("velocity", 2)] > 0
    for alert in found:
        first, last = min(alert.event_times), max(alert.event_times)
        if alert.rule_id == "velocity":
            if alert.rule_version == 1:
                assert last < points["update"]
            else:
                assert first >= points["update"]
        if alert.rule_id == "impossible-travel":
            assert first >= points["add"]
        if alert.rule_id == "points-drain":
            assert last < points["disable"]
        if alert.rule_id == "failed-logins":
            assert last < points["delete"]
        assert not (alert.rule_id == "test-then-large" and alert.rule_version != 1)

    unchanged = reference_alerts(
        bounded_run.events, [Interval(rule, 0) for rule in generator.default_rules()]
    )
    naive = Counter(a.rule_id for a in unchanged if max(a.event_times) >= points["disable"])
    assert naive["points-drain"] > 0 and naive["failed-logins"] > 0, "the disabled rules would have fired"
    assert any(a.rule_id == "impossible-travel" and min(a.event_times) < points["add"] for a in unchanged)
    assert comparable(found) != comparable(unchanged)


def test_bad_input_and_rejected_rules_reach_the_dead_letter_topic(bounded_run: BoundedRun) -> None:
    dead = _dead_letters(bounded_run.settings)
    assert all(d["job"] == fraud_cep.JOB_NAME and d["reason"] for d in dead)
    events_topic, rules_topic = (
        bounded_run.settings.fraud_events_topic,
        bounded_run.settings.fraud_rules_topic,
    )
    undecodable = [d for d in dead if d["source_topic"] == events_topic]
    assert bounded_run.corrupt > 0
    assert len(undecodable) == bounded_run.corrupt
    assert {d["error_type"] for d in undecodable} <= {"UNDECODABLE", "UNKNOWN_SCHEMA"}

    rejected = [d for d in dead if d["source_topic"] == rules_topic]
    assert all(d["error_type"] == "RULE_REJECTED" for d in rejected)
    by_key = {d["key"]: d["reason"] for d in rejected}
    for key, word in bounded_run.rejected.items():
        assert word.lower() in by_key[key].lower(), (key, by_key.get(key))
    # The stale velocity v1 and the conflicting test-then-large v1: rejected, naming the version.
    version_rejections = [d for d in rejected if d["key"] in (b"velocity", b"test-then-large")]
    assert len(version_rejections) == 2
    assert all("version" in d["reason"] for d in version_rejections)
    assert len(rejected) == len(bounded_run.rejected) + 2


# --- a running job: rules change while it runs, no restart -----------------------------------------


def _phase(customers: int, events: int, seed: int, start_ms: int) -> list[FraudEvent]:
    return generator.fraud_events(customers=customers, events=events, seed=seed, start_ms=start_ms)


def test_rules_published_while_the_job_runs_apply_from_their_timestamp(isolated: Settings) -> None:
    """One job run: phase-1 events under the first rules; then, with the job still running, a
    rule update, a disable and a new rule are published and phase-2 events follow. A late event
    goes to the DLQ. Sentinel events far ahead move the watermark past every window, so every
    match is final when the job is stopped with a savepoint."""
    rules = _rules()
    start = generator.START_MS
    phase1 = _phase(8, 400, 21, start)
    change_at = max(e.timestamp_ms for e in phase1) + 10 * 60_000
    phase2 = generator.shift(_phase(8, 400, 22, start), change_at - start, "p2-")
    end = max(e.timestamp_ms for e in phase2)
    sentinels = [
        FraudEvent(f"sentinel-{i}", f"sentinel-{i:02d}", EventKind.LOGIN_SUCCEEDED, end + 3 * HOUR + i)
        for i in range(30)
    ]
    late = dataclasses.replace(phase1[0], event_id="late-1", timestamp_ms=start + 1)

    velocity_v2 = _with(
        rules["velocity"], version=2, parameters={**rules["velocity"]["parameters"], "min_payments": 3}
    )
    new_rule = _with(
        rules["velocity"],
        rule_id="large-pairs",
        parameters={"min_payments": 2, "min_amount_minor": 5_000, "within_ms": 60_000},
    )
    _publish(isolated, start - HOUR, *(_msg(r) for r in rules.values()))
    generator.produce(isolated, isolated.fraud_events_topic, generator.to_records(phase1))

    intervals = [
        Interval(rules["velocity"], start - HOUR, change_at),
        Interval(velocity_v2, change_at),
        Interval(rules["test-then-large"], start - HOUR),
        Interval(rules["new-beneficiary"], start - HOUR),
        Interval(rules["points-drain"], start - HOUR),
        Interval(rules["failed-logins"], start - HOUR, change_at),
        Interval(rules["impossible-travel"], start - HOUR),
        Interval(new_rule, change_at),
    ]
    expected = reference_alerts([*phase1, *phase2, *sentinels], intervals)
    steps = _LiveSteps(isolated)

    def publish_changes() -> None:
        _publish(
            isolated,
            change_at,
            _msg(velocity_v2),
            _msg(_with(rules["failed-logins"], version=2, enabled=False)),
            _msg(new_rule),
        )

    def produce_phase2() -> None:
        generator.produce(
            isolated, isolated.fraud_events_topic, generator.to_records([*phase2, late, *sentinels])
        )

    steps.then(
        lambda: steps.consumed(isolated.fraud_events_topic) and steps.consumed(isolated.fraud_rules_topic),
        publish_changes,
    )
    steps.then(lambda: steps.consumed(isolated.fraud_rules_topic), produce_phase2)
    steps.then(lambda: len(committed_alerts(isolated)) >= len(expected), lambda: None)

    report = run_until(isolated, lambda: steps.done, on_poll=steps.poll, timeout_s=240)
    assert report.restored_from is None

    found = committed_alerts(isolated)
    assert comparable(found) == comparable(expected)
    assert {("velocity", 2), ("large-pairs", 1), ("failed-logins", 1)} <= {
        (a.rule_id, a.rule_version) for a in found
    }
    assert all(a.rule_id != "failed-logins" or max(a.event_times) < change_at for a in found)
    assert all(a.rule_id != "large-pairs" or min(a.event_times) >= change_at for a in found)
    late_letters = [d for d in _dead_letters(isolated) if d["error_type"] == "LATE_EVENT"]
    assert [(d["key"], d["event_time"]) for d in late_letters] == [
        (late.key.encode(), _as_datetime(late.timestamp_ms))
    ]


def _as_datetime(ms: int) -> Any:
    import datetime

    return datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.UTC)


class _LiveSteps:
    """Actions run from the runner's wait loop, each once its condition holds, in order."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.steps: list[tuple[Callable[[], bool], Callable[[], None]]] = []
        self.index = 0

    def then(self, condition: Callable[[], bool], action: Callable[[], None]) -> None:
        self.steps.append((condition, action))

    @property
    def done(self) -> bool:
        return self.index == len(self.steps)

    def poll(self) -> None:
        if not self.done and self.steps[self.index][0]():
            self.steps[self.index][1]()
            self.index += 1

    def consumed(self, topic: str) -> bool:
        """The job committed (checkpointed) every record now in ``topic``."""
        ends = kafka_clients.end_offsets(self.settings, topic)
        committed = kafka_clients.resume_offsets(self.settings, fraud_cep.JOB_NAME, topic)
        return all(committed.get(p, 0) >= end for p, end in ends.items())
