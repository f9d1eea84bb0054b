"""A state codec that remembers which schema version went through keyed state.

The embedded MiniCluster runs the Python workers in the test's own process, so a job built with
this codec in place of its own lets a savepoint-compatibility test see which version each value
was written and read as — proof that an upgrade really happened, not just that outputs matched.
"""

from __future__ import annotations

from typing import Any

from state.codec import StateCodec


class RecordingCodec:
    """Delegates to a state codec and records the version byte of every value it writes/reads."""

    def __init__(self, codec: StateCodec) -> None:
        self.codec = codec
        self.written: list[int] = []
        self.read: list[int] = []

    def encode(self, record: dict[str, Any]) -> bytes:
        data = self.codec.encode(record)
        self.written.append(data[0])
        return data

    def decode(self, data: bytes) -> dict[str, Any]:
        self.read.append(data[0])
        return self.codec.decode(data)
