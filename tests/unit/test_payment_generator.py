"""The payment message generator: what it emits is what real channels could deliver.

Every message is checked against the official XSDs and the real parser, the malformed ones must be
refused, and the lifecycles folded from the stream must not depend on its delivery order: that is
the property the payment-lifecycle job is built on, so its input has to exercise it.
"""

from __future__ import annotations

import dataclasses
import functools
import random
from collections import Counter
from pathlib import Path

import pytest
from lxml import etree

from operators.payment_lifecycle import CancellationStatus, PaymentStatus, fold
from streamledger import cli
from streamledger.config import Settings
from streamledger.generators import payments as generator
from streamledger.generators.payments import (
    LATE_BY_MS,
    MAX_DISORDER_MS,
    MessageKind,
    PaymentMessageRecord,
    iban,
    payments,
)
from streamledger.iso20022 import (
    SUPPORTED_MESSAGE_TYPES,
    EventType,
    HostileMessageError,
    Iso20022Error,
    MalformedMessageError,
    PaymentEvent,
    UnsupportedMessageError,
    parse_message,
)
from streamledger.iso20022.catalogue import family_of
from streamledger.iso20022.payment_key import normalize_bic

from . import iso20022_samples as samples

COUNT = 80
SEED = 20260105


@functools.cache
def generated(count: int = COUNT, seed: int = SEED) -> tuple[PaymentMessageRecord, ...]:
    # Twice the default share of malformed messages, so that every malformation is in the set.
    return tuple(payments(count, seed, malformed_ratio=0.02))


def wellformed(records: tuple[PaymentMessageRecord, ...]) -> list[PaymentMessageRecord]:
    return [r for r in records if r.kind is not MessageKind.MALFORMED]


@functools.cache
def events_in_delivery_order() -> tuple[PaymentEvent, ...]:
    return tuple(
        event
        for record in wellformed(generated())
        for event in parse_message(record.value, source=record.file_name).events
    )


def test_every_message_but_the_malformed_is_valid_against_its_official_schemas() -> None:
    samples.require_schemas()
    roots: Counter[str] = Counter()
    for record in wellformed(generated()):
        assert record.message_type in SUPPORTED_MESSAGE_TYPES
        samples.assert_schema_valid(record.value)  # the AppHdr against head.001, the Document against its XSD
        root = etree.fromstring(record.value)
        document = next(root.iter("{*}Document"))
        assert etree.QName(document).namespace.endswith(f":{record.message_type}"), record.file_name
        header = next(root.iter("{*}AppHdr"), None)
        if header is not None:
            assert header.findtext("{*}MsgDefIdr") == record.message_type
            roots[etree.QName(header).namespace.rsplit(":", 1)[1]] += 1
        else:
            roots["bare"] += 1
    assert set(roots) == {"bare", "head.001.001.02", "head.001.001.04"}


def test_every_message_but_the_malformed_parses_and_its_kafka_timestamp_is_its_event_time() -> None:
    for record in wellformed(generated()):
        parsed = parse_message(record.value, source=record.file_name)
        assert parsed.message_type == record.message_type
        assert parsed.events
        assert {int(e.event_time.timestamp() * 1000) for e in parsed.events} == {record.timestamp_ms}


def test_every_malformed_message_is_refused_by_the_parser() -> None:
    malformed = [r for r in generated() if r.kind is MessageKind.MALFORMED]
    refusals: Counter[type[Iso20022Error]] = Counter()
    for record in malformed:
        with pytest.raises(Iso20022Error) as refused:
            parse_message(record.value, source=record.file_name)
        refusals[type(refused.value)] += 1
    assert set(refusals) == {HostileMessageError, MalformedMessageError, UnsupportedMessageError}
    assert sum(b"<!DOCTYPE" in r.value for r in malformed) >= 2  # external entity and entity expansion


def test_the_oversized_message_is_just_above_the_limit_the_consumer_parses_with() -> None:
    limit = 200_000
    records = list(payments(30, SEED, malformed_ratio=0.05, max_message_bytes=limit))
    oversized = [r for r in records if r.kind is MessageKind.MALFORMED and len(r.value) > limit]
    assert len(oversized) == 1
    with pytest.raises(HostileMessageError):
        parse_message(oversized[0].value, max_bytes=limit)
    assert len(oversized[0].value) < 2 * limit


def test_the_same_seed_gives_the_same_records_and_another_seed_others() -> None:
    assert list(payments(25, 3)) == list(payments(25, 3))
    assert [r.value for r in payments(25, 3)] != [r.value for r in payments(25, 4)]


def test_the_mix_has_every_outcome_and_every_kind_of_delivery() -> None:
    records = generated()
    lifecycles = fold(events_in_delivery_order())

    assert len(lifecycles) == COUNT  # every message of a payment correlates onto its one lifecycle
    statuses = Counter(lifecycle.status for lifecycle in lifecycles.values())
    assert {
        PaymentStatus.CREDITED,
        PaymentStatus.SETTLED,
        PaymentStatus.PENDING,
        PaymentStatus.REJECTED,
        PaymentStatus.RETURNED,
        PaymentStatus.CANCELLED,
    } <= set(statuses)
    cancellations = {lifecycle.cancellation for lifecycle in lifecycles.values()}
    assert {CancellationStatus.ACCEPTED, CancellationStatus.REJECTED} <= cancellations
    for lifecycle in lifecycles.values():  # the ends an operator must explain carry their reason code
        if lifecycle.status in (PaymentStatus.REJECTED, PaymentStatus.RETURNED, PaymentStatus.CANCELLED):
            assert lifecycle.status_reason is not None, lifecycle.payment_id

    assert {r.kind for r in records} == set(MessageKind)
    assert {r.channel for r in records} == {"swift", "api", "file"}


def test_flows_have_batches_multi_hop_routes_covers_and_mixed_versions() -> None:
    events = events_in_delivery_order()
    initiations = Counter(e.message_id for e in events if e.event_type is EventType.INITIATION)
    assert max(initiations.values()) > 1  # pain.001 files with several transactions

    lifecycles = fold(events)
    transfers: dict[str, set[tuple[str, str | None, str | None, str | None]]] = {}
    for e in events:
        if e.event_type is EventType.INTERBANK_TRANSFER:
            transfers.setdefault(e.payment_id, set()).add(
                (e.message_id, e.instructing_agent, e.instructed_agent, e.uetr)
            )
    multi_hop = {pid: sent for pid, sent in transfers.items() if len(sent) == 3}
    assert multi_hop
    for payment_id, sent in multi_hop.items():
        # A -> B -> C -> D: one pacs.008 from each bank on the route to the next, one UETR for all.
        route = lifecycles[payment_id].route
        assert [leg.hop for leg in route] == [0, 1, 2]
        assert {(normalize_bic(sender), normalize_bic(receiver)) for _, sender, receiver, _ in sent} == {
            (leg.sender, leg.receiver) for leg in route
        }
        assert {uetr for *_, uetr in sent} == {lifecycles[payment_id].uetr}  # None: legacy, by EndToEndId
    assert any(lifecycles[payment_id].uetr for payment_id in multi_hop)
    assert any(lc.uetr is None for lc in lifecycles.values())  # legacy channel, keyed by end-to-end id
    assert any(e.cover for e in events if e.event_type is EventType.FI_TRANSFER)

    by_family: dict[str, set[str]] = {}
    per_family = Counter()
    for record in wellformed(generated()):
        assert record.message_type is not None
        by_family.setdefault(family_of(record.message_type), set()).add(record.message_type)
        per_family[family_of(record.message_type)] += 1
    frequent = [family for family, n in per_family.items() if n >= 20]
    assert {"pain.001", "pacs.008", "pacs.002", "camt.054"} <= set(frequent)
    for family in frequent:  # versions are drawn per message: a frequent family shows several
        assert len(by_family[family]) > 1, f"only one version of {family} generated"


def test_the_delivery_order_is_bounded_out_of_order_except_for_late_messages() -> None:
    newest = None
    reordered = 0
    for record in generated():
        if newest is not None:
            if record.kind is MessageKind.LATE:
                assert newest >= record.timestamp_ms + LATE_BY_MS
            else:
                assert record.timestamp_ms >= newest - MAX_DISORDER_MS
                reordered += record.timestamp_ms < newest
        newest = record.timestamp_ms if newest is None else max(newest, record.timestamp_ms)
    assert reordered > 0


def test_duplicates_repeat_earlier_bytes_and_redeliveries_repeat_the_document_elsewhere() -> None:
    seen: list[PaymentMessageRecord] = []
    for record in generated():
        if record.kind is MessageKind.DUPLICATE:
            assert any(s.value == record.value and s.key == record.key for s in seen)
        if record.kind is MessageKind.REDELIVERED:
            again = parse_message(record.value).events
            earlier = [s for s in seen if s.message_type == record.message_type and s.key != record.key]
            assert any(
                [_without_transport(e) for e in parse_message(s.value).events]
                == [_without_transport(e) for e in again]
                for s in earlier
            )
        seen.append(record)


def _without_transport(event: PaymentEvent) -> PaymentEvent:
    """The event minus what the envelope contributes (the AppHdr's business message id)."""
    return dataclasses.replace(event, business_message_id=None)


def test_lifecycles_do_not_depend_on_delivery_order_or_redeliveries() -> None:
    events = list(events_in_delivery_order())
    expected = fold(events)
    shuffled = events[:]
    random.Random(SEED).shuffle(shuffled)
    assert fold(reversed(events)) == expected
    assert fold(shuffled) == expected
    first_deliveries = [
        event
        for record in wellformed(generated())
        if record.kind in (MessageKind.VALID, MessageKind.LATE)
        for event in parse_message(record.value).events
    ]
    assert len(first_deliveries) < len(events)
    assert fold(first_deliveries) == expected


def test_accounts_are_ibans_with_correct_check_digits() -> None:
    # The check digits of the published example IBANs, computed from their BBANs.
    assert iban("DE", "370400440532013000") == "DE89370400440532013000"
    assert iban("GB", "WEST12345698765432") == "GB82WEST12345698765432"
    accounts = {
        account
        for e in events_in_delivery_order()
        for account in (e.debtor_account, e.creditor_account)
        if account is not None
    }
    assert len(accounts) > COUNT
    for account in accounts:
        numeric = "".join(str(int(c, 36)) for c in account[4:] + account[:4])
        assert int(numeric) % 97 == 1, account


def test_produce_raises_the_client_size_limit_above_the_largest_record(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent: dict[str, object] = {}

    def fake_produce(
        settings: Settings, topic: str, records: list[PaymentMessageRecord], **options: object
    ) -> list[PaymentMessageRecord]:
        sent.update(topic=topic, records=records, **options)
        return records

    monkeypatch.setattr(generator, "produce_records", fake_produce)
    records = generated()
    produced = generator.produce(Settings(), "payments.iso20022", iter(records))
    assert produced == list(records)
    assert sent["topic"] == "payments.iso20022"
    config = sent["producer_config"]
    assert isinstance(config, dict)
    assert config["message.max.bytes"] > max(len(r.value) for r in records)


def test_generate_payments_output_writes_one_file_per_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        cli.main(["generate", "payments", "--payments", "12", "--seed", "5", "--output", str(tmp_path)]) == 0
    )

    expected = list(payments(12, 5))
    files = sorted(tmp_path.iterdir())
    assert [f.name for f in files] == [r.file_name for r in expected]
    assert [f.read_bytes() for f in files] == [r.value for r in expected]
    printed = capsys.readouterr().out
    for kind, n in Counter(r.kind.value for r in expected).items():
        assert f"{n} {kind}" in printed


def test_generate_payments_refuses_a_count_below_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["generate", "payments", "--payments", "0", "--output", "unused"]) != 0
    assert "--payments" in capsys.readouterr().err
    with pytest.raises(ValueError, match="count"):
        next(payments(-1, SEED))
