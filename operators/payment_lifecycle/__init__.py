"""Payment lifecycle: where is this payment, and why — the pure core of the lifecycle job.

Every :class:`~streamledger.iso20022.PaymentEvent` about one ``payment_id`` (initiation, each
interbank leg, status reports, returns, cancellation cases, account entries) is folded into one
:class:`PaymentLifecycle` by ``apply(state, event) -> (new state, outputs)``. Nothing here touches
Flink or I/O, so the same function runs in the job, in the ``streamledger iso20022 lifecycle``
command and in the tests.

The design answers the way payment messages really arrive — in any order, sometimes twice,
sometimes late: the state holds the deduplicated set of what was said, and the status, cancellation
and timeline are recomputed from that set, never advanced by order-dependent transitions. Any
arrival order and any number of redeliveries give the same result.

Modules: :mod:`~operators.payment_lifecycle.timeline` (an entry per message, dedupe key, timeline
order), :mod:`~operators.payment_lifecycle.route` (legs and hops of a multi-hop payment),
:mod:`~operators.payment_lifecycle.status` (ISO 20022 codes and the precedence rules),
:mod:`~operators.payment_lifecycle.lifecycle` (state, ``apply``, bounded state, late data) and
:mod:`~operators.payment_lifecycle.serialization` (JSON view).
"""

from operators.payment_lifecycle.lifecycle import (
    MAX_ENTRIES,
    LifecycleChanged,
    PaymentLifecycle,
    apply,
    fold,
)
from operators.payment_lifecycle.route import Leg
from operators.payment_lifecycle.serialization import lifecycle_to_json_dict
from operators.payment_lifecycle.status import CancellationStatus, PaymentStatus
from operators.payment_lifecycle.timeline import TimelineEntry

__all__ = [
    "MAX_ENTRIES",
    "CancellationStatus",
    "Leg",
    "LifecycleChanged",
    "PaymentLifecycle",
    "PaymentStatus",
    "TimelineEntry",
    "apply",
    "fold",
    "lifecycle_to_json_dict",
]
