"""Read-only SQL for the admin console: figures over a period, conversation lists, transcripts, reviews.

Everything here reads; the console changes state only through the stores' own services (HandoffDesk,
PrivacyDesk). Rows stay inside this module: callers get frozen records.

How the tables tie together (see bot/stages/remember.py): each customer turn is stored with the
handler's name as ``action`` and the platform's ``message_id``; the bot's reply is the next bot turn
of the same conversation; feedback names the customer message it is about (``in_reply_to``), so a
👍/👎 joins the customer turn on (customer, platform, message id). Handoffs and CSAT records carry the
full conversation key, which is ``Turn.conversation`` under the default (thread) granularity.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlmodel import col, func, or_, select

from bot.store.database import Database
from bot.store.records import CustomerRecord
from bot.store.review import ReviewRecord, ReviewStatus
from bot.store.tables import AnswerVote, Customer, FeedbackRecord, Handoff, Identity, ReviewItem, Turn, as_utc

__all__ = [
    "REOPEN_WINDOW", "UNANSWERED_ACTIONS", "AdminQueries", "ConversationRow", "Overview", "Period", "PlatformFigures",
]

# Handler names whose turns mean "the bot had no answer": checked against the registry at start-up.
UNANSWERED_ACTIONS = ("unknown", "clarify")
REOPEN_WINDOW = timedelta(hours=24)
DEFAULT_DAYS = 30
ALL = "all"  # the overview's total row


@dataclass(frozen=True, slots=True)
class Period:
    """[start, end) in UTC, from whole days: the overview's ``from`` and ``to`` (both inclusive)."""

    first_day: date
    last_day: date

    @classmethod
    def parse(cls, first: str | None, last: str | None, today: date | None = None) -> Period:
        """``YYYY-MM-DD`` strings, each optional (default: the last 30 days up to today); ValueError if bad."""
        today = today or datetime.now(UTC).date()
        try:
            last_day = date.fromisoformat(last) if last else today
            first_day = date.fromisoformat(first) if first else last_day - timedelta(days=DEFAULT_DAYS - 1)
            last_day + timedelta(days=1)  # the period's end must be a date too (not past 9999-12-31)
        except OverflowError as error:
            raise ValueError("the period runs past the calendar") from error
        if first_day > last_day:
            raise ValueError("the period's start is after its end")
        return cls(first_day, last_day)

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first_day, time.min, UTC)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last_day + timedelta(days=1), time.min, UTC)


@dataclass(frozen=True, slots=True)
class Rate:
    count: int
    total: int

    @property
    def share(self) -> float | None:
        return self.count / self.total if self.total else None


@dataclass(frozen=True, slots=True)
class Csat:
    scores: tuple[int, ...]

    @property
    def average(self) -> float | None:
        return sum(self.scores) / len(self.scores) if self.scores else None


@dataclass(frozen=True, slots=True)
class PlatformFigures:
    platform: str
    conversations: int
    resolved: Rate  # automated resolutions
    handoffs_by_rule: dict[str, Rate]
    csat_bot: Csat
    csat_people: Csat
    within_window: int  # conversations whose 24 h reopen window has not passed yet


@dataclass(frozen=True, slots=True)
class Question:
    text: str
    count: int
    platforms: tuple[str, ...]
    last_asked: datetime


@dataclass(frozen=True, slots=True)
class Overview:
    period: Period
    platforms: tuple[PlatformFigures, ...]  # one per platform, then the total (platform "all")
    sentiment_days: tuple[str, ...]  # ISO days with at least one scored customer message
    sentiment_series: dict[str, tuple[float | None, ...]]  # platform -> average per day (None: no message)
    unanswered: tuple[Question, ...]


@dataclass(frozen=True, slots=True)
class ConversationRow:
    ref: int  # the conversation's first turn id: the console's URL for it (no platform ids in URLs)
    platform: str
    customer_id: int
    customer_name: str
    customer_external_id: str
    started: datetime
    last: datetime
    messages: int
    average_sentiment: float | None
    lowest_sentiment: float | None
    handoff: str  # "" or the latest handoff's status


@dataclass(frozen=True, slots=True)
class FeedbackMark:
    kind: str
    value: str
    at: datetime


@dataclass(frozen=True, slots=True)
class TranscriptTurn:
    id: int
    role: str
    text: str
    at: datetime
    sentiment: float | None
    action: str
    sources: tuple[str, ...]
    feedback: tuple[FeedbackMark, ...]  # on a bot reply: what the customer said of it


@dataclass(frozen=True, slots=True)
class Transcript:
    ref: int
    platform: str
    customer_id: int
    turns: tuple[TranscriptTurn, ...]
    handoffs: tuple[HandoffRow, ...]


@dataclass(frozen=True, slots=True)
class HandoffRow:
    id: int
    status: str
    rule: str
    reason: str
    agent: str
    customer_id: int
    customer_name: str
    customer_external_id: str
    platform: str
    conversation_ref: int | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Disliked:
    """A reply that got a 👎: the customer's exact message and the bot's exact answer."""

    at: datetime
    platform: str
    customer_id: int
    question: str
    answer: str
    action: str
    sources: tuple[str, ...]
    conversation_ref: int


@dataclass(frozen=True, slots=True)
class PageUse:
    source: str
    used: int  # bot replies citing the page
    helpful: int
    not_helpful: int


@dataclass(frozen=True, slots=True)
class SentimentPoint:
    at: datetime
    score: float
    platform: str


@dataclass
class _Conversation:
    platform: str
    customer_id: int
    first: datetime
    last: datetime
    key: str
    reopened: bool = False
    flags: set[str] = field(default_factory=set)


def rule_name(handoff_rule: str) -> str:
    # A customer asking for a person stores no rule name (see HandoffDesk.summary).
    return handoff_rule or "asked_for_person"


class AdminQueries:
    def __init__(self, database: Database) -> None:
        self._db = database

    # -- the overview ------------------------------------------------------------------------

    async def overview(self, period: Period, now: datetime | None = None, top: int = 10) -> Overview:
        """Figures per platform over ``period`` (see the module docstring for how rows are joined).

        A conversation belongs to the period when a customer wrote in it then. It counts as an automated
        resolution when it has no handoff, no 👎 on any reply, and its customer did not write in another
        conversation within 24 h after its last message.
        """
        now = now or datetime.now(UTC)
        async with self._db.session() as session:
            rows = (await session.exec(
                select(Turn.platform, Turn.conversation, Turn.customer_id, func.min(Turn.created_at),
                       func.max(Turn.created_at))
                .where(Turn.role == "customer", Turn.created_at >= period.start, Turn.created_at < period.end)
                .group_by(Turn.platform, Turn.conversation, Turn.customer_id)
            )).all()
            conversations: dict[tuple[str, str], _Conversation] = {}
            for platform, key, customer_id, first, last in rows:
                found = conversations.get((platform, key))
                if found is None:
                    conversations[(platform, key)] = _Conversation(platform, customer_id, as_utc(first), as_utc(last), key)
                else:  # a channel-wide conversation with several customers: one conversation
                    found.first, found.last = min(found.first, as_utc(first)), max(found.last, as_utc(last))
            keys = {c.key for c in conversations.values()}
            customers = {c.customer_id for c in conversations.values()}

            handed = set((await session.exec(
                select(Handoff.conversation).where(col(Handoff.conversation).in_(keys)))).all()) if keys else set()
            disliked = set((await session.exec(
                select(Turn.platform, Turn.conversation)
                .join(FeedbackRecord, (FeedbackRecord.customer_id == Turn.customer_id)  # type: ignore[arg-type]
                      & (FeedbackRecord.platform == Turn.platform) & (FeedbackRecord.in_reply_to == Turn.message_id))
                .where(FeedbackRecord.kind == "not_helpful", Turn.role == "customer", col(Turn.conversation).in_(keys))
            )).all()) if keys else set()
            later = (await session.exec(
                select(Turn.customer_id, Turn.conversation, Turn.created_at)
                .where(Turn.role == "customer", col(Turn.customer_id).in_(customers), Turn.created_at >= period.start,
                       Turn.created_at < period.end + REOPEN_WINDOW)
            )).all() if customers else []
            handoffs = (await session.exec(
                select(Handoff.conversation, Handoff.rule)
                .where(Handoff.created_at >= period.start, Handoff.created_at < period.end))).all()
            csat_rows = (await session.exec(
                select(FeedbackRecord.platform, FeedbackRecord.conversation, FeedbackRecord.value)
                .where(FeedbackRecord.kind == "csat", FeedbackRecord.created_at >= period.start,
                       FeedbackRecord.created_at < period.end))).all()
            csat_handed = set((await session.exec(
                select(Handoff.conversation).where(col(Handoff.conversation).in_({c for _, c, _ in csat_rows})))).all()
            ) if csat_rows else set()
            sentiments = (await session.exec(
                select(Turn.platform, Turn.created_at, Turn.sentiment)
                .where(Turn.role == "customer", col(Turn.sentiment).is_not(None), Turn.created_at >= period.start,
                       Turn.created_at < period.end))).all()
            unanswered = (await session.exec(
                select(Turn.text, Turn.platform, Turn.created_at)
                .where(Turn.role == "customer", col(Turn.action).in_(UNANSWERED_ACTIONS), Turn.created_at >= period.start,
                       Turn.created_at < period.end))).all()

        by_customer: dict[int, list[tuple[str, datetime]]] = defaultdict(list)
        for customer_id, key, at in later:
            by_customer[customer_id].append((key, as_utc(at)))
        for conversation in conversations.values():
            conversation.reopened = any(
                key != conversation.key and conversation.last < at <= conversation.last + REOPEN_WINDOW
                for key, at in by_customer[conversation.customer_id])

        platforms = sorted({c.platform for c in conversations.values()} | {k.split(":", 1)[0] for k, _ in handoffs}
                           | {p for p, _, _ in csat_rows})
        figures = []
        for platform in [*platforms, ALL]:
            mine = [c for c in conversations.values() if platform in (ALL, c.platform)]
            resolved = [c for c in mine if c.key not in handed and (c.platform, c.key) not in disliked and not c.reopened]
            rules = Counter(rule_name(rule) for key, rule in handoffs if platform in (ALL, key.split(":", 1)[0]))
            scores = [(int(v), c in csat_handed) for p, c, v in csat_rows if platform in (ALL, p) and v.isdigit()]
            figures.append(PlatformFigures(
                platform=platform,
                conversations=len(mine),
                resolved=Rate(len(resolved), len(mine)),
                handoffs_by_rule={rule: Rate(n, len(mine)) for rule, n in sorted(rules.items())},
                csat_bot=Csat(tuple(s for s, people in scores if not people)),
                csat_people=Csat(tuple(s for s, people in scores if people)),
                within_window=sum(1 for c in mine if now - c.last < REOPEN_WINDOW),
            ))

        sums: dict[tuple[str, str], list[float]] = defaultdict(list)
        for platform, at, score in sentiments:
            day = as_utc(at).date().isoformat()
            sums[(platform, day)].append(score)
            sums[(ALL, day)].append(score)
        days = tuple(sorted({day for _, day in sums}))
        series = {p: tuple((sum(v) / len(v)) if (v := sums.get((p, d))) else None for d in days)
                  for p in sorted({p for p, _ in sums})}

        grouped: dict[str, list[tuple[str, str, datetime]]] = defaultdict(list)
        for text, platform, at in unanswered:
            grouped[" ".join(text.lower().split())].append((text, platform, as_utc(at)))
        questions = sorted(
            (Question(max(asked, key=lambda a: a[2])[0], len(asked), tuple(sorted({p for _, p, _ in asked})),
                      max(a[2] for a in asked)) for asked in grouped.values()),
            key=lambda q: (-q.count, -q.last_asked.timestamp()))
        return Overview(period, tuple(figures), days, series, tuple(questions[:top]))

    # -- conversations -----------------------------------------------------------------------

    async def conversations(
        self, *, platform: str = "", customer_id: int | None = None, sentiment: str = "", handoff: str = "",
        negative_below: float = -0.05, positive_above: float = 0.05, limit: int = 50, offset: int = 0,
    ) -> list[ConversationRow]:
        """Conversations, latest first. ``sentiment``: negative (a customer message below ``negative_below``),
        positive (average above ``positive_above``) or neutral; ``handoff``: any, none, open or resolved."""
        async with self._db.session() as session:
            query = (
                select(func.min(Turn.id), Turn.conversation, Turn.platform, func.min(Turn.customer_id),
                       func.min(Turn.created_at), func.max(Turn.created_at), func.count(),
                       func.avg(Turn.sentiment), func.min(Turn.sentiment))
                .group_by(Turn.conversation, Turn.platform)
                .order_by(func.max(Turn.created_at).desc())
            )
            if platform:
                query = query.where(Turn.platform == platform)
            if customer_id is not None:
                query = query.where(Turn.customer_id == customer_id)
            rows = (await session.exec(query)).all()
            keys = [r[1] for r in rows]
            latest: dict[str, str] = {}
            if keys:
                for key, status in (await session.exec(
                        select(Handoff.conversation, Handoff.status).where(col(Handoff.conversation).in_(keys))
                        .order_by(col(Handoff.id)))).all():
                    latest[key] = status
            ids = {r[3] for r in rows}
            people = {c.id: c for c in (await session.exec(select(Customer).where(col(Customer.id).in_(ids)))).all()} \
                if ids else {}
        found = []
        for first_id, key, plat, cust, started, last, count, average, lowest in rows:
            status = latest.get(key, "")
            if handoff == "none" and status or handoff == "any" and not status:
                continue
            if handoff == "open" and status not in ("pending", "human") or handoff == "resolved" and status != "resolved":
                continue
            if sentiment == "negative" and not (lowest is not None and lowest < negative_below):
                continue
            if sentiment == "positive" and not (average is not None and average > positive_above):
                continue
            if sentiment == "neutral" and not (average is not None and negative_below <= average <= positive_above):
                continue
            person = people.get(cust)
            found.append(ConversationRow(first_id, plat, cust, person.name if person else "",
                                         (person.external_id or "") if person else "", as_utc(started), as_utc(last),
                                         count, average, lowest, status))
        return found[offset: offset + limit]

    async def transcript(self, ref: int) -> Transcript | None:
        """The conversation whose first turn is ``ref``, every turn in order, with feedback on each reply."""
        async with self._db.session() as session:
            first = await session.get(Turn, ref)
            if first is None:
                return None
            turns = (await session.exec(
                select(Turn).where(Turn.conversation == first.conversation, Turn.platform == first.platform)
                .order_by(col(Turn.id)))).all()
            if not turns or turns[0].id != ref:
                return None  # not a conversation's first turn: not a conversation reference
            message_ids = [t.message_id for t in turns if t.role == "customer" and t.message_id]
            feedback = (await session.exec(
                select(FeedbackRecord).where(FeedbackRecord.platform == first.platform,
                                             col(FeedbackRecord.in_reply_to).in_(message_ids)))).all() if message_ids else []
            handoffs = await self._handoffs(session, select(Handoff).where(Handoff.conversation == first.conversation))
        marks: dict[str, list[FeedbackMark]] = defaultdict(list)
        for record in feedback:
            marks[record.in_reply_to].append(FeedbackMark(record.kind, record.value, as_utc(record.created_at)))
        shown: list[TranscriptTurn] = []
        asked = ""  # the message id the next bot reply answers
        for turn in turns:
            mine: tuple[FeedbackMark, ...] = ()
            if turn.role == "customer":
                asked = turn.message_id
            elif turn.role == "bot" and asked:
                mine, asked = tuple(marks.pop(asked, [])), ""
            shown.append(TranscriptTurn(turn.id or 0, turn.role, turn.text, as_utc(turn.created_at), turn.sentiment,
                                        turn.action, tuple(turn.sources), mine))
        return Transcript(ref, first.platform, first.customer_id, tuple(shown), tuple(handoffs))

    # -- handoffs ----------------------------------------------------------------------------

    async def handoffs(self, *, open_only: bool, limit: int = 50) -> list[HandoffRow]:
        """Open handoffs (oldest first: who waits longest) or recent closed ones (newest first)."""
        async with self._db.session() as session:
            if open_only:
                query = select(Handoff).where(col(Handoff.status).in_(("pending", "human"))).order_by(col(Handoff.id))
            else:
                query = select(Handoff).where(Handoff.status == "resolved").order_by(col(Handoff.updated_at).desc())
            return await self._handoffs(session, query.limit(limit))

    async def _handoffs(self, session: object, query: object) -> list[HandoffRow]:
        handoffs = (await session.exec(query)).all()  # type: ignore[attr-defined]
        if not handoffs:
            return []
        ids = {h.customer_id for h in handoffs}
        people = {c.id: c for c in (await session.exec(  # type: ignore[attr-defined]
            select(Customer).where(col(Customer.id).in_(ids)))).all()}
        firsts = dict((await session.exec(  # type: ignore[attr-defined]
            select(Turn.conversation, func.min(Turn.id)).where(col(Turn.conversation).in_({h.conversation for h in handoffs}))
            .group_by(Turn.conversation))).all())
        rows = []
        for h in handoffs:
            person = people.get(h.customer_id)
            rows.append(HandoffRow(h.id or 0, h.status, rule_name(h.rule), h.reason, h.agent, h.customer_id,
                                   person.name if person else "", (person.external_id or "") if person else "",
                                   h.conversation.split(":", 1)[0], firsts.get(h.conversation), as_utc(h.created_at),
                                   as_utc(h.updated_at)))
        return rows

    # -- review and knowledge ----------------------------------------------------------------

    async def disliked(self, limit: int = 100) -> list[Disliked]:
        """Replies that got a 👎, newest first, with the customer's message and the bot's answer as stored."""
        async with self._db.session() as session:
            rows = (await session.exec(
                select(FeedbackRecord.created_at, Turn)
                .join(Turn, (FeedbackRecord.customer_id == Turn.customer_id)  # type: ignore[arg-type]
                      & (FeedbackRecord.platform == Turn.platform) & (FeedbackRecord.in_reply_to == Turn.message_id))
                .where(FeedbackRecord.kind == "not_helpful", Turn.role == "customer")
                .order_by(col(FeedbackRecord.created_at).desc()).limit(limit))).all()
            found = []
            for at, question in rows:
                answer = (await session.exec(
                    select(Turn).where(Turn.conversation == question.conversation, Turn.role == "bot",
                                       col(Turn.id) > question.id).order_by(col(Turn.id)).limit(1))).first()
                first = (await session.exec(select(func.min(Turn.id)).where(
                    Turn.conversation == question.conversation, Turn.platform == question.platform))).one()
                found.append(Disliked(as_utc(at), question.platform, question.customer_id, question.text,
                                      answer.text if answer else "", question.action,
                                      tuple(answer.sources) if answer else (), first))
        return found

    async def review_items(self, *, pending: bool, limit: int = 100) -> list[ReviewRecord]:
        """FAQ candidates from agents' answers: the pending ones (oldest first, the next to decide on top),
        or the decided ones (newest first)."""
        query = select(ReviewItem)
        if pending:
            query = query.where(ReviewItem.status == ReviewStatus.PENDING).order_by(col(ReviewItem.id))
        else:
            query = query.where(ReviewItem.status != ReviewStatus.PENDING).order_by(col(ReviewItem.decided_at).desc())
        async with self._db.session() as session:
            return [ReviewRecord.of(r) for r in (await session.exec(query.limit(limit))).all()]

    async def unanswered(self, period: Period, top: int = 50) -> tuple[Question, ...]:
        return (await self.overview(period, top=top)).unanswered

    async def page_use(self) -> dict[str, PageUse]:
        """Per cited source (a knowledge page path): bot replies citing it and the 👍/👎 those replies got.
        Turns record the page a reply drew on, not the section."""
        async with self._db.session() as session:
            replies = (await session.exec(
                select(Turn.id, Turn.conversation, Turn.sources).where(Turn.role == "bot"))).all()
            votes = (await session.exec(
                select(Turn.id, Turn.conversation, FeedbackRecord.kind)
                .join(FeedbackRecord, (FeedbackRecord.customer_id == Turn.customer_id)  # type: ignore[arg-type]
                      & (FeedbackRecord.platform == Turn.platform) & (FeedbackRecord.in_reply_to == Turn.message_id))
                .where(Turn.role == "customer", col(FeedbackRecord.kind).in_(("helpful", "not_helpful"))))).all()
        used: Counter[str] = Counter()
        by_conversation: dict[str, list[tuple[int, list[str]]]] = defaultdict(list)
        for turn_id, key, sources in replies:
            by_conversation[key].append((turn_id, list(sources or [])))
            used.update(set(sources or []))
        helpful: Counter[str] = Counter()
        unhelpful: Counter[str] = Counter()
        for question_id, key, kind in votes:
            answer = next((s for i, s in by_conversation.get(key, []) if i > question_id), [])  # the reply to it
            (helpful if kind == "helpful" else unhelpful).update(set(answer))
        return {s: PageUse(s, used[s], helpful[s], unhelpful[s]) for s in set(used) | set(helpful) | set(unhelpful)}

    async def section_votes(self) -> dict[tuple[str, int], tuple[int, int]]:
        """Per knowledge section (page path, chunk): the customers' current 👍 and 👎 on it — the votes
        that re-rank it (bot/learning), one per customer and section."""
        async with self._db.session() as session:
            rows = (await session.exec(
                select(AnswerVote.source, AnswerVote.chunk, AnswerVote.polarity, func.count())
                .group_by(AnswerVote.source, AnswerVote.chunk, AnswerVote.polarity))).all()
        votes: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0])
        for source, chunk, polarity, count in rows:
            votes[(source, chunk)][0 if polarity > 0 else 1] += int(count)
        return {key: (up, down) for key, (up, down) in votes.items()}

    # -- customers ---------------------------------------------------------------------------

    async def customers(self, *, stage: str = "", platform: str = "", ids: Iterable[int] | None = None,
                        limit: int = 50, offset: int = 0) -> list[Customer]:
        async with self._db.session() as session:
            query = select(Customer).order_by(col(Customer.last_seen_at).desc(), col(Customer.id))
            if stage:
                query = query.where(Customer.stage == stage)
            if platform:
                query = query.where(col(Customer.id).in_(select(Identity.customer_id).where(Identity.platform == platform)))
            if ids is not None:
                query = query.where(col(Customer.id).in_(list(ids)))
            return list((await session.exec(query.offset(offset).limit(limit))).all())

    async def find_customers(self, text: str, limit: int = 50) -> list[Customer]:
        """Customers whose external id, email or name contains ``text`` (case-insensitive)."""
        pattern = f"%{text.strip().lower()}%"
        async with self._db.session() as session:
            return list((await session.exec(select(Customer).where(or_(
                func.lower(Customer.external_id).like(pattern), func.lower(Customer.email).like(pattern),
                func.lower(Customer.name).like(pattern))).order_by(col(Customer.id)).limit(limit))).all())

    async def customer_by_ref(self, ref: str) -> CustomerRecord | None:
        """By external id, else (digits) by internal id. Emails are not accepted: they would sit in URLs."""
        async with self._db.session() as session:
            found = (await session.exec(select(Customer).where(Customer.external_id == ref))).first()
            # ASCII digits only ("²" is a digit to str.isdigit), and within a database integer.
            if found is None and ref.isascii() and ref.isdigit() and len(ref) < 19:
                found = await session.get(Customer, int(ref))
            return CustomerRecord.of(found) if found is not None else None

    async def platforms(self) -> list[str]:
        async with self._db.session() as session:
            return sorted(set((await session.exec(select(Turn.platform).distinct())).all())
                          | set((await session.exec(select(Identity.platform).distinct())).all()))

    async def sentiment_history(self, customer_id: int) -> list[SentimentPoint]:
        async with self._db.session() as session:
            rows = (await session.exec(
                select(Turn.created_at, Turn.sentiment, Turn.platform)
                .where(Turn.customer_id == customer_id, Turn.role == "customer", col(Turn.sentiment).is_not(None))
                .order_by(col(Turn.created_at)))).all()
        return [SentimentPoint(as_utc(at), float(score), platform) for at, score, platform in rows]

    async def conversation_refs(self, customer_id: int) -> list[ConversationRow]:
        return await self.conversations(customer_id=customer_id, limit=100)


def known_actions(names: Sequence[str]) -> None:
    """Raise if a handler this module counts on was renamed: its figures would silently read zero."""
    missing = [a for a in UNANSWERED_ACTIONS if a not in names]
    if missing:
        raise RuntimeError(f"the admin console counts unanswered questions by handler names {missing}, "
                           "which the registry no longer has; update bot/admin/queries.py UNANSWERED_ACTIONS")
