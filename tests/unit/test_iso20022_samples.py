"""The sample builders produce schema-valid messages, and cover exactly the supported versions.

These tests are what make the parser tests meaningful: a parser test on an invalid sample would only
prove the parser agrees with its own author.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from streamledger.iso20022 import SUPPORTED_MESSAGE_TYPES

from . import iso20022_samples as samples

ALL_VERSIONS = sorted(SUPPORTED_MESSAGE_TYPES)


def test_supported_versions_are_exactly_the_official_schemas_in_shared() -> None:
    xsd_dir = samples.require_schemas()
    on_disk = {path.stem for path in xsd_dir.glob("*.xsd") if not path.stem.startswith("head.")}
    assert on_disk, f"no message schemas in {xsd_dir}"
    assert set(SUPPORTED_MESSAGE_TYPES) == on_disk


def test_every_supported_family_has_a_builder() -> None:
    assert {version[:8] for version in SUPPORTED_MESSAGE_TYPES} == set(samples.BUILDERS)


@pytest.mark.parametrize("message_type", ALL_VERSIONS)
@pytest.mark.parametrize("count", [1, 4])
def test_default_samples_are_schema_valid(message_type: str, count: int) -> None:
    data = samples.build(message_type, txs=samples.sample_transactions(message_type, count))
    samples.assert_schema_valid(data)


@pytest.mark.parametrize(
    ("message_type", "parameters"),
    [
        ("pacs.002.001.10", {"txs": (), "group_status": "RJCT", "group_reason": "FF01"}),
        ("pacs.002.001.14", {"txs": (), "group_status": "ACCP"}),
        ("pacs.002.001.10", {"tx_original_group": False, "group_status": "PART"}),
        ("pain.002.001.03", {"txs": (), "group_status": "RJCT"}),
        ("pain.002.001.10", {"txs": (), "payment_info_status": "PART"}),
        ("pacs.004.001.09", {"txs": (), "group_reason": "AC04"}),
        ("pacs.004.001.13", {"quote_original": False}),
        ("camt.056.001.08", {"txs": (), "group_reason": "DUPL"}),
        ("camt.029.001.13", {"txs": (), "group_status": "ACCR"}),
        ("pacs.008.001.12", {"agents_in_group_header": True}),
        ("pacs.009.001.08", {"cover": True}),
        ("pacs.009.001.11", {"cover": True}),
        ("pain.001.001.03", {"instructions": 3}),
        ("camt.054.001.02", {"batch": True, "credit_debit": "DBIT"}),
        ("camt.053.001.12", {"batch": True}),
    ],
)
def test_sample_variants_are_schema_valid(message_type: str, parameters: dict[str, object]) -> None:
    parameters.setdefault("txs", samples.sample_transactions(message_type, 3))
    samples.assert_schema_valid(samples.build(message_type, **parameters))


@pytest.mark.parametrize("header_version", ["head.001.001.02", "head.001.001.04"])
def test_enveloped_samples_are_schema_valid(header_version: str) -> None:
    document = samples.pacs008("pacs.008.001.08")
    samples.assert_schema_valid(samples.wrap(document, header_version=header_version))


def test_schema_check_rejects_an_invalid_sample() -> None:
    broken = samples.with_text(samples.pacs008(), "<ChrgBr>SHAR</ChrgBr>", "<ChrgBr>NONE</ChrgBr>")
    with pytest.raises(AssertionError, match="not schema-valid"):
        samples.assert_schema_valid(broken)


def test_sample_transactions_are_distinct_and_versions_without_uetr_get_none() -> None:
    txs = samples.sample_transactions("pacs.008.001.08", 5)
    assert len({tx.end_to_end_id for tx in txs}) == 5
    assert len({tx.uetr for tx in txs}) == 5
    assert all(tx.amount > Decimal(0) for tx in txs)
    assert all(tx.uetr is None for tx in samples.sample_transactions("pain.001.001.03", 3))
