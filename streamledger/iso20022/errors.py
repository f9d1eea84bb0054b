"""Why an ISO 20022 input was refused, as one line an operator can act on.

Payment messages arrive from channels we do not control, so a bad file is an expected event, not a
bug: callers catch :class:`Iso20022Error`, report ``str(error)`` next to the file name and move on.
The three subclasses tell an operator who has to act — the sender (malformed), the integration team
(unsupported) or security (hostile).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class Iso20022Error(Exception):
    """Base class; ``str()`` is a single line that names the problem.

    ``source`` names the input that failed (a file path, a topic and offset) once the parser knows
    it; it is kept out of the message so callers can format their own report line.
    """

    def __init__(self, problem: str) -> None:
        # Parser messages can carry newlines; a report line must stay one line.
        super().__init__(" ".join(problem.split()))
        self.source: str | None = None


class UnsupportedMessageError(Iso20022Error):
    """Well-formed, but a namespace, message type or version this engine does not map."""


class MalformedMessageError(Iso20022Error):
    """Not XML, not UTF-8, or a required element or value is missing or unreadable."""


class HostileMessageError(Iso20022Error):
    """Carries a DTD or entity declarations, or is larger than the configured limit.

    ISO 20022 schemas never need a DTD, so one is treated as an attack (XXE, entity expansion)
    rather than something to be parsed carefully.
    """


@contextmanager
def located(where: str) -> Iterator[None]:
    """Prefix a malformed-message error with where it happened (``"CdtTrfTxInf #2"``).

    A message can hold thousands of transactions; naming the one at fault saves the sender a search.
    """
    try:
        yield
    except MalformedMessageError as error:
        raise MalformedMessageError(f"{where}: {error}") from error
