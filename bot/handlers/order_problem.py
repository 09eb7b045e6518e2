"""A problem with one of the customer's orders (damaged, wrong item, missing, late, cancel, change of
address, return, warranty): the knowledge answer for that problem with that order's own facts."""

from __future__ import annotations

import re

from bot.customers.insights import OrderItem, OrderSummary
from bot.customers.orders import Problem, by_product, only_names_an_order, problem_in, problem_of_kind, refers_back
from bot.embedder import embed_async
from bot.handlers.base import ORDER_SOURCE, Decision, Draft, Handler, Outcome, Situation, fmt, plain, source_of
from bot.handlers.order_status import default_order, order_fields, status_text
from bot.knowledge.catalog import Product
from bot.store.statuses import TurnRole
from bot.types import Tone


# Kinds that are something the customer wants done, not something that went wrong.
_REQUESTS = frozenset({"return", "cancel", "address", "warranty_terms"})

_RETURN = problem_in("return")
assert _RETURN is not None and _RETURN.kind == "return"

# The returns page answers one question, "can I return this?", case by case. The general section
# (how to start a return) is right for an ordinary return; these are right when the item or the
# customer's words name a case.
_NOT_RETURNABLE = "Which items can't be returned?"  # opened consumables, worn clothing; unopened ones can
_CONDITION = "What is your return policy?"  # returned items should be unused, in their original condition
_SHOE_TRIAL = "Can I return running shoes I've already worn?"
_DAMAGED = "What if my item arrived damaged or I received the wrong item?"

# What the customer says of the item's state. "Intact" is read first: "unopened" holds "opened".
_INTACT = re.compile(r"\b(unopened|un-opened|unused|unworn|sealed|still (sealed|in (the|its) (box|bag|packaging|wrapper)|"
                     r"has (the|its) (seal|tags?))|with (the )?tags( still)? on|never (been )?(opened|used|worn)|"
                     r"(not|haven'?t|didn'?t|did not|have not) (been )?(opened|open|used|use|worn|wear|touched)( it| them)?)\b",
                     re.I)
_OPENED = re.compile(r"\b(opened|open (it|them|the \w+)|(broke|ripped|tore|cut) (open )?(the |its )?(seal|bag|packet|box)|"
                     r"seal\w* (is |was |has been )?(broken|open\w*|off)|(is|are|was|were|been|barely|only|lightly) used|"
                     r"(used|tried|ate|eaten|drank|brewed|fed) (it|them|some|half|once|a few|one|a couple)|half (empty|used|eaten|gone)|"
                     r"started (using|on) (it|them))\b", re.I)
_WORN = re.compile(r"\b(worn|wore|wearing|ran in|run in|running in|tried (it|them) on|went (for )?(a )?run)\b", re.I)
_DAMAGED_WORDS = re.compile(r"\b(damaged|defective|faulty|dented|cracked|smashed|leak(s|ed|ing|y)?)\b", re.I)
# What the catalog says of an item's returns ("Non-returnable once opened.", "Not returnable once worn.").
_ONCE = re.compile(r"\b(non-?|not )returnable once (opened|used|worn)\b", re.I)
_TRIAL = re.compile(r"\brunning shoe trial\b", re.I)
_SKIP = frozenset({"the", "a", "an", "my", "and", "of", "for", "with", "set", "pack", "pair", "kit", "count", "bundle",
                   "men's", "women's"})


class OrderProblem(Handler):
    name = "order_problem"
    ask_feedback = True

    def decide(self, situation: Situation) -> Decision | None:
        if situation.understanding.command is not None:
            return None
        problem = _problem(situation.understanding.as_read)
        if problem is None:
            return self._follow_up(situation)
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

    def _follow_up(self, situation: Situation) -> Decision | None:
        """Right after an order problem, "the kettle one" or "no, the lamp" names the order it is with: the
        same problem, now with that order (the order under discussion follows the message's words)."""
        context = situation.context
        if situation.state.last_action != self.name or not context.order_in_text or context.order is None \
                or not only_names_an_order(situation.text):
            return None
        problem = _last_problem(situation)
        if problem is None:
            return None
        order = context.order
        return self.decision(f"{problem.kind} problem, now with order {order.order_id}", order=order,
                             detail=problem.kind, answer=None)

    async def act(self, situation: Situation, decision: Decision) -> Outcome:
        problem = _problem(situation.understanding.as_read) or problem_of_kind(decision.detail)
        knowledge, embedder = self.services.knowledge, self.services.embedder
        if problem is None or knowledge is None or embedder is None:
            return Outcome(situation.customer)
        if problem.kind == "missing" and _not_sent_yet(decision.order):
            return Outcome(situation.customer)  # what to do about a delivered parcel that is gone does not apply
        if problem.kind == "return" and decision.order is not None:
            case = self._return_case(situation.text, decision.order)
            if case is not None:
                found = await _section(problem.page, case, knowledge, embedder)
                if found is not None:
                    return Outcome(situation.customer, found=found)
        # The customer's own words may find a more specific section of the same page ("Can I return running
        # shoes I've already worn?", "Which items can't be returned?") than the problem's general one.
        # Only for returns: that page's sections each answer a different case of one question.
        # Only a clear match: "can I return it?" names no case, and the page's general answer is the right one.
        floor = self.services.thresholds.answer_min_similarity
        own = next((h for h in situation.context.knowledge
                    if h.source == problem.page and h.similarity >= floor and h.confident), None) \
            if problem.kind == "return" else None
        return Outcome(situation.customer, found=own or await _section(problem.page, problem.section, knowledge, embedder))

    def _return_case(self, text: str, order: OrderSummary) -> str | None:
        """The returns section for this return's case, or None for an ordinary return (today's general answer).

        The case comes from the item's catalog note ("Non-returnable once opened.", the running shoe
        trial) and from what the customer says of its state ("I opened the bag", "unopened", "ran in them").
        A consumable's return always gets the rules for opened and unopened ones: that is what decides it.
        """
        catalog = self.services.catalog
        products = [p for p in (catalog.products.get(i.sku) for i in order.items) if p is not None] if catalog else []
        item = _item_meant(text, order)
        product = catalog.products.get(item.sku) if catalog is not None and item is not None else None
        candidates = [product] if product is not None else products
        notes = {_note(p) for p in candidates}
        if _DAMAGED_WORDS.search(text):
            return _DAMAGED
        if product is not None and _note(product) == "opened":
            return _NOT_RETURNABLE
        intact = bool(_INTACT.search(text))
        if _WORN.search(text) and not intact:
            if "trial" in notes and product is not None:
                return _SHOE_TRIAL
            return _NOT_RETURNABLE if "worn" in notes else _CONDITION
        if _OPENED.search(text) and not intact:
            if "trial" in notes and product is not None:
                return _SHOE_TRIAL  # "I used them for one run"
            return _NOT_RETURNABLE if notes & {"opened", "worn"} else _CONDITION
        if intact and "opened" in notes:
            return _NOT_RETURNABLE  # it says unopened consumables can be returned
        return None

    def compose(self, situation: Situation, decision: Decision, outcome: Outcome, fill: dict[str, str]) -> Draft:
        order = decision.order
        assert order is not None
        fields = order_fields(order)
        extra = {k: v for k, v in fields.items() if k not in fill}
        if decision.detail == "missing" and _not_sent_yet(order):
            # "it says delivered but i never got it" about an order still in the warehouse: a tracking page that
            # says delivered is another order's, so say that rather than how to look for a delivered parcel.
            lead = status_text(order, self.t) + " " + fmt(self.t.order_missing_not_sent, fill, **extra)
        elif decision.detail in {"late", "missing"}:
            lead = status_text(order, self.t)
        elif decision.detail == "cancel" and order.status in {"shipped", "delivered"}:
            # Say first what a person would: it is past cancelling (the section says what can be done).
            done = "shipped" if order.status == "shipped" else "been delivered"
            lead = fmt(self.t.order_cancel_too_late, fill, status_done=done, **extra)
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


def _not_sent_yet(order: OrderSummary | None) -> bool:
    return order is not None and order.status == "processing"


def _problem(text: str) -> Problem | None:
    """The order problem the text describes; a return whose words say the packaging was opened
    ("the seal is broken", "I ripped the bag") is a return, not a broken product under warranty."""
    problem = problem_in(text)
    if problem is not None and problem.kind == "warranty" and _RETURN is not None \
            and re.search(r"\b(return\w*|send\s+(\w+\s+){0,5}back)\b", text, re.I) and _OPENED.search(text):
        return _RETURN
    return problem


def _last_problem(situation: Situation) -> Problem | None:
    """The problem the customer described last in this conversation (its turns, newest first)."""
    for turn in reversed(situation.context.recent_turns):
        if turn.role == TurnRole.CUSTOMER and turn.action == OrderProblem.name:
            problem = _problem(turn.text)
            if problem is not None:
                return problem
    return None


def _note(product: Product) -> str:
    """What the catalog says of returning this product: "opened" (a consumable, non-returnable once
    opened or used), "worn" (not returnable once worn), "trial" (the running shoe trial) or ""."""
    once = _ONCE.search(product.description)
    if product.consumable or (once is not None and once.group(2).lower() in {"opened", "used"}):
        return "opened"
    if once is not None:
        return "worn"
    return "trial" if _TRIAL.search(product.description) else ""


def _name_words(name: str) -> tuple[set[str], set[str]]:
    """An item name's words (singular) and its head noun: "Trailmix Grain-Free Dog Food, 24 lb" -> food."""
    words = [w for w in re.findall(r"[a-z][a-z'-]+", name.split(",")[0].lower()) if w not in _SKIP]
    singular = {w[:-1] if w.endswith("s") and len(w) > 3 else w for w in words if len(w) > 2}
    head = words[-1] if words else ""
    return singular, {head[:-1] if head.endswith("s") and len(head) > 3 else head} - {""}


def _item_meant(text: str, order: OrderSummary) -> OrderItem | None:
    """The order's item the message is about: the one it names first ("the coffee beans I got with the
    kettle" -> the beans), or the only item; None when it names none of several."""
    said = [(m.start(), m.group()) for m in re.finditer(r"[a-z][a-z'-]+", text.lower())]
    said = [(at, w[:-1] if w.endswith("s") and len(w) > 3 else w) for at, w in said]
    first: tuple[int, OrderItem] | None = None
    for item in order.items:
        words, head = _name_words(item.name)
        named = [(at, w) for at, w in said if w in words or w in head]
        # Two of its words ("coffee beans"), or its head noun ("the beans").
        if len({w for _, w in named}) >= 2 or any(w in head for _, w in named):
            at = min(at for at, _ in named)
            if first is None or at < first[0]:
                first = (at, item)
    if first is not None:
        return first[1]
    return order.items[0] if len(order.items) == 1 else None


async def _section(page: str, heading: str, knowledge: object, embedder: object):  # type: ignore[no-untyped-def]
    """The section of ``page`` under ``heading`` (found by its own heading), else the page's nearest one."""
    (vector,) = await embed_async(embedder, [heading])  # type: ignore[arg-type]
    hits = await knowledge.search(vector, limit=5)  # type: ignore[attr-defined]
    exact = next((h for h in hits if h.source == page and h.section == heading), None)
    return exact or next((h for h in hits if h.source == page), None)
