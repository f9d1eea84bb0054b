"""What the lifecycle job keeps and publishes per payment: milestones, SLA, parties, wire and state.

Events come from real ISO 20022 XML (the scenarios of ``test_payment_lifecycle``) through the real
parser; expectations come from the scenarios' own inputs.
"""

from __future__ import annotations

import dataclasses
import random
from datetime import timedelta
from decimal import Decimal

import pytest

from operators.loyalty.pii import PiiKey
from operators.payment_lifecycle import PaymentStatus, fold
from operators.payment_lifecycle.canonical import SCHEMA_NAME, from_record, to_record
from operators.payment_lifecycle.milestones import Reconciliation, is_terminal, milestones_of
from operators.payment_lifecycle.parties import mask_account, parties_of, preferred
from operators.payment_lifecycle.tracking import (
    TrackedPayment,
    epoch_ms,
    expires_at_ms,
    on_event,
    on_sla_deadline,
    status_record,
)
from schemas import AvroCodec
from state.payment_lifecycle import decode_payment, encode_payment
from streamledger.iso20022 import PaymentEvent

from .test_payment_lifecycle import (
    SCENARIOS,
    at,
    credit_notification,
    events_of,
    initiation,
    payment,
    scenario_events,
    status_report,
    transfer,
)

KEY = PiiKey("test", b"0123456789abcdef0123456789abcdef")
HOUR = timedelta(hours=1)
FOREVER_MS = 2**62


def track(events: list[PaymentEvent], sla: timedelta = HOUR) -> TrackedPayment:
    state: TrackedPayment | None = None
    for event in events:
        state = on_event(state, event, parties_of(KEY, event), sla).state
    assert state is not None
    return state


def final_record(events: list[PaymentEvent], sla: timedelta = HOUR) -> dict[str, object]:
    """The last projection row, after the watermark passed every deadline (end of input)."""
    state = track(events, sla)
    state = on_sla_deadline(state, FOREVER_MS, sla).state
    return status_record(state, sla)


# --- milestones and reconciliation --------------------------------------------------------------------


def test_credited_payment_has_every_milestone_in_order_and_matching_amounts() -> None:
    lifecycle = fold(scenario_events("credited")).popitem()[1]
    m = milestones_of(lifecycle)
    assert (m.initiated_at, m.accepted_at, m.settled_at, m.credited_at) == (at(0), at(1), at(2), at(3))
    assert m.finished_at == m.credited_at  # CREDITED is terminal, finished by the first credit
    assert m.duration_ms(m.initiated_at, m.credited_at) == 3 * 60_000
    assert m.reconciliation is Reconciliation.MATCHED
    assert is_terminal(lifecycle)


def test_a_rejected_payment_is_finished_by_its_rejection_and_never_settled() -> None:
    lifecycle = fold(scenario_events("rejected")).popitem()[1]
    m = milestones_of(lifecycle)
    assert lifecycle.status is PaymentStatus.REJECTED
    assert m.settled_at is None and m.credited_at is None and m.finished_at == at(2)


def test_less_credited_than_instructed_is_partial_and_another_currency_is_a_mismatch() -> None:
    tx = payment("partial")
    short = dataclasses.replace(tx, amount=tx.amount - Decimal("10.00"))
    partial = fold(events_of([initiation(tx, 0), transfer(tx, 1), credit_notification(short, 3)])).popitem()[
        1
    ]
    assert milestones_of(partial).reconciliation is Reconciliation.PARTIAL

    foreign = dataclasses.replace(tx, currency="USD" if tx.currency != "USD" else "GBP")
    mismatch = fold(events_of([initiation(tx, 0), credit_notification(foreign, 3)])).popitem()[1]
    assert milestones_of(mismatch).reconciliation is Reconciliation.CURRENCY_MISMATCH


def test_milestones_do_not_depend_on_arrival_order() -> None:
    events = scenario_events("multi_hop_credited")
    expected = milestones_of(fold(events).popitem()[1])
    rng = random.Random(7)
    for _ in range(20):
        shuffled = events[:]
        rng.shuffle(shuffled)
        assert milestones_of(fold(shuffled).popitem()[1]) == expected


# --- SLA ---------------------------------------------------------------------------------------------------


def test_a_payment_not_settled_by_its_deadline_is_flagged_when_the_watermark_passes_it() -> None:
    tx = payment("stalled")
    events = events_of([initiation(tx, 0), transfer(tx, 1)])
    state = track(events, sla=timedelta(minutes=30))
    assert state.sla_due_ms == epoch_ms(at(30))
    before = on_sla_deadline(state, state.sla_due_ms - 1, timedelta(minutes=30))
    assert before.update is None and not before.state.sla_checked
    due = on_sla_deadline(state, state.sla_due_ms, timedelta(minutes=30))
    assert due.update is not None and due.update.record["sla_breached"] is True


def test_settled_in_time_is_not_flagged_and_a_late_settlement_before_the_deadline_clears_the_flag() -> None:
    tx = payment("in-time")
    sla = timedelta(minutes=30)
    flagged = on_sla_deadline(track(events_of([initiation(tx, 0), transfer(tx, 1)]), sla), FOREVER_MS, sla)
    assert flagged.update is not None
    # The ACSC happened at minute 2 but arrives after the check: the payment was never stalled.
    late = events_of([status_report(tx, 2, "ACSC")])[0]
    outcome = on_event(flagged.state, late, parties_of(KEY, late), sla)
    assert outcome.update is not None and outcome.update.record["sla_breached"] is False


def test_an_earlier_message_moves_the_deadline_back_and_rearms_the_check() -> None:
    tx = payment("rearm")
    sla = timedelta(minutes=30)
    state = on_sla_deadline(track(events_of([transfer(tx, 50)]), sla), FOREVER_MS, sla).state
    assert state.sla_checked
    earlier = events_of([initiation(tx, 0)])[0]
    state = on_event(state, earlier, parties_of(KEY, earlier), sla).state
    assert state.sla_due_ms == epoch_ms(at(30)) and not state.sla_checked


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_the_published_row_is_the_same_for_every_arrival_order_and_redelivery(name: str) -> None:
    events = scenario_events(name)
    expected = final_record(events)
    rng = random.Random(name)
    for _ in range(15):
        delivered = events + rng.sample(events, k=min(3, len(events)))
        rng.shuffle(delivered)
        assert final_record(delivered) == expected


def test_a_duplicate_publishes_nothing_and_adds_no_timeline_entry() -> None:
    events = scenario_events("credited")
    state = track(events)
    again = on_event(state, events[1], parties_of(KEY, events[1]), HOUR)
    assert again.state == state and again.update is None and again.new_entry is None


def test_a_change_no_reader_can_see_is_kept_in_state_but_not_published_again() -> None:
    events = scenario_events("credited")
    state = track(events)
    assert state.parties is not None
    # Same tokens, but recorded as read from a less authoritative message: the redelivered
    # initiation moves the bookkeeping back to it without changing the published row.
    weaker = dataclasses.replace(state, parties=dataclasses.replace(state.parties, source=(9, 0, "")))
    initiation_event = next(e for e in events if parties_of(KEY, e).source[0] == 0)
    again = on_event(weaker, initiation_event, parties_of(KEY, initiation_event), HOUR)
    assert again.state == state
    assert again.update is None and again.new_entry is None


def test_only_finished_payments_expire() -> None:
    retention = timedelta(days=30)
    credited = track(scenario_events("credited"))
    assert expires_at_ms(credited, retention) == epoch_ms(credited.lifecycle.last_updated + retention)
    tx = payment("open")
    in_flight = track(events_of([initiation(tx, 0), transfer(tx, 1)]))
    assert expires_at_ms(in_flight, retention) is None


# --- parties ------------------------------------------------------------------------------------------


def test_parties_are_tokens_and_masks_never_raw_values() -> None:
    events = scenario_events("credited")
    record = final_record(events)
    initiation_event = events[0]
    raw = {
        initiation_event.debtor_name,
        initiation_event.debtor_account,
        initiation_event.creditor_name,
        initiation_event.creditor_account,
    } - {None}
    assert raw and not raw & {str(v) for v in record.values()}
    assert str(record["debtor_account_token"]).startswith("hmac-sha256:test:")
    assert record["debtor_account_masked"] == mask_account(initiation_event.debtor_account)


def test_masking_keeps_prefix_and_last_four_only() -> None:
    assert mask_account("DE89 3704 0044 0532 0130 00") == "DE89**************3000"
    assert mask_account("12345") == "***"
    assert mask_account(None) is None


def test_the_same_account_gives_the_same_token_whatever_its_spacing_and_keys_differ() -> None:
    event = scenario_events("credited")[0]
    spaced = dataclasses.replace(event, debtor_account=" ".join(str(event.debtor_account)))
    assert parties_of(KEY, spaced).debtor_account_token == parties_of(KEY, event).debtor_account_token
    other_key = PiiKey("other", b"fedcba9876543210fedcba9876543210")
    assert parties_of(other_key, event).debtor_account_token != parties_of(KEY, event).debtor_account_token


def test_parties_come_from_the_initiation_whatever_arrives_first() -> None:
    events = scenario_events("credited")
    by_initiation = parties_of(KEY, events[0])
    kept = None
    for event in reversed(events):
        kept = preferred(kept, parties_of(KEY, event))
    assert kept == by_initiation


# --- the wire (canonical event) and keyed state --------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_canonical_events_round_trip_through_avro_without_raw_pii(name: str) -> None:
    codec = AvroCodec(SCHEMA_NAME)
    for event in scenario_events(name):
        parties = parties_of(KEY, event)
        payload = codec.encode(to_record(event, parties, "payments.iso20022/0/42"))
        for raw in (event.debtor_name, event.debtor_account, event.creditor_name, event.creditor_account):
            assert raw is None or raw.encode() not in payload
        decoded, decoded_parties = from_record(codec.decode(payload))
        assert decoded == dataclasses.replace(
            event, debtor_name=None, debtor_account=None, creditor_name=None, creditor_account=None
        )
        assert decoded_parties == parties


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_keyed_state_round_trips_and_derives_the_same_view(name: str) -> None:
    state = on_sla_deadline(track(scenario_events(name)), FOREVER_MS, HOUR).state
    restored = decode_payment(encode_payment(state))
    assert restored == state
    assert status_record(restored, HOUR) == status_record(state, HOUR)
