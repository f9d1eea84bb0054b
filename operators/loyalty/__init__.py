"""Loyalty points accrual for airline and hotel programmes: the pure core of the loyalty job.

========== ======================================================================================
Input      ``loyalty.events``: Avro ``io.streamledger.loyalty.LoyaltyEvent`` (one envelope for every
           event type, payload union chosen by ``event_type``), key = member ID, record
           timestamp = event time. See :mod:`operators.loyalty.events`.
Rules      a versioned JSON file (``rules/rules-<version>.json``), validated on load by
           :func:`load_rules`; every ledger entry names its rule id and the rules version.
Core       :func:`apply` per event; :func:`on_membership_year_end` and
           :func:`on_inactivity_timer` from event-time timers (:func:`timers` says when);
           :func:`monthly_statement` per member and month. All pure: no Flink, no clock, no I/O
           beyond loading the rules file.
State      :class:`MemberState` per member (frozen), bounded by the retentions in
           :class:`AccrualConfig` (de-duplication 35 days of event time, accruals for the longer
           of the refund window, 13 months, and the qualifying window).
Outputs    :class:`LedgerEntry` (every points movement), :class:`EventRejected`,
           :class:`TierChange`, :class:`MemberSnapshot`, :class:`MonthlyStatement`, each with an
           Avro schema ``schemas/loyalty.<Name>.avsc``.
PII        names, e-mail, phone and address are replaced by keyed HMAC-SHA256 tokens and masked
           forms before they reach state or outputs (:mod:`operators.loyalty.pii`).
========== ======================================================================================
"""

from operators.loyalty.accrual import (
    Timers,
    apply,
    on_inactivity_timer,
    on_membership_year_end,
    snapshot,
    timers,
)
from operators.loyalty.events import (
    SCHEMA_NAME,
    Activity,
    ActivityCancelled,
    CardSpend,
    FlightFlown,
    HotelStay,
    LoyaltyEvent,
    ManualAdjustment,
    MemberEnrolled,
    PartnerPurchase,
    ProfileChanged,
    RedemptionRequested,
    event_from_record,
    event_to_record,
)
from operators.loyalty.outputs import (
    EventRejected,
    LedgerEntry,
    MemberSnapshot,
    MonthlyStatement,
    Output,
    TierChange,
)
from operators.loyalty.pii import Address, PiiKey
from operators.loyalty.rules import Rules, RulesValidationError, load_rules, parse_rules
from operators.loyalty.state import AccrualConfig, MemberState
from operators.loyalty.statements import monthly_statement, statement_chain

__all__ = [
    "SCHEMA_NAME",
    "AccrualConfig",
    "Activity",
    "ActivityCancelled",
    "Address",
    "CardSpend",
    "EventRejected",
    "FlightFlown",
    "HotelStay",
    "LedgerEntry",
    "LoyaltyEvent",
    "ManualAdjustment",
    "MemberEnrolled",
    "MemberSnapshot",
    "MemberState",
    "MonthlyStatement",
    "Output",
    "PartnerPurchase",
    "PiiKey",
    "ProfileChanged",
    "RedemptionRequested",
    "Rules",
    "RulesValidationError",
    "TierChange",
    "Timers",
    "apply",
    "event_from_record",
    "event_to_record",
    "load_rules",
    "monthly_statement",
    "on_inactivity_timer",
    "on_membership_year_end",
    "parse_rules",
    "snapshot",
    "statement_chain",
    "timers",
]
