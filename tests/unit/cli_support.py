"""Shared helpers for the command-line tests (this module holds no tests of its own)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any


def run_command(register: Callable[[Any], Any], *argv: str) -> int:
    """Exit code of ``streamledger <argv>`` with the sub-commands that ``register`` adds."""
    parser = argparse.ArgumentParser(prog="streamledger")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(list(argv))
    code: int = args.handler(args)
    return code


def write(tmp_path: Path, name: str, data: bytes) -> str:
    """Write ``data`` to ``tmp_path/name`` and return the path as a command-line argument."""
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)
