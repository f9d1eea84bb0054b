"""``streamledger iso20022 …``: inspect ISO 20022 files from the command line.

``parse FILE...`` prints one JSON object per canonical event per line (keys sorted), so the output
can be piped into ``jq`` or replayed into a topic. Files are processed in order; the first file that
cannot be read or parsed stops the run with one line on stderr, ``streamledger: <file>: <problem>``,
and exit code 2. Events of files before it have already been printed: stopping rather than skipping
keeps an operator from missing a bad file in a long batch.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson

from streamledger.iso20022.errors import Iso20022Error
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
    parse.add_argument("files", nargs="+", metavar="FILE", type=Path, help="ISO 20022 XML file")
    parse.add_argument(
        "--max-bytes",
        type=_byte_limit,
        default=DEFAULT_MAX_BYTES,
        help=f"refuse larger files (default {DEFAULT_MAX_BYTES})",
    )
    parse.set_defaults(handler=parse_files)


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
            with path.open("rb") as handle:
                # One byte over the limit is enough to know the file is too large.
                data = handle.read(max_bytes + 1)
            message = parse_message(data, source=str(path), max_bytes=max_bytes)
        except OSError as error:
            return _refuse(path, f"cannot read: {error.strerror or error}")
        except Iso20022Error as error:
            return _refuse(path, str(error))
        for event in message.events:
            line = orjson.dumps(event_to_json_dict(event), option=orjson.OPT_SORT_KEYS).decode()
            sys.stdout.write(line + "\n")
        sys.stdout.flush()
    return 0


def _refuse(path: Path, problem: str) -> int:
    sys.stdout.flush()
    print(f"streamledger: {path}: {problem}", file=sys.stderr)
    return INVALID_INPUT_EXIT_CODE
