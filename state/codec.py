"""Encoding of keyed-state values: a version byte, then the Avro body of that version's schema."""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, cast

import fastavro
import fastavro.schema

_STATE_DIR = Path(__file__).resolve().parent

Upgrade = Callable[[dict[str, Any]], dict[str, Any]]


class StateVersionError(ValueError):
    """A state value was written by a schema version this code does not know (a newer job?)."""


@cache
def _schema(name: str, version: int) -> dict[str, Any]:
    parsed = cast(dict[str, Any], fastavro.schema.load_schema(str(_STATE_DIR / f"{name}.v{version}.avsc")))
    return parsed


@dataclass(frozen=True)
class StateCodec:
    """Reads every known version of one state value, writes the newest."""

    name: str
    current_version: int
    #: upgrades[n] turns a version-n record into a version-(n+1) record.
    upgrades: Mapping[int, Upgrade] = field(default_factory=dict)
    #: The version :meth:`encode` writes; the newest unless set. An older one is what the previous
    #: release wrote, for testing that a savepoint of it restores (and for a staged rollout that
    #: must stay readable by the previous release).
    write_version: int | None = None

    def __post_init__(self) -> None:
        for version in range(1, self.current_version):
            if version not in self.upgrades:
                raise ValueError(f"state {self.name}: no upgrade from v{version} to v{version + 1}")
        if self.write_version is not None and not 1 <= self.write_version <= self.current_version:
            raise ValueError(f"state {self.name}: cannot write v{self.write_version}")
        _schema(self.name, self.current_version)

    def encode(self, record: dict[str, Any]) -> bytes:
        """Write ``record`` as the write version (fields that version lacks are left out)."""
        version = self.write_version or self.current_version
        buffer = io.BytesIO()
        buffer.write(bytes([version]))
        fastavro.schemaless_writer(buffer, _schema(self.name, version), record)
        return buffer.getvalue()

    def decode(self, data: bytes) -> dict[str, Any]:
        version = data[0]
        if not 1 <= version <= self.current_version:
            raise StateVersionError(
                f"state {self.name} was written as v{version}; this code reads v1..v{self.current_version}"
            )
        record = cast(
            dict[str, Any],
            fastavro.schemaless_reader(io.BytesIO(data[1:]), _schema(self.name, version), None),
        )
        while version < self.current_version:
            record = self.upgrades[version](record)
            version += 1
        return record
