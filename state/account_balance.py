"""State of the account-balances job (operator uid ``account-balance``, descriptor ``balance``)."""

from __future__ import annotations

from state.codec import StateCodec

#: v1: currency, balance_minor, version, last_event_time_ms.
BALANCE_STATE = StateCodec("account_balance", current_version=1)
