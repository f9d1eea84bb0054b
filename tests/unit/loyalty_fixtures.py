"""Shared helpers for the loyalty tests (this module holds no tests of its own)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from operators.loyalty.rules import DEFAULT_RULES_VERSION, RULES_DIR


def rules_document(version: str = DEFAULT_RULES_VERSION) -> dict[str, Any]:
    """A fresh copy of a bundled rules file as JSON, numbers read as exact decimals (free to edit)."""
    path = RULES_DIR / f"rules-{version}.json"
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    return document
