"""Find the message inside whatever wraps it.

Messages arrive bare (a ``<Document>`` root) or wrapped by a transport: a business application
header (``AppHdr``, head.001) next to the Document inside an envelope element whose name and
namespace vary by network (``Envelope``, ``BizMsgEnvlp``, ``Message``, …). Rather than knowing every
envelope, the Document and the AppHdr are found by local name anywhere in the tree; only the
Document's namespace decides what the message is. When a Document carries no namespace, the header's
``MsgDefIdr`` names the message instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lxml import etree

from streamledger.iso20022.catalogue import message_type_from_namespace, supported_message_type
from streamledger.iso20022.errors import MalformedMessageError, UnsupportedMessageError
from streamledger.iso20022.events import AppHeader
from streamledger.iso20022.reader import Node


@dataclass(frozen=True, slots=True)
class Unwrapped:
    """The Document's business element (e.g. ``FIToFICstmrCdtTrf``), its type and its header."""

    message_type: str
    root: Node
    root_name: str
    app_header: AppHeader | None


def _outermost(root: Any, local_name: str) -> list[Any]:
    """Elements named ``local_name`` (in any namespace) not nested in another one of that name."""
    tag = f"{{*}}{local_name}"
    return [e for e in root.iter(tag) if next(e.iterancestors(tag), None) is None]


def _single(root: Any, local_name: str) -> Any:
    elements = _outermost(root, local_name)
    if len(elements) > 1:
        raise MalformedMessageError(f"found {len(elements)} {local_name} elements; expected one message")
    return elements[0] if elements else None


def _app_header(element: Any) -> AppHeader:
    # Only the header's own fields: a reply's header nests the related message's header (Rltd).
    header = Node(element, etree.QName(element).namespace or "", "AppHdr")
    return AppHeader(
        business_message_id=header.text("BizMsgIdr"),
        message_definition_id=header.text("MsgDefIdr"),
        created_at=header.timestamp("CreDt"),
    )


def unwrap(root: Any) -> Unwrapped:
    """Locate Document and AppHdr below ``root`` and identify the message type."""
    document = _single(root, "Document")
    if document is None:
        raise MalformedMessageError(
            f"no ISO 20022 Document element found (root element is <{etree.QName(root).localname}>)"
        )
    header_element = next((e for e in _outermost(root, "AppHdr") if document not in e.iterancestors()), None)
    app_header = _app_header(header_element) if header_element is not None else None
    namespace = etree.QName(document).namespace or ""
    if namespace:
        message_type = message_type_from_namespace(namespace)
    elif app_header is not None and app_header.message_definition_id:
        message_type = supported_message_type(app_header.message_definition_id, "AppHdr/MsgDefIdr")
    else:
        raise UnsupportedMessageError("Document has no namespace and no AppHdr/MsgDefIdr names the message")
    business = [child for child in document if isinstance(child.tag, str)]
    if len(business) != 1:
        raise MalformedMessageError(f"Document must hold exactly one message element, found {len(business)}")
    root_name = etree.QName(business[0]).localname
    return Unwrapped(message_type, Node(business[0], namespace, root_name), root_name, app_header)
