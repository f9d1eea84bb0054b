"""The KRaft cluster ID handed to the storage tool must never look like an option."""

from __future__ import annotations

import base64
import uuid

import pytest

from streamledger.stack import kafka_broker


def test_cluster_id_never_starts_with_a_dash_even_when_the_uuid_would(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 0xf8 as first byte encodes to "-" in URL-safe base64; the second draw is ordinary.
    draws = iter([uuid.UUID(bytes=b"\xf8" + bytes(15)), uuid.UUID(int=42)])
    monkeypatch.setattr(kafka_broker.uuid, "uuid4", lambda: next(draws))
    cluster_id = kafka_broker.new_cluster_id()
    assert not cluster_id.startswith("-")
    assert base64.urlsafe_b64decode(cluster_id + "==") == uuid.UUID(int=42).bytes


def test_cluster_id_is_22_url_safe_characters() -> None:
    for _ in range(200):
        cluster_id = kafka_broker.new_cluster_id()
        assert len(cluster_id) == 22 and not cluster_id.startswith("-")
        assert set(cluster_id) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
