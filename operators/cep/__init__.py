"""Complex event processing (CEP) in pure Python, following Flink's Java CEP library.

PyFlink has no CEP API, so the fraud job runs this library inside a ``KeyedProcessFunction``:
per key it stores a ``ProcessorState`` (a plain frozen value) and calls
``CepProcessor.on_event``/``on_watermark``. Nothing here imports Flink, so the semantics are
tested directly.

- ``pattern``: the fluent, immutable pattern API (``Pattern.begin("a").where(...).followed_by("b")``),
  contiguity (``next``, ``followed_by``, ``followed_by_any``, ``not_next``, ``not_followed_by``),
  quantifiers (``times``, ``one_or_more``, ``times_or_more``, ``optional``, ``greedy``,
  ``consecutive``, ``allow_combinations``, ``until``) and ``within``;
- ``conditions``: simple conditions are plain callables, iterative ones are wrapped with
  ``iterative(fn)`` and receive a context with ``events_for(stage)``;
- ``skip_strategy``: NO_SKIP, SKIP_TO_NEXT, SKIP_PAST_LAST_EVENT, SKIP_TO_FIRST, SKIP_TO_LAST;
- ``compiler``: pattern -> NFA graph of states with TAKE/IGNORE/PROCEED edges, as Flink builds it;
- ``nfa`` / ``nfa_state``: the engine and its serializable state (partial matches over a shared
  buffer of events), ``advance(state, event, ts)`` and ``advance_time(state, watermark)``;
- ``event_time_buffer`` / ``processor``: reorder out-of-order input by watermark, then match;
- ``fraud_events``, ``fraud_rules``, ``rules``, ``alerts``: the fraud rules built on top, defined
  as versioned JSON and validated on load.

Events are arbitrary Python objects. Their event time is passed explicitly to ``NFA.advance``;
``CepProcessor`` takes a ``timestamp_of(event) -> int`` (epoch ms) function. The fraud job
stores the state as versioned Avro (``state/fraud_cep.py``), never pickled; ``rule_timeline``
runs every rule in force per customer and applies rule versions by event time.

Flink behaviour kept on purpose
-------------------------------
- Matches held by a skip strategy: with any strategy but NO_SKIP, a completed match is emitted
  only once no partial match that started earlier is alive (emitting it may prune those), so
  it can come out later than the event that completed it, e.g. when that partial times out.
- ``not_followed_by`` in the middle of a pattern: an event matching the NOT condition discards
  the partial match while it waits for the next stage, and also when the next stage takes that
  very event, unless taking it completes the whole match (Flink's STOP transition discards
  every branch the event creates except completed matches). The documentation's wording
  ("anywhere between two other event types") does not mention the latter case.
- A pattern ending with ``not_followed_by`` needs ``within``; its match is emitted when time
  reaches first event + window with no forbidden event seen.

Differences from Flink CEP
--------------------------
- No group patterns (``begin(Pattern)``, ``next(Pattern)``…). ``subtype(cls)`` is an
  ``isinstance`` condition; ``or`` is ``or_where`` (``or`` is a Python keyword).
- Event time only; there is no processing-time mode. ``within`` always measures from the first
  to the last event (Flink's default ``WithinType.FIRST_AND_LAST``); ``PREVIOUS_AND_CURRENT`` is
  not supported. As in Flink, a partial match times out once time reaches
  ``first event + within``, so a match needs ``last.ts - first.ts < within``.
- Events with equal timestamps are processed in arrival order; Flink's optional
  ``EventComparator`` for ties is not supported (order ties upstream if it matters).
- Several matches completed by the same event are returned ordered by their first event, ties
  in the order the NFA created them; Flink returns them in priority-queue iteration order,
  which it leaves unspecified.
- Timed-out partial matches are returned as plain ``dict``s without the timeout timestamp; it
  is ``first event time + within`` (the timestamp Flink attaches to a timed-out match).
- The iterative-condition context offers ``events_for(stage)`` and ``timestamp`` only: no
  ``currentProcessingTime`` and no shared-buffer accumulators.
- The shared buffer is a tree of match nodes (one per accepted event per path) with events
  stored once, reclaimed by reachability after every step, instead of Flink's DAG with
  Dewey-numbered versions and reference counts. Matches are the same; the state is a picklable
  value, not a Flink ``TypeSerializer`` format, so it cannot be restored from Java CEP state, and
  it names compiled states, so a changed pattern needs fresh state (as in Flink).
- Late events (at or behind the watermark) are returned by ``CepProcessor`` in ``output.late``
  rather than dropped or sent to a side output; the Flink shell chooses what to do with them.
- Errors are this package's named exceptions (``PatternDefinitionError`` for Flink's
  ``MalformedPatternException``, ``SkipStrategyError`` for the runtime error of
  ``throwExceptionOnMiss()``), and malformed patterns are rejected when built where Flink
  rejects them only when compiled (duplicate names, for example).
"""

from __future__ import annotations

from .conditions import ConditionContext, iterative
from .errors import (
    CepError,
    EventOrderError,
    LateEventError,
    PatternDefinitionError,
    RuleDefinitionError,
    SkipStrategyError,
)
from .event_time_buffer import EventTimeBuffer
from .nfa import NFA, Match
from .nfa_state import NFAState
from .pattern import Contiguity, Pattern
from .processor import CepProcessor, ProcessorOutput, ProcessorState
from .skip_strategy import (
    NO_SKIP,
    SKIP_PAST_LAST_EVENT,
    SKIP_TO_NEXT,
    AfterMatchSkipStrategy,
    skip_to_first,
    skip_to_last,
)

__all__ = [
    "NFA",
    "NO_SKIP",
    "SKIP_PAST_LAST_EVENT",
    "SKIP_TO_NEXT",
    "AfterMatchSkipStrategy",
    "CepError",
    "CepProcessor",
    "ConditionContext",
    "Contiguity",
    "EventOrderError",
    "EventTimeBuffer",
    "LateEventError",
    "Match",
    "NFAState",
    "Pattern",
    "PatternDefinitionError",
    "ProcessorOutput",
    "ProcessorState",
    "RuleDefinitionError",
    "SkipStrategyError",
    "iterative",
    "skip_to_first",
    "skip_to_last",
]
