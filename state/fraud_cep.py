"""State of the fraud-cep job (operator uid ``fraud-cep``), encoded without pickle.

Two values per customer, both versioned Avro through ``StateCodec`` (a version byte, then the
body), so a job upgrade reads state written by the previous one and a Python refactoring of
``FraudEvent`` or the NFA classes cannot silently break a savepoint:

- ``pending`` (ValueState): the ``EventTimeBuffer`` of events waiting for the watermark (v2 adds
  the count of late events refused for the customer);
- ``rule-matches`` (MapState rule ID -> bytes): per rule, the version its partial matches belong
  to and the ``NFAState`` (partial and held matches over a shared buffer of ``FraudEvent``).

Event kinds are stored as strings, not an Avro enum, so adding a kind does not need a new state
version.
"""

from __future__ import annotations

from typing import Any

from operators.cep.event_time_buffer import EventTimeBuffer, PendingEvent
from operators.cep.fraud_events import FraudEvent
from operators.cep.fraud_wire import event_from_record, event_to_record
from operators.cep.nfa_state import BufferedEvent, ComputationState, MatchNode, NFAState, SharedBuffer
from operators.cep.rule_timeline import RuleMatchState
from state.codec import StateCodec


def _pending_v1_to_v2(record: dict[str, Any]) -> dict[str, Any]:
    """v2 counts a customer's refused late events; v1 did not, so an upgraded count starts at 0."""
    return {**record, "late_events": 0}


#: v1: watermark, next_arrival, pending events. v2: + late_events.
PENDING_STATE = StateCodec("fraud_cep_pending", current_version=2, upgrades={1: _pending_v1_to_v2})
#: v1: rule_id, version and the NFAState fields.
RULE_STATE = StateCodec("fraud_cep_rule", current_version=1)


def encode_pending(buffer: EventTimeBuffer[FraudEvent]) -> bytes:
    return PENDING_STATE.encode(
        {
            "watermark": buffer.watermark,
            "next_arrival": buffer.next_arrival,
            "pending": [
                {"timestamp": p.timestamp, "arrival": p.arrival, "event": event_to_record(p.event)}
                for p in buffer.pending
            ],
            "late_events": buffer.late_events,
        }
    )


def decode_pending(data: bytes) -> EventTimeBuffer[FraudEvent]:
    record = PENDING_STATE.decode(data)
    return EventTimeBuffer(
        tuple(
            PendingEvent(p["timestamp"], p["arrival"], event_from_record(p["event"]))
            for p in record["pending"]
        ),
        record["watermark"],
        record["next_arrival"],
        record["late_events"],
    )


def _computation_record(computation: ComputationState) -> dict[str, Any]:
    return {
        "state": computation.state,
        "node": computation.node,
        "start_seq": computation.start_seq,
        "start_timestamp": computation.start_timestamp,
    }


def _computation(record: dict[str, Any]) -> ComputationState:
    return ComputationState(record["state"], record["node"], record["start_seq"], record["start_timestamp"])


def encode_rule_state(state: RuleMatchState) -> bytes:
    nfa = state.nfa
    return RULE_STATE.encode(
        {
            "rule_id": state.rule_id,
            "version": state.version,
            "partial_matches": [_computation_record(c) for c in nfa.partial_matches],
            "completed_matches": [_computation_record(c) for c in nfa.completed_matches],
            "events": [
                {"seq": e.seq, "timestamp": e.timestamp, "event": event_to_record(e.event)}
                for e in nfa.buffer.events
            ],
            "nodes": [
                {"node_id": n.node_id, "stage": n.stage, "seq": n.seq, "parent": n.parent}
                for n in nfa.buffer.nodes
            ],
            "next_seq": nfa.next_seq,
            "next_node_id": nfa.next_node_id,
            "time": nfa.time,
        }
    )


def decode_rule_state(data: bytes) -> RuleMatchState:
    record = RULE_STATE.decode(data)
    buffer: SharedBuffer[FraudEvent] = SharedBuffer(
        tuple(
            BufferedEvent(e["seq"], e["timestamp"], event_from_record(e["event"])) for e in record["events"]
        ),
        tuple(MatchNode(n["node_id"], n["stage"], n["seq"], n["parent"]) for n in record["nodes"]),
    )
    nfa: NFAState[FraudEvent] = NFAState(
        tuple(_computation(c) for c in record["partial_matches"]),
        tuple(_computation(c) for c in record["completed_matches"]),
        buffer,
        record["next_seq"],
        record["next_node_id"],
        record["time"],
    )
    return RuleMatchState(record["rule_id"], record["version"], nfa)
