"""The loyalty job's settings: which rules file and which allowed lateness the job runs with."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jobs.loyalty_accrual import allowed_lateness_ms, configured_rules
from operators.loyalty.rules import DEFAULT_RULES_VERSION, load_rules
from operators.loyalty.state import DEFAULT_DEDUPE_RETENTION_MS
from streamledger.config import Settings
from streamledger.errors import ConfigError

from .loyalty_fixtures import rules_document


def _write(path: Path, document: object) -> Path:
    path.write_text(json.dumps(document, default=str), encoding="utf-8")
    return path


def test_defaults_are_the_bundled_rules_and_the_dedupe_retention() -> None:
    settings = Settings.from_env(environ={})
    assert settings.loyalty_rules_file is None
    assert configured_rules(settings) == load_rules(DEFAULT_RULES_VERSION)
    # Waiting longer than the core remembers event IDs would accept late duplicates as new.
    assert allowed_lateness_ms(settings) == DEFAULT_DEDUPE_RETENTION_MS


def test_rules_file_and_lateness_come_from_the_environment(tmp_path: Path) -> None:
    document = rules_document()
    document["version"] = "2099.7"
    document["expiry"]["inactivity_months"] = document["expiry"]["inactivity_months"] + 5
    path = _write(tmp_path / "custom.json", document)
    settings = Settings.from_env(
        environ={
            "STREAMLEDGER_LOYALTY_RULES_FILE": str(path),
            "STREAMLEDGER_LOYALTY_ALLOWED_LATENESS_MS": "86400000",
        }
    )
    assert settings.loyalty_rules_file == path.resolve()
    rules = configured_rules(settings)
    assert rules.version == "2099.7"
    assert rules.expiry.inactivity_months == load_rules().expiry.inactivity_months + 5
    assert allowed_lateness_ms(settings) == 86_400_000


def test_an_unusable_rules_file_names_the_setting(tmp_path: Path) -> None:
    document = rules_document()
    document["tiers"] = []
    broken = _write(tmp_path / "broken.json", document)
    for path in (broken, tmp_path / "missing.json"):
        settings = Settings.from_env(environ={}, loyalty_rules_file=path)
        with pytest.raises(ConfigError, match="STREAMLEDGER_LOYALTY_RULES_FILE"):
            configured_rules(settings)


def test_negative_lateness_is_refused() -> None:
    settings = Settings.from_env(environ={"STREAMLEDGER_LOYALTY_ALLOWED_LATENESS_MS": "-1"})
    with pytest.raises(ConfigError, match="STREAMLEDGER_LOYALTY_ALLOWED_LATENESS_MS"):
        allowed_lateness_ms(settings)
