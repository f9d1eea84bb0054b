"""The fraud-cep job's committed outputs, read back as alerts: the read_committed ``fraud.alerts``
topic and the Iceberg ``fraud.alerts`` table. Shared by every test that compares them with the
reference."""

from __future__ import annotations

from jobs import fraud_cep
from operators.cep.alerts import Alert
from schemas import AvroCodec
from streamledger import kafka_clients
from streamledger.config import Settings
from streamledger.stack import iceberg_catalog

ALERT = AvroCodec("fraud.Alert")
TABLE = f"{fraud_cep.ICEBERG_NAMESPACE}.{fraud_cep.ICEBERG_TABLE}"


def committed_alerts(settings: Settings) -> list[Alert]:
    """The alerts a read_committed consumer sees on the alerts topic, in log order."""
    return [
        Alert.from_record(ALERT.decode(r.value))
        for r in kafka_clients.read_topic(settings, settings.fraud_alerts_topic)
        if r.value is not None
    ]


def iceberg_alerts(settings: Settings) -> list[Alert]:
    """The alerts in the Iceberg table, as pyiceberg reads them."""
    rows = iceberg_catalog.load(settings).load_table(TABLE).scan().to_arrow().to_pylist()
    return [
        Alert(
            rule_id=r["rule_id"],
            rule_version=r["rule_version"],
            key=r["customer"],
            event_ids=tuple(r["event_ids"]),
            score=r["score"],
            detected_at=round(r["detected_at"].timestamp() * 1000),
            event_times=tuple(r["event_times"]),
        )
        for r in rows
    ]
