"""Turn untrusted bytes into an lxml tree without letting the document reach outside itself.

Payment files come from partners, portals and mailboxes, so every input is assumed hostile. The
defence is layered so that one forgotten flag is not enough for an attack to work:

* the size limit is checked before any parsing, so a huge upload costs nothing;
* any DOCTYPE or ENTITY declaration is refused outright before parsing (ISO 20022 never uses a
  DTD), which rules out external entities (XXE, e.g. ``file:///etc/passwd``) and entity expansion
  ("billion laughs") regardless of libxml2's own protections;
* the parser itself never resolves entities, never loads a DTD and never touches the network, and
  keeps libxml2's default depth and text-size limits (``huge_tree=False``);
* after parsing, a document that still reports a DOCTYPE is refused.

ISO 20022 mandates UTF-8, and the parser is told so whatever the XML declaration claims: an
attacker cannot pick an encoding (UTF-7, UTF-16) in which the DOCTYPE scan above would not see the
declaration. A byte-order mark and any line-ending convention (LF, CRLF, CR) are accepted, the
latter because XML parsing normalises them all to LF.
"""

from __future__ import annotations

import re
from typing import Any, Final

from lxml import etree

from streamledger.iso20022.errors import HostileMessageError, MalformedMessageError

DEFAULT_MAX_BYTES: Final = 5 * 1024 * 1024

# Case-insensitive and whitespace-tolerant on purpose: a false positive (the text inside a comment)
# costs one rejected file, a false negative could cost a data leak.
_DECLARATION = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


def hardened_parser() -> Any:
    # A new parser per call: lxml parsers keep state (error log, last document) and are not
    # safe to share across threads.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        dtd_validation=False,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        encoding="utf-8",
    )


def parse_untrusted(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Any:
    """Return the root element of ``data``, or raise an :class:`Iso20022Error` subclass.

    The return type is ``Any`` because lxml ships without type information.
    """
    if max_bytes <= 0:
        raise ValueError(f"max_bytes must be positive, got {max_bytes}")
    if len(data) > max_bytes:
        raise HostileMessageError(f"input is {len(data)} bytes, above the limit of {max_bytes} bytes")
    if not data.strip():
        raise MalformedMessageError("input is empty")
    declaration = _DECLARATION.search(data)
    if declaration is not None:
        kind = declaration.group(1).decode("ascii").upper()
        raise HostileMessageError(
            f"document contains a {kind} declaration at byte {declaration.start()}; "
            "DTDs and entities are refused"
        )
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise MalformedMessageError(f"input is not valid UTF-8 (byte {error.start})") from error
    if b"\x00" in data:
        # Valid UTF-8 but never valid XML 1.0: the mark of UTF-16/32 text, which would also hide
        # a DOCTYPE from the byte scan above.
        raise MalformedMessageError(f"input contains a NUL byte at {data.index(0)}; only UTF-8 is accepted")
    try:
        root = etree.fromstring(data, hardened_parser())
    except etree.XMLSyntaxError as error:
        raise MalformedMessageError(f"not well-formed XML: {error.msg}") from error
    if root.getroottree().docinfo.doctype:
        raise HostileMessageError("document declares a DOCTYPE; DTDs are refused")
    return root
