"""``streamledger stack up|down|status`` on real processes: idempotent, truthful, clear on failure."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from streamledger import cli
from streamledger.config import Settings
from streamledger.errors import PortInUseError, ServiceStartError
from streamledger.stack.kafka_broker import KafkaBroker

pytestmark = pytest.mark.stack

_next_port_block = iter(range(39000, 39900, 10))


@pytest.fixture
def own_stack(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Settings]:
    """A stack of this test's own (ports, state directory), always torn down.

    Each test gets fresh ports, so one test's daemons (or a leftover of a failed one) can never
    be mistaken for another's.
    """
    base = next(_next_port_block)
    monkeypatch.setenv("STREAMLEDGER_KAFKA_PORT", str(base))
    monkeypatch.setenv("STREAMLEDGER_KAFKA_CONTROLLER_PORT", str(base + 1))
    monkeypatch.setenv("STREAMLEDGER_FLINK_REST_PORT", str(base + 2))
    monkeypatch.setenv("STREAMLEDGER_STATE_ROOT", str(tmp_path / "state"))
    settings = Settings.from_env()
    yield settings
    cli.main(["stack", "down"])


def _status(capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, str]]:
    code = cli.main(["stack", "status"])
    lines = capsys.readouterr().out.strip().splitlines()
    return code, {line.split()[0]: line.split()[1] for line in lines}


def test_up_and_down_are_idempotent_and_status_tells_the_truth(
    own_stack: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _status(capsys) == (3, {"kafka": "DOWN", "flink": "DOWN", "catalog": "DOWN"})

    assert cli.main(["stack", "up"]) == 0
    assert "started" in capsys.readouterr().out
    assert _status(capsys) == (0, {"kafka": "up", "flink": "up", "catalog": "up"})

    assert cli.main(["stack", "up"]) == 0
    second = capsys.readouterr().out
    assert "already running" in second and "started" not in second
    assert _status(capsys)[0] == 0

    # Projection topics really are compacted on the broker, transactions really are on.
    broker = KafkaBroker(own_stack)
    assert broker.topic_configs(own_stack.balances_topic)["cleanup.policy"] == "compact"
    assert broker.topic_configs(own_stack.postings_topic)["cleanup.policy"] == "delete"

    # status notices a crash rather than trusting the pid file.
    broker.kill()
    assert _status(capsys) == (3, {"kafka": "DOWN", "flink": "up", "catalog": "up"})

    assert cli.main(["stack", "down"]) == 0
    assert "stopped" in capsys.readouterr().out
    assert cli.main(["stack", "down"]) == 0
    assert "stopped" not in capsys.readouterr().out.replace("was not running", "")
    assert _status(capsys) == (3, {"kafka": "DOWN", "flink": "DOWN", "catalog": "up"})


def test_port_taken_by_another_process_is_reported_before_starting(own_stack: Settings) -> None:
    import socket

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", own_stack.kafka_port))
        squatter.listen()
        with pytest.raises(PortInUseError, match=str(own_stack.kafka_port)):
            KafkaBroker(own_stack).up()


def test_broker_that_does_not_come_up_shows_the_cause_from_its_log(own_stack: Settings) -> None:
    broker = KafkaBroker(own_stack)
    broker.up()
    broker.down()
    # Storage formatted for another node: the broker refuses to start, as it would for real.
    meta = broker.data_dir / "meta.properties"
    meta.write_text(meta.read_text().replace("node.id=1", "node.id=7"))
    with pytest.raises(ServiceStartError) as caught:
        broker.up()
    message = str(caught.value)
    assert "did not come up" in message and "node" in message.lower()
    assert not broker.running()
