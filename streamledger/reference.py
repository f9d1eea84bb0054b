"""An independent batch recomputation of what the account-balances job must produce.

Exactly-once is only a claim until outputs are compared with something computed another way.
This model shares no code with ``operators/``: it reads the whole input log in order, drops
repeated event IDs, and folds balances with plain dictionaries. The demo prints its verdict;
the end-to-end tests assert it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from schemas import AvroCodec, UndecodableMessageError


@dataclass
class ExpectedBalances:
    """Expected outputs: latest balance per account, every balance-update row, dead letters."""

    latest: dict[str, dict[str, Any]] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)
    dead_letters: list[tuple[str, str]] = field(default_factory=list)  # (error_type, key)
    applied: int = 0
    duplicates: int = 0


def _millis(value: Any) -> int:
    return int(value.timestamp() * 1000) if isinstance(value, datetime) else int(value)


def expected_balances(values: Iterable[tuple[bytes | None, bytes | None]]) -> ExpectedBalances:
    """Fold (key, value) records, in log order per account, into the expected outputs."""
    codec = AvroCodec("ledger.Posting")
    expected = ExpectedBalances()
    seen: set[str] = set()
    accounts: dict[str, dict[str, Any]] = {}
    for key, value in values:
        try:
            posting = codec.decode(value)
        except UndecodableMessageError as error:
            expected.dead_letters.append((error.error_type, (key or b"").decode(errors="replace")))
            continue
        if posting["event_id"] in seen:
            expected.duplicates += 1
            continue
        seen.add(posting["event_id"])
        account = posting["account_id"]
        current = accounts.get(account)
        if current is not None and current["currency"] != posting["currency"]:
            expected.dead_letters.append(("REJECTED", account))
            continue
        balance = (current["balance_minor"] if current else 0) + posting["amount_minor"]
        version = (current["version"] if current else 0) + 1
        row = {
            "account_id": account,
            "version": version,
            "balance_minor": balance,
            "currency": posting["currency"],
            "event_id": posting["event_id"],
            "amount_minor": posting["amount_minor"],
            "event_time_ms": _millis(posting["event_time"]),
        }
        accounts[account] = row
        expected.rows.append(row)
        expected.applied += 1
    expected.latest = accounts
    return expected
