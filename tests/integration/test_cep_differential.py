"""Differential test: the Python NFA against Flink's own CEP, through SQL ``MATCH_RECOGNIZE``.

Flink SQL compiles ``MATCH_RECOGNIZE`` to Flink's Java CEP library (``flink-cep``), so running
the same patterns over the same generated input through both must give identical matches.
Covered, with their Python equivalents:

- strict contiguity: concatenation in ``PATTERN`` is ``next()``;
- relaxed contiguity: ``A N* B`` with ``N`` defined as "not B" is ``followed_by("B")`` (the
  events ``N`` takes are not reported by the Python side, so only ``A`` and ``B`` are compared);
- quantifiers ``+``, ``*``, ``?``, ``{n}``, ``{n,m}`` on a strictly contiguous stage
  (``one_or_more().consecutive()``, ``times(n, m).consecutive()``, ``optional()``);
- ``WITHIN INTERVAL`` is ``within()``;
- skip strategies ``AFTER MATCH SKIP PAST LAST ROW`` (SKIP_PAST_LAST_EVENT), ``SKIP TO NEXT ROW``
  (SKIP_TO_NEXT), ``SKIP TO LAST B`` / ``SKIP TO FIRST B`` (``skip_to_last/first("B")`` with
  ``throw_on_miss``, which is how the SQL translation builds them).

Not expressible in Flink SQL, so covered only by the unit tests of ``operators.cep``:
``followed_by_any`` (non-deterministic relaxed contiguity), relaxed or non-deterministic
contiguity *inside* a loop (the SQL loop is always consecutive, and a quantifier cannot apply to
a group like ``(B N*)+``), ``not_next``/``not_followed_by`` (no negation in ``PATTERN``),
``until``, NO_SKIP (SQL has no strategy that keeps every overlapping match), and timed-out
partial matches (SQL drops them without output).

Matches are compared per pattern stage as ``(first event, last event, count)``: for strictly
contiguous stages that determines the events exactly.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from operators.cep import (
    NFA,
    SKIP_PAST_LAST_EVENT,
    SKIP_TO_NEXT,
    AfterMatchSkipStrategy,
    Pattern,
    skip_to_first,
    skip_to_last,
)
from streamledger.config import Settings
from streamledger.stack import toolchain

KEYS = ("k1", "k2", "k3")
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Row:
    id: int
    key: str
    kind: str
    ts: int


def _generate(seed: int, per_key: int) -> list[Row]:
    """Per key, a stream over kinds a-d (b twice as likely, so loops have runs to take), with
    distinct timestamps 0.5-3 s apart (distinct: SQL orders ties by rowtime only)."""
    rng = random.Random(seed)
    rows: list[Row] = []
    next_id = 0
    for key in KEYS:
        ts = rng.randint(0, 1000)
        for _ in range(per_key):
            ts += rng.randint(500, 3000)
            rows.append(Row(next_id, key, rng.choice("abbcd"), ts))
            next_id += 1
    return rows


def kind(name: str) -> Callable[[Row], bool]:
    return lambda row: row.kind == name


@dataclass(frozen=True)
class Case:
    name: str
    pattern_sql: str
    skip_sql: str
    python: Pattern[Row]
    variables: tuple[str, ...] = ("A", "B", "C")
    defines: str = "A AS A.kind = 'a', B AS B.kind = 'b', C AS C.kind = 'c'"
    within_sql: str = ""


def _abc(skip: AfterMatchSkipStrategy, build: Callable[[Pattern[Row]], Pattern[Row]]) -> Pattern[Row]:
    """``A`` then ``build`` adds ``B``, then ``C`` strictly after it."""
    begun = Pattern[Row].begin("A", skip).where(kind("a"))
    return build(begun).next("C").where(kind("c"))


CASES = (
    Case(
        "strict-one-or-more-skip-past-last",
        "A B+ C",
        "SKIP PAST LAST ROW",
        _abc(SKIP_PAST_LAST_EVENT, lambda p: p.next("B").where(kind("b")).one_or_more().consecutive()),
    ),
    Case(
        "strict-one-or-more-skip-to-next",
        "A B+ C",
        "SKIP TO NEXT ROW",
        _abc(SKIP_TO_NEXT, lambda p: p.next("B").where(kind("b")).one_or_more().consecutive()),
    ),
    Case(
        "strict-zero-or-more",
        "A B* C",
        "SKIP TO NEXT ROW",
        _abc(SKIP_TO_NEXT, lambda p: p.next("B").where(kind("b")).one_or_more().consecutive().optional()),
    ),
    Case(
        "strict-optional",
        "A B? C",
        "SKIP PAST LAST ROW",
        _abc(SKIP_PAST_LAST_EVENT, lambda p: p.next("B").where(kind("b")).optional()),
    ),
    Case(
        "strict-times",
        "A B{2} C",
        "SKIP TO NEXT ROW",
        _abc(SKIP_TO_NEXT, lambda p: p.next("B").where(kind("b")).times(2).consecutive()),
    ),
    Case(
        "strict-times-range",
        "A B{1,3} C",
        "SKIP PAST LAST ROW",
        _abc(SKIP_PAST_LAST_EVENT, lambda p: p.next("B").where(kind("b")).times(1, 3).consecutive()),
    ),
    Case(
        "strict-times-or-more-within",
        "A B{2,} C",
        "SKIP PAST LAST ROW",
        _abc(
            SKIP_PAST_LAST_EVENT, lambda p: p.next("B").where(kind("b")).times_or_more(2).consecutive()
        ).within(7_000),
        within_sql="WITHIN INTERVAL '7' SECOND",
    ),
    Case(
        "skip-to-last-b",
        "A B+ C",
        "SKIP TO LAST B",
        _abc(
            skip_to_last("B").with_throw_on_miss(),
            lambda p: p.next("B").where(kind("b")).one_or_more().consecutive(),
        ),
    ),
    Case(
        "skip-to-first-b",
        "A B+ C",
        "SKIP TO FIRST B",
        _abc(
            skip_to_first("B").with_throw_on_miss(),
            lambda p: p.next("B").where(kind("b")).one_or_more().consecutive(),
        ),
    ),
    Case(
        "relaxed-followed-by",
        "A N* B",
        "SKIP PAST LAST ROW",
        Pattern[Row].begin("A", SKIP_PAST_LAST_EVENT).where(kind("a")).followed_by("B").where(kind("b")),
        ("A", "B"),
        "A AS A.kind = 'a', N AS N.kind <> 'b', B AS B.kind = 'b'",
    ),
    Case(
        "relaxed-followed-by-within",
        "A N* C",
        "SKIP TO NEXT ROW",
        Pattern[Row]
        .begin("A", SKIP_TO_NEXT)
        .where(kind("a"))
        .followed_by("C")
        .where(kind("c"))
        .within(5_000),
        ("A", "C"),
        "A AS A.kind = 'a', N AS N.kind <> 'c', C AS C.kind = 'c'",
        "WITHIN INTERVAL '5' SECOND",
    ),
    Case(
        "relaxed-then-strict-loop-within",
        "A N* B+ C",
        "SKIP PAST LAST ROW",
        Pattern[Row]
        .begin("A", SKIP_PAST_LAST_EVENT)
        .where(kind("a"))
        .followed_by("B")
        .where(kind("b"))
        .one_or_more()
        .consecutive()
        .next("C")
        .where(kind("c"))
        .within(12_000),
        ("A", "B", "C"),
        "A AS A.kind = 'a', N AS N.kind <> 'b', B AS B.kind = 'b', C AS C.kind = 'c'",
        "WITHIN INTERVAL '12' SECOND",
    ),
)

Signature = tuple[Any, ...]


def _python_matches(case: Case, rows: list[Row]) -> list[Signature]:
    nfa = NFA(case.python)
    found: list[Signature] = []
    for key in KEYS:
        state = nfa.initial_state()
        matches = []
        for row in (r for r in rows if r.key == key):
            state, new, _ = nfa.advance(state, row, row.ts)
            matches.extend(new)
        state, new, _ = nfa.advance_time(state, 10**12)
        matches.extend(new)
        for match in matches:
            signature: list[Any] = [key]
            for variable in case.variables:
                ids = [row.id for row in match.get(variable, [])]
                signature.extend((ids[0], ids[-1], len(ids)) if ids else (None, None, 0))
            found.append(tuple(signature))
    return sorted(found, key=repr)


def _timestamp(ms: int) -> str:
    return (EPOCH + timedelta(milliseconds=ms)).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _sql(case: Case) -> str:
    measures = ", ".join(
        f"FIRST({v}.id) AS {v}_first, LAST({v}.id) AS {v}_last, COUNT({v}.id) AS {v}_n"
        for v in case.variables
    )
    return f"""
        SELECT k, {", ".join(f"{v}_first, {v}_last, {v}_n" for v in case.variables)}
        FROM events MATCH_RECOGNIZE (
            PARTITION BY k ORDER BY ts
            MEASURES {measures}
            ONE ROW PER MATCH
            AFTER MATCH {case.skip_sql}
            PATTERN ({case.pattern_sql}) {case.within_sql}
            DEFINE {case.defines}
        )"""


@pytest.fixture(scope="module")
def flink_matches(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Row], dict[str, list[Signature]]]:
    """Every case run by Flink SQL in one streaming job over a CSV file of the generated rows."""
    from pyflink.table import EnvironmentSettings, TableEnvironment

    rows = _generate(seed=20260101, per_key=400)
    data = tmp_path_factory.mktemp("cep-differential") / "events.csv"
    # In event-time order across keys: the watermark is global, a row behind it would be late.
    data.write_text(
        "".join(f"{r.id},{r.key},{r.kind},{_timestamp(r.ts)}\n" for r in sorted(rows, key=lambda r: r.ts))
    )
    toolchain.prepare_pyflink_environment(Settings.from_env())
    t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    t_env.get_config().set("parallelism.default", "1")
    t_env.execute_sql(
        f"""CREATE TABLE events (
              id INT, k STRING, kind STRING, ts TIMESTAMP(3),
              WATERMARK FOR ts AS ts
            ) WITH ('connector' = 'filesystem', 'path' = '{Path(data).as_uri()}', 'format' = 'csv')"""
    )
    width = 3 * max(len(case.variables) for case in CASES)
    selects = []
    for case in CASES:
        missing = (width - 3 * len(case.variables)) // 3
        padding = ", ".join(["CAST(NULL AS INT), CAST(NULL AS INT), CAST(NULL AS BIGINT)"] * missing)
        inner = _sql(case)
        selects.append(
            f"SELECT '{case.name}' AS case_name, m.*{', ' + padding if padding else ''} FROM ({inner}) m"
        )
    query = "\nUNION ALL\n".join(selects)
    found: dict[str, list[Signature]] = {case.name: [] for case in CASES}
    by_name = {case.name: case for case in CASES}
    with t_env.execute_sql(query).collect() as results:
        for result in results:
            values = list(result)
            case = by_name[values[0]]
            found[case.name].append(tuple(values[1 : 2 + 3 * len(case.variables)]))
    return rows, {name: sorted(signatures, key=repr) for name, signatures in found.items()}


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_python_nfa_matches_flink_match_recognize(
    case: Case, flink_matches: tuple[list[Row], dict[str, list[Signature]]]
) -> None:
    rows, flink = flink_matches
    python = _python_matches(case, rows)
    assert flink[case.name], f"{case.name}: the input must produce matches"
    assert python == flink[case.name]
