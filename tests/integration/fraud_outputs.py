"""The fraud-cep job's committed outputs, read back as alerts: the read_committed ``fraud.alerts``
topic and the Iceberg ``fraud.alerts`` table; and an embedded run of the job that stops once the
alerts a test waits for are in. Shared by every test that compares them with the reference."""

from __future__ import annotations

from collections.abc import Callable

from jobs import fraud_cep, runner
from jobs.runner import RunReport
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


def run_until(
    settings: Settings,
    ready: Callable[[], bool],
    *,
    on_poll: Callable[[], None] | None = None,
    timeout_s: float,
) -> RunReport:
    """Run the fraud job embedded (from its newest restore point, if any) until ``ready()`` holds
    and every event then on the input topic is committed; stop it with a savepoint. Event-time
    alerts can trail the input, so the test says when it has seen what it waits for."""
    return runner.run_until_caught_up(
        fraud_cep.JOB_NAME,
        settings,
        lambda s, config: fraud_cep.create(s, flink_config=config),
        settings.fraud_events_topic,
        targets=lambda: kafka_clients.end_offsets(settings, settings.fraud_events_topic) if ready() else None,
        on_poll=on_poll,
        timeout_s=timeout_s,
    )
