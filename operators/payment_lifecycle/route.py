"""The banks a payment passes through, and which leg of that route each message is about.

A payment from a customer of bank A to a customer of bank D may travel A → B → C → D: one pacs.008
per leg, all with the same UETR, so all on one lifecycle. Messages about a leg travel either with
the payment (pacs.008, pacs.009, camt.056, the related agents of an account entry) or back against
it (pacs.002, pacs.004, camt.029: the bank that received the payment answers the bank that sent
it). :func:`direction` turns both into the leg's direction in payment terms, so a pacs.002 from C to
B and the pacs.008 from B to C name the same leg, B → C.

Hops count from the first bank: a leg whose sender received the payment from no one is hop 0, and a
leg sent by the receiver of a hop-n leg is hop n + 1 (breadth first, so the alternative legs of a
re-routed payment share a hop). Legs reachable only through a cycle, which real routes do not have,
get no hop. The route is built from every entry, not only from the transfers, so a status report
whose pacs.008 has not arrived yet still places its leg. Like everything the lifecycle derives, it is
a function of the set of entries, whatever order they came in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from operators.payment_lifecycle.timeline import TimelineEntry
from streamledger.iso20022.events import EventType

Direction = tuple[str, str]
"""(sender, receiver) of a leg, in the direction the payment travels."""

# Messages the receiving bank of a leg sends back to its sender.
_AGAINST_PAYMENT: Final = frozenset(
    {
        EventType.STATUS_REPORT,
        EventType.STATUS_REPORT_GROUP,
        EventType.RETURN,
        EventType.RETURN_GROUP,
        EventType.CANCELLATION_RESOLUTION,
        EventType.CANCELLATION_RESOLUTION_GROUP,
    }
)


@dataclass(frozen=True, slots=True, order=True)
class Leg:
    """One bank-to-bank hop of the route; ``hop`` 0 leaves the first bank."""

    hop: int
    sender: str
    receiver: str


def direction(entry: TimelineEntry) -> Direction | None:
    """The leg an entry is about, in payment direction; ``None`` when it names no interbank leg
    (customer messages, or a message without both agents)."""
    instructing, instructed = entry.instructing_agent, entry.instructed_agent
    if instructing is None or instructed is None or instructing == instructed:
        return None
    if entry.event_type in _AGAINST_PAYMENT:
        return instructed, instructing
    return instructing, instructed


def route_of(entries: Iterable[TimelineEntry]) -> tuple[Leg, ...]:
    """Every leg the entries name that has a hop, ordered by hop, then sender and receiver."""
    directions = {found for entry in entries if (found := direction(entry)) is not None}
    receivers = {receiver for _, receiver in directions}
    hops: dict[Direction, int] = {}
    frontier = {leg for leg in directions if leg[0] not in receivers}
    hop = 0
    while frontier:
        hops.update(dict.fromkeys(frontier, hop))
        reached = {receiver for _, receiver in frontier}
        frontier = {leg for leg in directions if leg[0] in reached and leg not in hops}
        hop += 1
    return tuple(sorted(Leg(hop, sender, receiver) for (sender, receiver), hop in hops.items()))


def hop_index(route: Iterable[Leg]) -> dict[Direction, int]:
    """Hop of each leg of a route, by direction: look up ``direction(entry)`` in it."""
    return {(leg.sender, leg.receiver): leg.hop for leg in route}
