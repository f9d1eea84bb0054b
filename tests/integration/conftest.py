"""Fixtures of the tests that run jobs on a standalone Flink cluster."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from streamledger.config import Settings
from streamledger.stack.local_stack import LocalStack

from .cluster_support import standalone_cluster


@pytest.fixture(scope="module")
def cluster(local_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A standalone Flink cluster for the test module (its own JobManager, TaskManager and state
    directory), on the session's broker; stopped when the module's tests are done."""
    yield from standalone_cluster(local_stack, tmp_path_factory.mktemp("cluster"))
