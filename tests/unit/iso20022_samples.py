"""Realistic ISO 20022 sample messages for the parser tests, and the proof that they are valid.

The builders live in :mod:`streamledger.iso20022.builders` (the payment message generator uses the
same ones); they are re-exported here so tests read ``samples.pacs008(...)``. Tests compare what the
parser extracts with the builder's own inputs, so no expected value is written twice. Each sample is
proven schema-valid against the official XSD in ``../shared/iso20022/xsd`` (see
:func:`assert_schema_valid`), so the parser is tested against messages a real counterparty could
send, not against the parser's own assumptions.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from streamledger.iso20022.builders import (
    BUILDERS,
    CREATED,
    SETTLEMENT_DATE,
    Tx,
    build,
    camt029,
    camt053,
    camt054,
    camt056,
    carries_uetr,
    pacs002,
    pacs004,
    pacs008,
    pacs009,
    pain001,
    pain002,
    serialize,
    uetr_for,
    wrap,
)

__all__ = [
    "BUILDERS",
    "CREATED",
    "SETTLEMENT_DATE",
    "TIMESTAMPED_FAMILIES",
    "XSD_DIR",
    "Tx",
    "assert_schema_valid",
    "build",
    "camt029",
    "camt053",
    "camt054",
    "camt056",
    "carries_uetr",
    "pacs002",
    "pacs004",
    "pacs008",
    "pacs009",
    "pain001",
    "pain002",
    "require_schemas",
    "sample_transactions",
    "schema",
    "uetr_for",
    "with_text",
    "without",
    "wrap",
]

XSD_DIR = Path(__file__).parents[2].parent / "shared" / "iso20022" / "xsd"

# Status and reason each family carries per transaction, in the family's own code list.
_TRANSACTION_STATUS: dict[str, tuple[tuple[str | None, str | None], ...]] = {
    "pacs.002": (("RJCT", "AC04"), ("ACSC", None), ("ACSP", None)),
    "pain.002": (("RJCT", "AM04"), ("ACCP", None), ("ACSP", None)),
    "pacs.004": ((None, "AC04"), (None, "MD06"), (None, "FOCR")),
    "camt.056": ((None, "DUPL"), (None, "FRAD"), (None, "CUST")),
    "camt.029": (("RJCR", "LEGL"), ("ACCR", None), ("PDCR", None)),
    "camt.053": (("BOOK", None), ("BOOK", None), ("BOOK", None)),
    "camt.054": (("BOOK", None), ("PDNG", None), ("BOOK", None)),
}
# Families whose transactions carry a timestamp the parser uses as event time.
TIMESTAMPED_FAMILIES = frozenset({"pacs.008", "pacs.002", "pain.002", "camt.053", "camt.054"})


def sample_transactions(message_type: str, count: int = 3, *, seed: str = "A") -> tuple[Tx, ...]:
    """``count`` distinct transactions suited to ``message_type`` (status, reason, UETR)."""
    family = message_type[:8]
    statuses = _TRANSACTION_STATUS.get(family, ((None, None),))
    txs = []
    for n in range(count):
        status, reason = statuses[n % len(statuses)]
        txs.append(
            Tx(
                end_to_end_id=f"E2E-{seed}-{n:04d}",
                uetr=uetr_for(f"{seed}-{n}") if carries_uetr(message_type) else None,
                tx_id=f"TX-{seed}-{n:04d}",
                instruction_id=f"INSTR-{seed}-{n:04d}",
                amount=Decimal("100.25") * (n + 1),
                currency=("EUR", "USD", "GBP")[n % 3],
                debtor_name=f"Debtor {seed}{n}",
                debtor_iban=f"DE{10 + n % 90:02d}370400440532013{n:03d}",
                creditor_name=f"Creditor {seed}{n}",
                creditor_iban=f"FR{20 + n % 80:02d}20041010050500013M0{n:04d}",
                status=status,
                reason=reason,
                timestamp=datetime(2024, 3, 1, 10, 0, 0, tzinfo=UTC) + timedelta(minutes=n)
                if family in TIMESTAMPED_FAMILIES
                else None,
            )
        )
    return tuple(txs)


# --- proof of validity ----------------------------------------------------------------------------


def require_schemas() -> Path:
    """The XSD folder, or skip: the schemas live beside the checkout, not in it."""
    if not XSD_DIR.is_dir():
        pytest.skip(f"official ISO 20022 XSDs not found at {XSD_DIR} (../shared is absent)")
    return XSD_DIR


@functools.cache
def schema(message_type: str) -> Any:
    return etree.XMLSchema(etree.parse(str(require_schemas() / f"{message_type}.xsd")))


def assert_schema_valid(data: bytes) -> None:
    """Validate a bare Document, or the AppHdr and Document of an enveloped message, against their
    official schemas."""
    root = etree.fromstring(data)
    parts = [e for e in root.iter(etree.Element) if etree.QName(e).localname in ("AppHdr", "Document")]
    assert parts, "no Document in sample"
    for part in parts:
        message_type = etree.QName(part).namespace.rsplit(":", 1)[1]
        validator = schema(message_type)
        if not validator.validate(etree.ElementTree(part)):
            errors = "; ".join(f"line {e.line}: {e.message}" for e in validator.error_log)
            raise AssertionError(f"{message_type} sample is not schema-valid: {errors}")


def without(data: bytes, *local_names: str) -> bytes:
    """A copy of a sample with every element of the given local names removed."""
    root = etree.fromstring(data)
    doomed = [e for e in root.iter(etree.Element) if etree.QName(e).localname in local_names]
    assert doomed, f"none of {local_names} in sample"
    for element in doomed:
        element.getparent().remove(element)
    return serialize(root)


def with_text(data: bytes, old: str, new: str) -> bytes:
    """A deliberately altered copy of a sample (for inputs that are not schema-valid on purpose)."""
    assert old.encode() in data, f"{old!r} not in sample"
    return data.replace(old.encode(), new.encode())
