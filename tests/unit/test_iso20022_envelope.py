"""Finding the message: bare Documents, application headers, envelopes, encodings, line endings."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from streamledger.iso20022 import MalformedMessageError, UnsupportedMessageError, parse_message

from . import iso20022_samples as samples
from .iso20022_samples import Tx

HEADER_CREATED = datetime(2024, 3, 1, 7, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize("header_version", ["head.001.001.02", "head.001.001.04"])
@pytest.mark.parametrize(
    ("envelope", "envelope_namespace"),
    [
        ("BizMsgEnvlp", None),
        ("Envelope", "urn:swift:xsd:envelope"),
        ("Message", "urn:tch"),
        ("BizMsgEnvlp", "urn:iso:std:iso:20022:tech:xsd:nvlp.001.001.01"),
    ],
)
def test_app_header_in_any_envelope(
    header_version: str, envelope: str, envelope_namespace: str | None
) -> None:
    txs = samples.sample_transactions("pacs.008.001.08", 2)
    data = samples.wrap(
        samples.pacs008(msg_id="DOC-MSG-1", txs=txs),
        header_version=header_version,
        business_message_id="BAH-0001",
        message_definition="pacs.008.001.08",
        created=HEADER_CREATED,
        envelope=envelope,
        envelope_namespace=envelope_namespace,
    )
    samples.assert_schema_valid(data)

    message = parse_message(data)

    assert (message.message_type, message.message_id, message.business_message_id) == (
        "pacs.008.001.08",
        "DOC-MSG-1",
        "BAH-0001",
    )
    assert message.app_header is not None
    assert message.app_header.message_definition_id == "pacs.008.001.08"
    assert message.app_header.created_at == HEADER_CREATED
    assert [e.business_message_id for e in message.events] == ["BAH-0001", "BAH-0001"]
    assert [e.end_to_end_id for e in message.events] == [tx.end_to_end_id for tx in txs]


def test_document_namespace_decides_even_when_the_header_names_another_version() -> None:
    data = samples.wrap(samples.camt054("camt.054.001.12"), message_definition="camt.054.001.08")
    assert parse_message(data).message_type == "camt.054.001.12"


def test_header_fields_come_from_the_header_itself_not_a_related_header() -> None:
    data = samples.wrap(samples.pacs002(), business_message_id="BAH-OWN")
    nested = samples.with_text(
        data,
        "</AppHdr>",
        "<Rltd><BizMsgIdr>BAH-RELATED</BizMsgIdr><MsgDefIdr>pacs.008.001.08</MsgDefIdr></Rltd></AppHdr>",
    )
    assert parse_message(nested).business_message_id == "BAH-OWN"


def test_bare_document_has_no_header() -> None:
    message = parse_message(samples.pacs008())
    assert message.app_header is None
    assert message.business_message_id is None


def test_document_without_namespace_is_named_by_the_header() -> None:
    namespace = b' xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08"'
    enveloped = samples.wrap(samples.pacs008(), message_definition="pacs.008.001.08")
    bare_document = enveloped.replace(namespace, b"", 1)
    assert namespace not in bare_document
    assert parse_message(bare_document).message_type == "pacs.008.001.08"

    with pytest.raises(UnsupportedMessageError, match="no namespace and no AppHdr/MsgDefIdr"):
        parse_message(samples.pacs008().replace(namespace, b""))


def test_creation_time_falls_back_to_the_header() -> None:
    """Not schema-valid on purpose: GrpHdr/CreDtTm is mandatory, but the header still dates it."""
    document = samples.without(samples.pacs008(txs=[Tx(uetr=samples.uetr_for("t"))]), "CreDtTm")
    (event,) = parse_message(samples.wrap(document, created=HEADER_CREATED)).events
    assert event.event_time == HEADER_CREATED
    with pytest.raises(MalformedMessageError, match="missing FIToFICstmrCdtTrf/GrpHdr/CreDtTm"):
        parse_message(document)


@pytest.mark.parametrize(
    "transform",
    [
        lambda data: b"\xef\xbb\xbf" + data,
        lambda data: data.replace(b"\n", b"\r\n"),
        lambda data: data.replace(b"\n", b"\r"),
        lambda data: b"\xef\xbb\xbf" + data.replace(b"\n", b"\r\n"),
    ],
    ids=["bom", "crlf", "cr", "bom-crlf"],
)
def test_byte_order_mark_and_line_endings(transform: Callable[[bytes], bytes]) -> None:
    txs = samples.sample_transactions("pain.001.001.09", 3)
    original = samples.pain001(txs=txs)
    altered = transform(original)
    assert altered != original
    assert parse_message(altered).events == parse_message(original).events


def test_multi_line_text_is_normalized_to_line_feeds_and_stripped() -> None:
    data = samples.with_text(samples.pacs008(), "<Nm>Claire Martin</Nm>", "<Nm>\r\n  Claire Martin\r\n</Nm>")
    (event,) = parse_message(data).events
    assert event.creditor_name == "Claire Martin"


def test_declared_latin1_with_ascii_content_is_read_as_utf8() -> None:
    data = samples.pacs008().replace(b'encoding="UTF-8"', b'encoding="ISO-8859-1"')
    assert parse_message(data).message_type == "pacs.008.001.08"


def test_non_ascii_names_survive() -> None:
    data = samples.pacs008(txs=[Tx(creditor_name="Zoë Ångström-Müller")])
    (event,) = parse_message(data).events
    assert event.creditor_name == "Zoë Ångström-Müller"


def test_comments_and_processing_instructions_are_ignored() -> None:
    data = samples.with_text(
        samples.pacs008(),
        "<MsgId>",
        "<!-- routed via gateway --><?gateway hop=2?><MsgId>",
    )
    assert parse_message(data).message_id == "PACS008-MSG-1"
