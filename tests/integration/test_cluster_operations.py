"""Operating the payment-lifecycle job on the real standalone cluster through crashes.

The job runs on the cluster from ``streamledger/stack`` (separate JobManager and TaskManager
processes, REST API) while input keeps arriving. In one test its TaskManager is killed with SIGKILL
twice, the broker is stopped and restarted, and the job is redeployed through a savepoint; in the
other the JobManager is killed (no HA: the job is gone with it) and the job is deployed again from
its newest retained checkpoint, as the runbook in ``jobs/README.md`` says. After all that, the
read_committed status topic and the Iceberg timeline must equal the pure-Python reference over the
whole input: nothing lost, nothing applied twice, each payment's updates in version order.

Kill points are drawn from a seed that is printed (``-s`` shows it; set
``STREAMLEDGER_FAULT_SEED`` to replay a failure).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from jobs.runner import latest_restore_point
from streamledger import kafka_clients
from streamledger.config import Settings
from streamledger.errors import NonRestoredStateError, StreamledgerError
from streamledger.operations import JobNotFoundError, Operations, savepoint_path, wait_for_checkpoints
from streamledger.stack.local_stack import LocalStack

from .cluster_support import (
    fault_rng,
    kill_taskmanager,
    namespace,
    open_output_transactions,
    repeated_records,
    restart_broker,
    wait_until_consumed,
)
from .payment_reference import (
    STATUS,
    committed_statuses,
    produce,
    reference,
    timeline_rows,
    with_message_limit,
    without_sla,
)

pytestmark = pytest.mark.stack

JOB = "payment-lifecycle"


@pytest.fixture
def payments(cluster: Settings, tmp_path: Path) -> Settings:
    """This test's topics and catalog, on the module's cluster."""
    return with_message_limit(namespace(cluster, tmp_path))


def _caught_up(settings: Settings) -> None:
    wait_until_consumed(settings, JOB, settings.payments_input_topic)


def _assert_outputs_equal_the_reference(settings: Settings, local_stack: LocalStack) -> None:
    assert not (still_open := open_output_transactions(settings, local_stack)), still_open
    expected = reference(settings, every_deadline_passed=False)
    assert len(expected.statuses) >= 100, "the input must exercise the job"
    assert without_sla(committed_statuses(settings)) == without_sla(expected.statuses)
    assert timeline_rows(settings) == expected.timeline
    # Every update the job made once is committed once: the job never emits the same row twice
    # (an update is emitted only when the published row changes), so a repeat is a duplicate.
    repeats = repeated_records(settings, local_stack, settings.payments_status_topic)
    assert not repeats, f"status updates committed more than once:\n{repeats}"
    # Each payment's updates in version order (the topic is keyed by payment: one payment's
    # updates share a partition, in the order the job made them).
    log = kafka_clients.read_topic(settings, settings.payments_status_topic)
    updates = [(r.key, r.value) for r in sorted(log, key=lambda r: (r.partition, r.offset)) if r.value]
    versions: dict[bytes | None, list[int]] = {}
    for key, value in updates:
        versions.setdefault(key, []).append(int(STATUS.decode(value)["version"]))
    assert all(v == sorted(v) for v in versions.values()), "a payment's updates out of order"


def test_taskmanager_crashes_broker_restart_and_redeploy_lose_and_duplicate_nothing(
    payments: Settings, local_stack: LocalStack
) -> None:
    rng = fault_rng(JOB)
    ops = Operations(payments)

    produce(payments, payments=80, seed=31)
    first_id = ops.deploy(JOB)
    assert ops.find(JOB).job_id == first_id

    # Crash: SIGKILL the TaskManager at a random point after the first checkpoints, with more
    # input arriving while it is down; a new one comes up and the job restarts from its last
    # completed checkpoint. Then again, with the second batch still in flight.
    kill_taskmanager(
        payments, JOB, rng, after_checkpoints=3, while_down=lambda: produce(payments, payments=40, seed=32)
    )
    kill_taskmanager(payments, JOB, rng, after_checkpoints=2)
    _caught_up(payments)

    # The broker goes away mid-stream (graceful stop, as in a rolling restart) and comes back.
    produce(payments, payments=40, seed=33)
    restart_broker(local_stack, JOB, rng)
    _caught_up(payments)

    # A redeploy through a savepoint continues exactly where the old job stopped.
    savepoint, second_id = ops.redeploy(JOB)
    assert second_id != first_id
    produce(payments, payments=40, seed=34)
    _caught_up(payments)
    status = ops.status(ops.find(JOB))
    assert status.job.job_id == second_id and status.restored_from == savepoint
    # `streamledger jobs` shows how far in event time the job got: a watermark from the input
    # (the REST API serves metrics the JobManager fetches every 10 s, so it may lag a little).
    deadline = time.monotonic() + 60
    while (reached := ops.event_time(status.job)) is None and time.monotonic() < deadline:
        time.sleep(1)
    assert reached is not None and reached > 1_577_836_800_000  # 2020, not Long.MIN_VALUE
    stopped_at = ops.savepoint(JOB, stop=True)
    assert stopped_at.startswith(f"file:{payments.savepoints_dir / JOB}")
    with pytest.raises(JobNotFoundError):
        ops.find(JOB)
    # Another job cannot claim the lifecycle state in that savepoint: the deploy fails in one line
    # instead of starting without it (the cluster refuses the restore after accepting the job).
    with pytest.raises(NonRestoredStateError, match="--allow-non-restored-state"):
        ops.deploy("account-balances", restore_from=stopped_at)

    _assert_outputs_equal_the_reference(payments, local_stack)


def test_after_losing_the_jobmanager_the_job_resumes_from_its_retained_checkpoint(
    payments: Settings, local_stack: LocalStack
) -> None:
    """No HA: a killed JobManager takes the job with it. The runbook's recovery (bring the cluster
    back, deploy the job from its newest retained checkpoint) loses and duplicates nothing."""
    rng = fault_rng(f"{JOB} (JobManager)")
    ops = Operations(payments)
    stack = LocalStack(payments)

    produce(payments, payments=80, seed=41)
    lost_id = ops.deploy(JOB)
    wait_for_checkpoints(ops, JOB, completed=rng.randint(2, 4), timeout_s=240)
    produce(payments, payments=40, seed=42)
    delay = rng.uniform(0.0, 2.0)
    time.sleep(delay)
    print(f"{JOB}: kill -9 JobManager {delay:.2f} s into the second batch")
    stack.flink.jobmanager.kill()
    produce(payments, payments=40, seed=43)

    # The TaskManager survives and registers with the new JobManager; the job does not come back.
    stack.up(["flink"])
    with pytest.raises(JobNotFoundError):
        ops.find(JOB)
    restore = latest_restore_point(payments, JOB)
    assert restore is not None and restore.parent.name == lost_id and restore.name.startswith("chk-")
    second_id = ops.deploy(JOB, restore_from=restore.as_uri())
    assert second_id != lost_id
    restored_from = ops.status(ops.find(JOB)).restored_from
    assert restored_from is not None and savepoint_path(restored_from) == restore

    produce(payments, payments=40, seed=44)
    _caught_up(payments)
    ops.savepoint(JOB, stop=True)

    _assert_outputs_equal_the_reference(payments, local_stack)


def test_operating_a_job_that_does_not_run_says_so_in_one_line(cluster: Settings) -> None:
    ops = Operations(cluster)
    with pytest.raises(JobNotFoundError, match="no job 'fraud-cep' is running"):
        ops.savepoint("fraud-cep")
    with pytest.raises(StreamledgerError, match="unknown job"):
        ops.find("no-such-job")
    down = Operations(dataclasses.replace(cluster, flink_rest_port=cluster.flink_rest_port + 7))
    with pytest.raises(StreamledgerError, match="does not answer"):
        down.deploy(JOB)
