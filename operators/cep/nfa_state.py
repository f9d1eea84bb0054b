"""The NFA's runtime state: plain frozen values, so it can live in Flink keyed state.

Nothing here refers to the compiled pattern except by state *name*, and nothing holds a
callable, so the state pickles as it is. Like Flink's ``SharedBuffer``, events are stored once
(``BufferedEvent``) and partial matches share their common prefixes: a partial match is a
pointer to the last ``MatchNode`` of its path, and every node points to its parent. Both tables
are flat tuples, so serializing a long path never recurses deeply, and after every step only the
nodes and events some live match still reaches are kept, which keeps the state as bounded as
the set of live partial matches is (``within`` bounds that).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

E = TypeVar("E")


@dataclass(frozen=True, slots=True)
class BufferedEvent(Generic[E]):
    """An event some match still needs, with its arrival sequence number and event time."""

    seq: int
    timestamp: int
    event: E


@dataclass(frozen=True, slots=True)
class MatchNode:
    """One accepted event on a match path: ``stage`` took event ``seq`` after node ``parent``."""

    node_id: int
    stage: str
    seq: int
    parent: int | None


@dataclass(frozen=True, slots=True)
class ComputationState:
    """A partial (or completed, not yet emitted) match: where it is in the NFA and its path.

    ``node`` is ``None`` only for the start computation, which the engine recreates on every
    event and never stores. ``start_seq``/``start_timestamp`` identify the first event: skip
    strategies order and prune by the former, ``within`` times out by the latter.
    """

    state: str
    node: int | None
    start_seq: int
    start_timestamp: int


@dataclass(frozen=True)
class SharedBuffer(Generic[E]):
    """Events and match-path nodes referenced by live computation states, sorted by id."""

    events: tuple[BufferedEvent[E], ...] = ()
    nodes: tuple[MatchNode, ...] = ()


# Generic value types users may build as ``NFAState[Event]()`` are not ``slots=True``: on Python
# 3.11 a frozen slotted generic dataclass raises TypeError when created through its subscripted
# alias (typing sets ``__orig_class__`` on the instance).
@dataclass(frozen=True)
class NFAState(Generic[E]):
    """Everything the NFA remembers for one key between two calls.

    ``completed_matches`` holds matches found but not yet emitted: with a skip strategy other
    than NO_SKIP a match waits until no partial match that started earlier is still alive, since
    emitting it may prune those (Flink does the same). ``time`` is the event time the NFA has
    advanced to; events before it are rejected.
    """

    partial_matches: tuple[ComputationState, ...] = ()
    completed_matches: tuple[ComputationState, ...] = ()
    buffer: SharedBuffer[E] = field(default_factory=SharedBuffer)
    next_seq: int = 0
    next_node_id: int = 0
    time: int | None = None

    @property
    def is_empty(self) -> bool:
        """No partial or pending match: the keyed state for this key can be cleared."""
        return not self.partial_matches and not self.completed_matches
