"""Settings: one place, overridable by STREAMLEDGER_* variables, validated with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamledger.config import Settings
from streamledger.errors import ConfigError


def test_environment_overrides_typed_fields() -> None:
    s = Settings.from_env({"STREAMLEDGER_KAFKA_PORT": "29999", "STREAMLEDGER_STATE_ROOT": "/tmp/x"})
    assert s.kafka_port == 29999 and s.bootstrap_servers == "127.0.0.1:29999"
    assert s.state_dir == Path("/tmp/x") and s.kafka_dir == Path("/tmp/x/kafka")
    assert s.jars_dir == s.home / ".streamledger" / "jars", "jars stay in the checkout"


def test_projection_topics_are_compacted_and_logs_never_expire_by_time() -> None:
    topics = {t.name: t for t in Settings.from_env({}).topics}
    s = Settings.from_env({})
    assert topics[s.balances_topic].compacted
    assert not topics[s.postings_topic].compacted
    assert topics[s.postings_topic].configs["retention.ms"] == "-1"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"STREAMLEDGER_KAFKA_PORT": "not-a-port"},
            "STREAMLEDGER_KAFKA_PORT='not-a-port' is not a valid int",
        ),
        ({"STREAMLEDGER_KAFKA_PORT": "80"}, "not a usable port"),
        ({"STREAMLEDGER_FLINK_REST_PORT": "19092"}, "ports must differ"),
        ({"STREAMLEDGER_CHECKPOINT_INTERVAL_MS": "5"}, "too small"),
        ({"STREAMLEDGER_RUNTIME": "yarn"}, "is not local or kubernetes"),
        ({"STREAMLEDGER_CATALOG_TYPE": "hive"}, "is not jdbc or rest"),
        ({"STREAMLEDGER_CATALOG_TYPE": "rest"}, "needs catalog_rest_uri and catalog_warehouse"),
    ],
)
def test_bad_settings_fail_with_one_clear_line(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_rest_catalog_registers_in_flink_with_its_uri_and_warehouse() -> None:
    from streamledger.stack.iceberg_catalog import flink_catalog_ddl

    s = Settings.from_env(
        {
            "STREAMLEDGER_CATALOG_TYPE": "rest",
            "STREAMLEDGER_CATALOG_REST_URI": "http://rest:8181",
            "STREAMLEDGER_CATALOG_WAREHOUSE": "s3://lake/wh",
        }
    )
    (ddl,) = flink_catalog_ddl(s)
    assert "'catalog-type' = 'rest'" in ddl and "'uri' = 'http://rest:8181'" in ddl and "s3://lake/wh" in ddl
    assert "jdbc" not in ddl.lower()


def test_a_replay_reads_the_live_input_and_writes_only_fresh_outputs(tmp_path: Path) -> None:
    from streamledger.operations import replay_settings

    live = Settings.from_env(environ={}, state_root=tmp_path)
    replay = replay_settings(live, "payment-lifecycle", "r1")
    assert replay.payments_input_topic == live.payments_input_topic
    others = [f for f in live.topic_fields if f != "payments_input_topic"]
    assert all(getattr(replay, f) == f"replay-r1.{getattr(live, f)}" for f in others)
    assert replay.state_dir == tmp_path / "replays" / "r1"
    assert replay.catalog_db_path != live.catalog_db_path and replay.warehouse_path != live.warehouse_path
