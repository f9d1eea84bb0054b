"""Savepoint redeploys across a state schema change, and a redeploy that would drop state.

The first run writes keyed state as the previous release did (the codec's ``write_version`` one
below current) and is stopped with a savepoint in mid-stream: payments half way through their
lifecycle, CEP partial matches open and events still waiting for the watermark. The current code
resumes from that savepoint, upgrades each value on first read, and its committed outputs must
equal the pure-Python reference over the whole input — which they can only do if every lifecycle
and partial match survived. The embedded MiniCluster runs the Python workers in this process,
which is what lets the test swap the codec and see which versions went through state.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pyflink.datastream import DataStream

import state.fraud_cep
import state.payment_lifecycle
from jobs import account_balances, fraud_cep, payment_lifecycle
from operators.cep.fraud_events import EventKind, FraudEvent
from schemas import AvroCodec
from state.codec import StateCodec
from state.fraud_cep import PENDING_STATE
from state.payment_lifecycle import PAYMENT_STATE
from streamledger import kafka_clients
from streamledger.config import Settings
from streamledger.errors import NonRestoredStateError
from streamledger.generators import fraud as fraud_generator
from streamledger.generators import payments as payment_generator
from streamledger.generators import postings as posting_generator
from streamledger.generators.fraud import Interval, comparable, reference_alerts
from streamledger.reference import expected_balances

from .fraud_outputs import committed_alerts, run_until
from .payment_reference import (
    MAX_MESSAGE_BYTES,
    committed_statuses,
    reference,
    timeline_rows,
    with_message_limit,
    without_sla,
)
from .state_recording import RecordingCodec

pytestmark = pytest.mark.stack

DEAD_LETTER = AvroCodec("streamledger.DeadLetter")
BALANCE = AvroCodec("ledger.BalanceUpdate")
HOUR = 3_600_000


def _previous_release(codec: StateCodec) -> RecordingCodec:
    """``codec`` writing the version the release before it wrote, recording what went through."""
    return RecordingCodec(
        StateCodec(codec.name, codec.current_version, codec.upgrades, write_version=codec.current_version - 1)
    )


def test_payment_lifecycles_in_flight_survive_a_v1_savepoint(
    isolated: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = with_message_limit(isolated)
    records = list(payment_generator.payments(80, 33, max_message_bytes=MAX_MESSAGE_BYTES))
    split = len(records) * 3 // 5
    previous = _previous_release(PAYMENT_STATE)
    monkeypatch.setattr(state.payment_lifecycle, "PAYMENT_STATE", previous)
    payment_generator.produce(settings, settings.payments_input_topic, records[:split])
    first = payment_lifecycle.run_until_caught_up(settings)
    assert previous.written and set(previous.written) == {1}
    at_savepoint = committed_statuses(settings)

    current = RecordingCodec(PAYMENT_STATE)
    monkeypatch.setattr(state.payment_lifecycle, "PAYMENT_STATE", current)
    payment_generator.produce(settings, settings.payments_input_topic, records[split:])
    second = payment_lifecycle.run_until_caught_up(settings)
    assert second.restored_from == first.savepoint.removeprefix("file:")
    assert 1 in current.read and set(current.written) == {2}

    expected = reference(settings, every_deadline_passed=False)
    # Lifecycles the savepoint held half way, that the second run carried on to their end.
    continued = {
        p
        for p, s in at_savepoint.items()
        if not s["terminal"] and expected.statuses[p]["version"] > s["version"]
    }
    assert len(continued) >= 5
    assert without_sla(committed_statuses(settings)) == without_sla(expected.statuses)
    assert timeline_rows(settings) == expected.timeline


def test_cep_partial_matches_and_buffered_events_survive_a_v1_savepoint(
    isolated: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = fraud_generator.default_rules()
    start = fraud_generator.START_MS
    events = fraud_generator.fraud_events(customers=8, events=800, seed=37, start_ms=start)
    split = 480
    end = max(e.timestamp_ms for e in events)
    # Far ahead of every window, so each match is final before the job is stopped.
    sentinels = [
        FraudEvent(f"sentinel-{i}", f"sentinel-{i:02d}", EventKind.LOGIN_SUCCEEDED, end + 3 * HOUR + i)
        for i in range(30)
    ]
    expected = reference_alerts([*events, *sentinels], [Interval(rule, start - HOUR) for rule in rules])
    before = {e.event_id for e in events[:split]}
    straddling = [a for a in expected if set(a.event_ids) & before and set(a.event_ids) - before]
    assert straddling, "some matches must be open at the savepoint"

    previous = _previous_release(PENDING_STATE)
    monkeypatch.setattr(state.fraud_cep, "PENDING_STATE", previous)
    fraud_generator.publish_rules(
        isolated, [fraud_generator.rule_message(r) for r in rules], timestamp_ms=start - HOUR
    )
    fraud_generator.produce(isolated, isolated.fraud_events_topic, fraud_generator.to_records(events[:split]))
    first = fraud_cep.run_until_caught_up(isolated)
    assert previous.written and set(previous.written) == {1}

    current = RecordingCodec(PENDING_STATE)
    monkeypatch.setattr(state.fraud_cep, "PENDING_STATE", current)
    fraud_generator.produce(
        isolated, isolated.fraud_events_topic, fraud_generator.to_records([*events[split:], *sentinels])
    )
    second = run_until(isolated, lambda: len(committed_alerts(isolated)) >= len(expected), timeout_s=300)
    assert second.restored_from == first.savepoint.removeprefix("file:")
    assert 1 in current.read and set(current.written) == {2}

    assert comparable(committed_alerts(isolated)) == comparable(expected)
    dead = kafka_clients.read_topic(isolated, isolated.dead_letter_topic)
    assert not [r for r in dead if DEAD_LETTER.decode(r.value)["error_type"] == "LATE_EVENT"]


@pytest.fixture
def renamed_balance_operator(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Build jobs as a release that changed the uid of the account-balances keyed operator would."""
    original = DataStream.uid

    def uid(self: DataStream, name: str) -> DataStream:
        return original(self, "account-balance-renamed" if name == "account-balance" else name)

    monkeypatch.setattr(DataStream, "uid", uid)
    yield


def test_a_restore_that_would_drop_state_fails_loudly_unless_allowed(
    isolated: Settings, request: pytest.FixtureRequest
) -> None:
    produce = posting_generator.produce
    produce(isolated, isolated.postings_topic, posting_generator.postings(accounts=20, events=200, seed=5))
    first = account_balances.run_until_caught_up(isolated)
    savepoint = first.savepoint.removeprefix("file:")
    offsets = kafka_clients.end_offsets(isolated, isolated.postings_topic)
    produce(isolated, isolated.postings_topic, posting_generator.postings(accounts=20, events=200, seed=6))

    request.getfixturevalue("renamed_balance_operator")
    with pytest.raises(NonRestoredStateError) as refused:
        account_balances.run_until_caught_up(isolated)
    message = str(refused.value)
    assert "\n" not in message and savepoint in message
    assert "does not have" in message and "--allow-non-restored-state" in message

    second = account_balances.run_until_caught_up(isolated, allow_non_restored_state=True)
    assert second.restored_from == savepoint
    # The renamed operator started empty (its state was dropped, as allowed); everything else
    # was restored: the source read on from its offsets, so balances hold the new postings only.
    new = [
        (r.key, r.value)
        for r in sorted(
            kafka_clients.read_topic(isolated, isolated.postings_topic), key=lambda r: (r.partition, r.offset)
        )
        if r.offset >= offsets.get(r.partition, 0)
    ]
    expected = expected_balances(new)
    after = {
        k.decode(): BALANCE.decode(v)
        for k, v in kafka_clients.latest_by_key(
            kafka_clients.read_topic(isolated, isolated.balances_topic)
        ).items()
        if v is not None
    }
    assert {a: (after[a]["balance_minor"], after[a]["version"]) for a in expected.latest} == {
        a: (e["balance_minor"], e["version"]) for a, e in expected.latest.items()
    }
