"""Typed, namespace-aware reads from one ISO 20022 Document.

Every message mapping reads the same building blocks — an agent's BIC, an account, a party name, an
amount with its currency, a reason code — whose element paths shift between versions (``BIC`` in
2009 schemas, ``BICFI`` later; a party directly or wrapped in a ``Pty``/``Agt`` choice). Reading
them here, once, keeps those version differences out of the per-message mappings.

Missing optional data reads as ``None``; only the ``required*`` reads raise for a missing element, and
any read raises for a value that cannot be what its type says (an amount that is not a number). An
optional block
can be opened with :meth:`Node.part` even when absent — every read on it then yields ``None`` — so a
mapping states its fallbacks in one expression instead of a ladder of ``if block is not None``. Each
node knows its path from the message root, so an error names the exact element a sender has to fix.
"""

from __future__ import annotations

import functools
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypedDict, TypeVar

from streamledger.iso20022.errors import MalformedMessageError, located
from streamledger.iso20022.values import to_amount, to_date, to_utc_datetime

T = TypeVar("T")

# Where a BIC sits below an element that identifies an institution, across versions and choices:
# BranchAndFinancialInstitutionIdentification (FinInstnId), Party40/50Choice (Agt), and the
# business application header's party (FIId).
_BIC_PATHS = (
    "FinInstnId/BICFI",
    "FinInstnId/BIC",
    "Agt/FinInstnId/BICFI",
    "Agt/FinInstnId/BIC",
    "FIId/FinInstnId/BICFI",
    "FIId/FinInstnId/BIC",
)
_NAME_PATHS = ("Nm", "Pty/Nm", "Agt/FinInstnId/Nm", "FinInstnId/Nm")
_ACCOUNT_PATHS = ("Id/IBAN", "Id/Othr/Id")


Money = tuple[Decimal, str | None]


class AmountFields(TypedDict):
    amount: Decimal | None
    currency: str | None


def first_present(*values: T | None) -> T | None:
    """The first value that is not ``None``: fallbacks read in order of preference."""
    for value in values:
        if value is not None:
            return value
    return None


def amount_fields(*candidates: Money | None) -> AmountFields:
    """Event ``amount``/``currency`` from the first amount present."""
    chosen = first_present(*candidates)
    return AmountFields(amount=chosen[0] if chosen else None, currency=chosen[1] if chosen else None)


@functools.lru_cache(maxsize=4096)
def _qualified(namespace: str, path: str) -> str:
    """``GrpHdr/MsgId`` → ``{ns}GrpHdr/{ns}MsgId`` (cached: mappings ask for the same paths per row)."""
    if not namespace:
        return path
    return "/".join(f"{{{namespace}}}{step}" for step in path.split("/"))


class Node:
    """An element of a Document, navigated by local names in the Document's own namespace.

    A node made by :meth:`part` for an absent element has no element; it reads as empty.
    """

    __slots__ = ("_element", "_namespace", "path")

    def __init__(self, element: Any, namespace: str, path: str) -> None:
        self._element = element
        self._namespace = namespace
        self.path = path

    @classmethod
    def absent(cls, path: str) -> Node:
        """An empty node standing for an optional block the message does not have."""
        return cls(None, "", path)

    @property
    def exists(self) -> bool:
        return self._element is not None

    def _find(self, path: str) -> Any:
        return None if self._element is None else self._element.find(_qualified(self._namespace, path))

    def child(self, path: str) -> Node | None:
        found = self._find(path)
        return None if found is None else Node(found, self._namespace, f"{self.path}/{path}")

    def part(self, path: str) -> Node:
        """The element at ``path``, or an empty node if it is absent (optional blocks)."""
        return Node(self._find(path), self._namespace, f"{self.path}/{path}")

    def required(self, path: str) -> Node:
        node = self.child(path)
        if node is None:
            raise MalformedMessageError(f"missing {self.path}/{path}")
        return node

    def children(self, path: str) -> list[Node]:
        if self._element is None:
            return []
        found = self._element.findall(_qualified(self._namespace, path))
        return [Node(e, self._namespace, f"{self.path}/{path}[{n}]") for n, e in enumerate(found, 1)]

    def text(self, path: str | None = None) -> str | None:
        """Stripped text of the element at ``path`` (or of this node); empty text reads as ``None``."""
        element = self._element if path is None else self._find(path)
        if element is None or element.text is None:
            return None
        return str(element.text).strip() or None

    def required_text(self, path: str) -> str:
        value = self.text(path)
        if value is None:
            raise MalformedMessageError(f"missing {self.path}/{path}")
        return value

    def uetr(self, path: str) -> str | None:
        """A UETR, lower-cased: the UUID is case-insensitive but keys are compared as strings."""
        value = self.text(path)
        return value.lower() if value else None

    def timestamp(self, path: str) -> datetime | None:
        value = self.text(path)
        if value is None:
            return None
        with located(f"{self.path}/{path}"):
            return to_utc_datetime(value)

    def iso_date(self, path: str) -> date | None:
        """An ISODate, or the calendar day of an ISODateTime, at ``path``."""
        value = self.text(path)
        if value is None:
            return None
        with located(f"{self.path}/{path}"):
            if "T" in value:
                to_utc_datetime(value)  # validates the whole value, not just its first ten characters
                return to_date(value[:10])
            return to_date(value)

    def choice_date(self, path: str) -> date | None:
        """The day of a DateAndDateTime choice (``Dt`` or ``DtTm``) at ``path``; plain dates too."""
        return first_present(self.iso_date(f"{path}/Dt"), self.iso_date(f"{path}/DtTm"), self.iso_date(path))

    def amount(self, path: str) -> Money | None:
        """An amount and its ``Ccy`` attribute."""
        node = self.child(path)
        if node is None:
            return None
        value = node.text()
        if value is None:
            raise MalformedMessageError(f"{node.path} has no amount")
        with located(node.path):
            amount = to_amount(value)
        currency = node._element.get("Ccy")
        return amount, currency.strip() if currency else None

    def _first_text(self, path: str, candidates: tuple[str, ...]) -> str | None:
        """Text of the first candidate sub-path present below ``path``, read lazily (hot path)."""
        node = self.child(path)
        if node is None:
            return None
        for candidate in candidates:
            value = node.text(candidate)
            if value is not None:
                return value
        return None

    def bic(self, path: str) -> str | None:
        """The BIC of the institution at ``path``, upper-cased; ``None`` if identified otherwise."""
        value = self._first_text(path, _BIC_PATHS)
        return value.upper() if value else None

    def account(self, path: str) -> str | None:
        """IBAN, or the generic ``Othr/Id``, of the cash account at ``path``."""
        return self._first_text(path, _ACCOUNT_PATHS)

    def party_name(self, path: str) -> str | None:
        """Name of a party, party choice or institution at ``path``."""
        return self._first_text(path, _NAME_PATHS)

    def reason(self, path: str) -> str | None:
        """The first reason code (``Rsn/Cd``), else proprietary reason, among the ``path`` elements."""
        for node in self.children(path):
            value = first_present(node.text("Rsn/Cd"), node.text("Rsn/Prtry"))
            if value is not None:
                return value
        return None
