"""Which ISO 20022 message versions the engine maps, and how a namespace names one.

The list is fixed in code rather than discovered from schema files so the product never depends on
reference material at run time. It is exactly the set of versions whose official XSD the test suite
validates samples against; a test fails if the two drift apart, so adding a version means adding
its schema, a sample builder and the mapping together.
"""

from __future__ import annotations

import re
from typing import Final

from streamledger.iso20022.errors import UnsupportedMessageError

ISO_NAMESPACE_PREFIX: Final = "urn:iso:std:iso:20022:tech:xsd:"

SUPPORTED_MESSAGE_TYPES: Final[frozenset[str]] = frozenset(
    {
        "camt.029.001.09",
        "camt.029.001.13",
        "camt.053.001.02",
        "camt.053.001.04",
        "camt.053.001.08",
        "camt.053.001.12",
        "camt.054.001.02",
        "camt.054.001.04",
        "camt.054.001.08",
        "camt.054.001.12",
        "camt.056.001.08",
        "camt.056.001.11",
        "pacs.002.001.10",
        "pacs.002.001.14",
        "pacs.004.001.09",
        "pacs.004.001.10",
        "pacs.004.001.13",
        "pacs.008.001.08",
        "pacs.008.001.12",
        "pacs.009.001.08",
        "pacs.009.001.11",
        "pain.001.001.03",
        "pain.001.001.09",
        "pain.002.001.03",
        "pain.002.001.10",
    }
)

_IDENTIFIER = re.compile(r"(?P<family>[a-z]{4}\.\d{3})\.\d{3}\.\d{2}")


def family_of(message_type: str) -> str:
    """``"pacs.008.001.08"`` → ``"pacs.008"``: the part that decides how a message is mapped."""
    return message_type[:8]


def message_type_from_namespace(namespace: str) -> str:
    """Return the supported message identifier a Document namespace names, or raise."""
    if not namespace.startswith(ISO_NAMESPACE_PREFIX):
        raise UnsupportedMessageError(f"namespace {namespace!r} is not an ISO 20022 message namespace")
    return supported_message_type(namespace[len(ISO_NAMESPACE_PREFIX) :], namespace)


def supported_message_type(identifier: str, named_by: str) -> str:
    """Check a message identifier (``pacs.008.001.08``) against the supported set.

    ``named_by`` is what carried the identifier (a namespace, a header field), quoted in the error so
    the operator can find it in the file.
    """
    if _IDENTIFIER.fullmatch(identifier) is None:
        raise UnsupportedMessageError(f"{named_by!r} does not name an ISO 20022 message version")
    if identifier not in SUPPORTED_MESSAGE_TYPES:
        supported = sorted(v for v in SUPPORTED_MESSAGE_TYPES if family_of(v) == family_of(identifier))
        hint = f" (supported: {', '.join(supported)})" if supported else ""
        raise UnsupportedMessageError(f"{identifier} from {named_by!r} is not supported{hint}")
    return identifier
