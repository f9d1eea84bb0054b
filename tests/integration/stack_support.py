"""Test settings isolated on the session's broker: own topics, own Iceberg catalog."""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path

from streamledger.config import Settings
from streamledger.stack.local_stack import LocalStack


def isolated_settings(stack: LocalStack, root: Path) -> Settings:
    """Settings with topics and an Iceberg catalog of their own (under ``root``) on ``stack``'s
    broker, created; for fixtures of any scope."""
    from streamledger.stack import iceberg_catalog

    settings = dataclasses.replace(
        stack.settings.with_topic_prefix(f"test-{uuid.uuid4().hex[:8]}"),
        catalog_db=root / "catalog" / "iceberg_catalog.db",
        warehouse=root / "warehouse",
        state_root=root / "state",
    )
    LocalStack(settings).kafka.ensure_topics()
    iceberg_catalog.initialize(settings)
    return settings
