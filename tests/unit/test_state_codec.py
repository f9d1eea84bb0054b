"""Versioned keyed-state values: what lets a new job version read an old savepoint."""

from __future__ import annotations

import pytest

from state.account_balance import BALANCE_STATE
from state.codec import StateCodec, StateVersionError


def test_state_round_trip_is_tagged_with_its_version() -> None:
    value = {
        "currency": "EUR",
        "balance_minor": -5,
        "version": 3,
        "last_event_time_ms": 42,
        "opened_at_ms": 7,
    }
    encoded = BALANCE_STATE.encode(value)
    assert encoded[0] == BALANCE_STATE.current_version
    assert BALANCE_STATE.decode(encoded) == value


def test_value_from_an_unknown_future_version_fails_loudly() -> None:
    encoded = bytearray(
        BALANCE_STATE.encode({"currency": "EUR", "balance_minor": 0, "version": 1, "last_event_time_ms": 0})
    )
    encoded[0] = BALANCE_STATE.current_version + 1
    with pytest.raises(StateVersionError, match=f"v{BALANCE_STATE.current_version + 1}"):
        BALANCE_STATE.decode(bytes(encoded))


def test_a_codec_cannot_skip_an_upgrade_step() -> None:
    with pytest.raises(ValueError, match="no upgrade from v1 to v2"):
        StateCodec("account_balance", current_version=2)


def test_a_v1_value_from_an_old_savepoint_is_upgraded_on_read() -> None:
    previous_release = StateCodec(
        "account_balance", current_version=2, upgrades=BALANCE_STATE.upgrades, write_version=1
    )
    value = {
        "currency": "EUR",
        "balance_minor": 10,
        "version": 2,
        "last_event_time_ms": 42,
        "opened_at_ms": 7,
    }
    written = previous_release.encode(value)
    assert written[0] == 1
    assert BALANCE_STATE.decode(written) == {**value, "opened_at_ms": None}


def test_a_codec_cannot_write_a_version_it_does_not_know() -> None:
    with pytest.raises(ValueError, match="cannot write v3"):
        StateCodec("account_balance", current_version=2, upgrades=BALANCE_STATE.upgrades, write_version=3)
