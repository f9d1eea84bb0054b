"""Errors a user can hit come out as one line that says what is wrong and what to do."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from streamledger import cli
from streamledger.config import Settings
from streamledger.errors import PortInUseError, ToolMissingError, first_line
from streamledger.stack import processes, toolchain


def test_missing_java_is_one_line_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ToolMissingError) as caught:
        toolchain.java_executable()
    assert "Java was not found" in str(caught.value) and "install OpenJDK 17" in str(caught.value)


def test_missing_maven_is_one_line_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ToolMissingError, match="Maven"):
        toolchain.maven_executable()


def test_taken_port_names_the_port_and_the_setting() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        with pytest.raises(PortInUseError) as caught:
            processes.ensure_port_free("127.0.0.1", port, "Kafka broker", "STREAMLEDGER_KAFKA_PORT")
    message = str(caught.value)
    assert str(port) in message and "STREAMLEDGER_KAFKA_PORT" in message and "\n" not in message


def test_cli_prints_one_line_and_no_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STREAMLEDGER_KAFKA_PORT", "not-a-port")
    assert cli.main(["stack", "status"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "streamledger: STREAMLEDGER_KAFKA_PORT='not-a-port' is not a valid int"
        " — fix or unset that environment variable"
    ]


def test_broker_command_against_no_broker_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("STREAMLEDGER_KAFKA_PORT", "39491")
    monkeypatch.setenv("STREAMLEDGER_STATE_ROOT", str(tmp_path))
    assert cli.main(["generate", "postings", "--events", "1"]) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "no Kafka broker answers at 127.0.0.1:39491" in line and "stack up" in line


def test_log_tail_prefers_the_error_lines(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text("INFO starting\n[x] ERROR the real cause\n" + "INFO shutdown chatter\n" * 50)
    assert processes.log_tail(log) == "[x] ERROR the real cause"


def test_settings_of_a_fresh_checkout_need_jars_first(tmp_path: Path) -> None:
    settings = Settings.from_env({}, home=tmp_path)
    assert not toolchain.jars_present(settings)
    with pytest.raises(Exception, match="jars fetch"):
        toolchain.require_jars(settings)


def test_connections_left_in_time_wait_do_not_hold_a_port_but_a_listener_does() -> None:
    """A restarted broker must not wait a minute for its predecessor's closed connections: the JVM
    binds with SO_REUSEADDR, and so does the probe. Someone listening still blocks it."""
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = server.accept()
        assert not processes.port_bindable("127.0.0.1", port)  # listening
        accepted.close()  # the server side closes first: its end goes to TIME_WAIT
        client.close()
    assert processes.port_bindable("127.0.0.1", port)


def test_a_java_failure_is_reported_by_its_root_cause_not_the_py4j_preamble() -> None:
    trace = (
        "An error occurred while calling o598.attachAsDataStream.\n"
        ": org.apache.flink.table.api.TableException: Failed to execute sql\n"
        "\tat org.apache.flink.table.api.internal.TableEnvironmentImpl.executeInternal(X.java:1)\n"
        "Caused by: java.lang.RuntimeException: wrapper\n"
        "\tat a.b.C.d(C.java:2)\n"
        "Caused by: org.apache.kafka.common.errors.TimeoutException: Timed out waiting for a node\n"
    )
    assert (
        first_line(trace) == "org.apache.kafka.common.errors.TimeoutException: Timed out waiting for a node"
    )
    assert (
        first_line(trace.split("\tat")[0])
        == "org.apache.flink.table.api.TableException: Failed to execute sql"
    )
    assert first_line(ValueError("bad value\nmore")) == "bad value"
    assert first_line(KeyError()) == "KeyError" and len(first_line("x" * 1000)) == 300
