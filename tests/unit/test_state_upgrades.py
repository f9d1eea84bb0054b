"""State values written by an older release are upgraded on read, and the new fields mean something.

An "older release" is the current codec told to write the previous version (``write_version``):
exactly the bytes the previous release put into a savepoint. The upgrade rules of ``state/README.md``
are checked on the schema files themselves, so a new version that breaks them fails here first.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import state
import state.fraud_cep
import state.payment_lifecycle
from operators.cep.event_time_buffer import EventTimeBuffer
from operators.cep.fraud_events import EventKind, FraudEvent
from operators.loyalty.pii import PiiKey
from operators.payment_lifecycle.parties import parties_of
from operators.payment_lifecycle.tracking import TrackedPayment, epoch_ms, on_event, on_sla_deadline
from state.account_balance import BALANCE_STATE
from state.codec import StateCodec
from state.fraud_cep import PENDING_STATE, RULE_STATE, decode_pending, encode_pending
from state.loyalty_member import MEMBER_STATE, STATEMENT_STATE
from state.payment_lifecycle import PAYMENT_STATE, decode_payment, encode_payment
from streamledger.iso20022 import PaymentEvent

from .test_payment_lifecycle import at, events_of, initiation, payment, scenario_events, transfer

STATE_DIR = Path(state.__file__).resolve().parent
KEY = PiiKey("test", b"0123456789abcdef0123456789abcdef")
HOUR = timedelta(hours=1)
CODECS = (BALANCE_STATE, PAYMENT_STATE, PENDING_STATE, RULE_STATE, MEMBER_STATE, STATEMENT_STATE)


def _previous_release(codec: StateCodec) -> StateCodec:
    """The codec as the release before ``codec.current_version`` wrote."""
    return StateCodec(
        codec.name, codec.current_version, codec.upgrades, write_version=codec.current_version - 1
    )


def _track(events: list[PaymentEvent], sla: timedelta = HOUR) -> TrackedPayment:
    tracked: TrackedPayment | None = None
    for event in events:
        tracked = on_event(tracked, event, parties_of(KEY, event), sla).state
    assert tracked is not None
    return tracked


def _schema(name: str, version: int) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((STATE_DIR / f"{name}.v{version}.avsc").read_text())
    return loaded


# --- the rules of state/README.md, on the schema files ------------------------------------------------


@pytest.mark.parametrize("codec", CODECS, ids=lambda c: c.name)
def test_every_released_version_is_kept_and_only_adds_fields_with_defaults(codec: StateCodec) -> None:
    for version in range(1, codec.current_version):
        older = {f["name"]: f for f in _schema(codec.name, version)["fields"]}
        newer = {f["name"]: f for f in _schema(codec.name, version + 1)["fields"]}
        dropped = older.keys() - newer.keys()
        assert not dropped, f"v{version + 1} removed or renamed {dropped}: that needs a new uid"
        for name in older:
            assert older[name]["type"] == newer[name]["type"], f"v{version + 1} changed the type of {name}"
        for name in newer.keys() - older.keys():
            assert "default" in newer[name], f"v{version + 1} adds {name} without a default"
    assert not (STATE_DIR / f"{codec.name}.v{codec.current_version + 1}.avsc").exists(), (
        "a schema file newer than the codec's current version: register its upgrade"
    )


# --- payment lifecycle: v2 keeps the SLA a payment was admitted under ------------------------------------


@pytest.mark.parametrize("name", ["credited", "multi_hop_credited", "rejected"])
def test_a_v1_payment_gets_the_sla_it_was_admitted_under_exactly(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sla = timedelta(minutes=47)
    tracked = on_sla_deadline(_track(scenario_events(name), sla), 2**62, sla).state
    monkeypatch.setattr(state.payment_lifecycle, "PAYMENT_STATE", _previous_release(PAYMENT_STATE))
    written = encode_payment(tracked)
    monkeypatch.undo()

    assert written[0] == 1 and PAYMENT_STATE.current_version == 2
    assert PAYMENT_STATE.decode(written)["sla_ms"] == 47 * 60_000
    assert decode_payment(written) == tracked
    assert encode_payment(tracked)[0] == 2


def test_a_tracked_payment_keeps_its_sla_when_the_setting_changes_and_new_ones_take_the_new_one() -> None:
    tx = payment("admitted")
    before = _track(events_of([initiation(tx, 0)]), timedelta(minutes=30))
    settled = events_of([transfer(tx, 40)])[0]
    # The job is redeployed with a longer SLA: the payment in flight keeps its 30 minutes.
    after = on_event(before, settled, parties_of(KEY, settled), timedelta(hours=2)).state
    assert after.sla_ms == 30 * 60_000 and after.sla_due_ms == epoch_ms(at(30))
    checked = on_sla_deadline(after, after.sla_due_ms, timedelta(hours=2))
    assert checked.update is not None and checked.update.record["sla_breached"] is True

    newcomer = _track(events_of([initiation(payment("newcomer"), 0)]), timedelta(hours=2))
    assert newcomer.sla_ms == 2 * 3_600_000 and newcomer.sla_due_ms == epoch_ms(at(120))


def test_a_payment_without_an_sla_of_its_own_is_judged_by_the_setting() -> None:
    tracked = _track(scenario_events("credited"))
    legacy = TrackedPayment(tracked.lifecycle, tracked.parties, tracked.sla_due_ms, tracked.sla_checked)
    assert legacy.sla(timedelta(minutes=5)) == timedelta(minutes=5)
    assert tracked.sla(timedelta(minutes=5)) == HOUR


# --- fraud-cep pending buffer: v2 counts a customer's late events --------------------------------------


def _buffer() -> EventTimeBuffer[FraudEvent]:
    first = FraudEvent("e1", "c1", EventKind.PAYMENT, 10, 1234, "CRED", None, 0, 0, 48.5, 2.25)
    second = FraudEvent("e2", "c1", EventKind.LOGIN_SUCCEEDED, 30)
    return EventTimeBuffer[FraudEvent]().add(first, 10).add(second, 30).advance_watermark(15)[0]


def test_a_v1_pending_buffer_keeps_its_events_and_starts_counting_late_events_at_zero(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    buffer = _buffer()
    monkeypatch.setattr(state.fraud_cep, "PENDING_STATE", _previous_release(PENDING_STATE))
    written = encode_pending(buffer.refuse_late())
    monkeypatch.undo()

    assert written[0] == 1 and PENDING_STATE.current_version == 2
    restored = decode_pending(written)
    assert restored == buffer and restored.late_events == 0
    assert [p.event.event_id for p in restored.pending] == ["e2"] and restored.watermark == 15


def test_late_events_are_counted_carried_through_the_buffer_and_stored() -> None:
    buffer = _buffer().refuse_late().refuse_late()
    later = buffer.add(FraudEvent("e3", "c1", EventKind.LOGIN_FAILED, 40), 40).advance_watermark(35)[0]
    assert later.late_events == 2 and [p.event.event_id for p in later.pending] == ["e3"]
    decoded = decode_pending(encode_pending(later))
    assert decoded == later and encode_pending(later)[0] == 2
