"""``streamledger`` command line: local stack, jars, jobs, demo.

Each command group lives beside what it drives and registers itself here; this module only turns
:class:`~streamledger.errors.StreamledgerError` into one line on stderr and an exit code.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from streamledger.errors import StreamledgerError

Handler = Callable[[argparse.Namespace], int]


def _command_groups() -> list[Callable[[argparse._SubParsersAction], None]]:  # type: ignore[type-arg]
    from streamledger import job_commands, k8s_render, ops_commands, stack_commands
    from streamledger.bench import bench_command
    from streamledger.iso20022 import cli as iso20022_cli

    return [
        stack_commands.register,
        job_commands.register,
        ops_commands.register,
        iso20022_cli.register,
        k8s_render.register,
        bench_command.register,
    ]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="streamledger",
        description="Exactly-once stateful stream processing for payments and loyalty on PyFlink.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens underneath")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in _command_groups():
        register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    handler: Handler = args.handler
    try:
        return handler(args)
    except StreamledgerError as error:
        print(f"streamledger: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("streamledger: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
