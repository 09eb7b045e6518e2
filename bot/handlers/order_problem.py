"""A problem with one of the customer's orders (damaged, wrong item, missing, late, cancel, change of
address, return, warranty): the knowledge answer for that problem with that order's own facts."""

from __future__ import annotations

from bot.customers.orders import Problem, by_product, problem_in, refers_back
from bot.embedder import embed_async
from bot.handlers.base import ORDER_SOURCE, Decision, Draft, Handler, Outcome, Situation, fmt, plain, source_of
from bot.handlers.order_status import default_order, order_fields, status_text
from bot.types import Tone


# Kinds that are something the customer wants done, not something that went wrong.
_REQUESTS = frozenset({"return", "cancel", "address", "warranty_terms"})


class OrderProblem(Handler):
    name = "order_problem"
    ask_feedback = True

    def decide(self, situation: Situation) -> Decision | None:
        if situation.understanding.command is not None:
            return None
        problem = problem_in(situation.text)
        if problem is None:
            return None
        context = situation.context
        orders = context.insights.orders or context.insights.recent_orders
        if not orders:
            return None
        # About an order: one named now (number or product), or "it" / "my order" with one under discussion.
        named = context.order if context.order_named_now else by_product(situation.text, orders)
        if named is None and not (refers_back(situation.text) or situation.understanding.mentions_order):
            return None  # a general policy question ("can I return opened coffee beans?"): knowledge answers it
        order = named or default_order(situation)
        if order is None:
            return None
        return self.decision(f"{problem.kind} problem with order {order.order_id}", order=order, detail=problem.kind,
                             answer=None)

    async def act(self, situation: Situation, decision: Decision) -> Outcome:
        problem = problem_in(situation.text)
        knowledge, embedder = self.services.knowledge, self.services.embedder
        if problem is None or knowledge is None or embedder is None:
            return Outcome(situation.customer)
        # The customer's own words may find a more specific section of the same page ("Can I return running
        # shoes I've already worn?", "Which items can't be returned?") than the problem's general one.
        # Only for returns: that page's sections each answer a different case of one question.
        # Only a clear match: "can I return it?" names no case, and the page's general answer is the right one.
        floor = self.services.thresholds.answer_min_similarity
        own = next((h for h in situation.context.knowledge
                    if h.source == problem.page and h.similarity >= floor and h.confident), None) \
            if problem.kind == "return" else None
        return Outcome(situation.customer, found=own or await _section(problem, knowledge, embedder))

    def compose(self, situation: Situation, decision: Decision, outcome: Outcome, fill: dict[str, str]) -> Draft:
        order = decision.order
        assert order is not None
        fields = order_fields(order)
        extra = {k: v for k, v in fields.items() if k not in fill}
        if decision.detail in {"late", "missing"}:
            lead = status_text(order, self.t)
        elif decision.detail in _REQUESTS:
            lead = fmt(self.t.order_request_lead, fill, **extra)
        else:
            lead = fmt(self.t.order_problem_lead, fill, **extra)
        parts = [lead]
        sources = [ORDER_SOURCE]
        if outcome.found is not None:
            parts.append(f"{plain(outcome.found.text)}\n\nSource: {outcome.found.title} — {outcome.found.section}")
            sources.insert(0, source_of(outcome.found))
        tone = Tone.NEUTRAL if decision.detail in _REQUESTS else Tone.EMPATHETIC
        return Draft("\n\n".join(parts), sources=tuple(sources), tone=tone)


async def _section(problem: Problem, knowledge: object, embedder: object):  # type: ignore[no-untyped-def]
    """The knowledge section that answers this kind of problem (found by its own heading)."""
    (vector,) = await embed_async(embedder, [problem.section])  # type: ignore[arg-type]
    hits = await knowledge.search(vector, limit=5)  # type: ignore[attr-defined]
    exact = next((h for h in hits if h.source == problem.page and h.section == problem.section), None)
    return exact or next((h for h in hits if h.source == problem.page), None)
