"""Loyalty accrual: member events in, points ledger, balances, tiers and monthly statements out.

A thin Flink shell around the pure core in :mod:`operators.loyalty` (``apply``, the timer
functions, ``monthly_statement`` arithmetic); everything here is routing, keyed state, timers.

========== ======================================================================================
Input      ``loyalty.events`` (Avro ``io.streamledger.loyalty.LoyaltyEvent``, key = member ID,
           record timestamp = event time). Rules: the JSON file of ``loyalty_rules_file``
           (Settings; unset: the bundled ``operators/loyalty/rules/rules-<DEFAULT_RULES_VERSION>.json``),
           validated when the job is built and shipped with it, so a bad file fails the submission
           and the workers never read a file of their own (none to mount on TaskManagers).
Keys       member ID (``LoyaltyEvent.member_id``; the Kafka key is not trusted for routing).
State      ``member`` (ValueState, bytes of ``state/loyalty_member.vN.avsc``: the core's
           ``MemberState``, contact data as tokens/masked forms only) and ``statements``
           (ValueState, bytes of ``state/loyalty_member_statements.vN.avsc``: running totals of
           the months not stated yet + the last closing balance). Bounded: the core prunes event
           IDs after ``dedupe_retention_ms`` (35 days) of the member's event time and accruals
           after the refund/qualifying window; open months are dropped once stated. Balances are
           the system of record and are never expired.
Timers     event-time, per member, each at *due time + allowed lateness*
           (``loyalty_allowed_lateness_ms``, default the 35-day de-duplication retention, so
           activity of the closing period that arrives late still counts): the membership-year
           review (tier downgrades happen only here; upgrades happen on the event that crosses a
           threshold), inactivity expiry of the whole balance (``expiry.inactivity_months`` of the
           rules; an ``EXPIRE`` ledger entry dated at the deadline), and one per open statement
           month (a keyed event-time tumbling window of one UTC calendar month). A member's own
           event dated at or after a review or expiry applies that review/expiry first (its
           stream is in order), so results do not depend on when a watermark happens to arrive.
           Reviews of a base-tier member with no qualifying points are not timed (they cannot
           change anything) and are caught up at the member's next event. Timers are replaced, not
           accumulated, when a due time moves.
           The end of a bounded input (watermark = +inf) is not a point in event time: timers
           still pending then stay pending instead of expiring every balance and reviewing every
           member for ever. Flink emits no last periodic watermark before the end-of-input one,
           so a bounded run fires only what its last periodic watermark made due and can stop short
           of what the live job (same input) has fired near the end of the input. Replays are
           therefore unbounded runs from the start of the topic (``replay``, below) that stop once
           the backlog is committed, exactly like the live job.
Watermarks bounded out-of-orderness (5 s) on the Kafka record timestamps, idle partitions
           ignored after 10 s (:meth:`JobBuilder.kafka_source`).
Statements one per member and month with ledger entries (months without movements are skipped;
           the next statement opens with the previous closing balance, so the chain holds):
           opening, earned (EARN+BONUS), reversed, redeemed, expired, adjusted, closing. An entry
           dated in a month already stated (later than the allowed lateness) is reported in the
           first month not stated yet.
UIDs       ``source-loyalty-events``, ``decode-loyalty-events``, ``member-accrual``,
           ``sink-kafka``; the Iceberg writers/committers get planner-derived uids from the
           INSERTs below (stable while SQL and input types are unchanged).
Outputs    ``loyalty.balances`` (compacted; key member ID, value Avro ``loyalty.PointsBalance``);
           Iceberg ``loyalty.ledger`` (append: every points movement with reason, rule id,
           rules version, source event), ``loyalty.members`` (upsert on ``member_id``: balance,
           tier, qualifying points, membership year end, contact tokens and masked forms),
           ``loyalty.statements`` (append, one row per issued statement);
           ``streamledger.dlq`` (Avro ``DeadLetter``): undecodable input (``UNDECODABLE`` /
           ``UNKNOWN_SCHEMA``) and every event the core refused, ``error_type`` = the core's
           rejection code (``UNKNOWN_CURRENCY``, ``INSUFFICIENT_BALANCE``, ``TOO_LATE``...), payload
           = the input bytes. The DLQ is classified like the input topic (it keeps input bytes
           for replay after a fix, contact data included); the projections hold no clear PII.
           All outputs are written in the job's checkpoint-aligned transactions.
Replay     ``replay(settings, replay_id)`` rebuilds the projections from the earliest offsets
           of the input into the outputs ``settings`` names (fresh topics and catalog, same input
           topic) as ``loyalty-accrual-replay-<id>``: its own consumer group, Kafka transactional
           ids and restore points, so it neither moves the live job's offsets nor fences its
           transactions. A member's outputs depend only on its events in log order and on which due
           times the watermark has passed (an event up to the allowed lateness behind the watermark
           counts as on time). So a replay of the same log reproduces the live projections
           wherever both runs' watermarks got equally far, and everywhere once the log ends with a
           record per partition dated past the last due time of interest (as the integration test
           does); without one, the last timers may fire in one run and not yet in the other.
Reading    ``loyalty.ledger`` and ``loyalty.statements`` are plain appends (pyiceberg, Flink,
           any engine). ``loyalty.members`` is a format-v2 upsert table written with equality
           deletes: read it with Flink (``jobs.builder.batch_table_environment(settings)``, then
           ``SELECT ... FROM `<catalog>`.`loyalty`.`members```) or another engine that applies
           equality deletes; pyiceberg 0.8 cannot. The current balance per member is also on the
           compacted ``loyalty.balances`` topic.
========== ======================================================================================
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from operator import attrgetter
from typing import Any

from pyflink.common import Row, Types
from pyflink.datastream import (
    DataStream,
    KeyedProcessFunction,
    OutputTag,
    ProcessFunction,
    RuntimeContext,
)
from pyflink.datastream.state import ValueStateDescriptor

from jobs.builder import APPEND_TABLE, BYTES, KAFKA_OUTPUT_TYPE, UPSERT_TABLE, JobBuilder
from jobs.dead_letters import DeadLetterWriter
from jobs.entrypoints import JobEntrypoints
from operators.loyalty import (
    SCHEMA_NAME,
    AccrualConfig,
    ActivityCancelled,
    EventRejected,
    LedgerEntry,
    LoyaltyEvent,
    MemberSnapshot,
    MemberState,
    MonthlyStatement,
    PiiKey,
    Rules,
    RulesValidationError,
    apply,
    event_from_record,
    event_to_record,
    load_rules,
    on_inactivity_timer,
    on_membership_year_end,
    timers,
)
from operators.loyalty._time import month_end_ms, month_key, next_month
from operators.loyalty.outputs import ADJUST, BONUS, EARN, EXPIRE, REDEEM, REVERSAL, Output
from schemas import AvroCodec, UndecodableMessageError
from state.loyalty_member import (
    OpenMonth,
    StatementBook,
    decode_member,
    decode_statements,
    encode_member,
    encode_statements,
)
from streamledger.config import ENV_PREFIX, Settings
from streamledger.errors import ConfigError

JOB_NAME = "loyalty-accrual"
ICEBERG_NAMESPACE = "loyalty"
LEDGER_TABLE = "ledger"
MEMBERS_TABLE = "members"
STATEMENTS_TABLE = "statements"
BALANCE_SCHEMA = "loyalty.PointsBalance"

#: Flink's end-of-input watermark (Long.MAX_VALUE).
_END_OF_INPUT = 2**63 - 1

DEAD_LETTERS = OutputTag("dead-letters", KAFKA_OUTPUT_TYPE)

#: The ledger row's fields, named as on :class:`LedgerEntry`: one list for the row type, the row
#: and anything that reads the table back.
LEDGER_FIELDS = (
    "entry_id",
    "member_id",
    "kind",
    "points",
    "balance_after",
    "reason",
    "rule_id",
    "rules_version",
    "source_event_id",
    "related_event_id",
    "event_time_ms",
)
LEDGER_ROW_TYPE = Types.ROW_NAMED(
    list(LEDGER_FIELDS),
    [
        Types.STRING(),
        Types.STRING(),
        Types.STRING(),
        Types.LONG(),
        Types.LONG(),
        Types.STRING(),
        Types.STRING(),
        Types.STRING(),
        Types.STRING(),
        Types.STRING(),
        Types.LONG(),
    ],
)
LEDGER_COLUMNS = """
    entry_id STRING NOT NULL,
    member_id STRING NOT NULL,
    kind STRING NOT NULL,
    points BIGINT NOT NULL,
    balance_after BIGINT NOT NULL,
    reason STRING NOT NULL,
    rule_id STRING NOT NULL,
    rules_version STRING NOT NULL,
    source_event_id STRING NOT NULL,
    related_event_id STRING,
    event_time TIMESTAMP_LTZ(6) NOT NULL
"""

#: Contact data columns of the members table and snapshot: a token and a masked form per field.
CONTACT_FIELDS = (
    "name_token",
    "name_masked",
    "email_token",
    "email_masked",
    "phone_token",
    "phone_masked",
    "address_token",
    "address_masked",
)
#: The members row a snapshot becomes (``*_ms``: epoch millis, TIMESTAMP_LTZ columns of the
#: name without the suffix in the table).
MEMBER_FIELDS = (
    "member_id",
    "version",
    "tier",
    "balance",
    "points_owed",
    "qualifying_points",
    "lifetime_points",
    "membership_year_end_ms",
    "last_activity_ms",
    *CONTACT_FIELDS,
    "rules_version",
    "event_time_ms",
)
MEMBERS_ROW_TYPE = Types.ROW_NAMED(
    list(MEMBER_FIELDS),
    [
        Types.STRING(),
        Types.LONG(),
        Types.STRING(),
        Types.LONG(),
        Types.LONG(),
        Types.LONG(),
        Types.LONG(),
        Types.LONG(),
        Types.LONG(),
        *(Types.STRING() for _ in CONTACT_FIELDS),
        Types.STRING(),
        Types.LONG(),
    ],
)
MEMBERS_COLUMNS = f"""
    member_id STRING NOT NULL,
    version BIGINT NOT NULL,
    tier STRING NOT NULL,
    balance BIGINT NOT NULL,
    points_owed BIGINT NOT NULL,
    qualifying_points BIGINT NOT NULL,
    lifetime_points BIGINT NOT NULL,
    membership_year_end TIMESTAMP_LTZ(6) NOT NULL,
    last_activity TIMESTAMP_LTZ(6) NOT NULL,
    {", ".join(f"{name} STRING" for name in CONTACT_FIELDS)},
    rules_version STRING NOT NULL,
    updated_at TIMESTAMP_LTZ(6) NOT NULL,
    PRIMARY KEY (member_id) NOT ENFORCED
"""

#: The statement row's fields, named as on :class:`MonthlyStatement` (see ``LEDGER_FIELDS``).
STATEMENT_FIELDS = (
    "member_id",
    "month",
    "opening_balance",
    "earned",
    "reversed",
    "redeemed",
    "expired",
    "adjusted",
    "closing_balance",
    "entry_count",
)
STATEMENT_ROW_TYPE = Types.ROW_NAMED(
    list(STATEMENT_FIELDS), [Types.STRING(), Types.STRING(), *(Types.LONG() for _ in range(8))]
)
STATEMENT_COLUMNS = """
    member_id STRING NOT NULL,
    `month` STRING NOT NULL,
    opening_balance BIGINT NOT NULL,
    earned BIGINT NOT NULL,
    reversed BIGINT NOT NULL,
    redeemed BIGINT NOT NULL,
    expired BIGINT NOT NULL,
    adjusted BIGINT NOT NULL,
    closing_balance BIGINT NOT NULL,
    entry_count BIGINT NOT NULL
"""

LEDGER = OutputTag("ledger", LEDGER_ROW_TYPE)
MEMBERS = OutputTag("members", MEMBERS_ROW_TYPE)
STATEMENTS = OutputTag("statements", STATEMENT_ROW_TYPE)


@dataclass(frozen=True, slots=True)
class Inbound:
    """A decoded event with where it came from, so a refusal can be dead-lettered with its bytes."""

    event: LoyaltyEvent
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes


# --------------------------------------------------------------------------------- settings


def configured_rules(settings: Settings) -> Rules:
    """The validated rules of ``loyalty_rules_file`` (None: the bundled default version).

    Loaded once, where the job is built: an unusable file stops the submission with the setting
    to fix, instead of failing every worker at start-up and restarting for ever.
    """
    try:
        return load_rules(settings.loyalty_rules_file)
    except RulesValidationError as error:
        raise ConfigError(
            f"{ENV_PREFIX}LOYALTY_RULES_FILE={settings.loyalty_rules_file}: {error}",
            "fix the rules file, or unset the variable for the bundled rules",
        ) from None


def allowed_lateness_ms(settings: Settings) -> int:
    """``loyalty_allowed_lateness_ms``, refused when negative (timers would fire before they are due)."""
    lateness = settings.loyalty_allowed_lateness_ms
    if lateness < 0:
        raise ConfigError(
            f"{ENV_PREFIX}LOYALTY_ALLOWED_LATENESS_MS={lateness} is negative",
            "use 0 or more milliseconds",
        )
    return lateness


# ----------------------------------------------------------------------------- pure helpers
# Everything below up to the Flink functions is plain Python: the decisions the shell makes
# around the core (which timers, which statement month), kept free of Flink so they read as rules.


def needs_review(state: MemberState, rules: Rules) -> bool:
    """Whether a membership-year review could change anything without a new event.

    A review only lowers a tier (upgrades happen on events), so a base-tier member with no
    qualifying points at the year end needs none; the member's next event catches it up.
    """
    if state.tier != rules.tiers[0].tier:
        return True
    return state.qualifying_points(state.membership_year_end_ms, rules.qualifying_window_months) > 0


def advance(
    state: MemberState, until_ms: int, rules: Rules, *, by_event: bool
) -> tuple[MemberState, list[Output]]:
    """Apply every review and expiry due at or before ``until_ms``, oldest first.

    ``by_event``: the member's own event at ``until_ms`` asks, so every year end passed is
    reviewed; on the watermark alone only reviews that :func:`needs_review` are (see there).
    A review and an expiry due at the same instant: the review first.
    """
    outputs: list[Output] = []
    while True:
        due = timers(state, rules)
        candidates: list[tuple[int, int]] = []
        if due.membership_year_end_ms <= until_ms and (by_event or needs_review(state, rules)):
            candidates.append((due.membership_year_end_ms, 0))
        if due.inactivity_expiry_ms is not None and due.inactivity_expiry_ms <= until_ms:
            candidates.append((due.inactivity_expiry_ms, 1))
        if not candidates:
            return state, outputs
        at, kind = min(candidates)
        if kind == 0:
            state, fired = on_membership_year_end(state, at, rules)
        else:
            state, fired = on_inactivity_timer(state, at, rules)
        outputs.extend(fired)


def book_entries(book: StatementBook, entries: Iterable[LedgerEntry]) -> StatementBook:
    """Add ledger entries to the running totals of their month (or of the first month not stated)."""
    months = {m.month: m for m in book.open_months}
    for entry in entries:
        month = month_key(entry.event_time_ms)
        if book.last_issued_month is not None and month <= book.last_issued_month:
            month = next_month(book.last_issued_month)
        m = months.get(month, OpenMonth(month))
        points = entry.points
        if entry.kind in (EARN, BONUS):
            m = replace(m, earned=m.earned + points)
        elif entry.kind == REVERSAL:
            m = replace(m, reversed=m.reversed - points)
        elif entry.kind == REDEEM:
            m = replace(m, redeemed=m.redeemed - points)
        elif entry.kind == EXPIRE:
            m = replace(m, expired=m.expired - points)
        elif entry.kind == ADJUST:
            m = replace(m, adjusted=m.adjusted + points)
        else:
            raise ValueError(f"ledger entry {entry.entry_id} has unknown kind {entry.kind}")
        months[month] = replace(m, entry_count=m.entry_count + 1)
    return replace(book, open_months=tuple(sorted(months.values(), key=lambda m: m.month)))


def issue_statements(
    book: StatementBook, member_id: str, until_ms: int
) -> tuple[StatementBook, list[MonthlyStatement]]:
    """Issue, in month order, the statements of every open month that ended at or before ``until_ms``."""
    issued: list[MonthlyStatement] = []
    remaining: list[OpenMonth] = []
    for m in book.open_months:
        if month_end_ms(m.month) > until_ms:
            remaining.append(m)
            continue
        opening = book.last_closing
        statement = MonthlyStatement(
            member_id=member_id,
            month=m.month,
            opening_balance=opening,
            earned=m.earned,
            reversed=m.reversed,
            redeemed=m.redeemed,
            expired=m.expired,
            adjusted=m.adjusted,
            closing_balance=opening + m.net,
            entry_count=m.entry_count,
        )
        issued.append(statement)
        book = replace(book, last_issued_month=m.month, last_closing=statement.closing_balance)
    return replace(book, open_months=tuple(remaining)), issued


def timer_times(state: MemberState | None, book: StatementBook, rules: Rules, lateness_ms: int) -> set[int]:
    """The event-time timers a member needs: each due time plus the allowed lateness."""
    wanted = {month_end_ms(m.month) + lateness_ms for m in book.open_months}
    if state is not None:
        due = timers(state, rules)
        if needs_review(state, rules):
            wanted.add(due.membership_year_end_ms + lateness_ms)
        if due.inactivity_expiry_ms is not None:
            wanted.add(due.inactivity_expiry_ms + lateness_ms)
    return wanted


# ------------------------------------------------------------------------------ conversions


def ledger_row(entry: LedgerEntry) -> Row:
    return Row(*(getattr(entry, name) for name in LEDGER_FIELDS))


def member_row(snapshot: MemberSnapshot) -> Row:
    return Row(
        snapshot.member_id,
        snapshot.version,
        snapshot.tier,
        snapshot.balance,
        snapshot.points_owed,
        snapshot.qualifying_points,
        snapshot.lifetime_points,
        snapshot.membership_year_end_ms,
        snapshot.last_activity_ms,
        *(getattr(snapshot, name) for name in CONTACT_FIELDS),
        snapshot.rules_version,
        snapshot.event_time_ms,
    )


def statement_row(statement: MonthlyStatement) -> Row:
    return Row(*(getattr(statement, name) for name in STATEMENT_FIELDS))


def balance_record(snapshot: MemberSnapshot) -> dict[str, Any]:
    """The ``loyalty.PointsBalance`` value of a snapshot (no contact data at all)."""
    return {
        "member_id": snapshot.member_id,
        "version": snapshot.version,
        "tier": snapshot.tier,
        "balance": snapshot.balance,
        "points_owed": snapshot.points_owed,
        "qualifying_points": snapshot.qualifying_points,
        "rules_version": snapshot.rules_version,
        "event_time": snapshot.event_time_ms,
    }


# ---------------------------------------------------------------------------- Flink functions


class DecodeLoyaltyEvents(ProcessFunction):  # type: ignore[misc]
    """Raw Kafka rows -> :class:`Inbound`; anything undecodable becomes a dead letter, never a failure."""

    def __init__(self, dead_letter_topic: str) -> None:
        self.dead_letter_topic = dead_letter_topic

    def open(self, runtime_context: RuntimeContext) -> None:
        self.codec = AvroCodec(SCHEMA_NAME)
        self.dead_letters = DeadLetterWriter(JOB_NAME, self.dead_letter_topic)
        self.undecodable = runtime_context.get_metrics_group().counter("undecodable")

    def process_element(self, value: Row, ctx: ProcessFunction.Context) -> Iterator[Any]:
        try:
            event = event_from_record(self.codec.decode(value.value))
        except UndecodableMessageError as error:
            self.undecodable.inc()
            yield DEAD_LETTERS, self.dead_letters.for_record(value, error.error_type, error.reason)
            return
        yield Inbound(event, value.topic, value.partition, value.offset, value.key, value.value)


class MemberAccrual(KeyedProcessFunction):  # type: ignore[misc]
    """Thin Flink shell around :func:`operators.loyalty.apply` and the timer functions."""

    def __init__(
        self,
        source_topic: str,
        balances_topic: str,
        dead_letter_topic: str,
        pii_key_id: str,
        pii_secret: str,
        rules: Rules,
        lateness_ms: int,
    ) -> None:
        self.source_topic = source_topic
        self.balances_topic = balances_topic
        self.dead_letter_topic = dead_letter_topic
        self.pii_key_id = pii_key_id
        self.pii_secret = pii_secret
        self.rules = rules
        self.lateness_ms = lateness_ms

    def open(self, runtime_context: RuntimeContext) -> None:
        self.config = AccrualConfig(PiiKey(self.pii_key_id, self.pii_secret.encode()))
        self.member = runtime_context.get_state(ValueStateDescriptor("member", BYTES))
        self.statements = runtime_context.get_state(ValueStateDescriptor("statements", BYTES))
        self.dead_letters = DeadLetterWriter(JOB_NAME, self.dead_letter_topic)
        self.event_codec = AvroCodec(SCHEMA_NAME)
        self.balance_codec = AvroCodec(BALANCE_SCHEMA)
        metrics = runtime_context.get_metrics_group()
        self.rejected = metrics.counter("rejected")
        self.entries = metrics.counter("ledger_entries")
        self.issued = metrics.counter("statements")

    # -------------------------------------------------------------- state
    def _load(self) -> tuple[MemberState | None, StatementBook]:
        member = self.member.value()
        book = self.statements.value()
        return (
            decode_member(member) if member is not None else None,
            decode_statements(book) if book is not None else StatementBook(),
        )

    def _store(self, state: MemberState | None, book: StatementBook) -> None:
        if state is not None:
            self.member.update(encode_member(state))
        if book.open_months or book.last_issued_month is not None:
            self.statements.update(encode_statements(book))

    def _retime(self, ctx: Any, before: set[int], after: set[int]) -> None:
        service = ctx.timer_service()
        for ts in before - after:
            service.delete_event_time_timer(ts)
        for ts in after - before:
            service.register_event_time_timer(ts)

    # -------------------------------------------------------------- callbacks
    def process_element(self, inbound: Inbound, ctx: KeyedProcessFunction.Context) -> Iterator[Any]:
        event = inbound.event
        state, book = self._load()
        before = timer_times(state, book, self.rules, self.lateness_ms)
        outputs: list[Output] = []
        if state is not None:
            state, outputs = advance(state, event.event_time_ms, self.rules, by_event=True)
        previous = state
        new_state, applied = apply(state, event, self.rules, self.config)
        outputs.extend(applied)
        book = book_entries(book, (o for o in outputs if isinstance(o, LedgerEntry)))
        self._store(new_state, book)
        self._retime(ctx, before, timer_times(new_state, book, self.rules, self.lateness_ms))
        yield from self._emit(outputs, (), inbound, previous)

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext) -> Iterator[Any]:
        watermark = ctx.timer_service().current_watermark()
        if watermark >= _END_OF_INPUT:
            return  # end of a bounded input, not a point in event time: leave the timer pending
        state, book = self._load()
        if state is None:
            return
        before = timer_times(state, book, self.rules, self.lateness_ms)
        # Everything the watermark has made due, not only this timer: a timer registered here at
        # or below the current watermark might otherwise wait for the next watermark to fire.
        until = max(timestamp, watermark) - self.lateness_ms
        state, outputs = advance(state, until, self.rules, by_event=False)
        book = book_entries(book, (o for o in outputs if isinstance(o, LedgerEntry)))
        book, statements = issue_statements(book, state.member_id, until)
        self._store(state, book)
        # Everything due at or before `until` is done, so the new timers all lie after it.
        self._retime(ctx, before, timer_times(state, book, self.rules, self.lateness_ms))
        yield from self._emit(outputs, statements, None, state)

    # -------------------------------------------------------------- outputs
    def _emit(
        self,
        outputs: Iterable[Output],
        statements: Iterable[MonthlyStatement],
        inbound: Inbound | None,
        before: MemberState | None,
    ) -> Iterator[Any]:
        for output in outputs:
            if isinstance(output, LedgerEntry):
                self.entries.inc()
                yield LEDGER, ledger_row(output)
            elif isinstance(output, MemberSnapshot):
                yield Row(
                    self.balances_topic,
                    output.member_id.encode(),
                    self.balance_codec.encode(balance_record(output)),
                )
                yield MEMBERS, member_row(output)
            elif isinstance(output, EventRejected):
                self.rejected.inc()
                yield DEAD_LETTERS, self._dead_letter(output, inbound, before)
            # TierChange: visible through the snapshots (tier) in loyalty.members/loyalty.balances.
        for statement in statements:
            self.issued.inc()
            yield STATEMENTS, statement_row(statement)

    def _dead_letter(
        self, rejected: EventRejected, inbound: Inbound | None, before: MemberState | None
    ) -> Row:
        """The refused event's input bytes and coordinates, or (for a cancellation that waited in
        state and is refused later) the cancellation re-encoded from state."""
        reason = rejected.reason
        if inbound is not None and inbound.event.event_id == rejected.event_id:
            return self.dead_letters.for_payload(
                key=inbound.key,
                payload=inbound.value,
                source=f"{inbound.topic}/{inbound.partition}/{inbound.offset}",
                error_type=rejected.code,
                reason=reason,
                event_time_ms=rejected.event_time_ms,
            )
        waiting = (
            next((p for p in before.pending if p.event_id == rejected.event_id), None) if before else None
        )
        payload = b""
        if waiting is not None:
            cancellation = ActivityCancelled(
                waiting.event_id,
                rejected.member_id,
                waiting.event_time_ms,
                waiting.original_event_id,
                waiting.kind,
            )
            payload = self.event_codec.encode(event_to_record(cancellation))
        return self.dead_letters.for_payload(
            key=rejected.member_id.encode(),
            payload=payload,
            source=inbound.topic if inbound is not None else self.source_topic,
            error_type=rejected.code,
            reason=reason,
            event_time_ms=rejected.event_time_ms,
        )


# ---------------------------------------------------------------------------------- wiring


def build(builder: JobBuilder, *, bounded: bool = False, start: str | int = "committed") -> None:
    """Wire the job into ``builder``; call ``builder.execute()`` to run it."""
    s: Settings = builder.settings
    rules = configured_rules(s)
    lateness_ms = allowed_lateness_ms(s)
    records = builder.kafka_source(
        s.loyalty_events_topic, uid="source-loyalty-events", bounded=bounded, start=start
    )
    decoded = (
        records.process(DecodeLoyaltyEvents(s.dead_letter_topic))
        .uid("decode-loyalty-events")
        .name("decode loyalty events")
    )
    members: DataStream = (
        decoded.key_by(lambda inbound: inbound.event.member_id, key_type=Types.STRING())
        .process(
            MemberAccrual(
                s.loyalty_events_topic,
                s.loyalty_balances_topic,
                s.dead_letter_topic,
                s.pii_key_id,
                s.pii_key_secret,
                rules,
                lateness_ms,
            ),
            output_type=KAFKA_OUTPUT_TYPE,
        )
        .uid("member-accrual")
        .name("member accrual")
    )
    dead_letters = decoded.get_side_output(DEAD_LETTERS).union(members.get_side_output(DEAD_LETTERS))
    builder.kafka_sink(members.union(dead_letters), uid="sink-kafka")

    ledger = builder.ensure_iceberg_table(ICEBERG_NAMESPACE, LEDGER_TABLE, LEDGER_COLUMNS, APPEND_TABLE)
    builder.iceberg_insert(
        members.get_side_output(LEDGER),
        view="loyalty_ledger_stream",
        insert_sql=(
            f"INSERT INTO {ledger} SELECT entry_id, member_id, kind, points, balance_after, reason, rule_id, "
            "rules_version, source_event_id, related_event_id, TO_TIMESTAMP_LTZ(event_time_ms, 3) "
            "FROM loyalty_ledger_stream"
        ),
    )
    member_table = builder.ensure_iceberg_table(
        ICEBERG_NAMESPACE, MEMBERS_TABLE, MEMBERS_COLUMNS, UPSERT_TABLE
    )
    builder.iceberg_insert(
        members.get_side_output(MEMBERS),
        view="loyalty_members_stream",
        insert_sql=(
            f"INSERT INTO {member_table} SELECT member_id, version, tier, balance, points_owed, "
            "qualifying_points, lifetime_points, TO_TIMESTAMP_LTZ(membership_year_end_ms, 3), "
            f"TO_TIMESTAMP_LTZ(last_activity_ms, 3), {', '.join(CONTACT_FIELDS)}, rules_version, "
            "TO_TIMESTAMP_LTZ(event_time_ms, 3) FROM loyalty_members_stream"
        ),
    )
    statements = builder.ensure_iceberg_table(
        ICEBERG_NAMESPACE, STATEMENTS_TABLE, STATEMENT_COLUMNS, APPEND_TABLE
    )
    builder.iceberg_insert(
        members.get_side_output(STATEMENTS),
        view="loyalty_statements_stream",
        insert_sql=(
            f"INSERT INTO {statements} SELECT member_id, `month`, opening_balance, earned, reversed, "
            "redeemed, expired, adjusted, closing_balance, entry_count FROM loyalty_statements_stream"
        ),
    )


ENTRYPOINTS = JobEntrypoints(JOB_NAME, build, attrgetter("loyalty_events_topic"))
create = ENTRYPOINTS.create
run = ENTRYPOINTS.run
run_until_caught_up = ENTRYPOINTS.run_until_caught_up
replay = ENTRYPOINTS.replay
main = ENTRYPOINTS.main


if __name__ == "__main__":
    from jobs.registry import run_main

    run_main("jobs.loyalty_accrual")
