"""Realistic ISO 20022 message flows for the payment-lifecycle job, as channels deliver them.

A stream job that claims to follow payments in any arrival order has to be fed what the real
channels deliver, not tidy sequences. :func:`payments` simulates ``count`` payments end to end and
returns every message about them in *delivery* order:

* **Flows.** Customers initiate payments with pain.001 (a share of the files carry several
  transactions); each bank on the route sends a pacs.008 to the next, all with the same UETR (one
  to three legs, A → B → C → D), some covered by pacs.009 COV through a correspondent; receiving
  banks answer with pacs.002 (ACSC, PDNG holds and their release, ACCC from the creditor's bank,
  RJCT with a reason code); the creditor's bank books a camt.054 credit notification; debtors'
  banks confirm files with pain.002. Some payments are returned (pacs.004 back along the route),
  some cancelled (camt.056 along the route, camt.029 back: accepted, pending then accepted, or
  rejected), some rejected, some stay held. Message versions are mixed across the supported ones;
  customers on a legacy channel (pain.001.001.03, no UETR) are followed by end-to-end id instead.
* **Channels.** Interbank messages arrive over ``swift`` as a head.001 ``AppHdr`` next to the
  ``Document`` in an envelope; customer messages arrive over ``file`` or ``api`` as a bare
  ``Document``. The channel is the Kafka key.
* **Delivery.** Every record's Kafka timestamp is its message's event time (creation, acceptance
  or booking time; the parser reads the same instant), so the job's watermarks follow event time.
  Records arrive up to ``max_disorder_ms`` after their event time, so they are out of order within
  that bound; a share is redelivered byte-identical (``duplicate``) or through a second channel in
  a different envelope (``redelivered``), also within the bound; a share is held back and delivered
  only after a message at least ``late_by_ms`` younger (``late``); a few are malformed or hostile
  (``malformed``: truncated XML, an unsupported version, DTD/entity attacks, one oversized file).

Everything is a function of ``count`` and ``seed``: tests, the demo and the job's checks can
regenerate exactly what was produced. All parties are fictitious: invented banks with BICs in the
``XMP…`` range, invented companies, and IBANs whose check digits are correct for those banks.
"""

from __future__ import annotations

import dataclasses
import random
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Final

from streamledger.config import Settings
from streamledger.generators.postings import produce as produce_records
from streamledger.iso20022 import builders
from streamledger.iso20022.builders import Tx, carries_uetr
from streamledger.iso20022.catalogue import SUPPORTED_MESSAGE_TYPES, family_of
from streamledger.iso20022.secure_xml import DEFAULT_MAX_BYTES

START: Final = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)  # a Monday morning, the first payment's file
#: Bound on how far behind the newest event time a record that is not ``late`` can arrive.
MAX_DISORDER_MS: Final = 30_000
#: A ``late`` record arrives after a record whose event time is at least this much younger.
LATE_BY_MS: Final = 15 * 60_000

# Customer messages carry the customer's local time (CET in January); the parser reads UTC.
_CET: Final = timezone(timedelta(hours=1))
# librdkafka refuses records above its default message.max.bytes; oversized ones need headroom.
_KAFKA_DEFAULT_MAX_BYTES: Final = 1_000_000


class MessageKind(StrEnum):
    """Why a record is in the stream; the value is how tests and reports spell it."""

    VALID = "valid"  # first delivery of a message, possibly out of order within the bound
    DUPLICATE = "duplicate"  # the same bytes again on the same channel
    REDELIVERED = "redelivered"  # the same Document again through another channel and envelope
    LATE = "late"  # held back: arrives after a record at least ``late_by_ms`` younger
    MALFORMED = "malformed"  # must be refused by the parser (truncated, unsupported, hostile)


class Outcome(StrEnum):
    """How a simulated payment ends; every outcome occurs once ``count`` reaches their number."""

    CREDITED = "credited"
    SETTLED = "settled"
    PENDING = "pending"
    REJECTED = "rejected"
    RETURNED = "returned"
    CANCELLED = "cancelled"
    CANCELLATION_REJECTED = "cancellation-rejected"


_OUTCOME_WEIGHTS: Final = {
    Outcome.CREDITED: 45,
    Outcome.SETTLED: 10,
    Outcome.PENDING: 5,
    Outcome.REJECTED: 15,
    Outcome.RETURNED: 10,
    Outcome.CANCELLED: 10,
    Outcome.CANCELLATION_REJECTED: 5,
}


@dataclass(frozen=True, slots=True)
class PaymentMessageRecord:
    """One message as a channel delivers it: a Kafka record, or one file with ``--output``.

    ``value`` is the raw UTF-8 XML; ``channel`` is the Kafka key (``swift``, ``api``, ``file``);
    ``timestamp_ms`` the Kafka timestamp, which is the message's event time; ``file_name`` is unique
    within one generated set and sorts in delivery order. ``message_type`` is the version the
    message was built as, ``None`` for a malformed one.
    """

    value: bytes
    channel: str
    timestamp_ms: int
    file_name: str
    kind: MessageKind
    message_type: str | None

    @property
    def key(self) -> bytes:
        return self.channel.encode()


# --- fictitious parties ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Bank:
    bic: str
    name: str
    country: str
    national_code: str  # the bank's code inside its IBANs; empty for banks without customer accounts


_CUSTOMER_BANKS: Final = (
    _Bank("XMPADEFFXXX", "Example Bank A AG", "DE", "50099001"),
    _Bank("XMPBFRPPXXX", "Banque Exemple B SA", "FR", "99001"),
    _Bank("XMPCGB2LXXX", "Example Bank C plc", "GB", "XMPC"),
    _Bank("XMPDNL2AXXX", "Voorbeeldbank D NV", "NL", "XMPD"),
    _Bank("XMPECHZZXXX", "Beispielbank E AG", "CH", "99901"),
    _Bank("XMPFATWWXXX", "Musterbank F AG", "AT", "99902"),
    _Bank("XMPGBEBBXXX", "Banque Exemple G SA", "BE", "990"),
)
_CORRESPONDENTS: Final = (
    _Bank("XMPHUS33XXX", "Example Correspondent H NA", "US", ""),
    _Bank("XMPJGB2LXXX", "Example Clearing J Ltd", "GB", ""),
)
# Digits after the bank code, so that every IBAN has its country's length.
_ACCOUNT_DIGITS: Final = {"DE": 10, "FR": 18, "GB": 14, "NL": 10, "CH": 12, "AT": 11, "BE": 7}
_LEGAL_FORMS: Final = {
    "DE": "GmbH",
    "FR": "SARL",
    "GB": "Ltd",
    "NL": "BV",
    "CH": "AG",
    "AT": "GmbH",
    "BE": "SRL",
}
_NAME_WORDS: Final = ("Example", "Sample", "Fictional", "Imaginary", "Placeholder", "Demo", "Invented")
_TRADES: Final = ("Components", "Foods", "Tools", "Logistics", "Textiles", "Energy", "Software", "Optics")
_CURRENCIES: Final = ("EUR", "EUR", "EUR", "EUR", "USD", "GBP", "CHF")

_REJECT_REASONS: Final = ("AC01", "AC04", "AC06", "AM04", "BE04", "RR04", "AG01", "MS03")
_RETURN_REASONS: Final = ("AC04", "AC06", "MD07", "BE04", "AC01")
_CANCEL_REASONS: Final = ("DUPL", "CUST", "FRAD", "TECH", "UPAY")
_CANCEL_REFUSALS: Final = ("NOAS", "CUST", "LEGL")
_RESOLUTION_CONFIRMATION: Final = {"ACCR": "CNCL", "PDCR": "PDCR", "RJCR": "RJCR"}


def iban(country: str, bban: str) -> str:
    """An IBAN with correct check digits (ISO 13616 MOD 97-10) for a country and national BBAN."""
    numeric = "".join(str(int(char, 36)) for char in bban + country + "00")
    return f"{country}{98 - int(numeric) % 97:02d}{bban}"


@dataclass(frozen=True, slots=True)
class _Party:
    name: str
    iban: str
    bank: _Bank


# --- what a payment's flow is made of -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Message:
    """A message before delivery: a bare Document, plus the banks an ``AppHdr`` would name."""

    at: datetime
    message_type: str
    document: bytes
    sender: str | None = None  # interbank messages only; customer messages travel bare
    receiver: str | None = None


@dataclass(frozen=True, slots=True)
class _Leg:
    """One pacs.008 or pacs.009 as sent: what status reports, returns and cases quote."""

    sender: _Bank
    receiver: _Bank
    msg_id: str
    message_type: str
    tx: Tx


@dataclass(frozen=True, slots=True)
class _Payment:
    tx: Tx  # as the customer initiated it (identifiers, amount, parties, agents)
    route: tuple[_Bank, ...]  # debtor's bank first, creditor's bank last
    outcome: Outcome
    cover: bool  # the debtor's bank pays the creditor's bank directly and covers via a pacs.009

    @property
    def legacy(self) -> bool:
        return self.tx.uetr is None


def _versions(family: str) -> tuple[str, ...]:
    return tuple(sorted(v for v in SUPPORTED_MESSAGE_TYPES if family_of(v) == family))


class _Simulation:
    """Builds every message of every payment, in event time, with one seeded random source."""

    def __init__(self, rng: random.Random, seed: int) -> None:
        self.rng = rng
        self.tag = f"{seed & 0xFFFFFFFF:08X}"  # keeps ids of different seeds apart in one topic
        self.counter = 0
        self.messages: list[_Message] = []
        self.own_accounts: dict[str, _Party] = {}

    # --- identities and choices

    def _id(self, bank: _Bank, code: str) -> str:
        self.counter += 1
        return f"{bank.bic[:4]}-{code}-{self.tag}-{self.counter:06d}"

    def _version(self, family: str, payment: _Payment | None = None) -> str:
        """Any supported version, except that a followed-by-UETR payment needs one carrying it."""
        choices = _versions(family)
        if payment is not None and not payment.legacy:
            choices = tuple(v for v in choices if carries_uetr(v))
        return self.rng.choice(choices)

    def _after(self, at: datetime, low_s: int, high_s: int) -> datetime:
        return at + timedelta(seconds=self.rng.randint(low_s, high_s))

    def _party(self, bank: _Bank, name: str | None = None) -> _Party:
        """A customer of ``bank`` (or, named, the bank's own account) with a fresh account there."""
        rng = self.rng
        name = name or f"{rng.choice(_NAME_WORDS)} {rng.choice(_TRADES)} {_LEGAL_FORMS[bank.country]}"
        digits = "".join(rng.choice("0123456789") for _ in range(_ACCOUNT_DIGITS[bank.country]))
        bban = bank.national_code + digits
        if bank.country == "BE":  # the Belgian BBAN ends in its own MOD 97 check
            bban += f"{int(bban) % 97 or 97:02d}"
        return _Party(name, iban(bank.country, bban), bank)

    def _own_account(self, bank: _Bank) -> _Party:
        """The bank's own settlement account (the same in every message of one run)."""
        if bank.bic not in self.own_accounts:
            self.own_accounts[bank.bic] = self._party(bank, bank.name)
        return self.own_accounts[bank.bic]

    def _route(self, debtor_bank: _Bank, creditor_bank: _Bank) -> tuple[_Bank, ...]:
        legs = self.rng.choices((1, 2, 3), weights=(45, 30, 25))[0]
        others = [b for b in (*_CUSTOMER_BANKS, *_CORRESPONDENTS) if b not in (debtor_bank, creditor_bank)]
        return (debtor_bank, *self.rng.sample(others, legs - 1), creditor_bank)

    def _emit(self, message: _Message) -> None:
        self.messages.append(message)

    # --- one batch: a pain.001 and the flows of its payments

    def batch(self, at: datetime, outcomes: Sequence[Outcome]) -> None:
        rng = self.rng
        debtor_bank = rng.choice(_CUSTOMER_BANKS)
        debtor = self._party(debtor_bank)
        pain001_type = self._version("pain.001")
        legacy = not carries_uetr(pain001_type)
        charge_bearer = rng.choice(("SHAR", "SHAR", "DEBT", "CRED"))
        payments: list[_Payment] = []
        for outcome in outcomes:
            creditor_bank = rng.choice([b for b in _CUSTOMER_BANKS if b != debtor_bank])
            creditor = self._party(creditor_bank)
            e2e = f"E2E-{self.tag}-{self.counter + 1:06d}"
            tx = Tx(
                end_to_end_id=e2e,
                uetr=None if legacy else str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                tx_id=None,
                instruction_id=self._id(debtor_bank, "I"),
                amount=Decimal(f"{max(1.0, rng.lognormvariate(7, 1.3)):.2f}"),
                currency=rng.choice(_CURRENCIES),
                debtor_name=debtor.name,
                debtor_iban=debtor.iban,
                creditor_name=creditor.name,
                creditor_iban=creditor.iban,
                debtor_agent=debtor_bank.bic,
                creditor_agent=creditor_bank.bic,
                settlement_date=at.date(),
                charge_bearer=charge_bearer,
            )
            cover = not legacy and outcome is Outcome.CREDITED and rng.random() < 0.3
            route = (debtor_bank, creditor_bank) if cover else self._route(debtor_bank, creditor_bank)
            payments.append(_Payment(tx, route, outcome, cover))
        msg_id = self._id(debtor_bank, "PI")
        self._emit(
            _Message(
                at,
                pain001_type,
                builders.pain001(
                    pain001_type,
                    msg_id=msg_id,
                    created=at.astimezone(_CET),
                    txs=[p.tx for p in payments],
                    initiating_party=debtor.name,
                ),
            )
        )
        if rng.random() < 0.3:  # the debtor's bank confirms the whole file
            self._customer_status(payments, msg_id, pain001_type, self._after(at, 20, 90), "ACCP", None)
        for payment in payments:
            self._flow(payment, self._after(at, 30, 240), msg_id, pain001_type)

    def _customer_status(
        self,
        payments: Sequence[_Payment],
        original_msg_id: str,
        original_type: str,
        at: datetime,
        status: str,
        reason: str | None,
    ) -> None:
        debtor_bank = payments[0].route[0]
        message_type = self._version("pain.002", payments[0])
        txs = [dataclasses.replace(p.tx, status=status, reason=reason, timestamp=at) for p in payments]
        self._emit(
            _Message(
                at,
                message_type,
                builders.pain002(
                    message_type,
                    msg_id=self._id(debtor_bank, "PS"),
                    created=at.astimezone(_CET),
                    txs=txs,
                    original_msg_id=original_msg_id,
                    original_type=original_type,
                    debtor_agent=debtor_bank.bic,
                    initiating_party=payments[0].tx.debtor_name,
                ),
            )
        )

    # --- interbank messages

    def _transfer(self, payment: _Payment, sender: _Bank, receiver: _Bank, at: datetime) -> _Leg:
        message_type = self._version("pacs.008", payment)
        msg_id = self._id(sender, "P8")
        tx = dataclasses.replace(
            payment.tx,
            instruction_id=self._id(sender, "I"),
            tx_id=self._id(sender, "T"),
            timestamp=at,
            settlement_date=at.date(),
        )
        document = builders.pacs008(
            message_type,
            msg_id=msg_id,
            created=at,
            txs=[tx],
            instructing_agent=sender.bic,
            instructed_agent=receiver.bic,
            agents_in_group_header=self.rng.random() < 0.25,
        )
        self._emit(_Message(at, message_type, document, sender.bic, receiver.bic))
        return _Leg(sender, receiver, msg_id, message_type, tx)

    def _cover(self, payment: _Payment, sender: _Bank, receiver: _Bank, at: datetime) -> _Leg:
        """A pacs.009 COV leg: the debtor's bank pays the creditor's bank (their own accounts)."""
        message_type = self._version("pacs.009", payment)
        msg_id = self._id(sender, "P9")
        debtor_bank, creditor_bank = payment.route[0], payment.route[-1]
        payer, payee = self._own_account(debtor_bank), self._own_account(creditor_bank)
        tx = dataclasses.replace(
            payment.tx,
            debtor_name=payer.name,
            debtor_iban=payer.iban,
            creditor_name=payee.name,
            creditor_iban=payee.iban,
            instruction_id=self._id(sender, "I"),
            tx_id=self._id(sender, "T"),
            timestamp=None,  # pacs.009 has no acceptance time here: its event time is its creation
            settlement_date=at.date(),
        )
        document = builders.pacs009(
            message_type,
            msg_id=msg_id,
            created=at,
            txs=[tx],
            instructing_agent=sender.bic,
            instructed_agent=receiver.bic,
            cover=True,
        )
        self._emit(_Message(at, message_type, document, sender.bic, receiver.bic))
        return _Leg(sender, receiver, msg_id, message_type, tx)

    def _status(self, leg: _Leg, at: datetime, status: str, reason: str | None = None) -> None:
        """pacs.002 from the leg's receiver back to its sender."""
        message_type = self._version("pacs.002")
        tx = dataclasses.replace(leg.tx, status=status, reason=reason, timestamp=at)
        document = builders.pacs002(
            message_type,
            msg_id=self._id(leg.receiver, "P2"),
            created=at,
            txs=[tx],
            original_msg_id=leg.msg_id,
            original_type=leg.message_type,
            instructing_agent=leg.receiver.bic,
            instructed_agent=leg.sender.bic,
        )
        self._emit(_Message(at, message_type, document, leg.receiver.bic, leg.sender.bic))

    def _return(self, leg: _Leg, at: datetime, reason: str) -> None:
        """pacs.004 from the leg's receiver back to its sender."""
        message_type = self._version("pacs.004")
        document = builders.pacs004(
            message_type,
            msg_id=self._id(leg.receiver, "P4"),
            created=at,
            txs=[dataclasses.replace(leg.tx, reason=reason, timestamp=None, settlement_date=at.date())],
            original_msg_id=leg.msg_id,
            original_type=leg.message_type,
            instructing_agent=leg.receiver.bic,
            instructed_agent=leg.sender.bic,
            settlement_date=at.date(),
        )
        self._emit(_Message(at, message_type, document, leg.receiver.bic, leg.sender.bic))

    def _cancellation_request(self, leg: _Leg, at: datetime, reason: str) -> None:
        """camt.056 from the leg's sender to its receiver."""
        message_type = self._version("camt.056")
        document = builders.camt056(
            message_type,
            msg_id=self._id(leg.sender, "CR"),
            created=at,
            txs=[dataclasses.replace(leg.tx, reason=reason, timestamp=None)],
            original_msg_id=leg.msg_id,
            original_type=leg.message_type,
            assigner=leg.sender.bic,
            assignee=leg.receiver.bic,
        )
        self._emit(_Message(at, message_type, document, leg.sender.bic, leg.receiver.bic))

    def _resolution(self, leg: _Leg, at: datetime, status: str, reason: str | None = None) -> None:
        """camt.029 from the leg's receiver back to its sender."""
        message_type = self._version("camt.029")
        document = builders.camt029(
            message_type,
            msg_id=self._id(leg.receiver, "RI"),
            created=at,
            txs=[dataclasses.replace(leg.tx, status=status, reason=reason, timestamp=None)],
            confirmation=_RESOLUTION_CONFIRMATION[status],
            original_msg_id=leg.msg_id,
            original_type=leg.message_type,
            assigner=leg.receiver.bic,
            assignee=leg.sender.bic,
        )
        self._emit(_Message(at, message_type, document, leg.receiver.bic, leg.sender.bic))

    def _notification(
        self,
        payment: _Payment,
        tx: Tx,
        at: datetime,
        *,
        credit: bool,
        reason: str | None = None,
    ) -> None:
        """camt.054 to a customer: a credit to the creditor (or, with ``reason``, the booking of
        returned funds to the debtor), or the debit of the debtor's account."""
        to_debtor = not credit or reason is not None
        bank = payment.route[0] if to_debtor else payment.route[-1]
        message_type = self._version("camt.054", payment)
        document = builders.camt054(
            message_type,
            msg_id=self._id(bank, "NT"),
            created=at.astimezone(_CET),
            txs=[
                dataclasses.replace(tx, status="BOOK", reason=reason, timestamp=at, settlement_date=at.date())
            ],
            account_iban=payment.tx.debtor_iban if to_debtor else payment.tx.creditor_iban,
            servicer=bank.bic,
            credit_debit="CRDT" if credit else "DBIT",
        )
        self._emit(_Message(at, message_type, document))

    # --- one payment's flow after its pain.001

    def _flow(self, payment: _Payment, at: datetime, pain_id: str, pain_type: str) -> None:
        if payment.cover:
            self._cover_flow(payment, at)
            return
        rng = self.rng
        outcome = payment.outcome
        hops = list(zip(payment.route, payment.route[1:], strict=False))
        stop = len(hops) - 1  # index of the last leg that is sent
        if outcome in (Outcome.REJECTED, Outcome.PENDING, Outcome.CANCELLED):
            stop = rng.randrange(len(hops))
        legs: list[_Leg] = []
        settled: list[_Leg] = []  # legs whose money has moved
        for index, (sender, receiver) in enumerate(hops[: stop + 1]):
            leg = self._transfer(payment, sender, receiver, at)
            legs.append(leg)
            at = self._after(at, 3, 45)
            last = index == stop
            if last and outcome is Outcome.REJECTED:
                reason = rng.choice(_REJECT_REASONS)
                self._status(leg, at, "RJCT", reason)
                if rng.random() < 0.5:  # the debtor's bank tells its customer why
                    self._customer_status(
                        [payment], pain_id, pain_type, self._after(at, 60, 600), "RJCT", reason
                    )
                return
            if last and outcome is Outcome.PENDING:
                self._status(leg, at, "PDNG")  # held for compliance review, not released yet
                return
            if last and outcome is Outcome.CANCELLED and rng.random() < 0.5:
                break  # still in flight on this leg when the debtor asks to cancel
            if outcome is Outcome.PENDING:
                continue  # forwarded at once: the first word back is the hold further down
            if rng.random() < 0.15:  # a hold that is released later
                self._status(leg, at, "PDNG")
                at = self._after(at, 300, 1800)
            final_credit = last and outcome in (Outcome.CREDITED, Outcome.CANCELLATION_REJECTED)
            self._status(leg, at, "ACCC" if final_credit and rng.random() < 0.6 else "ACSC")
            settled.append(leg)
            if index == 0 and outcome in (Outcome.CREDITED, Outcome.SETTLED) and rng.random() < 0.3:
                self._notification(payment, payment.tx, self._after(at, 5, 120), credit=False)
            at = self._after(at, 20, 120)
        if outcome in (Outcome.CREDITED, Outcome.CANCELLATION_REJECTED):
            self._notification(payment, legs[-1].tx, at, credit=True)
            at = self._after(at, 60, 600)
        if outcome is Outcome.RETURNED:
            self._return_flow(payment, legs, self._after(at, 600, 7200), rng.choice(_RETURN_REASONS))
        elif outcome is Outcome.CANCELLED:
            self._cancellation_flow(legs, self._after(at, 120, 1800), accepted=True, settled=settled)
        elif outcome is Outcome.CANCELLATION_REJECTED:
            self._cancellation_flow(legs, self._after(at, 600, 3600), accepted=False, settled=settled)

    def _cover_flow(self, payment: _Payment, at: datetime) -> None:
        """Cover method: pacs.008 straight to the creditor's bank, the money via a correspondent."""
        debtor_bank, creditor_bank = payment.route
        correspondent = self.rng.choice(_CORRESPONDENTS)
        direct = self._transfer(payment, debtor_bank, creditor_bank, at)
        first = self._cover(payment, debtor_bank, correspondent, self._after(at, 1, 10))
        at = self._after(at, 30, 300)
        self._status(first, at, "ACSC")
        self._cover(payment, correspondent, creditor_bank, self._after(at, 5, 60))
        at = self._after(at, 120, 900)
        self._status(direct, at, "ACCC")
        self._notification(payment, direct.tx, self._after(at, 1, 60), credit=True)

    def _return_flow(self, payment: _Payment, legs: Sequence[_Leg], at: datetime, reason: str) -> None:
        """The creditor's bank returns the funds: a pacs.004 per leg back to the debtor's bank."""
        for leg in reversed(legs):
            self._return(leg, at, reason)
            at = self._after(at, 30, 300)
        if self.rng.random() < 0.5:
            self._notification(payment, payment.tx, at, credit=True, reason=reason)

    def _cancellation_flow(
        self, legs: Sequence[_Leg], at: datetime, *, accepted: bool, settled: Sequence[_Leg]
    ) -> None:
        """camt.056 forwarded along the legs, camt.029 answered back along them; money that had
        already moved comes back with pacs.004 FOCR once the cancellation is accepted."""
        rng = self.rng
        reason = rng.choice(_CANCEL_REASONS)
        for leg in legs:
            self._cancellation_request(leg, at, reason)
            at = self._after(at, 30, 180)
        if accepted and rng.random() < 0.3:  # the last bank asks its customer first
            self._resolution(legs[-1], at, "PDCR")
            at = self._after(at, 600, 3600)
        status, refusal = ("ACCR", None) if accepted else ("RJCR", rng.choice(_CANCEL_REFUSALS))
        for leg in reversed(legs):
            self._resolution(leg, at, status, refusal)
            at = self._after(at, 30, 180)
        if accepted:
            for leg in reversed(settled):
                self._return(leg, at, "FOCR")
                at = self._after(at, 30, 300)


# --- delivery: channels, disorder, duplicates, late and malformed records ---------------------------


@dataclass(frozen=True, slots=True)
class _Form:
    """How a channel wraps a Document: bare, or an ``AppHdr`` beside it in an envelope element."""

    channel: str
    header_version: str | None = None
    envelope: str | None = None
    envelope_namespace: str | None = None


_SWIFT_FORMS: Final = (
    _Form("swift", "head.001.001.02", "BizMsgEnvlp"),
    _Form("swift", "head.001.001.04", "BizMsgEnvlp"),
)
# A payment gateway's API republishing interbank traffic, in its own namespaced envelope.
_API_ENVELOPE: Final = _Form("api", "head.001.001.04", "Envelope", "urn:example:payment-gateway:envelope:1")
_FILE: Final = _Form("file")
_API: Final = _Form("api")
_MALFORMATIONS: Final = ("truncated", "unsupported-version", "external-entity", "entity-expansion")
_OVERSIZED: Final = "oversized"


@dataclass(frozen=True, slots=True)
class _Delivery:
    arrival_ms: int
    sequence: int
    record: PaymentMessageRecord  # file_name filled in once the delivery order is known


def _epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class _Channels:
    """Renders messages in their channel's form and gives each record its arrival time."""

    def __init__(self, rng: random.Random, tag: str) -> None:
        self.rng = rng
        self.tag = tag
        self.sequence = 0
        self.envelopes = 0

    def first_form(self, message: _Message) -> _Form:
        if message.sender is not None:
            return self.rng.choices(_SWIFT_FORMS, weights=(4, 1))[0]
        return self.rng.choices((_FILE, _API), weights=(3, 2))[0]

    def second_form(self, message: _Message, first: _Form) -> _Form:
        """Another channel for the same Document, in a different envelope."""
        if message.sender is not None:
            return self.rng.choice((_FILE, _API_ENVELOPE))
        return _API if first.channel == "file" else _FILE

    def render(self, message: _Message, form: _Form) -> bytes:
        if form.header_version is None or message.sender is None or message.receiver is None:
            return message.document
        self.envelopes += 1
        return builders.wrap(
            message.document,
            header_version=form.header_version,
            business_message_id=f"BIZ-{self.tag}-{self.envelopes:07d}",
            created=message.at,
            sender=message.sender,
            receiver=message.receiver,
            envelope=form.envelope,
            envelope_namespace=form.envelope_namespace,
        )

    def deliver(
        self,
        arrival_ms: int,
        value: bytes,
        channel: str,
        timestamp_ms: int,
        kind: MessageKind,
        mt: str | None,
    ) -> _Delivery:
        self.sequence += 1
        record = PaymentMessageRecord(value, channel, timestamp_ms, "", kind, mt)
        return _Delivery(arrival_ms, self.sequence, record)


def _share(ratio: float, total: int, available: int) -> int:
    """How many of ``total`` get a treatment: at least one whenever the ratio asks for any."""
    if ratio <= 0 or available == 0:
        return 0
    return min(available, max(1, round(ratio * total)))


def _malform(rng: random.Random, variant: str, source: _Message, max_message_bytes: int) -> bytes:
    """A refused input derived from a real message, as a broken or hostile sender would send it."""
    data = source.document
    if variant == "truncated":  # a transfer cut short: never well-formed, the root is unclosed
        return data[: rng.randint(len(data) // 4, len(data) * 3 // 4)]
    if variant == "unsupported-version":  # a version this engine does not map (the first of its family)
        retired = f"{family_of(source.message_type)}.001.01"
        return data.replace(source.message_type.encode(), retired.encode())
    declaration_end = data.index(b"?>") + 2
    if variant == "external-entity":  # XXE: tries to read a local file into the message
        dtd = b'\n<!DOCTYPE Document [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    elif variant == "entity-expansion":  # "billion laughs": a few hundred bytes that expand to gigabytes
        levels = b"".join(
            b'<!ENTITY l%d "%s">' % (n, b"".join(b"&l%d;" % (n - 1) for _ in range(10))) for n in range(1, 10)
        )
        dtd = b'\n<!DOCTYPE Document [<!ENTITY l0 "lol">' + levels + b"]>"
    elif variant == _OVERSIZED:  # a bulk file past the size limit: its first transaction repeated
        start = data.index(b"<CdtTrfTxInf>")
        end = data.index(b"</CdtTrfTxInf>", start) + len(b"</CdtTrfTxInf>")
        block = data[start:end] + b"\n"
        copies = (max_message_bytes - len(data)) // len(block) + 2
        return data[:end] + b"\n" + block * copies + data[end:]
    else:
        raise ValueError(f"unknown malformation {variant!r}")
    reference = b"&xxe;" if variant == "external-entity" else b"&l9;"
    body = data[declaration_end:].replace(b"<MsgId>", b"<MsgId>" + reference, 1)
    return data[:declaration_end] + dtd + body


def payments(
    count: int,
    seed: int = 7,
    *,
    start: datetime = START,
    duplicate_ratio: float = 0.03,
    redelivery_ratio: float = 0.02,
    late_ratio: float = 0.02,
    malformed_ratio: float = 0.01,
    max_disorder_ms: int = MAX_DISORDER_MS,
    late_by_ms: int = LATE_BY_MS,
    max_message_bytes: int = DEFAULT_MAX_BYTES,
) -> Iterator[PaymentMessageRecord]:
    """Yield every message about ``count`` simulated payments, in delivery order.

    Deterministic for ``(count, seed)`` and the options. Payments start from ``start``, a few
    seconds apart, in pain.001 files of one to five payments; outcomes follow fixed weights, and
    the first payments take each :class:`Outcome` once, so any ``count >= 7`` shows them all.

    Ratios are shares of the messages of the simulated flows, each rounded but at least one when
    positive: ``duplicate_ratio`` byte-identical redeliveries, ``redelivery_ratio`` redeliveries
    through a second channel, ``late_ratio`` messages held back, ``malformed_ratio`` refused
    inputs (the first of them cover every kind of malformation, including one file just above
    ``max_message_bytes``, the size limit the consumer parses with).

    Guarantees the stream job can rely on: every record but a ``late`` one arrives at most
    ``max_disorder_ms`` behind the newest event time delivered before it; a ``late`` record
    arrives only after a record at least ``late_by_ms`` younger (a message is made late only when
    the flows continue that long after it).
    """
    if count < 0:
        raise ValueError(f"count must not be negative, got {count}")
    for name, ratio in (
        ("duplicate_ratio", duplicate_ratio),
        ("redelivery_ratio", redelivery_ratio),
        ("late_ratio", late_ratio),
        ("malformed_ratio", malformed_ratio),
    ):
        if not 0 <= ratio <= 1:
            raise ValueError(f"{name} must be between 0 and 1, got {ratio}")
    if max_disorder_ms < 0 or late_by_ms <= max_disorder_ms:
        raise ValueError("late_by_ms must exceed max_disorder_ms, which must not be negative")
    rng = random.Random(seed)
    simulation = _Simulation(rng, seed)
    for at, outcomes in _batches(rng, count, start):
        simulation.batch(at, outcomes)
    messages = sorted(simulation.messages, key=lambda m: m.at)  # stable: flow order at equal times
    deliveries = _deliver(
        rng,
        simulation.tag,
        messages,
        duplicate_ratio=duplicate_ratio,
        redelivery_ratio=redelivery_ratio,
        late_ratio=late_ratio,
        malformed_ratio=malformed_ratio,
        max_disorder_ms=max_disorder_ms,
        late_by_ms=late_by_ms,
        max_message_bytes=max_message_bytes,
    )
    for position, delivery in enumerate(sorted(deliveries, key=lambda d: (d.arrival_ms, d.sequence)), 1):
        record = delivery.record
        label = record.message_type or "malformed"
        yield dataclasses.replace(record, file_name=f"{position:06d}-{record.channel}-{label}.xml")


def _batches(rng: random.Random, count: int, start: datetime) -> Iterator[tuple[datetime, list[Outcome]]]:
    """pain.001 files: when each is created and the outcomes of the payments it carries."""
    every = list(Outcome)
    rng.shuffle(every)
    weighted = rng.choices(list(_OUTCOME_WEIGHTS), weights=list(_OUTCOME_WEIGHTS.values()), k=count)
    outcomes = (every + weighted)[:count] if count >= len(every) else weighted
    at = start
    taken = 0
    while taken < count:
        size = 1 if rng.random() < 0.55 else rng.randint(2, 5)
        yield at, outcomes[taken : taken + size]
        taken += size
        at += timedelta(seconds=rng.randint(2, 40))


def _deliver(
    rng: random.Random,
    tag: str,
    messages: Sequence[_Message],
    *,
    duplicate_ratio: float,
    redelivery_ratio: float,
    late_ratio: float,
    malformed_ratio: float,
    max_disorder_ms: int,
    late_by_ms: int,
    max_message_bytes: int,
) -> list[_Delivery]:
    channels = _Channels(rng, tag)
    if not messages:
        return []
    event_ms = [_epoch_ms(m.at) for m in messages]
    newest = max(event_ms)
    eligible_late = [i for i, ms in enumerate(event_ms) if ms + 2 * late_by_ms <= newest]
    late = set(rng.sample(eligible_late, _share(late_ratio, len(messages), len(eligible_late))))
    on_time = [i for i in range(len(messages)) if i not in late]
    duplicated = rng.sample(on_time, _share(duplicate_ratio, len(messages), len(on_time)))
    redelivered = rng.sample(on_time, _share(redelivery_ratio, len(messages), len(on_time)))

    deliveries: list[_Delivery] = []
    forms: dict[int, _Form] = {}
    first: dict[int, _Delivery] = {}
    for i in on_time:
        message, form = messages[i], channels.first_form(messages[i])
        forms[i] = form
        arrival = event_ms[i] + rng.randint(0, max_disorder_ms)
        first[i] = channels.deliver(
            arrival,
            channels.render(message, form),
            form.channel,
            event_ms[i],
            MessageKind.VALID,
            message.message_type,
        )
        deliveries.append(first[i])
    for i in duplicated:  # the same bytes again, after the first copy, still within the bound
        original = first[i]
        arrival = rng.randint(original.arrival_ms, event_ms[i] + max_disorder_ms)
        record = original.record
        deliveries.append(
            channels.deliver(
                arrival,
                record.value,
                record.channel,
                record.timestamp_ms,
                MessageKind.DUPLICATE,
                record.message_type,
            )
        )
    for i in redelivered:
        message = messages[i]
        form = channels.second_form(message, forms[i])
        arrival = rng.randint(first[i].arrival_ms, event_ms[i] + max_disorder_ms)
        deliveries.append(
            channels.deliver(
                arrival,
                channels.render(message, form),
                form.channel,
                event_ms[i],
                MessageKind.REDELIVERED,
                message.message_type,
            )
        )
    in_order = sorted(deliveries, key=lambda d: (d.arrival_ms, d.sequence))
    for i in sorted(late):  # right behind the first record at least late_by_ms (and a bit) younger
        threshold = event_ms[i] + late_by_ms + rng.randint(0, late_by_ms)
        # Exists: only messages at least 2 * late_by_ms older than the newest one are made late.
        trigger = next(d for d in in_order if d.record.timestamp_ms >= threshold)
        message, form = messages[i], channels.first_form(messages[i])
        deliveries.append(
            channels.deliver(
                trigger.arrival_ms,
                channels.render(message, form),
                form.channel,
                event_ms[i],
                MessageKind.LATE,
                message.message_type,
            )
        )
    deliveries += _malformed(
        rng, channels, messages, malformed_ratio, max_message_bytes, event_ms, max_disorder_ms
    )
    return deliveries


def _malformed(
    rng: random.Random,
    channels: _Channels,
    messages: Sequence[_Message],
    ratio: float,
    max_message_bytes: int,
    event_ms: Sequence[int],
    max_disorder_ms: int,
) -> list[_Delivery]:
    """Refused inputs at random points of the stream, stamped with the time they arrive."""
    total = _share(ratio, len(messages), len(messages))
    variants = [*_MALFORMATIONS]
    rng.shuffle(variants)
    variants.insert(rng.randint(0, len(variants)), _OVERSIZED)  # one oversized file per set is plenty
    plan = variants + [rng.choice(_MALFORMATIONS) for _ in range(max(0, total - len(variants)))]
    initiations = [m for m in messages if family_of(m.message_type) == "pain.001"]
    deliveries = []
    for variant in plan[:total]:
        source = rng.choice(initiations if variant == _OVERSIZED else messages)
        arrival = rng.choice(event_ms) + rng.randint(0, max_disorder_ms)  # where the traffic is
        channel = "file" if variant == _OVERSIZED else rng.choice(("swift", "api", "file"))
        value = _malform(rng, variant, source, max_message_bytes)
        deliveries.append(channels.deliver(arrival, value, channel, arrival, MessageKind.MALFORMED, None))
    return deliveries


# --- sinks ------------------------------------------------------------------------------------------


def produce(
    settings: Settings, topic: str, records: Iterable[PaymentMessageRecord]
) -> list[PaymentMessageRecord]:
    """Produce records to ``topic`` in delivery order (key: channel; timestamp: event time).

    The producer's per-record limit is raised for the oversized record: it is there to be refused
    by the parser, not by the client. It compresses to a fraction of the broker's limit.
    """
    batch = list(records)
    largest = max((len(r.value) for r in batch), default=0)
    limit = max(_KAFKA_DEFAULT_MAX_BYTES, largest + 64 * 1024)
    return produce_records(settings, topic, batch, producer_config={"message.max.bytes": limit})


def write_files(records: Iterable[PaymentMessageRecord], directory: Path) -> list[PaymentMessageRecord]:
    """Write one file per record into ``directory`` (created if missing); names sort in delivery
    order. Returns the records written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for record in records:
        (directory / record.file_name).write_bytes(record.value)
        written.append(record)
    return written
