"""``streamledger iso20022 parse``: one JSON line per event; one stderr line and exit 2 on bad input."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from streamledger.iso20022.cli import register

from . import iso20022_samples as samples
from .cli_support import run_command, write


def run(*argv: str) -> int:
    return run_command(register, "iso20022", "parse", *argv)


def test_prints_one_sorted_json_object_per_event(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    txs = samples.sample_transactions("pacs.008.001.08", 3)
    first = write(tmp_path, "pacs008.xml", samples.pacs008(txs=txs))
    second = write(tmp_path, "camt054.xml", samples.wrap(samples.camt054(txs=txs[:1])))

    assert run(first, second) == 0

    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert err == ""
    assert len(lines) == len(txs) + 1
    records = [orjson.loads(line) for line in lines]
    assert [r["end_to_end_id"] for r in records] == [tx.end_to_end_id for tx in txs] + [txs[0].end_to_end_id]
    assert [r["amount"] for r in records[:3]] == [str(tx.amount) for tx in txs]
    for line in lines:
        keys = list(orjson.loads(line))
        assert keys == sorted(keys)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"not xml at all", "not well-formed XML"),
        (samples.pacs008()[:-30], "not well-formed XML"),
        (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>', "DOCTYPE"),
        (samples.pacs008().replace(b"pacs.008.001.08", b"pacs.008.001.02"), "not supported"),
    ],
    ids=["garbage", "truncated", "xxe", "unsupported"],
)
def test_stops_at_the_first_invalid_file_with_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], data: bytes, problem: str
) -> None:
    good = write(tmp_path, "good.xml", samples.pacs008())
    bad = write(tmp_path, "bad.xml", data)
    never_read = write(tmp_path, "later.xml", samples.pacs008(msg_id="LATER"))

    assert run(good, bad, never_read) == 2

    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 1  # the good file's event, printed before the bad one
    assert "LATER" not in out
    assert err.count("\n") == 1
    assert err.startswith(f"streamledger: {bad}: ")
    assert problem in err


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = str(tmp_path / "nope.xml")
    assert run(missing) == 2
    _, err = capsys.readouterr()
    assert err == f"streamledger: {missing}: cannot read: No such file or directory\n"


def test_size_limit_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "pacs008.xml", samples.pacs008())
    assert run("--max-bytes", "200", path) == 2
    _, err = capsys.readouterr()
    assert "above the limit of 200 bytes" in err


def test_size_limit_must_be_positive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        run("--max-bytes", "0", "x.xml")
    assert "must be positive" in capsys.readouterr().err


def test_a_file_name_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        run()
