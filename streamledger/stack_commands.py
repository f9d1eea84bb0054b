"""``streamledger stack up|down|status`` and ``streamledger jars fetch``."""

from __future__ import annotations

import argparse
import sys

import orjson

from streamledger.config import Settings
from streamledger.errors import ConfigError
from streamledger.stack import toolchain
from streamledger.stack.local_stack import COMPONENTS, LocalStack

#: Exit code of ``stack status`` when a component is down (as ``systemctl status`` does).
EXIT_NOT_RUNNING = 3


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    stack = commands.add_parser("stack", help="run the local Kafka broker, Flink cluster and Iceberg catalog")
    actions = stack.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, handler, text in (
        ("up", _up, "start (idempotent): fetches jars on first use, creates topics and catalog"),
        ("down", _down, "stop (idempotent); data stays under .streamledger/"),
        ("status", _status, "what runs, where, and whether it answers (exit 3 when something is down)"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument(
            "components",
            nargs="*",
            metavar="COMPONENT",
            help=f"any of {', '.join(COMPONENTS)} (default: all)",
        )
        if name == "status":
            action.add_argument("--json", action="store_true", help="machine-readable output")
        action.set_defaults(handler=handler)

    jars = commands.add_parser("jars", help="the pinned JVM dependencies")
    jar_actions = jars.add_subparsers(dest="action", metavar="ACTION", required=True)
    fetch = jar_actions.add_parser(
        "fetch", help="resolve the pinned jars from Maven Central into .streamledger/jars"
    )
    fetch.set_defaults(handler=_fetch)


def _components(args: argparse.Namespace) -> list[str]:
    unknown = [c for c in args.components if c not in COMPONENTS]
    if unknown:
        raise ConfigError(f"unknown stack component {unknown[0]!r}", f"use any of {', '.join(COMPONENTS)}")
    return list(args.components) or list(COMPONENTS)


def _up(args: argparse.Namespace) -> int:
    stack = LocalStack(Settings.from_env())
    for name, started in stack.up(_components(args)).items():
        if name == "catalog":
            print(f"{name:8} {'created' if started else 'already there'}")
        else:
            print(f"{name:8} {'started' if started else 'already running'}")
    return 0


def _down(args: argparse.Namespace) -> int:
    stack = LocalStack(Settings.from_env())
    for name, stopped in stack.down(_components(args)).items():
        print(f"{name:8} {'stopped' if stopped else 'was not running'}")
    return 0


def _status(args: argparse.Namespace) -> int:
    wanted = _components(args)
    statuses = [s for s in LocalStack(Settings.from_env()).status() if s.name in wanted]
    if args.json:
        sys.stdout.write(
            orjson.dumps([s.__dict__ for s in statuses], option=orjson.OPT_INDENT_2).decode() + "\n"
        )
    else:
        for s in statuses:
            print(f"{s.name:8} {'up' if s.up else 'DOWN':5} {s.address:45} {s.detail}")
    return 0 if all(s.up for s in statuses) else EXIT_NOT_RUNNING


def _fetch(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    toolchain.fetch_jars(settings, quiet=not args.verbose)
    jars = sorted(p.name for p in settings.jars_dir.rglob("*.jar"))
    print(f"{len(jars)} jars in {settings.jars_dir}")
    return 0
