"""Operating a job on the real standalone cluster: deploy, crash, broker restart, redeploy.

The payment-lifecycle job runs on the cluster from ``streamledger/stack`` (separate JobManager and
TaskManager processes, REST API) while input keeps arriving. Its TaskManager is killed with
SIGKILL, the broker is stopped and restarted, and the job is redeployed through a savepoint; after
all that, the read_committed topic and the Iceberg timeline must equal the pure-Python reference
over the whole input: nothing lost, nothing applied twice.

Kill points are drawn from a seed that is printed (``-s`` shows it; set
``STREAMLEDGER_FAULT_SEED`` to replay a failure).
"""

from __future__ import annotations

import dataclasses
import os
import random
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from streamledger import kafka_clients
from streamledger.config import Settings
from streamledger.errors import StreamledgerError
from streamledger.operations import JobNotFoundError, Operations, wait_for_checkpoints
from streamledger.stack import iceberg_catalog
from streamledger.stack.local_stack import LocalStack

from .payment_reference import (
    committed_statuses,
    produce,
    reference,
    timeline_rows,
    with_message_limit,
    without_sla,
)

pytestmark = pytest.mark.stack

JOB = "payment-lifecycle"


@pytest.fixture(scope="module")
def cluster(local_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A standalone Flink cluster of its own, on the session broker, with fresh topics and tables."""
    root: Path = tmp_path_factory.mktemp("cluster")
    settings = dataclasses.replace(
        local_stack.settings.with_topic_prefix(f"ops-{uuid.uuid4().hex[:8]}"),
        state_root=root / "state",
        catalog_db=root / "catalog" / "iceberg_catalog.db",
        warehouse=root / "warehouse",
    )
    stack = LocalStack(settings)
    stack.kafka.ensure_topics()
    iceberg_catalog.initialize(settings)
    stack.up(["flink"])
    yield with_message_limit(settings)
    stack.down(["flink"])


def _wait_until_caught_up(settings: Settings, timeout_s: float = 240.0) -> None:
    """Committed offsets of the job's group reach the input's end: outputs up to there are committed."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            ends = kafka_clients.end_offsets(settings, settings.payments_input_topic)
            committed = kafka_clients.resume_offsets(settings, JOB, settings.payments_input_topic)
            if all(committed.get(p, 0) >= end for p, end in ends.items()):
                return
        except Exception:  # the broker may be restarting
            pass
        time.sleep(1)
    raise AssertionError(f"{JOB} did not catch up within {timeout_s:.0f} s")


def test_crash_broker_restart_and_redeploy_lose_and_duplicate_nothing(
    cluster: Settings, local_stack: LocalStack
) -> None:
    seed = int(os.environ.get("STREAMLEDGER_FAULT_SEED", str(random.randrange(1_000_000))))
    print(f"fault seed {seed}")
    rng = random.Random(seed)
    ops = Operations(cluster)
    stack = LocalStack(cluster)

    produce(cluster, payments=80, seed=31)
    first_id = ops.deploy(JOB)
    assert ops.find(JOB).job_id == first_id

    # Crash: SIGKILL the TaskManager at a random point after the first checkpoints, then bring a
    # new one up; the job restarts from its last completed checkpoint.
    wait_for_checkpoints(ops, JOB, completed=rng.randint(1, 4))
    stack.flink.taskmanager.kill()
    produce(cluster, payments=40, seed=32)
    stack.up(["flink"])
    _wait_until_caught_up(cluster)

    # The broker goes away mid-stream (graceful stop, as in a rolling restart) and comes back.
    produce(cluster, payments=40, seed=33)
    time.sleep(rng.uniform(0.5, 3.0))
    local_stack.down(["kafka"])  # the session's broker: its data directory, its process
    time.sleep(rng.uniform(2.0, 6.0))
    local_stack.up(["kafka"])
    _wait_until_caught_up(cluster)

    # A redeploy through a savepoint continues exactly where the old job stopped.
    savepoint, second_id = ops.redeploy(JOB)
    assert second_id != first_id
    produce(cluster, payments=40, seed=34)
    _wait_until_caught_up(cluster)
    status = ops.status(ops.find(JOB))
    assert status.job.job_id == second_id and status.restored_from == savepoint
    stopped_at = ops.savepoint(JOB, stop=True)
    assert stopped_at.startswith(f"file:{cluster.savepoints_dir / JOB}")
    with pytest.raises(JobNotFoundError):
        ops.find(JOB)

    expected = reference(cluster, every_deadline_passed=False)
    assert without_sla(committed_statuses(cluster)) == without_sla(expected.statuses)
    assert timeline_rows(cluster) == expected.timeline


def test_operating_a_job_that_does_not_run_says_so_in_one_line(cluster: Settings) -> None:
    ops = Operations(cluster)
    with pytest.raises(JobNotFoundError, match="no job 'fraud-cep' is running"):
        ops.savepoint("fraud-cep")
    with pytest.raises(StreamledgerError, match="unknown job"):
        ops.find("no-such-job")
    down = Operations(dataclasses.replace(cluster, flink_rest_port=cluster.flink_rest_port + 7))
    with pytest.raises(StreamledgerError, match="does not answer"):
        down.deploy(JOB)
