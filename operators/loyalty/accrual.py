"""The pure loyalty accrual core: ``apply(state, event, rules, config) -> (state, outputs)``.

No Flink, no I/O: the same functions run in the job, in the tests and in :mod:`replay`. All
times are event times (the event's own, or the timer's); nothing reads a clock.

Guarantees:

* **Exactly-once by event ID.** A redelivered event (same ``event_id``) changes nothing and emits
  nothing. IDs are remembered for ``AccrualConfig.dedupe_retention_ms`` (35 days by default) of
  event time behind the member's latest event; an event older than that horizon is rejected as
  TOO_LATE, so a redelivery can never be credited twice. Activities are additionally recognised
  for as long as their accrual is kept.
* **Exact reversal, in either order.** A cancellation reverses precisely the entries its activity
  earned (one REVERSAL per EARN/BONUS entry, same rule id and rules version). A cancellation that
  arrives first waits in state until the activity arrives, then both are applied together; if the
  activity never arrives within the de-duplication horizon the cancellation is reported as
  ORPHAN_CANCELLATION.
* **Never a negative balance.** Redemptions and debits above the balance are rejected with a
  reason. A reversal the balance cannot cover books what is there and records the rest as owed;
  owed points are recovered (REVERSAL entries) from the next credits.
* **Balance = sum of ledger entries**, and every entry carries ``balance_after``.
* **Tiers**: qualifying points count over a rolling window (``tiers.qualifying_window_months`` of
  the rules, 12 by default) ending at the member's latest event time. An upgrade happens as soon as
  a threshold is crossed (the activity that crosses it still earns at the old tier's multiplier);
  a downgrade only in :func:`on_membership_year_end`.
* **Expiry**: :func:`on_inactivity_timer` expires the whole balance ``expiry.inactivity_months``
  after the last activity (activity, redemption or adjustment).
* **Order-independence**: for activities, cancellations and credits the final balance does not
  depend on arrival order as long as no tier threshold is crossed and no cap binds in between
  (the tier in force and the remaining cap are, by nature, taken at processing time).
  Redemptions and debits depend on the balance at the time they are processed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import ROUND_FLOOR, Decimal

from operators.loyalty._time import DAY_MS, add_months, month_end_ms, month_key
from operators.loyalty.events import (
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
)
from operators.loyalty.outputs import (
    ADJUST,
    BONUS,
    EARN,
    EXPIRE,
    REDEEM,
    REVERSAL,
    EventRejected,
    LedgerEntry,
    MemberSnapshot,
    Output,
    TierChange,
)
from operators.loyalty.pii import Protected, protect_address, protect_email, protect_name, protect_phone
from operators.loyalty.rules import Cap, EarnRule, Rules
from operators.loyalty.state import (
    Accrual,
    AccrualConfig,
    AccrualPart,
    Contact,
    Debt,
    MemberState,
    PendingCancellation,
)

Result = tuple[MemberState | None, tuple[Output, ...]]


@dataclass(frozen=True, slots=True)
class Timers:
    """Event-time timers the Flink shell keeps registered for a member."""

    membership_year_end_ms: int
    inactivity_expiry_ms: int | None  # None while the balance is zero


def apply(state: MemberState | None, event: LoyaltyEvent, rules: Rules, config: AccrualConfig) -> Result:
    """Apply one member event. ``state`` is None for a member not enrolled yet."""
    if state is None:
        if isinstance(event, MemberEnrolled):
            return _enrol(event, rules, config)
        return None, (_rejection(event, "NOT_ENROLLED", f"member {event.member_id} is not enrolled"),)
    if event.member_id != state.member_id:
        raise ValueError(f"event {event.event_id} is for {event.member_id}, state is {state.member_id}")
    if state.has_seen(event.event_id) or state.accrual(event.event_id) is not None:
        return state, ()
    horizon = state.clock_ms - config.dedupe_retention_ms
    if event.event_time_ms < horizon:
        return state, (
            _rejection(
                event,
                "TOO_LATE",
                f"event time is more than {config.dedupe_retention_ms / DAY_MS:g} days behind the member's "
                "latest event; it can no longer be told apart from a duplicate",
            ),
        )
    txn = _Txn(state, rules)
    txn.remember(event, config)
    if isinstance(event, MemberEnrolled):
        txn.reject(event, "ALREADY_ENROLLED", f"member {event.member_id} is already enrolled")
    elif isinstance(event, ProfileChanged):
        _profile(txn, event, config)
    elif isinstance(event, FlightFlown | HotelStay | PartnerPurchase | CardSpend):
        _activity(txn, event)
    elif isinstance(event, ActivityCancelled):
        _cancel(txn, event)
    elif isinstance(event, RedemptionRequested):
        _redeem(txn, event)
    else:
        _adjust(txn, event)
    txn.resolve_unmatched_pending(event.event_id)
    return txn.finish(event.event_time_ms)


def on_membership_year_end(
    state: MemberState, at_ms: int, rules: Rules
) -> tuple[MemberState, tuple[Output, ...]]:
    """Tier review at the end of the membership year (the job's event-time timer calls this).

    The tier becomes the one the rolling qualifying points at the year end earn: this is the only
    place a member goes down. A stale timer (``at_ms`` before the year end) changes nothing.
    """
    year_end = state.membership_year_end_ms
    if at_ms < year_end:
        return state, ()
    txn = _Txn(state, rules)
    qualifying = state.qualifying_points(year_end, rules.qualifying_window_months)
    target = rules.eligible_tier(qualifying)
    if state.clock_ms > year_end:
        # Events after the year end were applied before the timer fired (the watermark lags):
        # they may already have earned an upgrade, which the review must not take back.
        later = state.qualifying_points(state.clock_ms, rules.qualifying_window_months)
        if rules.tier_rank(rules.eligible_tier(later).tier) > rules.tier_rank(target.tier):
            qualifying, target = later, rules.eligible_tier(later)
    if target.tier != state.tier:
        direction = "UP" if rules.tier_rank(target.tier) > rules.tier_rank(state.tier) else "DOWN"
        txn.tier_change(
            target.tier,
            direction,
            qualifying,
            target.rule_id,
            f"membership-year review: {qualifying} qualifying points "
            f"in {rules.qualifying_window_months} months",
            f"year-end@{year_end}",
            year_end,
        )
    years = 1
    while add_months(state.enrolled_ms, 12 * years) <= at_ms:
        years += 1
    txn.state = replace(txn.state, membership_year_end_ms=add_months(state.enrolled_ms, 12 * years))
    txn.visible = True
    new_state, outputs = txn.finish(year_end)
    assert new_state is not None
    return new_state, outputs


def on_inactivity_timer(
    state: MemberState, at_ms: int, rules: Rules
) -> tuple[MemberState, tuple[Output, ...]]:
    """Expire the whole balance once ``expiry.inactivity_months`` passed without activity.

    Stale timers (activity since, or nothing to expire) change nothing. The EXPIRE entry is dated at
    the deadline, not at the (possibly later) firing time.
    """
    deadline = add_months(state.last_activity_ms, rules.expiry.inactivity_months)
    if at_ms < deadline or state.balance == 0:
        return state, ()
    txn = _Txn(state, rules)
    txn.entry(
        EXPIRE,
        -state.balance,
        f"no activity for {rules.expiry.inactivity_months} months since the last activity",
        rules.expiry.rule_id,
        rules.version,
        f"expiry@{deadline}",
        deadline,
    )
    new_state, outputs = txn.finish(deadline)
    assert new_state is not None
    return new_state, outputs


def timers(state: MemberState, rules: Rules) -> Timers:
    """When the membership-year review and the inactivity expiry of this member are due."""
    expiry = add_months(state.last_activity_ms, rules.expiry.inactivity_months) if state.balance > 0 else None
    return Timers(state.membership_year_end_ms, expiry)


def snapshot(state: MemberState, rules: Rules, event_time_ms: int) -> MemberSnapshot:
    """The member as the compacted members topic shows it (tokens and masked forms only)."""
    contact = state.contact
    return MemberSnapshot(
        member_id=state.member_id,
        version=state.version,
        tier=state.tier,
        balance=state.balance,
        points_owed=state.points_owed,
        qualifying_points=state.qualifying_points(state.clock_ms, rules.qualifying_window_months),
        lifetime_points=state.lifetime_points,
        membership_year_end_ms=state.membership_year_end_ms,
        last_activity_ms=state.last_activity_ms,
        name_token=_token(contact.name),
        name_masked=_masked(contact.name),
        email_token=_token(contact.email),
        email_masked=_masked(contact.email),
        phone_token=_token(contact.phone),
        phone_masked=_masked(contact.phone),
        address_token=_token(contact.address),
        address_masked=_masked(contact.address),
        rules_version=rules.version,
        event_time_ms=event_time_ms,
    )


# ------------------------------------------------------------------------------------ event kinds


def _enrol(event: MemberEnrolled, rules: Rules, config: AccrualConfig) -> Result:
    lowest = rules.tiers[0]
    tier = event.status_match_tier or lowest.tier
    level = rules.tier_level(tier)
    if level is None:
        known = ", ".join(t.tier for t in rules.tiers)
        return None, (_rejection(event, "UNKNOWN_TIER", f"status-match tier {tier!r} is not one of {known}"),)
    t = event.event_time_ms
    key = config.pii_key
    contact = Contact(
        name=protect_name(key, event.first_name, event.last_name, t),
        email=protect_email(key, event.email, t),
        phone=protect_phone(key, event.phone, t) if event.phone else None,
        address=protect_address(key, event.address, t) if event.address else None,
    )
    state = MemberState(
        member_id=event.member_id,
        enrolled_ms=t,
        tier=lowest.tier,
        membership_year_end_ms=add_months(t, 12),
        balance=0,
        lifetime_points=0,
        clock_ms=t,
        last_activity_ms=t,
        contact=contact,
        seen=((event.event_id, t),),
    )
    txn = _Txn(state, rules)
    if level.tier != lowest.tier:
        txn.tier_change(level.tier, "UP", 0, level.rule_id, "status match on enrolment", event.event_id, t)
    txn.visible = True
    return txn.finish(t)


def _profile(txn: _Txn, event: ProfileChanged, config: AccrualConfig) -> None:
    key, t = config.pii_key, event.event_time_ms
    contact = txn.state.contact
    if event.email is not None and _newer(contact.email, t):
        contact = replace(contact, email=protect_email(key, event.email, t))
    if event.phone is not None and _newer(contact.phone, t):
        contact = replace(contact, phone=protect_phone(key, event.phone, t))
    if event.address is not None and _newer(contact.address, t):
        contact = replace(contact, address=protect_address(key, event.address, t))
    if contact != txn.state.contact:
        txn.state = replace(txn.state, contact=contact)
        txn.visible = True


def _activity(txn: _Txn, event: Activity) -> None:
    rules, state = txn.rules, txn.state
    basis = _earn_basis(event, rules)
    if isinstance(basis, _Refusal):
        txn.reject(event, basis.code, basis.reason)
        return
    rule, units, unit, described = basis.rule, basis.units, basis.unit, basis.described
    t = event.event_time_ms
    base = _floor(units * rule.points_per_unit)
    qualifying = _floor(units * rule.qualifying_per_unit)
    if isinstance(event, HotelStay):
        qualifying += event.nights * rule.qualifying_per_night
    parts = [
        AccrualPart(EARN, rule.rule_id, base, f"{described} at {rule.points_per_unit} points per {unit}")
    ]
    level = rules.tier_level(state.tier)
    if level is not None and level.multiplier > 1:
        bonus = _floor(Decimal(base) * (level.multiplier - 1))
        parts.append(AccrualPart(BONUS, level.rule_id, bonus, f"{state.tier} tier bonus x{level.multiplier}"))
    for promo in rules.active_promotions(event.activity, t):
        if promo.multiplier is not None:
            bonus = _floor(Decimal(base) * (promo.multiplier - 1))
            parts.append(AccrualPart(BONUS, promo.rule_id, bonus, f"promotion x{promo.multiplier}"))
        elif promo.bonus_points is not None:
            parts.append(AccrualPart(BONUS, promo.rule_id, promo.bonus_points, "promotion bonus"))
    activity_cap = rules.activity_cap(event.activity)
    if activity_cap is not None:
        parts = _trim(parts, activity_cap.max_points, activity_cap)
    month = month_key(t)
    if rules.monthly_cap is not None:
        room = max(0, rules.monthly_cap.max_points - state.accrued_in(month))
        parts = _trim(parts, room, rules.monthly_cap)
    parts = [part for part in parts if part.points > 0]
    for part in parts:
        txn.entry(part.kind, part.points, part.reason, part.rule_id, rules.version, event.event_id, t)
    accrual = Accrual(event.event_id, event.activity, t, qualifying, tuple(parts), rules.version)
    earned = accrual.points
    txn.state = replace(
        txn.state,
        accruals=(*txn.state.accruals, accrual),
        lifetime_points=txn.state.lifetime_points + earned,
        month_accrued=_add_month(txn.state.month_accrued, month, earned),
        last_activity_ms=max(txn.state.last_activity_ms, t),
    )
    txn.visible = True
    waiting = next((p for p in txn.state.pending if p.original_event_id == event.event_id), None)
    if waiting is not None:
        txn.state = replace(txn.state, pending=tuple(p for p in txn.state.pending if p is not waiting))
        _reverse(txn, accrual, waiting.event_id, waiting.kind, waiting.event_time_ms)
    txn.settle_debts(event.event_id, t)
    txn.check_upgrade(event.event_id, t)


def _cancel(txn: _Txn, event: ActivityCancelled) -> None:
    state, original = txn.state, event.original_event_id
    accrual = state.accrual(original)
    if accrual is not None:
        if accrual.reversed_by is not None:
            txn.reject(
                event, "ALREADY_REVERSED", f"activity {original} was reversed by {accrual.reversed_by}"
            )
            return
        _reverse(txn, accrual, event.event_id, event.kind, event.event_time_ms)
        txn.visible = True
        return
    if state.has_seen(original):
        txn.reject(event, "NOTHING_TO_REVERSE", f"event {original} earned nothing that could be reversed")
        return
    waiting = next((p for p in state.pending if p.original_event_id == original), None)
    if waiting is not None:
        txn.reject(event, "ALREADY_REVERSED", f"cancellation {waiting.event_id} already waits for {original}")
        return
    pending = PendingCancellation(event.event_id, original, event.event_time_ms, event.kind)
    txn.state = replace(state, pending=(*state.pending, pending))


def _redeem(txn: _Txn, event: RedemptionRequested) -> None:
    rule = txn.rules.redemption(event.kind)
    balance = txn.state.balance
    if rule is None:
        txn.reject(event, "UNKNOWN_REDEMPTION", f"no redemption rule for {event.kind}")
    elif event.points <= 0:
        txn.reject(event, "INVALID_EVENT", f"redemption points must be positive, got {event.points}")
    elif event.points < rule.min_points:
        txn.reject(
            event,
            "BELOW_MINIMUM",
            f"{event.kind} needs at least {rule.min_points} points, got {event.points}",
        )
    elif event.points > balance:
        txn.reject(
            event,
            "INSUFFICIENT_BALANCE",
            f"{event.kind} of {event.points} points exceeds the balance of {balance}",
        )
    else:
        t = event.event_time_ms
        txn.entry(
            REDEEM,
            -event.points,
            f"{event.kind} redemption",
            rule.rule_id,
            txn.rules.version,
            event.event_id,
            t,
        )
        txn.state = replace(txn.state, last_activity_ms=max(txn.state.last_activity_ms, t))


def _adjust(txn: _Txn, event: ManualAdjustment) -> None:
    rule = txn.rules.adjustment
    balance = txn.state.balance
    if event.points == 0:
        txn.reject(event, "INVALID_EVENT", "an adjustment of 0 points")
    elif abs(event.points) > rule.max_abs_points:
        txn.reject(
            event,
            "ADJUSTMENT_TOO_LARGE",
            f"adjustment of {event.points} points exceeds the limit of {rule.max_abs_points} "
            f"({rule.rule_id})",
        )
    elif balance + event.points < 0:
        txn.reject(
            event, "INSUFFICIENT_BALANCE", f"debit of {-event.points} points exceeds the balance of {balance}"
        )
    else:
        t = event.event_time_ms
        reason = f"manual adjustment ({event.reason_code}) by agent {event.agent_id}"
        txn.entry(ADJUST, event.points, reason, rule.rule_id, txn.rules.version, event.event_id, t)
        txn.state = replace(txn.state, last_activity_ms=max(txn.state.last_activity_ms, t))
        if event.points > 0:
            txn.settle_debts(event.event_id, t)


def _reverse(txn: _Txn, accrual: Accrual, cancellation_id: str, kind: str, cancelled_ms: int) -> None:
    """Mirror every entry of ``accrual``; what the balance cannot cover becomes a debt."""
    t = max(cancelled_ms, accrual.event_time_ms)
    debts = list(txn.state.debts)
    for part in accrual.parts:
        covered = min(part.points, txn.state.balance)
        short = part.points - covered
        reason = f"{kind.lower()} {accrual.event_id}: reversal of {part.kind} ({part.reason})"
        if short:
            reason += f"; {short} points owed"
            debts.append(Debt(accrual.event_id, cancellation_id, part.rule_id, accrual.rules_version, short))
        txn.entry(
            REVERSAL,
            -covered,
            reason,
            part.rule_id,
            accrual.rules_version,
            cancellation_id,
            t,
            accrual.event_id,
        )
    month = month_key(accrual.event_time_ms)
    state = txn.state
    txn.state = replace(
        state,
        debts=tuple(debts),
        accruals=tuple(
            replace(a, reversed_by=cancellation_id) if a.event_id == accrual.event_id else a
            for a in state.accruals
        ),
        lifetime_points=state.lifetime_points - accrual.points,
        month_accrued=_add_month(state.month_accrued, month, -accrual.points),
    )


# -------------------------------------------------------------------------------------- helpers


class _Txn:
    """Collects the changes and outputs of one call, then freezes them into the new state."""

    def __init__(self, state: MemberState, rules: Rules) -> None:
        self.state = state
        self.rules = rules
        self.outputs: list[Output] = []
        self.entry_counts: dict[str, int] = {}
        self.visible = False

    def remember(self, event: LoyaltyEvent, config: AccrualConfig) -> None:
        """Record the event ID, advance the member clock and prune what fell behind the horizons."""
        state = self.state
        clock = max(state.clock_ms, event.event_time_ms)
        horizon = clock - config.dedupe_retention_ms
        keep_accruals = add_months(
            clock, -max(self.rules.qualifying_window_months, config.refund_window_months)
        )
        orphans = [p for p in state.pending if p.event_time_ms < horizon]
        for orphan in orphans:
            self.outputs.append(
                EventRejected(
                    state.member_id,
                    orphan.event_id,
                    ActivityCancelled.event_type,
                    "ORPHAN_CANCELLATION",
                    f"activity {orphan.original_event_id} never arrived within the de-duplication retention",
                    orphan.event_time_ms,
                )
            )
        self.state = replace(
            state,
            clock_ms=clock,
            seen=(*((i, t) for i, t in state.seen if t >= horizon), (event.event_id, event.event_time_ms)),
            pending=tuple(p for p in state.pending if p.event_time_ms >= horizon),
            accruals=tuple(a for a in state.accruals if a.event_time_ms >= keep_accruals),
            month_accrued=tuple((m, p) for m, p in state.month_accrued if month_end_ms(m) > horizon),
        )

    def entry(
        self,
        kind: str,
        points: int,
        reason: str,
        rule_id: str,
        rules_version: str,
        source_event_id: str,
        event_time_ms: int,
        related_event_id: str | None = None,
    ) -> None:
        if points == 0:
            return
        balance = self.state.balance + points
        if balance < 0:  # every caller checks first; this guards the invariant itself
            raise AssertionError(
                f"{kind} of {points} would make the balance of {self.state.member_id} negative"
            )
        count = self.entry_counts.get(source_event_id, 0)
        self.entry_counts[source_event_id] = count + 1
        self.outputs.append(
            LedgerEntry(
                entry_id=f"{source_event_id}#{count}",
                member_id=self.state.member_id,
                kind=kind,
                points=points,
                balance_after=balance,
                reason=reason,
                rule_id=rule_id,
                rules_version=rules_version,
                source_event_id=source_event_id,
                event_time_ms=event_time_ms,
                related_event_id=related_event_id,
            )
        )
        self.state = replace(self.state, balance=balance)
        self.visible = True

    def reject(self, event: LoyaltyEvent, code: str, reason: str) -> None:
        self.outputs.append(_rejection(event, code, reason))

    def settle_debts(self, source_event_id: str, event_time_ms: int) -> None:
        remaining: list[Debt] = []
        for debt in self.state.debts:
            taken = min(debt.points, self.state.balance)
            self.entry(
                REVERSAL,
                -taken,
                f"recovery of points owed for the reversal of {debt.original_event_id}",
                debt.rule_id,
                debt.rules_version,
                source_event_id,
                event_time_ms,
                debt.original_event_id,
            )
            if taken < debt.points:
                remaining.append(replace(debt, points=debt.points - taken))
        self.state = replace(self.state, debts=tuple(remaining))

    def check_upgrade(self, source_event_id: str, event_time_ms: int) -> None:
        rules, state = self.rules, self.state
        qualifying = state.qualifying_points(state.clock_ms, rules.qualifying_window_months)
        target = rules.eligible_tier(qualifying)
        if rules.tier_rank(target.tier) > rules.tier_rank(state.tier):
            self.tier_change(
                target.tier,
                "UP",
                qualifying,
                target.rule_id,
                f"{qualifying} qualifying points in {rules.qualifying_window_months} months "
                f"reach the {target.tier} threshold of {target.threshold}",
                source_event_id,
                event_time_ms,
            )

    def tier_change(
        self,
        tier: str,
        direction: str,
        qualifying: int,
        rule_id: str,
        reason: str,
        source_event_id: str,
        event_time_ms: int,
    ) -> None:
        state = self.state
        self.outputs.append(
            TierChange(
                state.member_id,
                state.tier,
                tier,
                direction,
                qualifying,
                rule_id,
                self.rules.version,
                reason,
                source_event_id,
                event_time_ms,
            )
        )
        self.state = replace(state, tier=tier)
        self.visible = True

    def resolve_unmatched_pending(self, event_id: str) -> None:
        """A cancellation waiting for ``event_id``, which earned nothing, can be closed now."""
        waiting = next((p for p in self.state.pending if p.original_event_id == event_id), None)
        if waiting is None:
            return
        self.state = replace(self.state, pending=tuple(p for p in self.state.pending if p is not waiting))
        self.outputs.append(
            EventRejected(
                self.state.member_id,
                waiting.event_id,
                ActivityCancelled.event_type,
                "NOTHING_TO_REVERSE",
                f"event {event_id} earned nothing that could be reversed",
                waiting.event_time_ms,
            )
        )

    def finish(self, event_time_ms: int) -> tuple[MemberState, tuple[Output, ...]]:
        if self.visible:
            self.state = replace(self.state, version=self.state.version + 1)
            self.outputs.append(snapshot(self.state, self.rules, event_time_ms))
        return self.state, tuple(self.outputs)


@dataclass(frozen=True, slots=True)
class _Basis:
    """What an activity earns on: the rule, the units (miles or programme-currency units), a description."""

    rule: EarnRule
    units: Decimal
    unit: str
    described: str


@dataclass(frozen=True, slots=True)
class _Refusal:
    code: str
    reason: str


def _earn_basis(event: Activity, rules: Rules) -> _Basis | _Refusal:
    """How an activity earns, or why it cannot."""
    if isinstance(event, FlightFlown):
        if event.distance_miles <= 0:
            return _Refusal("INVALID_EVENT", f"distance must be positive, got {event.distance_miles}")
        rule = rules.earn_rule("FLIGHT", fare_class=event.fare_class)
        if rule is None:
            return _Refusal(
                "NO_EARN_RULE", f"no earn rule for fare class {event.fare_class!r} in rules {rules.version}"
            )
        described = (
            f"flight {event.flight_number} {event.origin}-{event.destination} fare class {event.fare_class}, "
            f"{event.distance_miles} mi"
        )
        return _Basis(rule, Decimal(event.distance_miles), "mile", described)
    if isinstance(event, HotelStay):
        if event.nights <= 0:
            return _Refusal("INVALID_EVENT", f"nights must be positive, got {event.nights}")
        amount, currency, what = (
            event.spend_minor,
            event.currency,
            f"hotel {event.property_id}, {event.nights} nights",
        )
        rule = rules.earn_rule("HOTEL")
    elif isinstance(event, PartnerPurchase):
        amount, currency, what = event.amount_minor, event.currency, f"partner {event.partner_id}"
        rule = rules.earn_rule("PARTNER", partner=event.partner_id)
    else:
        amount, currency, what = event.amount_minor, event.currency, "card spend"
        rule = rules.earn_rule("CARD")
    if amount <= 0:
        return _Refusal("INVALID_EVENT", f"amount must be positive, got {amount}")
    rate = rules.currency(currency)
    if rate is None:
        return _Refusal(
            "UNKNOWN_CURRENCY", f"currency {currency!r} is not in rates table {rules.currency_table_id}"
        )
    if rule is None:
        return _Refusal("NO_EARN_RULE", f"no earn rule for {what} in rules {rules.version}")
    spent = Decimal(amount).scaleb(-rate.minor_units)
    units = spent * rate.rate
    described = f"{what}, {spent} {currency}"
    if currency != rules.programme_currency:
        shown = units.quantize(Decimal("0.01"), rounding=ROUND_FLOOR)
        described += f" = {shown} {rules.programme_currency} at {rate.rate} ({rules.currency_table_id})"
    return _Basis(rule, units, rules.programme_currency, described)


def _trim(parts: list[AccrualPart], limit: int, cap: Cap) -> list[AccrualPart]:
    """Cut the parts down to ``limit`` points in total, taking from the last (bonuses) first."""
    excess = sum(part.points for part in parts) - limit
    if excess <= 0:
        return parts
    trimmed = list(parts)
    for index in range(len(trimmed) - 1, -1, -1):
        part = trimmed[index]
        cut = min(part.points, excess)
        if cut:
            trimmed[index] = replace(
                part, points=part.points - cut, reason=f"{part.reason}; capped by {cap.rule_id}"
            )
            excess -= cut
        if excess == 0:
            break
    return trimmed


def _add_month(months: tuple[tuple[str, int], ...], month: str, points: int) -> tuple[tuple[str, int], ...]:
    if any(key == month for key, _ in months):
        return tuple((key, value + points if key == month else value) for key, value in months)
    return (*months, (month, points))


def _floor(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


def _newer(current: Protected | None, event_time_ms: int) -> bool:
    return current is None or event_time_ms >= current.updated_ms


def _token(value: Protected | None) -> str | None:
    return value.token if value else None


def _masked(value: Protected | None) -> str | None:
    return value.masked if value else None


def _rejection(event: LoyaltyEvent, code: str, reason: str) -> EventRejected:
    return EventRejected(event.member_id, event.event_id, event.event_type, code, reason, event.event_time_ms)
