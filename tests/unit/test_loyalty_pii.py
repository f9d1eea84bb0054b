"""Contact data is tokenized and masked before it reaches member state or any output."""

from __future__ import annotations

import pytest

from operators.loyalty import (
    AccrualConfig,
    Address,
    LoyaltyEvent,
    MemberEnrolled,
    PiiKey,
    ProfileChanged,
    load_rules,
)
from operators.loyalty.outputs import SCHEMA_OF
from operators.loyalty.pii import protect_address, protect_email, protect_name, protect_phone, token
from operators.loyalty.replay import Replay
from schemas import AvroCodec
from streamledger.generators.loyalty import loyalty_events

KEY = PiiKey("k2026", b"correct horse battery staple 0123")
OTHER_KEY = PiiKey("k2027", b"another secret of enough length!!")


def test_tokens_are_keyed_deterministic_and_normalized() -> None:
    a = protect_email(KEY, "Jane.Doe@Example.com ", 1)
    b = protect_email(KEY, "jane.doe@example.com", 2)
    assert a.token == b.token
    assert a.token.startswith("hmac-sha256:k2026:") and len(a.token.rsplit(":", 1)[1]) == 64
    assert protect_email(OTHER_KEY, "jane.doe@example.com", 1).token != a.token
    assert protect_email(KEY, "jane.doe2@example.com", 1).token != a.token
    assert protect_phone(KEY, "+44 7700 900123", 1).token == protect_phone(KEY, "+447700900123", 1).token
    # Domain separation: the same text as e-mail and as phone gives unrelated tokens.
    assert token(KEY, "email", "x") != token(KEY, "phone", "x")


def test_masked_forms_keep_too_little_to_identify_anyone() -> None:
    assert protect_email(KEY, "jane.doe@example.com", 0).masked == "j***@example.com"
    assert protect_email(KEY, "not-an-email", 0).masked == "***"
    assert protect_phone(KEY, "+44 7700 900123", 0).masked == "+**********23"
    assert protect_phone(KEY, "12", 0).masked == "***"
    assert protect_name(KEY, "Jane", "de Vries", 0).masked == "J*** D***"
    address = Address(("10 Downing Street",), "London", "SW1A 2AA", "gb")
    assert protect_address(KEY, address, 0).masked == "*** (GB)"


def test_the_key_is_validated_and_never_shown() -> None:
    assert "correct horse" not in repr(KEY) and "k2026" in repr(KEY)
    assert "correct horse" not in repr(AccrualConfig(KEY))
    with pytest.raises(ValueError, match="at least 16"):
        PiiKey("short", b"too short")
    with pytest.raises(ValueError, match="key id"):
        PiiKey("bad id!", b"0123456789abcdef")


def test_events_do_not_show_contact_data_in_their_repr() -> None:
    event = MemberEnrolled(
        "e1",
        "m1",
        0,
        "Jane",
        "Doe",
        "jane.doe@example.com",
        "+44 7700 900123",
        Address(("1 High Street",), "London", "N1 1AA", "GB"),
    )
    text = repr(event)
    for raw in ("Jane", "Doe", "jane.doe@example.com", "+44 7700 900123", "High Street", "London", "N1 1AA"):
        assert raw not in text


def _raw_contact_strings(events: list[LoyaltyEvent]) -> set[str]:
    raw: set[str] = set()
    for event in events:
        if isinstance(event, MemberEnrolled):
            raw |= {event.first_name + " " + event.last_name, event.last_name, event.email}
        if isinstance(event, MemberEnrolled | ProfileChanged):
            if event.email:
                raw |= {event.email, event.email.lower()}
            if event.phone:
                raw |= {event.phone, event.phone.replace(" ", ""), event.phone.replace(" ", "")[1:]}
            if event.address:
                raw |= set(event.address.lines) | {f"{event.address.postal_code} {event.address.city}"}
    return raw


def test_no_raw_contact_data_in_any_output_or_state_of_a_generated_stream() -> None:
    records = list(loyalty_events(members=60, events=1500, seed=5, profile_change_rate=0.15))
    events = [r.event for r in records]
    raw = _raw_contact_strings(events)
    assert sum("@" in value for value in raw) > 60 and sum(value.startswith("+44") for value in raw) > 40
    replay = Replay(load_rules(), AccrualConfig(KEY)).process_all(events)
    replay.advance_watermark(max(e.event_time_ms for e in events) + 3 * 366 * 24 * 3600 * 1000)
    assert replay.outputs
    texts = [repr(output) for output in replay.outputs] + [repr(state) for state in replay.states.values()]
    codecs = {cls: AvroCodec(name) for cls, name in SCHEMA_OF.items()}
    encoded = [codecs[type(o)].encode(o.to_record()) for o in replay.outputs]
    haystack = "\n".join(texts)
    wire = b"\n".join(encoded)
    for value in raw:
        assert value not in haystack, f"raw contact data {value!r} leaked into an output or state"
        assert value.encode() not in wire, f"raw contact data {value!r} leaked onto the wire"
    # The masked forms are what is there instead.
    assert "@example." in haystack and "***" in haystack
