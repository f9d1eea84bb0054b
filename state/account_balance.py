"""State of the account-balances job (operator uid ``account-balance``, descriptor ``balance``)."""

from __future__ import annotations

from typing import Any

from state.codec import StateCodec


def _v1_to_v2(record: dict[str, Any]) -> dict[str, Any]:
    """v2 records when an account was opened; accounts from v1 savepoints did not keep it."""
    return {**record, "opened_at_ms": None}


#: v1: currency, balance_minor, version, last_event_time_ms. v2: + opened_at_ms (nullable).
BALANCE_STATE = StateCodec("account_balance", current_version=2, upgrades={1: _v1_to_v2})
