"""The key that ties every message about one payment together.

Rule, in order of preference:

1. ``uetr:<uetr>`` when the transaction carries a UETR — its own, or ``OrgnlUETR`` in a message
   that refers to an earlier one. The UETR is lower-cased. It is the only identifier that stays the
   same on every hop, in cover payments and in all replies, so it always wins.
2. ``e2e:<agent>:<EndToEndId>`` otherwise (``OrgnlEndToEndId`` in referring messages). The
   end-to-end id is chosen by the debtor and is only unique per debtor's bank, hence the agent.
3. ``tx:<agent>:<TxId>`` when the end-to-end id is missing or ``NOTPROVIDED`` (a placeholder
   common in batch and SEPA traffic that identifies nothing), then ``instr:<agent>:<InstrId>``.
4. No usable identifier → :class:`MalformedMessageError`: an event that cannot be attributed to a
   payment would silently corrupt correlation.

``<agent>`` is the BIC of the bank where the payment started: the debtor agent when the message
names it, else the agent that sent the original instruction (the instructing agent of an original
message; the instructed agent of a reply such as pacs.002, pacs.004 or camt.029), else ``UNKNOWN``.
The debtor agent is preferred over the instructing agent because the instructing agent changes on
every hop of a multi-hop payment and is reversed in replies, which would give each leg its own key.
BICs are upper-cased and a trailing ``XXX`` branch code is dropped, since ``DEUTDEFF`` and
``DEUTDEFFXXX`` name the same institution.

Group-level reports that refer to a whole earlier message use :func:`group_key`:
``msg:<original message id>``.
"""

from __future__ import annotations

from typing import TypedDict

from streamledger.iso20022.errors import MalformedMessageError, located
from streamledger.iso20022.reader import Node

NOT_PROVIDED = "NOTPROVIDED"
UNKNOWN_AGENT = "UNKNOWN"


def normalize_bic(bic: str | None) -> str | None:
    """Upper-case a BIC and drop the primary-office branch code ``XXX``."""
    if bic is None or not bic.strip():
        return None
    value = bic.strip().upper()
    return value[:8] if len(value) == 11 and value.endswith("XXX") else value


def _usable(identifier: str | None) -> str | None:
    if identifier is None:
        return None
    value = identifier.strip()
    return value if value and value.upper() != NOT_PROVIDED else None


def payment_key(
    *,
    uetr: str | None,
    end_to_end_id: str | None,
    tx_id: str | None = None,
    instruction_id: str | None = None,
    agent_bic: str | None = None,
) -> str:
    """Return the payment key for one transaction (see the module docstring for the rule).

    Referring messages pass their ``Orgnl*`` identifiers; ``agent_bic`` is the agent chosen as
    described above (``None`` when unknown).
    """
    own_uetr = _usable(uetr)
    if own_uetr is not None:
        return f"uetr:{own_uetr.lower()}"
    agent = normalize_bic(agent_bic) or UNKNOWN_AGENT
    for prefix, identifier in (("e2e", end_to_end_id), ("tx", tx_id), ("instr", instruction_id)):
        value = _usable(identifier)
        if value is not None:
            return f"{prefix}:{agent}:{value}"
    raise MalformedMessageError(
        "no UETR, EndToEndId, TxId or InstrId to attribute the transaction to a payment"
    )


class PaymentIdentifiers(TypedDict):
    """The identifiers a transaction names a payment by (its own, or the ``Orgnl*`` ones it quotes)."""

    uetr: str | None
    end_to_end_id: str | None
    tx_id: str | None
    instruction_id: str | None


def read_identifiers(node: Node, prefix: str = "", *, with_tx_id: bool = True) -> PaymentIdentifiers:
    """``<prefix>UETR``, ``<prefix>EndToEndId``, ``<prefix>TxId`` and ``<prefix>InstrId`` below ``node``.

    ``prefix`` is a path (``"PmtId/"``) or the ``"Orgnl"`` of a referring message; ``with_tx_id`` is
    off for messages whose schema has no ``TxId`` there (pain.001).
    """
    return PaymentIdentifiers(
        uetr=node.uetr(f"{prefix}UETR"),
        end_to_end_id=node.text(f"{prefix}EndToEndId"),
        tx_id=node.text(f"{prefix}TxId") if with_tx_id else None,
        instruction_id=node.text(f"{prefix}InstrId"),
    )


def identifies_payment(identifiers: PaymentIdentifiers) -> bool:
    """Whether any of the identifiers could key a payment (statement lines often carry none)."""
    return any(
        _usable(identifier) is not None
        for identifier in (
            identifiers["uetr"],
            identifiers["end_to_end_id"],
            identifiers["tx_id"],
            identifiers["instruction_id"],
        )
    )


def transaction_key(tx: Node, identifiers: PaymentIdentifiers, agent_bic: str | None) -> str:
    """:func:`payment_key` of one transaction; an error names the transaction's path."""
    with located(tx.path):
        return payment_key(**identifiers, agent_bic=agent_bic)


def group_key(original_message_id: str) -> str:
    """Key for a report about a whole earlier message rather than one of its transactions."""
    return f"msg:{original_message_id}"
