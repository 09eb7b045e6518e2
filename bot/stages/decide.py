"""6. decide: answer, greet, suggest products, hand off to a person, admit not knowing, or stay silent."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.config import Thresholds
from bot.handoff.escalation import Escalation
from bot.store.tables import Customer
from bot.knowledge.search import KnowledgeHit
from bot.stages.recall import Context
from bot.stages.understand import Understanding
from bot.types import Recommendation


class Action(StrEnum):
    ANSWER = "answer"
    PRODUCTS = "products"
    ORDER_STATUS = "order_status"
    CLARIFY = "clarify"
    GREET = "greet"
    THANK = "thank"
    HANDOFF = "handoff"
    UNKNOWN = "unknown"
    SILENT = "silent"  # a person owns the conversation
    LINK = "link"  # start or finish verified linking of two platform accounts
    EXPORT = "export"
    FORGET = "forget"  # ask for confirmation, or delete after it
    HELP = "help"
    CSAT = "csat"  # the customer rated the help they got from a person
    NOTED = "noted"  # the customer told us something about themselves; nothing to look up


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    reason: str
    answer: KnowledgeHit | None = None
    rule: str = ""  # for a handoff: the escalation rule that fired


class Decide:
    def __init__(self, thresholds: Thresholds, escalation: Escalation) -> None:
        self._thresholds = thresholds
        self._escalation = escalation

    def __call__(
        self, customer: Customer, understanding: Understanding, context: Context, products: list[Recommendation]
    ) -> Decision:
        decision = self._decide(customer, understanding, context, products)
        if decision.action in {Action.UNKNOWN, Action.CLARIFY} and self._escalation.unresolved_again(context.recent_turns):
            return Decision(Action.HANDOFF, "the bot could not help several times", rule="unresolved_repeats")
        return decision

    def _decide(
        self, customer: Customer, understanding: Understanding, context: Context, products: list[Recommendation]
    ) -> Decision:
        if context.open_handoff is not None:
            return Decision(Action.SILENT, f"a person has this conversation ({context.open_handoff.status})")
        if understanding.command is not None:
            name = understanding.command.name
            action = {"link": Action.LINK, "start": Action.LINK, "export": Action.EXPORT, "forget": Action.FORGET,
                      "csat": Action.CSAT}
            if name == "start" and not understanding.command.argument:
                return Decision(Action.GREET, "start without a code")
            return Decision(action.get(name, Action.HELP), f"/{name} command")
        rule = self._escalation.rule(customer, understanding, context.recent_turns)
        if rule:
            reasons = {"asked_for_person": "customer asked for a person", "vip_unhappy": "an unhappy VIP customer",
                       "negative_trend": "negative sentiment over several messages"}
            topic = rule.split(":", 1)[-1].replace("_", " ")
            return Decision(Action.HANDOFF, reasons.get(rule, f"topic needs a person ({topic})"), rule=rule)
        if understanding.intent.label == "link_account":
            return Decision(Action.LINK, f"intent link_account ({understanding.intent.confidence:.2f})")
        if understanding.intent.label == "privacy":
            return Decision(Action.HELP, f"intent privacy ({understanding.intent.confidence:.2f})")
        if understanding.is_greeting:
            return Decision(Action.GREET, "greeting")
        if understanding.is_thanks:
            return Decision(Action.THANK, "thanks")
        orders = context.insights.recent_orders
        if orders and (understanding.asks_order_status or understanding.mentions_order or context.order_named_now):
            return Decision(Action.ORDER_STATUS, "question about the customer's order")
        best = context.knowledge[0] if context.knowledge else None
        best_product = max((p.similarity for p in products), default=0.0)
        if understanding.asks_recommendation and products and (best is None or best_product >= best.similarity
                                                               or best.similarity < self._thresholds.answer_min_similarity):
            return Decision(Action.PRODUCTS, f"asked for a recommendation (catalog match {best_product:.2f})")
        if best is not None and best.similarity >= self._thresholds.answer_min_similarity and best.similarity >= best_product:
            return Decision(Action.ANSWER, f"knowledge match {best.similarity:.2f}", best)
        if products and best_product >= self._thresholds.product_min_similarity:
            return Decision(Action.PRODUCTS, f"catalog match {best_product:.2f}")
        if best is not None and best.similarity >= self._thresholds.clarify_min_similarity:
            return Decision(Action.CLARIFY, f"close knowledge matches only (best {best.similarity:.2f})")
        if understanding.preferences:
            return Decision(Action.NOTED, "stated a preference")
        top = f"{best.similarity:.2f}" if best else "none"
        return Decision(Action.UNKNOWN, f"no knowledge above {self._thresholds.answer_min_similarity} (best {top})")
