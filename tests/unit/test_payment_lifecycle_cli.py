"""``streamledger iso20022 lifecycle``: one JSON line per payment, whatever the order of the files."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from streamledger.iso20022.cli import register

from . import iso20022_samples as samples
from .cli_support import run_command, write
from .iso20022_samples import Tx

T0 = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)


def run(*argv: str) -> int:
    return run_command(register, "iso20022", "lifecycle", *argv)


def stamped(tx: Tx, minute: int, status: str | None = None, reason: str | None = None) -> Tx:
    return dataclasses.replace(tx, timestamp=T0 + timedelta(minutes=minute), status=status, reason=reason)


def two_payments(tmp_path: Path) -> tuple[list[str], list[Tx]]:
    """Two payments in one pacs.008; their status reports and a credit in two more files."""
    txs = [
        Tx(uetr=samples.uetr_for("cli-a"), end_to_end_id="E2E-A", tx_id="TX-A"),
        Tx(uetr=samples.uetr_for("cli-b"), end_to_end_id="E2E-B", tx_id="TX-B"),
    ]
    files = [
        write(tmp_path, "pacs008.xml", samples.pacs008(txs=[stamped(tx, 1) for tx in txs])),
        write(
            tmp_path,
            "pacs002.xml",
            samples.pacs002(
                txs=[
                    stamped(txs[0], 2, status="ACSC"),
                    stamped(txs[1], 2, status="RJCT", reason="AC04"),
                ]
            ),
        ),
        write(
            tmp_path, "camt054.xml", samples.wrap(samples.camt054(txs=[stamped(txs[0], 3, status="BOOK")]))
        ),
    ]
    return files, txs


def test_prints_one_line_per_payment_sorted_by_payment_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files, txs = two_payments(tmp_path)

    assert run(*files) == 0

    out, err = capsys.readouterr()
    assert err == ""
    records = [orjson.loads(line) for line in out.splitlines()]
    by_uetr = {tx.uetr: tx for tx in txs}
    assert [r["payment_id"] for r in records] == sorted(f"uetr:{uetr}" for uetr in by_uetr)
    status = {r["uetr"]: (r["status"], r["status_reason"], r["cancellation"]) for r in records}
    assert status == {txs[0].uetr: ("CREDITED", None, None), txs[1].uetr: ("REJECTED", "AC04", None)}
    for record in records:
        assert [entry["message_type"][:8] for entry in record["timeline"]][:2] == ["pacs.008", "pacs.002"]
        assert list(record) == sorted(record)


def test_the_order_of_the_files_does_not_matter(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files, _ = two_payments(tmp_path)
    outputs = set()
    for order in itertools.permutations(files):
        assert run(*order) == 0
        outputs.add(capsys.readouterr().out)
    assert len(outputs) == 1


def test_a_file_given_twice_counts_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files, _ = two_payments(tmp_path)
    assert run(*files) == 0
    once = capsys.readouterr().out
    assert run(*files, *reversed(files)) == 0
    assert capsys.readouterr().out == once


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"not xml at all", "not well-formed XML"),
        (samples.pacs008().replace(b"pacs.008.001.08", b"pacs.008.001.02"), "not supported"),
    ],
    ids=["garbage", "unsupported"],
)
def test_an_invalid_file_prints_one_line_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], data: bytes, problem: str
) -> None:
    good = write(tmp_path, "good.xml", samples.pacs008())
    bad = write(tmp_path, "bad.xml", data)

    assert run(good, bad) == 2

    out, err = capsys.readouterr()
    assert out == ""  # payments are printed only once every file has been read
    assert err.count("\n") == 1
    assert err.startswith(f"streamledger: {bad}: ")
    assert problem in err


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = str(tmp_path / "nope.xml")
    assert run(missing) == 2
    assert capsys.readouterr().err == f"streamledger: {missing}: cannot read: No such file or directory\n"


def test_size_limit_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "pacs008.xml", samples.pacs008())
    assert run("--max-bytes", "200", path) == 2
    assert "above the limit of 200 bytes" in capsys.readouterr().err
