"""ISO 20022 messages built from parameters: the sample and generator side of the parser.

Every builder takes the exact message version (``"pacs.008.001.08"``) and the transactions to put
in it, and returns UTF-8 XML bytes that are valid against the official XSD of that version (the
test suite proves it for every supported version). Two users need exactly the same messages: the
parser tests, which compare what the parser extracts with the builder's own inputs, and the payment
message generator (:mod:`streamledger.generators.payments`), which feeds the stream jobs realistic
flows. Keeping one builder for both means the generator can never drift into messages the parser
was not tested on.

A :class:`Tx` describes one payment. In a message that refers to an earlier one (status report,
return, cancellation, resolution, customer status), its identifiers are the *original* payment's
identifiers, which is exactly what such a message quotes. The defaults of :class:`Tx` and of the
builders are the well-known documentation examples (the ``DE89…`` IBAN and its bank); the generator
always passes its own fictitious parties.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from lxml import etree

from streamledger.iso20022.catalogue import ISO_NAMESPACE_PREFIX
from streamledger.iso20022.secure_xml import hardened_parser

CREATED = datetime(2024, 3, 1, 9, 30, 15, tzinfo=timezone(timedelta(hours=1)))
SETTLEMENT_DATE = date(2024, 3, 1)

# Versions whose schema has no UETR (pre-2019 message versions).
_WITHOUT_UETR = frozenset(
    {
        "pain.001.001.03",
        "pain.002.001.03",
        "camt.053.001.02",
        "camt.053.001.04",
        "camt.054.001.02",
        "camt.054.001.04",
    }
)
# The 2009 versions: the BIC element is ``BIC`` (later ``BICFI``), parties in references are plain
# (later a ``Pty``/``Agt`` choice) and requested execution dates are plain ISODates.
_VERSIONS_2009 = frozenset({"pain.001.001.03", "pain.002.001.03", "camt.053.001.02", "camt.054.001.02"})


@dataclass(frozen=True)
class Tx:
    """One payment as the samples describe it (PII here is fictitious)."""

    end_to_end_id: str = "E2E-0001"
    uetr: str | None = None
    tx_id: str | None = "TX-0001"
    instruction_id: str | None = "INSTR-0001"
    amount: Decimal = Decimal("1250.50")
    currency: str = "EUR"
    debtor_name: str = "Anna Schmidt"
    debtor_iban: str = "DE89370400440532013000"
    creditor_name: str = "Claire Martin"
    creditor_iban: str = "FR1420041010050500013M02606"
    debtor_agent: str = "COBADEFFXXX"
    creditor_agent: str = "BNPAFRPPXXX"
    status: str | None = None
    reason: str | None = None
    settlement_date: date = SETTLEMENT_DATE
    timestamp: datetime | None = None
    charge_bearer: str = "SHAR"


def carries_uetr(message_type: str) -> bool:
    """Whether the version's schema has a UETR (versions before 2019 have none)."""
    return message_type not in _WITHOUT_UETR


def uetr_for(seed: str) -> str:
    """A deterministic, schema-valid UUIDv4 (lower case, as the XSD pattern requires)."""
    return str(uuid.UUID(bytes=hashlib.sha256(seed.encode()).digest()[:16], version=4))


class _Builder:
    """Element factory for one message version: its namespace and its BIC element name."""

    def __init__(self, message_type: str) -> None:
        self.message_type = message_type
        self.namespace = ISO_NAMESPACE_PREFIX + message_type
        self.bic_element = "BIC" if message_type in _VERSIONS_2009 else "BICFI"

    def el(self, name: str, *content: Any, **attributes: str) -> Any:
        element = etree.Element(f"{{{self.namespace}}}{name}", nsmap={None: self.namespace}, **attributes)
        for item in _flatten(content):
            if isinstance(item, str):
                element.text = item
            else:
                element.append(item)
        return element

    def amount(self, name: str, value: Decimal, currency: str) -> Any:
        return self.el(name, str(value), Ccy=currency)

    def agent(self, name: str, bic: str | None) -> Any:
        return None if bic is None else self.el(name, self.el("FinInstnId", self.el(self.bic_element, bic)))

    def party(self, name: str, party_name: str) -> Any:
        return self.el(name, self.el("Nm", party_name))

    def party_choice(self, name: str, party_name: str) -> Any:
        return self.el(name, self.el("Pty", self.el("Nm", party_name)))

    def agent_choice(self, name: str, bic: str) -> Any:
        return self.el(name, self.el("Agt", self.el("FinInstnId", self.el(self.bic_element, bic))))

    def account(self, name: str, iban: str) -> Any:
        return self.el(name, self.el("Id", self.el("IBAN", iban)))

    def reason(self, name: str, code: str | None) -> Any:
        return None if code is None else self.el(name, self.el("Rsn", self.el("Cd", code)))

    def optional(self, name: str, value: str | None) -> Any:
        return None if value is None else self.el(name, value)

    def document(self, business: Any) -> bytes:
        root = self.el("Document", business)
        etree.cleanup_namespaces(root)
        return serialize(root)


def serialize(root: Any) -> bytes:
    """UTF-8 bytes with an XML declaration, as channels deliver messages."""
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return data


def _flatten(content: Sequence[Any]) -> list[Any]:
    items: list[Any] = []
    for item in content:
        if item is None:
            continue
        if isinstance(item, list | tuple):
            items.extend(_flatten(item))
        else:
            items.append(item)
    return items


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _group_header(b: _Builder, msg_id: str, created: datetime, *more: Any) -> Any:
    """``GrpHdr`` with the message's id and creation time, then ``more``."""
    return b.el("GrpHdr", b.el("MsgId", msg_id), b.el("CreDtTm", _iso(created)), *more)


# --- payments -------------------------------------------------------------------------------------


def pain001(
    message_type: str = "pain.001.001.09",
    *,
    msg_id: str = "PAIN001-MSG-1",
    created: datetime = CREATED,
    txs: Sequence[Tx] = (Tx(),),
    instructions: int = 1,
    initiating_party: str = "Schmidt Holding GmbH",
) -> bytes:
    """Customer credit transfer initiation; ``txs`` are split over ``instructions`` PmtInf blocks.

    The debtor, its account and agent, the execution date and charge bearer of a PmtInf are those of
    its first transaction.
    """
    b = _Builder(message_type)
    uetr = carries_uetr(message_type)
    groups = [list(txs[n::instructions]) for n in range(instructions)]

    def execution_date(day: date) -> Any:
        # A plain ISODate in 2009 versions; a date-or-date-time choice later.
        plain = message_type in _VERSIONS_2009
        return b.el("ReqdExctnDt", day.isoformat() if plain else b.el("Dt", day.isoformat()))

    payment_infos = [
        b.el(
            "PmtInf",
            b.el("PmtInfId", f"{msg_id}-PMT-{n}"),
            b.el("PmtMtd", "TRF"),
            b.el("NbOfTxs", str(len(group))),
            execution_date(group[0].settlement_date),
            b.party("Dbtr", group[0].debtor_name),
            b.account("DbtrAcct", group[0].debtor_iban),
            b.agent("DbtrAgt", group[0].debtor_agent),
            b.el("ChrgBr", group[0].charge_bearer),
            [
                b.el(
                    "CdtTrfTxInf",
                    b.el(
                        "PmtId",
                        b.optional("InstrId", tx.instruction_id),
                        b.el("EndToEndId", tx.end_to_end_id),
                        b.optional("UETR", tx.uetr) if uetr else None,
                    ),
                    b.el("Amt", b.amount("InstdAmt", tx.amount, tx.currency)),
                    b.agent("CdtrAgt", tx.creditor_agent),
                    b.party("Cdtr", tx.creditor_name),
                    b.account("CdtrAcct", tx.creditor_iban),
                    b.el("RmtInf", b.el("Ustrd", f"Invoice {tx.end_to_end_id}")),
                )
                for tx in group
            ],
        )
        for n, group in enumerate(groups, 1)
        if group
    ]
    return b.document(
        b.el(
            "CstmrCdtTrfInitn",
            _group_header(
                b,
                msg_id,
                created,
                b.el("NbOfTxs", str(len(txs))),
                b.el("CtrlSum", str(sum((tx.amount for tx in txs), Decimal(0)))),
                b.party("InitgPty", initiating_party),
            ),
            payment_infos,
        )
    )


def pacs008(
    message_type: str = "pacs.008.001.08",
    *,
    msg_id: str = "PACS008-MSG-1",
    created: datetime = CREATED,
    txs: Sequence[Tx] = (Tx(),),
    instructing_agent: str = "COBADEFFXXX",
    instructed_agent: str = "BNPAFRPPXXX",
    agents_in_group_header: bool = False,
) -> bytes:
    """FI-to-FI customer credit transfer. Instructing/instructed agents sit on each transaction
    (as in CBPR+) unless ``agents_in_group_header``."""
    b = _Builder(message_type)

    def agents() -> list[Any]:
        return [b.agent("InstgAgt", instructing_agent), b.agent("InstdAgt", instructed_agent)]

    return b.document(
        b.el(
            "FIToFICstmrCdtTrf",
            _group_header(
                b,
                msg_id,
                created,
                b.el("NbOfTxs", str(len(txs))),
                b.el("SttlmInf", b.el("SttlmMtd", "INDA")),
                agents() if agents_in_group_header else None,
            ),
            [
                b.el(
                    "CdtTrfTxInf",
                    _payment_identification(b, tx),
                    b.amount("IntrBkSttlmAmt", tx.amount, tx.currency),
                    b.el("IntrBkSttlmDt", tx.settlement_date.isoformat()),
                    b.optional("AccptncDtTm", _iso(tx.timestamp) if tx.timestamp else None),
                    b.el("ChrgBr", tx.charge_bearer),
                    None if agents_in_group_header else agents(),
                    b.party("Dbtr", tx.debtor_name),
                    b.account("DbtrAcct", tx.debtor_iban),
                    b.agent("DbtrAgt", tx.debtor_agent),
                    b.agent("CdtrAgt", tx.creditor_agent),
                    b.party("Cdtr", tx.creditor_name),
                    b.account("CdtrAcct", tx.creditor_iban),
                    b.el("RmtInf", b.el("Ustrd", f"Invoice {tx.end_to_end_id}")),
                )
                for tx in txs
            ],
        )
    )


def _payment_identification(b: _Builder, tx: Tx) -> Any:
    return b.el(
        "PmtId",
        b.optional("InstrId", tx.instruction_id),
        b.el("EndToEndId", tx.end_to_end_id),
        b.optional("TxId", tx.tx_id),
        b.optional("UETR", tx.uetr),
    )


def pacs009(
    message_type: str = "pacs.009.001.08",
    *,
    msg_id: str = "PACS009-MSG-1",
    created: datetime = CREATED,
    txs: Sequence[Tx] = (Tx(),),
    instructing_agent: str = "COBADEFFXXX",
    instructed_agent: str = "CHASUS33XXX",
    cover: bool = False,
) -> bytes:
    """Financial institution credit transfer between the debtor and creditor *agents* of each
    ``Tx``; with ``cover``, it carries the underlying customer transfer (pacs.009 COV)."""
    b = _Builder(message_type)

    def institution(name: str, bic: str, label: str) -> Any:
        return b.el(name, b.el("FinInstnId", b.el("BICFI", bic), b.el("Nm", label)))

    def underlying(tx: Tx) -> Any:
        return b.el(
            "UndrlygCstmrCdtTrf",
            b.party("Dbtr", f"Customer of {tx.debtor_name}"),
            b.agent("DbtrAgt", tx.debtor_agent),
            b.agent("CdtrAgt", tx.creditor_agent),
            b.party("Cdtr", f"Customer of {tx.creditor_name}"),
            b.amount("InstdAmt", tx.amount, tx.currency),
        )

    return b.document(
        b.el(
            "FICdtTrf",
            _group_header(
                b,
                msg_id,
                created,
                b.el("NbOfTxs", str(len(txs))),
                b.el("SttlmInf", b.el("SttlmMtd", "COVE" if cover else "INDA")),
            ),
            [
                b.el(
                    "CdtTrfTxInf",
                    _payment_identification(b, tx),
                    b.amount("IntrBkSttlmAmt", tx.amount, tx.currency),
                    b.el("IntrBkSttlmDt", tx.settlement_date.isoformat()),
                    b.agent("InstgAgt", instructing_agent),
                    b.agent("InstdAgt", instructed_agent),
                    institution("Dbtr", tx.debtor_agent, tx.debtor_name),
                    b.account("DbtrAcct", tx.debtor_iban),
                    institution("Cdtr", tx.creditor_agent, tx.creditor_name),
                    b.account("CdtrAcct", tx.creditor_iban),
                    underlying(tx) if cover else None,
                )
                for tx in txs
            ],
        )
    )


# --- references to an earlier payment ----------------------------------------------------------------


def _original_group(b: _Builder, name: str, original_msg_id: str, original_type: str, *more: Any) -> Any:
    """A block naming the original message (``OrgnlMsgId``, ``OrgnlMsgNmId``), then ``more``."""
    return b.el(name, b.el("OrgnlMsgId", original_msg_id), b.el("OrgnlMsgNmId", original_type), *more)


def _original_reference(b: _Builder, tx: Tx, *, with_tx_id: bool = True) -> list[Any]:
    """``OrgnlInstrId``, ``OrgnlEndToEndId``, ``OrgnlTxId``, ``OrgnlUETR`` in schema order."""
    return [
        b.optional("OrgnlInstrId", tx.instruction_id),
        b.optional("OrgnlEndToEndId", tx.end_to_end_id),
        b.optional("OrgnlTxId", tx.tx_id) if with_tx_id else None,
        b.optional("OrgnlUETR", tx.uetr) if carries_uetr(b.message_type) else None,
    ]


def _original_transaction(b: _Builder, tx: Tx, *, interbank: bool = True) -> Any:
    """``OrgnlTxRef`` quoting the original amount, date and parties."""
    choice = b.party_choice if b.message_type not in _VERSIONS_2009 else b.party
    if interbank:
        amount_and_date = [
            b.amount("IntrBkSttlmAmt", tx.amount, tx.currency),
            b.el("IntrBkSttlmDt", tx.settlement_date.isoformat()),
        ]
    else:
        day = tx.settlement_date.isoformat()
        amount_and_date = [
            b.el("Amt", b.amount("InstdAmt", tx.amount, tx.currency)),
            b.el("ReqdExctnDt", day if b.message_type in _VERSIONS_2009 else b.el("Dt", day)),
        ]
    return b.el(
        "OrgnlTxRef",
        amount_and_date,
        choice("Dbtr", tx.debtor_name),
        b.account("DbtrAcct", tx.debtor_iban),
        b.agent("DbtrAgt", tx.debtor_agent),
        b.agent("CdtrAgt", tx.creditor_agent),
        choice("Cdtr", tx.creditor_name),
        b.account("CdtrAcct", tx.creditor_iban),
    )


def pacs002(
    message_type: str = "pacs.002.001.10",
    *,
    msg_id: str = "PACS002-MSG-1",
    created: datetime = CREATED,
    txs: Sequence[Tx] = (Tx(status="ACSC"),),
    original_msg_id: str = "PACS008-MSG-1",
    original_type: str = "pacs.008.001.08",
    group_status: str | None = None,
    group_reason: str | None = None,
    instructing_agent: str = "BNPAFRPPXXX",
    instructed_agent: str = "COBADEFFXXX",
    tx_original_group: bool = True,
) -> bytes:
    """FI-to-FI payment status report. With no ``txs`` it reports only a group status."""
    b = _Builder(message_type)
    group = _original_group(
        b,
        "OrgnlGrpInfAndSts",
        original_msg_id,
        original_type,
        b.optional("GrpSts", group_status),
        b.reason("StsRsnInf", group_reason),
    )
    return b.document(
        b.el(
            "FIToFIPmtStsRpt",
            _group_header(
                b,
                msg_id,
                created,
                b.agent("InstgAgt", instructing_agent),
                b.agent("InstdAgt", instructed_agent),
            ),
            group if (group_status or not txs or not tx_original_group) else None,
            [
                b.el(
                    "TxInfAndSts",
                    b.el("StsId", f"STS-{tx.end_to_end_id}"),
                    _original_group(b, "OrgnlGrpInf", original_msg_id, original_type)
                    if tx_original_group
                    else None,
                    _original_reference(b, tx),
                    b.optional("TxSts", tx.status),
                    b.reason("StsRsnInf", tx.reason),
                    b.optional("AccptncDtTm", _iso(tx.timestamp) if tx.timestamp else None),
                    _original_transaction(b, tx),
                )
                for tx in txs
            ],
        )
    )


def pain002(
    message_type: str = "pain.002.001.10",
    *,
    msg_id: str = "PAIN002-MSG-1",
    created: datetime = CREATED,
    txs: Sequence[Tx] = (Tx(status="ACSC"),),
    original_msg_id: str = "PAIN001-MSG-1",
    group_status: str | None = None,
    payment_info_status: str | None = None,
    debtor_agent: str = "COBADEFFXXX",
    original_type: str = "pain.001.001.09",
    initiating_party: str = "Schmidt Holding GmbH",
) -> bytes:
    """Customer payment status report. With no ``txs`` it reports a group / payment-info status."""
    b = _Builder(message_type)
    return b.document(
        b.el(
            "CstmrPmtStsRpt",
            _group_header(
                b,
                msg_id,
                created,
                b.party("InitgPty", initiating_party),
                b.agent("DbtrAgt", debtor_agent),
            ),
            _original_group(
                b,
                "OrgnlGrpInfAndSts",
                original_msg_id,
                original_type,
                b.optional("GrpSts", group_status),
            ),
            b.el(
                "OrgnlPmtInfAndSts",
                b.el("OrgnlPmtInfId", f"{original_msg_id}-PMT-1"),
                b.optional("PmtInfSts", payment_info_status),
                [
                    b.el(
                        "TxInfAndSts",
                        b.el("StsId", f"STS-{tx.end_to_end_id}"),
                        _original_reference(b, tx, with_tx_id=False),
                        b.optional("TxSts", tx.status),
                        b.reason("StsRsnInf", tx.reason),
                        b.optional("AccptncDtTm", _iso(tx.timestamp) if tx.timestamp else None),
                        _original_transaction(b, tx, interbank=False),
                    )
                    for tx in txs
                ],
            ),
        )
    )


def pacs004(
    message_type: str = "pacs.004.001.09",
    *,
    msg_id: str = "PACS004-MSG-1",
    created: datetime = CREATED,
    txs: Sequence[Tx] = (Tx(reason="AC04"),),
    original_msg_id: str = "PACS008-MSG-1",
    original_type: str = "pacs.008.001.08",
    instructing_agent: str = "BNPAFRPPXXX",
    instructed_agent: str = "COBADEFFXXX",
    group_reason: str | None = None,
    quote_original: bool = True,
    settlement_date: date = SETTLEMENT_DATE,
) -> bytes:
    """Payment return of each ``Tx`` back to its debtor: the return chain runs creditor → debtor.

    With no ``txs`` it returns the whole original message (group return).
    """
    b = _Builder(message_type)
    has_accounts = not message_type.endswith(".09")
    total = sum((tx.amount for tx in txs), Decimal(0))
    return b.document(
        b.el(
            "PmtRtr",
            _group_header(
                b,
                msg_id,
                created,
                b.el("NbOfTxs", str(len(txs))),
                b.el("GrpRtr", "true") if not txs else None,
                b.amount("TtlRtrdIntrBkSttlmAmt", total or Decimal("5000.00"), "EUR") if not txs else None,
                b.el("IntrBkSttlmDt", settlement_date.isoformat()),
                b.el("SttlmInf", b.el("SttlmMtd", "INDA")),
                b.agent("InstgAgt", instructing_agent),
                b.agent("InstdAgt", instructed_agent),
            ),
            _original_group(
                b,
                "OrgnlGrpInf",
                original_msg_id,
                original_type,
                b.reason("RtrRsnInf", group_reason),
            ),
            [
                b.el(
                    "TxInf",
                    b.el("RtrId", f"RTR-{tx.end_to_end_id}"),
                    _original_reference(b, tx),
                    b.amount("OrgnlIntrBkSttlmAmt", tx.amount, tx.currency),
                    b.amount("RtrdIntrBkSttlmAmt", tx.amount, tx.currency),
                    b.el("IntrBkSttlmDt", tx.settlement_date.isoformat()),
                    b.el("ChrgBr", tx.charge_bearer),
                    b.el(
                        "RtrChain",
                        b.party_choice("Dbtr", tx.creditor_name),
                        b.account("DbtrAcct", tx.creditor_iban) if has_accounts else None,
                        b.agent("DbtrAgt", tx.creditor_agent),
                        b.agent("CdtrAgt", tx.debtor_agent),
                        b.party_choice("Cdtr", tx.debtor_name),
                        b.account("CdtrAcct", tx.debtor_iban) if has_accounts else None,
                    ),
                    b.reason("RtrRsnInf", tx.reason),
                    _original_transaction(b, tx) if quote_original else None,
                )
                for tx in txs
            ],
        )
    )


def _assignment(b: _Builder, case_id: str, created: datetime, assigner: str, assignee: str) -> Any:
    return b.el(
        "Assgnmt",
        b.el("Id", case_id),
        b.agent_choice("Assgnr", assigner),
        b.agent_choice("Assgne", assignee),
        b.el("CreDtTm", _iso(created)),
    )


def camt056(
    message_type: str = "camt.056.001.08",
    *,
    msg_id: str = "CAMT056-ASSGN-1",
    created: datetime = CREATED,
    txs: Sequence[Tx] = (Tx(reason="DUPL"),),
    original_msg_id: str = "PACS008-MSG-1",
    original_type: str = "pacs.008.001.08",
    assigner: str = "COBADEFFXXX",
    assignee: str = "BNPAFRPPXXX",
    group_reason: str | None = None,
) -> bytes:
    """FI-to-FI payment cancellation request; with no ``txs`` it cancels the whole original message."""
    b = _Builder(message_type)
    return b.document(
        b.el(
            "FIToFIPmtCxlReq",
            _assignment(b, msg_id, created, assigner, assignee),
            b.el("Case", b.el("Id", f"CASE-{msg_id}"), b.agent_choice("Cretr", assigner)),
            b.el(
                "Undrlyg",
                _original_group(
                    b,
                    "OrgnlGrpInfAndCxl",
                    original_msg_id,
                    original_type,
                    b.el("GrpCxl", "true") if not txs else None,
                    b.reason("CxlRsnInf", group_reason),
                )
                if not txs or group_reason
                else None,
                [
                    b.el(
                        "TxInf",
                        b.el("CxlId", f"CXL-{tx.end_to_end_id}"),
                        _original_group(b, "OrgnlGrpInf", original_msg_id, original_type),
                        _original_reference(b, tx),
                        b.amount("OrgnlIntrBkSttlmAmt", tx.amount, tx.currency),
                        b.el("OrgnlIntrBkSttlmDt", tx.settlement_date.isoformat()),
                        b.reason("CxlRsnInf", tx.reason),
                        _original_transaction(b, tx),
                    )
                    for tx in txs
                ],
            ),
        )
    )


def camt029(
    message_type: str = "camt.029.001.09",
    *,
    msg_id: str = "CAMT029-ASSGN-1",
    created: datetime = CREATED,
    txs: Sequence[Tx] = (Tx(status="ACCR"),),
    confirmation: str = "CNCL",
    original_msg_id: str = "PACS008-MSG-1",
    original_type: str = "pacs.008.001.08",
    assigner: str = "BNPAFRPPXXX",
    assignee: str = "COBADEFFXXX",
    group_status: str | None = None,
) -> bytes:
    """Resolution of investigation answering a cancellation request for each ``Tx``.

    With no ``txs`` it resolves the cancellation of the whole original message.
    """
    b = _Builder(message_type)
    return b.document(
        b.el(
            "RsltnOfInvstgtn",
            _assignment(b, msg_id, created, assigner, assignee),
            b.el("RslvdCase", b.el("Id", f"CASE-{msg_id}"), b.agent_choice("Cretr", assignee)),
            b.el("Sts", b.el("Conf", confirmation)),
            b.el(
                "CxlDtls",
                _original_group(
                    b,
                    "OrgnlGrpInfAndSts",
                    original_msg_id,
                    original_type,
                    b.optional("GrpCxlSts", group_status),
                )
                if not txs or group_status
                else None,
                [
                    b.el(
                        "TxInfAndSts",
                        b.el("CxlStsId", f"CXLSTS-{tx.end_to_end_id}"),
                        _original_group(b, "OrgnlGrpInf", original_msg_id, original_type),
                        _original_reference(b, tx),
                        b.optional("TxCxlSts", tx.status),
                        b.reason("CxlStsRsnInf", tx.reason),
                        b.amount("OrgnlIntrBkSttlmAmt", tx.amount, tx.currency),
                        b.el("OrgnlIntrBkSttlmDt", tx.settlement_date.isoformat()),
                        _original_transaction(b, tx),
                    )
                    for tx in txs
                ],
            ),
        )
    )


# --- account reports ------------------------------------------------------------------------------


def _entries(b: _Builder, txs: Sequence[Tx], credit_debit: str, batch: bool) -> list[Any]:
    """One entry per transaction, or with ``batch`` one entry booking all of them."""
    modern = b.message_type.endswith((".08", ".12"))
    has_tx_amount = not b.message_type.endswith(".02")
    choice = b.party_choice if modern else b.party

    def status(value: str | None) -> Any:
        code = value or "BOOK"
        return b.el("Sts", b.el("Cd", code)) if modern else b.el("Sts", code)

    def details(tx: Tx) -> Any:
        return b.el(
            "TxDtls",
            b.el(
                "Refs",
                b.el("AcctSvcrRef", f"ASR-{tx.end_to_end_id}"),
                b.optional("InstrId", tx.instruction_id),
                b.el("EndToEndId", tx.end_to_end_id),
                b.optional("UETR", tx.uetr) if modern else None,
                b.optional("TxId", tx.tx_id),
            ),
            b.amount("Amt", tx.amount, tx.currency) if has_tx_amount else None,
            b.el("CdtDbtInd", credit_debit) if has_tx_amount else None,
            None
            if has_tx_amount
            else b.el("AmtDtls", b.el("TxAmt", b.amount("Amt", tx.amount, tx.currency))),
            b.el(
                "RltdPties",
                choice("Dbtr", tx.debtor_name),
                b.account("DbtrAcct", tx.debtor_iban),
                choice("Cdtr", tx.creditor_name),
                b.account("CdtrAcct", tx.creditor_iban),
            ),
            b.el("RltdAgts", b.agent("DbtrAgt", tx.debtor_agent), b.agent("CdtrAgt", tx.creditor_agent)),
            b.el("RmtInf", b.el("Ustrd", f"Invoice {tx.end_to_end_id}")),
            b.el("RltdDts", b.el("IntrBkSttlmDt", tx.settlement_date.isoformat())),
            b.reason("RtrInf", tx.reason),
        )

    def entry(booked: Sequence[Tx]) -> Any:
        first = booked[0]
        return b.el(
            "Ntry",
            b.el("NtryRef", f"NTRY-{first.end_to_end_id}"),
            b.amount("Amt", sum((tx.amount for tx in booked), Decimal(0)), first.currency),
            b.el("CdtDbtInd", credit_debit),
            status(first.status),
            b.el(
                "BookgDt",
                b.el("DtTm", _iso(first.timestamp))
                if first.timestamp
                else b.el("Dt", first.settlement_date.isoformat()),
            ),
            b.el("ValDt", b.el("Dt", first.settlement_date.isoformat())),
            b.el("AcctSvcrRef", f"ASR-{first.end_to_end_id}"),
            b.el(
                "BkTxCd",
                b.el(
                    "Domn",
                    b.el("Cd", "PMNT"),
                    b.el(
                        "Fmly",
                        b.el("Cd", "RCDT" if credit_debit == "CRDT" else "ICDT"),
                        b.el("SubFmlyCd", "ESCT"),
                    ),
                ),
            ),
            b.el("NtryDtls", [details(tx) for tx in booked]),
        )

    if batch:
        return [entry(txs)] if txs else []
    return [entry([tx]) for tx in txs]


def _report(
    container: str,
    message_type: str,
    *,
    msg_id: str,
    created: datetime,
    txs: Sequence[Tx],
    account_iban: str,
    servicer: str,
    credit_debit: str,
    batch: bool,
    business: str,
) -> bytes:
    b = _Builder(message_type)
    statement = container == "Stmt"
    balance = b.el(
        "Bal",
        b.el("Tp", b.el("CdOrPrtry", b.el("Cd", "CLBD"))),
        b.amount("Amt", Decimal("10000.00"), "EUR"),
        b.el("CdtDbtInd", "CRDT"),
        b.el("Dt", b.el("Dt", "2024-03-01")),
    )
    return b.document(
        b.el(
            business,
            _group_header(b, msg_id, created),
            b.el(
                container,
                b.el("Id", f"{msg_id}-{container}-1"),
                b.el("CreDtTm", _iso(created)),
                b.el("Acct", b.el("Id", b.el("IBAN", account_iban)), b.agent("Svcr", servicer)),
                balance if statement else None,
                _entries(b, txs, credit_debit, batch),
            ),
        )
    )


def camt054(
    message_type: str = "camt.054.001.08",
    *,
    msg_id: str = "CAMT054-MSG-1",
    created: datetime = CREATED,
    txs: Sequence[Tx] = (Tx(status="BOOK"),),
    account_iban: str = "FR1420041010050500013M02606",
    servicer: str = "BNPAFRPPXXX",
    credit_debit: str = "CRDT",
    batch: bool = False,
) -> bytes:
    """Bank-to-customer debit/credit notification on ``account_iban``, one entry per ``Tx`` (or one
    batch entry)."""
    return _report(
        "Ntfctn",
        message_type,
        msg_id=msg_id,
        created=created,
        txs=txs,
        account_iban=account_iban,
        servicer=servicer,
        credit_debit=credit_debit,
        batch=batch,
        business="BkToCstmrDbtCdtNtfctn",
    )


def camt053(
    message_type: str = "camt.053.001.08",
    *,
    msg_id: str = "CAMT053-MSG-1",
    created: datetime = CREATED,
    txs: Sequence[Tx] = (Tx(status="BOOK"),),
    account_iban: str = "FR1420041010050500013M02606",
    servicer: str = "BNPAFRPPXXX",
    credit_debit: str = "CRDT",
    batch: bool = False,
) -> bytes:
    """Bank-to-customer statement of ``account_iban``, one entry per ``Tx`` (or one batch entry)."""
    return _report(
        "Stmt",
        message_type,
        msg_id=msg_id,
        created=created,
        txs=txs,
        account_iban=account_iban,
        servicer=servicer,
        credit_debit=credit_debit,
        batch=batch,
        business="BkToCstmrStmt",
    )


BUILDERS: dict[str, Callable[..., bytes]] = {
    "pain.001": pain001,
    "pain.002": pain002,
    "pacs.008": pacs008,
    "pacs.009": pacs009,
    "pacs.002": pacs002,
    "pacs.004": pacs004,
    "camt.056": camt056,
    "camt.029": camt029,
    "camt.054": camt054,
    "camt.053": camt053,
}


def build(message_type: str, **parameters: Any) -> bytes:
    """Build a sample of any supported version with its family's builder."""
    return BUILDERS[message_type[:8]](message_type, **parameters)


# --- envelopes ------------------------------------------------------------------------------------


def wrap(
    document: bytes,
    *,
    header_version: str = "head.001.001.02",
    business_message_id: str = "BIZ-MSG-1",
    message_definition: str | None = None,
    created: datetime = CREATED,
    sender: str = "COBADEFFXXX",
    receiver: str = "BNPAFRPPXXX",
    envelope: str | None = "BizMsgEnvlp",
    envelope_namespace: str | None = None,
) -> bytes:
    """Put an ``AppHdr`` next to ``document``, inside an ``envelope`` element (or a bare pair)."""
    doc = etree.fromstring(document, hardened_parser())
    namespace = ISO_NAMESPACE_PREFIX + header_version

    def el(name: str, *children: Any, text: str | None = None) -> Any:
        element = etree.Element(f"{{{namespace}}}{name}", nsmap={None: namespace})
        element.text = text
        element.extend(children)
        return element

    def party(name: str, bic: str) -> Any:
        return el(name, el("FIId", el("FinInstnId", el("BICFI", text=bic))))

    header = el(
        "AppHdr",
        party("Fr", sender),
        party("To", receiver),
        el("BizMsgIdr", text=business_message_id),
        el("MsgDefIdr", text=message_definition or etree.QName(doc).namespace.rsplit(":", 1)[1]),
        el("CreDt", text=_iso(created)),
    )
    etree.cleanup_namespaces(header)
    tag = envelope if envelope_namespace is None else f"{{{envelope_namespace}}}{envelope}"
    nsmap = None if envelope_namespace is None else {None: envelope_namespace}
    root = etree.Element(tag, nsmap=nsmap)
    root.extend([header, doc])
    return serialize(root)
