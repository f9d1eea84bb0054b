"""Where a replay starts (``streamledger replay --from``) and which restore points it accepts.

The checks run before any service is contacted, so a mistyped ``--from`` costs nothing.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from jobs.account_balances import ENTRYPOINTS
from streamledger.config import Settings
from streamledger.errors import ConfigError
from streamledger.operations import replay_settings
from streamledger.ops_commands import replay_start


def test_from_accepts_earliest_times_with_a_zone_and_savepoint_directories(tmp_path: Path) -> None:
    assert replay_start("earliest") == "earliest"
    assert replay_start("2026-11-01T00:00:00Z") == 1_793_491_200_000
    assert replay_start("2026-11-01T01:00:00+01:00") == 1_793_491_200_000
    assert replay_start(str(tmp_path)) == tmp_path
    assert replay_start(f"file://{tmp_path}/savepoint-1") == tmp_path / "savepoint-1"


@pytest.mark.parametrize("value", ["2026-11-01T00:00:00", "yesterday", "latest"])
def test_from_refuses_times_without_a_zone_and_anything_else(value: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=repr(value)):
        replay_start(value)


def _savepoint(directory: Path) -> Path:
    directory.mkdir(parents=True)
    (directory / "_metadata").write_bytes(b"\x00")
    return directory


def _replay(tmp_path: Path, replay_id: str = "r1") -> Settings:
    return replay_settings(Settings(state_root=tmp_path), "account-balances", replay_id)


def test_a_replay_does_not_continue_from_the_live_jobs_savepoint(tmp_path: Path) -> None:
    live = Settings(state_root=tmp_path)
    foreign = _savepoint(live.savepoints_dir / "account-balances" / "savepoint-abc")
    with pytest.raises(ConfigError, match="not a savepoint of account-balances-replay-r1") as refused:
        ENTRYPOINTS.replay(_replay(tmp_path), "r1", restore_from=foreign)
    assert "--from-savepoint" in refused.value.remedy


def test_a_replay_refuses_a_directory_without_metadata(tmp_path: Path) -> None:
    settings = _replay(tmp_path)
    incomplete = settings.savepoints_dir / ENTRYPOINTS.replay_name("r1") / "savepoint-x"
    incomplete.mkdir(parents=True)
    with pytest.raises(ConfigError, match="no _metadata"):
        ENTRYPOINTS.replay(settings, "r1", restore_from=incomplete)


def test_a_replay_that_already_ran_is_not_restarted_from_another_point(tmp_path: Path) -> None:
    settings = _replay(tmp_path)
    _savepoint(settings.savepoints_dir / ENTRYPOINTS.replay_name("r1") / "savepoint-1")
    for start in ("earliest", 1_793_491_200_000):
        with pytest.raises(ConfigError, match="continues from its savepoint") as refused:
            ENTRYPOINTS.replay(settings, "r1", start=start)
        assert "new replay id" in refused.value.remedy
