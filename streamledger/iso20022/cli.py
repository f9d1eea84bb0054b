"""``streamledger iso20022 …``: inspect ISO 20022 files from the command line.

``parse FILE...`` prints one JSON object per canonical event per line (keys sorted), so the output
can be piped into ``jq`` or replayed into a topic. Files are processed in order; the first file that
cannot be read or parsed stops the run with one line on stderr, ``streamledger: <file>: <problem>``,
and exit code 2. Events of files before it have already been printed: stopping rather than skipping
keeps an operator from missing a bad file in a long batch.

``lifecycle FILE...`` folds the events of all files through the payment-lifecycle core
(:mod:`operators.payment_lifecycle`) and prints one JSON object per payment per line, sorted by
payment id: its status, cancellation, route and ordered timeline. The result does not depend on the
order the files are given in. Invalid input is refused exactly as by ``parse``; since payments are
printed only once every file has been read, nothing is printed then.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson

from operators.payment_lifecycle import fold, lifecycle_to_json_dict
from streamledger.iso20022.errors import Iso20022Error
from streamledger.iso20022.events import ParsedMessage, PaymentEvent
from streamledger.iso20022.parser import parse_message
from streamledger.iso20022.secure_xml import DEFAULT_MAX_BYTES
from streamledger.iso20022.serialization import event_to_json_dict

INVALID_INPUT_EXIT_CODE = 2


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``iso20022`` command group to the main CLI's subcommands."""
    group = subparsers.add_parser(
        "iso20022",
        help="parse ISO 20022 payment messages",
        description="Parse ISO 20022 payment messages (pain, pacs, camt) into canonical payment events.",
    )
    commands = group.add_subparsers(dest="iso20022_command", metavar="COMMAND", required=True)
    parse = commands.add_parser(
        "parse",
        help="print one JSON line per payment event",
        description="Print one JSON object per canonical payment event per line. "
        "Stops at the first invalid file with exit code 2.",
    )
    _add_inputs(parse)
    parse.set_defaults(handler=parse_files)
    lifecycle = commands.add_parser(
        "lifecycle",
        help="print one JSON line per payment: status, cancellation and timeline",
        description="Fold the events of all files into payment lifecycles and print one JSON object "
        "per payment per line, sorted by payment id; the order of the files does not matter. "
        "Prints nothing and exits with code 2 at the first invalid file.",
    )
    _add_inputs(lifecycle)
    lifecycle.set_defaults(handler=lifecycle_files)


def _add_inputs(command: argparse.ArgumentParser) -> None:
    command.add_argument("files", nargs="+", metavar="FILE", type=Path, help="ISO 20022 XML file")
    command.add_argument(
        "--max-bytes",
        type=_byte_limit,
        default=DEFAULT_MAX_BYTES,
        help=f"refuse larger files (default {DEFAULT_MAX_BYTES})",
    )


def _byte_limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of bytes: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def parse_files(args: argparse.Namespace) -> int:
    """Handler for ``iso20022 parse``; returns the process exit code."""
    files: list[Path] = args.files
    max_bytes: int = args.max_bytes
    for path in files:
        try:
            message = _read(path, max_bytes)
        except _RefusedFile as refused:
            return _refuse(path, str(refused))
        for event in message.events:
            line = orjson.dumps(event_to_json_dict(event), option=orjson.OPT_SORT_KEYS).decode()
            sys.stdout.write(line + "\n")
        sys.stdout.flush()
    return 0


def lifecycle_files(args: argparse.Namespace) -> int:
    """Handler for ``iso20022 lifecycle``; returns the process exit code."""
    files: list[Path] = args.files
    max_bytes: int = args.max_bytes
    events: list[PaymentEvent] = []
    for path in files:
        try:
            events.extend(_read(path, max_bytes).events)
        except _RefusedFile as refused:
            return _refuse(path, str(refused))
    lifecycles = fold(events)
    for payment_id in sorted(lifecycles):
        line = orjson.dumps(
            lifecycle_to_json_dict(lifecycles[payment_id]), option=orjson.OPT_SORT_KEYS
        ).decode()
        sys.stdout.write(line + "\n")
    sys.stdout.flush()
    return 0


class _RefusedFile(Exception):
    """A file that cannot be read or parsed; ``str()`` is the problem, in one line."""


def _read(path: Path, max_bytes: int) -> ParsedMessage:
    try:
        with path.open("rb") as handle:
            # One byte over the limit is enough to know the file is too large.
            data = handle.read(max_bytes + 1)
        return parse_message(data, source=str(path), max_bytes=max_bytes)
    except OSError as error:
        raise _RefusedFile(f"cannot read: {error.strerror or error}") from error
    except Iso20022Error as error:
        raise _RefusedFile(str(error)) from error


def _refuse(path: Path, problem: str) -> int:
    sys.stdout.flush()
    print(f"streamledger: {path}: {problem}", file=sys.stderr)
    return INVALID_INPUT_EXIT_CODE
