"""What every handler is: when it applies, what it changes, how its reply is composed, whether the
turn is a memory. The decide stage asks the registered handlers in order (``bot/handlers/registry.py``);
nothing else looks at an action's name."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from bot.config import Brand, Handoff as HandoffRules, Templates, Thresholds
from bot.customers.insights import OrderSummary
from bot.knowledge.search import KnowledgeHit
from bot.store.dialogue import DialogueState
from bot.types import Inbound, OutboundFile, Recommendation, Source, Suggestion, Tone

if TYPE_CHECKING:
    from bot.customers.linking import IdentityLinker
    from bot.customers.privacy import PrivacyDesk
    from bot.embedder import Embedder
    from bot.handoff.escalation import Escalation
    from bot.knowledge.catalog_index import CatalogIndex
    from bot.learning.answers import AnswerLearning
    from bot.recommend.advisor import ProductAdvisor
    from bot.knowledge.search import KnowledgeBase
    from bot.stages.recall import Context
    from bot.stages.understand import Understanding
    from bot.store.customers import CustomerDirectory
    from bot.store.feedback import FeedbackLog
    from bot.store.records import CustomerRecord

ORDER_SOURCE = Source(title="Your order history", section="", path="orders", score=1.0)
PERSON = Suggestion("Talk to a person", "I'd like to talk to a person")


@dataclass(frozen=True, slots=True)
class Services:
    """What handlers may use: configuration, the stores' public interfaces and the models. Built
    once by the composition root (``bot/runtime.py``)."""

    brand: Brand
    templates: Templates
    thresholds: Thresholds
    handoff: HandoffRules
    escalation: Escalation
    linker: IdentityLinker
    privacy: PrivacyDesk
    directory: CustomerDirectory
    feedback: FeedbackLog
    knowledge: KnowledgeBase | None = None
    embedder: Embedder | None = None
    catalog: CatalogIndex | None = None
    advisor: ProductAdvisor | None = None  # its catalog vectors help match a product described in other words
    learning: AnswerLearning | None = None  # answer votes: record them, offer the next-best answers


@dataclass(frozen=True, slots=True)
class Situation:
    """Everything known about the message when deciding: who, what they said, the context and the
    conversation's dialogue state."""

    inbound: Inbound
    customer: CustomerRecord
    understanding: Understanding
    context: Context
    products: list[Recommendation]
    no_match_reason: str = ""  # asked for products and nothing fits: why ("nothing in our catalog for knitting")
    led_by_question: bool = False  # the question (a need, a recipient) chose the products

    @property
    def state(self) -> DialogueState:
        return self.context.state

    @property
    def text(self) -> str:
        return self.understanding.text

    def upset(self, thresholds: Thresholds) -> bool:
        """Clearly unhappy: a negative label and a score at or below ``thresholds.negative_sentiment`` (a
        weakly negative question, "how long does shipping take?", gets no apology)."""
        sentiment = self.understanding.sentiment
        return sentiment.label.value == "negative" and sentiment.score <= thresholds.negative_sentiment

    @property
    def best(self) -> KnowledgeHit | None:
        return self.context.knowledge[0] if self.context.knowledge else None


@dataclass(frozen=True, slots=True)
class Decision:
    """What the bot will do with this turn: the handler (``action``), why, and the typed facts it
    decided on. ``opens_handoff`` and ``silent`` are read by the engine and the remember stage."""

    action: str
    reason: str
    answer: KnowledgeHit | None = None
    rule: str = ""  # for a handoff: the escalation rule that fired
    order: OrderSummary | None = None
    order_ref: str = ""  # an order number named in the message that is not on this customer's account
    product: str = ""  # SKU under discussion
    detail: str = ""  # handler-specific: the problem kind, the fact asked for, the language code
    opens_handoff: bool = False
    silent: bool = False
    miss: bool = False  # the bot could not help
    offer_person: bool = False


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a handler's action changed. ``customer`` is who the turn belongs to afterwards: another
    record after a merge, None once forgotten."""

    customer: CustomerRecord | None
    link_code: str = ""
    linked: bool = False
    link_problem: str = ""
    export: OutboundFile | None = None
    forget_pending: bool = False
    forgotten: bool = False
    csat: int | None = None
    found: KnowledgeHit | None = None  # a knowledge section looked up by the action
    alternatives: tuple[KnowledgeHit, ...] = ()  # after a 👎: the next-best sections for that question


@dataclass(frozen=True, slots=True)
class Draft:
    """A reply's content before the composer adds tone, sentiment and addressing."""

    text: str
    sources: tuple[Source, ...] = ()
    suggestions: tuple[Suggestion, ...] = ()
    recommendations: tuple[Recommendation, ...] = ()
    files: tuple[OutboundFile, ...] = ()
    tone: Tone | None = None  # None: follow the customer's sentiment


class Handler:
    """One thing the bot can do. Subclasses set ``name`` and override :meth:`decide` and
    :meth:`compose`; :meth:`act` when the action changes a store."""

    name: ClassVar[str]
    memorable: ClassVar[bool] = True  # whether the customer's message becomes a semantic memory
    private: ClassVar[bool] = False  # the reply is for the asker's eyes only
    ask_feedback: ClassVar[bool] = False  # offer 👍/👎 on the reply
    miss: ClassVar[bool] = False  # the bot could not help: counts towards offering a person
    secret: ClassVar[bool] = False  # the customer's words are not stored (a link code)

    def __init__(self, services: Services) -> None:
        self.services = services
        self.t = services.templates

    def decide(self, situation: Situation) -> Decision | None:
        """A decision when this handler applies to the message, else None."""
        raise NotImplementedError

    async def act(self, situation: Situation, decision: Decision) -> Outcome:
        """Change what the action changes; by default nothing."""
        return Outcome(situation.customer)

    def compose(self, situation: Situation, decision: Decision, outcome: Outcome, fill: dict[str, str]) -> Draft | None:
        """The reply's content (None: no reply). ``fill`` holds the template fields (see Templates)."""
        raise NotImplementedError

    def decision(self, reason: str, **fields: Any) -> Decision:
        fields.setdefault("miss", self.miss)
        return Decision(self.name, reason, **fields)


def fmt(template: str, fill: dict[str, str], **more: Any) -> str:
    return template.format(**fill, **more)


def source_of(hit: KnowledgeHit) -> Source:
    return Source(title=hit.title, section=hit.section, path=hit.source, score=round(hit.similarity, 4))


def plain(text: str) -> str:
    """A section's text without heading lines (pages may repeat their heading in the body)."""
    lines = [ln for ln in text.splitlines() if not re.match(r"^\s*#{1,6}\s", ln)]
    body = "\n".join(lines).strip()
    return body if body else text.strip()


def cited(hit: KnowledgeHit) -> str:
    return f"{plain(hit.text)}\n\nSource: {hit.title} — {hit.section or hit.title}"


@dataclass(frozen=True, slots=True)
class Registry:
    """The handlers in the order decide asks them."""

    handlers: tuple[Handler, ...] = field(default_factory=tuple)

    def get(self, name: str) -> Handler:
        for handler in self.handlers:
            if handler.name == name:
                return handler
        raise KeyError(name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(h.name for h in self.handlers)

    @property
    def memorable(self) -> frozenset[str]:
        """Action names whose customer messages are memories (also what a reindex re-embeds)."""
        return frozenset(h.name for h in self.handlers if h.memorable)


def when(moment: datetime | None, now: datetime | None = None) -> str:
    """'today', 'yesterday', '3 days ago' or 'on 17 Nov': how people say dates in chat."""
    if moment is None:
        return ""
    now = now or datetime.now(UTC)
    days = (now.date() - moment.date()).days
    if days == 0:
        return "today"
    if days == 1:
        return "yesterday"
    if 1 < days < 7:
        return f"{days} days ago"
    return f"on {moment.day} {moment:%b}" + (f" {moment.year}" if moment.year != now.year else "")
