"""How the Flink REST client reads answers: not-ready is one clear error, 4xx is the caller's."""

from __future__ import annotations

import dataclasses
import threading
import urllib.error
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from streamledger.config import Settings
from streamledger.errors import ServiceUnavailableError
from streamledger.stack.flink_cluster import FlinkCluster


class _Answers(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        # /overview answers as a JobManager does while it starts; /<code> answers that code.
        code = 503 if self.path == "/overview" else int(self.path.strip("/"))
        self.send_response(code)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def cluster() -> Iterator[FlinkCluster]:
    server = HTTPServer(("127.0.0.1", 0), _Answers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings = dataclasses.replace(Settings.from_env(environ={}), flink_rest_port=server.server_address[1])
    yield FlinkCluster(settings)
    server.shutdown()


def test_a_starting_jobmanager_answering_503_is_not_ready_rather_than_a_crash(cluster: FlinkCluster) -> None:
    with pytest.raises(ServiceUnavailableError, match="answered 503"):
        cluster.rest("/503")
    assert cluster.registered_taskmanagers() == 0  # the readiness wait keeps waiting


def test_a_404_reaches_the_caller_who_knows_what_was_asked(cluster: FlinkCluster) -> None:
    with pytest.raises(urllib.error.HTTPError) as error:
        cluster.rest("/404")
    assert error.value.code == 404


def test_a_good_answer_is_parsed(cluster: FlinkCluster) -> None:
    assert cluster.rest("/200") == {}
