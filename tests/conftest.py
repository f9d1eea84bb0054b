"""Shared fixtures.

Services are real and started once per test session: one Kafka broker (KRaft) and one Iceberg
JDBC catalog, on ports and in a state directory of their own, so a developer's running
``streamledger stack`` is never touched. Each test gets fresh topics and a fresh catalog, so tests
cannot see each other's output.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from streamledger.config import Settings
from streamledger.stack.local_stack import LocalStack

#: Ports for the test session's own stack (a developer's dev stack uses 19092/19093/18081).
#: ``STREAMLEDGER_TEST_PORT_OFFSET`` shifts them, so two test sessions on one machine (two
#: checkouts, or a focused run beside a full one) do not stop each other's broker.
_OFFSET = int(os.environ.get("STREAMLEDGER_TEST_PORT_OFFSET", "0"))
TEST_PORTS = {
    "kafka_port": 29092 + _OFFSET,
    "kafka_controller_port": 29093 + _OFFSET,
    "flink_rest_port": 28081 + _OFFSET,
}


@pytest.fixture(scope="session")
def session_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    state_root = tmp_path_factory.mktemp("streamledger-state")
    return Settings.from_env(
        environ={},
        state_root=state_root,
        checkpoint_interval_ms=1000,
        min_pause_between_checkpoints_ms=200,
        **TEST_PORTS,
    )


@pytest.fixture(scope="session")
def local_stack(session_settings: Settings) -> Iterator[LocalStack]:
    """Kafka broker + catalog for the whole session; torn down at the end."""
    stack = LocalStack(session_settings)
    stack.up(["catalog", "kafka"])
    yield stack
    stack.down(["kafka"])


@pytest.fixture
def isolated(local_stack: LocalStack, tmp_path: Path) -> Settings:
    """Settings with this test's own topics and Iceberg catalog, on the session's broker."""
    from integration.stack_support import isolated_settings

    return isolated_settings(local_stack, tmp_path)
