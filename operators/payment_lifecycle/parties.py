"""The parties of a payment, pseudonymised: what projections may say about who paid whom.

Names and accounts (IBANs, account numbers) arrive raw on :class:`PaymentEvent`. The job replaces
them right after parsing — before keyed state, before any output — by

* a **token**, ``hmac-sha256:<key id>:<hex>``, the keyed HMAC of the normalized value (IBAN without
  spaces, upper case; names with whitespace collapsed, case-folded), domain-separated per kind, so
  the same account gives the same token in every projection and can be joined on without being
  revealed; and
* for accounts, a **masked** form keeping the country/bank prefix and the last four characters
  (``DE89**************3000``), enough for an operator to recognise an account on the phone.

A payment's parties are read from its most authoritative message: the customer's pain.001, else the
first interbank transfer, else anything that names them, ties broken by timeline order — a rule
that depends only on the set of messages, like everything else in the lifecycle.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from operators.loyalty.pii import PiiKey, token
from streamledger.iso20022.events import EventType, PaymentEvent

_SOURCE_RANK: Final = {EventType.INITIATION: 0, EventType.INTERBANK_TRANSFER: 1, EventType.FI_TRANSFER: 2}
_SPACES: Final = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Parties:
    """Tokens and masked forms of a payment's debtor and creditor; never raw values."""

    debtor_name_token: str | None = None
    debtor_account_token: str | None = None
    debtor_account_masked: str | None = None
    creditor_name_token: str | None = None
    creditor_account_token: str | None = None
    creditor_account_masked: str | None = None
    #: (message rank, event time ms, message id) of the message they were read from.
    source: tuple[int, int, str] = (99, 0, "")

    @property
    def empty(self) -> bool:
        return not any(
            (
                self.debtor_name_token,
                self.debtor_account_token,
                self.creditor_name_token,
                self.creditor_account_token,
            )
        )


#: The pseudonymised fields, as named in Parties, the canonical event and the projections.
PARTY_FIELDS: Final = (
    "debtor_name_token",
    "debtor_account_token",
    "debtor_account_masked",
    "creditor_name_token",
    "creditor_account_token",
    "creditor_account_masked",
)


def parties_of(key: PiiKey, event: PaymentEvent) -> Parties:
    """Pseudonymise the parties ``event`` names (see the module docstring)."""
    return Parties(
        debtor_name_token=_name_token(key, event.debtor_name),
        debtor_account_token=_account_token(key, event.debtor_account),
        debtor_account_masked=mask_account(event.debtor_account),
        creditor_name_token=_name_token(key, event.creditor_name),
        creditor_account_token=_account_token(key, event.creditor_account),
        creditor_account_masked=mask_account(event.creditor_account),
        source=source_rank(event),
    )


def source_rank(event: PaymentEvent) -> tuple[int, int, str]:
    """How authoritative ``event`` is about the parties; smaller wins (see the module docstring)."""
    return (_SOURCE_RANK.get(event.event_type, 9), int(event.event_time.timestamp() * 1000), event.message_id)


def preferred(current: Parties | None, candidate: Parties) -> Parties:
    """The parties to keep: from the most authoritative message (see the module docstring)."""
    if candidate.empty:
        return current or candidate
    if current is None or current.empty or candidate.source < current.source:
        return candidate
    return current


def mask_account(account: str | None) -> str | None:
    """``DE89370400440532013000`` → ``DE89**************3000``; short numbers → ``***``."""
    if account is None:
        return None
    normalized = _normalize_account(account)
    if len(normalized) < 10:
        return "***"
    return normalized[:4] + "*" * (len(normalized) - 8) + normalized[-4:]


def _normalize_account(account: str) -> str:
    return _SPACES.sub("", account).upper()


def _account_token(key: PiiKey, account: str | None) -> str | None:
    return None if account is None else token(key, "account", _normalize_account(account))


def _name_token(key: PiiKey, name: str | None) -> str | None:
    return None if name is None else token(key, "party-name", _SPACES.sub(" ", name).strip().casefold())
