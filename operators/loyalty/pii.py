"""Contact data (names, e-mail, phone, postal address) never leaves the accrual core in clear.

Each value is reduced to two things before it reaches member state or any output:

* a **token**: ``hmac-sha256:<key id>:<64 hex>``, the keyed HMAC-SHA256 of the *normalized* value
  (e-mail lower-cased, phone reduced to ``+`` and digits, whitespace collapsed), domain-separated by
  field (an e-mail and a phone number with the same text get different tokens). The same contact
  gives the same token under the same key, so downstream systems can join or de-duplicate members
  without seeing the data; without the key a token cannot be reversed or confirmed by guessing.
  The key id in the token lets the key be rotated (old and new tokens are told apart).
* a **masked display form** for service agents and statements: ``j***@example.com``,
  ``+***********34``, ``J*** D***``, ``*** (FR)``. It keeps too little to identify a person on
  its own (first letter of the local part and of each name, the e-mail domain, the last two
  phone digits, the country of the address).

The key comes from configuration (:class:`PiiKey`) and is never stored in state or outputs; its
``repr`` hides the secret. Raw values live only in the input event, whose PII fields are also
hidden from ``repr`` so a logged event does not leak them.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass, field

_MIN_KEY_BYTES = 16
_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class PiiKey:
    """HMAC key for contact tokens. ``secret`` must be at least 16 random bytes (32 recommended)."""

    key_id: str
    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not _KEY_ID.match(self.key_id):
            raise ValueError(f"PII key id must match {_KEY_ID.pattern}, got {self.key_id!r}")
        if len(self.secret) < _MIN_KEY_BYTES:
            raise ValueError(
                f"PII key {self.key_id} is {len(self.secret)} bytes; at least {_MIN_KEY_BYTES} needed"
            )


@dataclass(frozen=True, slots=True)
class Protected:
    """A contact value as the core keeps it: token + masked display form + when it was set."""

    token: str
    masked: str
    updated_ms: int


@dataclass(frozen=True, slots=True)
class Address:
    """A postal address as it arrives on an event (raw PII: never stored or emitted as is)."""

    lines: tuple[str, ...] = field(repr=False)
    city: str = field(repr=False)
    postal_code: str = field(repr=False)
    country: str

    def normalized(self) -> str:
        parts = [*self.lines, self.postal_code, self.city, self.country]
        return "|".join(_normalize_text(p) for p in parts)


def token(key: PiiKey, kind: str, normalized: str) -> str:
    digest = hmac.new(key.secret, f"{kind}\x00{normalized}".encode(), hashlib.sha256).hexdigest()
    return f"hmac-sha256:{key.key_id}:{digest}"


def protect_email(key: PiiKey, email: str, at_ms: int) -> Protected:
    normalized = _normalize_text(email).replace(" ", "")
    local, sep, domain = normalized.rpartition("@")
    masked = f"{local[:1]}***@{domain}" if sep and local and domain else "***"
    return Protected(token(key, "email", normalized), masked, at_ms)


def protect_phone(key: PiiKey, phone: str, at_ms: int) -> Protected:
    digits = "".join(ch for ch in phone if ch.isdigit())
    normalized = ("+" if phone.strip().startswith("+") else "") + digits
    if len(digits) >= 6:
        masked = ("+" if normalized.startswith("+") else "") + "*" * (len(digits) - 2) + digits[-2:]
    else:
        masked = "***"
    return Protected(token(key, "phone", normalized), masked, at_ms)


def protect_name(key: PiiKey, first_name: str, last_name: str, at_ms: int) -> Protected:
    first, last = _normalize_text(first_name), _normalize_text(last_name)
    masked = " ".join(f"{part[:1].upper()}***" for part in (first_name.strip(), last_name.strip()) if part)
    return Protected(token(key, "name", f"{first}|{last}"), masked or "***", at_ms)


def protect_address(key: PiiKey, address: Address, at_ms: int) -> Protected:
    country = address.country.strip().upper()
    masked = f"*** ({country})" if re.fullmatch(r"[A-Z]{2}", country) else "***"
    return Protected(token(key, "address", address.normalized()), masked, at_ms)


def _normalize_text(value: str) -> str:
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", value)).strip().casefold()
