"""Reading topics under transactions, on the real broker: what a read_committed reader sees while a
transaction is open, and how an open one is found."""

from __future__ import annotations

import pytest
from confluent_kafka import Producer

from streamledger import kafka_clients
from streamledger.config import Settings

pytestmark = pytest.mark.stack


def test_an_open_transaction_hides_its_records_and_is_reported_until_it_ends(isolated: Settings) -> None:
    topic = isolated.balances_topic
    producer = Producer(
        {"bootstrap.servers": isolated.bootstrap_servers, "transactional.id": f"{topic}-probe"}
    )
    producer.init_transactions(30)
    producer.begin_transaction()
    producer.produce(topic, key=b"a", value=b"committed", partition=0)
    producer.commit_transaction(30)
    producer.begin_transaction()
    producer.produce(topic, key=b"a", value=b"pending", partition=0)
    producer.flush(30)

    # The committed record and its commit marker lie below the last stable offset; the pending
    # record is at it, and nothing from there on is visible.
    assert kafka_clients.open_transactions(isolated, topic) == {0: (2, 3)}
    assert [r.value for r in kafka_clients.read_topic(isolated, topic)] == [b"committed"]
    assert kafka_clients.end_offsets(isolated, topic) != kafka_clients.end_offsets(
        isolated, topic, isolation="read_uncommitted"
    )

    producer.commit_transaction(30)
    assert kafka_clients.open_transactions(isolated, topic) == {}
    assert [r.value for r in kafka_clients.read_topic(isolated, topic)] == [b"committed", b"pending"]
