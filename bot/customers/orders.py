"""Which of a customer's orders a message is about, and what it asks of it: a number is looked up
among this customer's orders only; products name orders by their items; problems have kinds."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.customers.insights import OrderSummary
from bot.customers.spelling import respelt_towards

# An order number: "order 1043", "#1043", "order no. 1043", "order number NW-1043", or the number alone.
# "order 1042", "#1042", "my order number is 1042", and the word for an order in the languages the bot recognises ("pedido 1042",
# "Bestellung Nr. 1042", "commande n° 1042").
_ORDER_NUMBER = re.compile(
    r"(?:\b(?:order|pedido|commande|bestellung|ordine|encomenda|bestelling|zam[oó]wieni\w*)"
    r"(?:\s+(?:no\.?|number|num|nr\.?|id|n[º°o]\.?|número|numéro|numero|nummer))?(?:\s+is|\s*:)?|#)\s*#?\s*([A-Z]{0,3}-?\d{3,10})\b"
    r"|^\s*#?([A-Z]{0,3}-?\d{3,10})\s*[?.!]*\s*$", re.I
)
_STOP = {"the", "a", "an", "my", "and", "of", "for", "with", "set", "pack", "men's", "women's", "-", "&"}
# The message points back at something already under discussion, or at "my order".
_REFERS_BACK = re.compile(r"\b(it|its|it's|this|that|them|they|one|my (order|package|parcel|delivery|purchase|stuff|item))\b", re.I)


@dataclass(frozen=True, slots=True)
class Problem:
    """A kind of problem with an order and the knowledge section that answers it."""

    kind: str  # damaged | wrong_item | missing | late | cancel | address | return | warranty
    page: str  # knowledge/pages/… source
    section: str  # the section heading that answers it


_PROBLEMS: tuple[tuple[Problem, re.Pattern[str]], ...] = (
    (Problem("cancel", "knowledge/pages/orders.md", "Can I change or cancel my order?"),
     re.compile(r"\bcancel\w*\b", re.I)),
    (Problem("address", "knowledge/pages/orders.md", "Can I change my shipping address after ordering?"),
     re.compile(r"\b(change|update|wrong|fix|correct)\b.{0,30}\baddress\b|\baddress\b.{0,20}\b(wrong|change)", re.I)),
    (Problem("wrong_item", "knowledge/pages/returns.md", "What if my item arrived damaged or I received the wrong item?"),
     re.compile(r"\bwrong (item|product|size|colou?r|thing|one)\b|\bnot what i ordered\b|\bsent me the wrong\b", re.I)),
    (Problem("damaged", "knowledge/pages/returns.md", "What if my item arrived damaged or I received the wrong item?"),
     re.compile(r"\b(arrived|came|delivered|showed up|was)\s+(\w+\s+)?(broken|damaged|cracked|smashed|dented|torn|ripped|defective)\b|"
                r"\b(damaged|cracked|smashed|dented) (in|on|during) (transit|delivery|shipping)\b|\bbox was (crushed|damaged)|"
                r"\b(arrived|came|showed up) (in (pieces|bits)|shattered)\b", re.I)),
    (Problem("warranty_terms", "knowledge/pages/warranty.md", "What warranty do your products come with?"),
     re.compile(r"\b(under|still (under|in|covered)|covered by( the)?|have|has|come with)( a| the)? (warranty|guarantee)\b|"
                r"\bhow long is the (warranty|guarantee)\b|\bwarranty (cover|last|period)", re.I)),
    (Problem("warranty", "knowledge/pages/warranty.md", "How do I make a warranty claim?"),
     re.compile(r"\b(broke|broken|flicker\w*|stopped working|doesn'?t work|does not work|not working|faulty|defective|"
                r"fell apart|ripped|torn|cracked|warrant\w*|guarantee|replacement|replace it|repair)\b", re.I)),
    (Problem("missing", "knowledge/pages/orders.md", "My package says delivered but I can't find it. What should I do?"),
     re.compile(r"\b(missing|never (arrived|came|got it)|didn'?t (arrive|get it|receive)|not (arrived|received)|"
                r"haven'?t (received|got)|lost|stolen|can'?t find (it|my (package|parcel|order)))\b", re.I)),
    (Problem("late", "knowledge/pages/orders.md", "My tracking hasn't updated. Is my package lost?"),
     re.compile(r"\b(late|delayed|overdue|taking (so|too) long|still (waiting|hasn'?t)|hasn'?t (arrived|shipped|moved|updated))\b", re.I)),
    (Problem("return", "knowledge/pages/returns.md", "How do I start a return?"),
     re.compile(r"\b(return\w*|send\s+(\w+\s+){0,5}back|exchange|money back)\b", re.I)),
)


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9']+", text.lower()) if w not in _STOP and len(w) > 2}


def _singular(words: set[str]) -> set[str]:
    return {w[:-1] if w.endswith("s") and len(w) > 3 else w for w in words}


def order_numbers(text: str) -> list[str]:
    """Order numbers the text names, as written (upper-cased, without '#')."""
    found = []
    for match in _ORDER_NUMBER.finditer(text):
        number = (match.group(1) or match.group(2) or "").lstrip("#").upper()
        if number and number not in found:
            found.append(number)
    return found


def numbers_not_theirs(text: str, orders: Sequence[OrderSummary]) -> list[str]:
    """The order numbers the text names that are not among these (the customer's own) orders."""
    return [number for number in order_numbers(text) if find_order(number, orders) is None]


def find_order(number: str, orders: Sequence[OrderSummary]) -> OrderSummary | None:
    """This customer's order with that number; None when it is not one of theirs."""
    wanted = number.upper().lstrip("#")
    return next((o for o in orders if o.order_id.upper() == wanted), None)


_NOT_HEADS = frozenset({"pack", "set", "pair", "kit", "count", "bundle"})


def by_product(text: str, orders: Sequence[OrderSummary]) -> OrderSummary | None:
    """An order this text names by one of its products ("my lamp", "the desk lamp"), newest first."""
    said = _singular(_words(text))
    best, best_overlap = None, 0
    for order in orders:  # newest first: ties go to the most recent order
        for item in order.items:
            name = _singular(_words(item.name))
            shared = said & name
            # The head noun: "Halo LED Desk Lamp" -> lamp; "Merino Running Socks 3-Pack" -> socks, not "3-pack".
            words = [w for w in item.name.split(",")[0].split()
                     if not any(c.isdigit() for c in w) and w.lower() not in _NOT_HEADS]
            head = _singular(_words(words[-1])) if words else set()
            # Two shared words ("desk lamp"), or the product's head noun ("my lamp").
            if len(shared) > best_overlap and (len(shared) >= 2 or shared & head):
                best, best_overlap = order, len(shared)
    return best


# What follows "my" in an order question without being a thing one orders: the order itself, money, the
# account, people and pets (another person's order is bot/handlers/others_order.py's).
_NOT_ITEMS = frozenset(
    "order orders package packages parcel parcels delivery deliveries purchase purchases shipment stuff item items "
    "thing things box refund money card payment account return exchange replacement tracking address email "
    "password subscription points rewards discount code coupon voucher balance credit gift cart basket bill "
    "invoice receipt number mind own husband wife partner friend mom mum dad son daughter brother sister kid "
    "kids dog cat puppy home house door doorstep porch neighbour neighbor phone time life day week back way bank "
    "question issue problem".split())
# Where the thing's name ends: what is said of it ("my blue jacket arrived torn", "my jacket, it doesnt fit").
_AFTER_THE_NAME = frozenset(
    "is are was were has have had hasnt havent isnt wasnt doesnt dont didnt wont cant never still just already "
    "arrived came come broke stopped keeps got it its and or but from that which to for of on in at with yet "
    "please pls plz".split())
_AGE = frozenset({"new", "old", "last", "first", "previous", "second"})
_MY = re.compile(r"\bmy\s+((?:[a-z]+\s+){0,2}[a-z]+)", re.I)


def unordered_item(text: str, orders: Sequence[OrderSummary]) -> str | None:
    """The thing the customer calls theirs that none of their orders holds ("where is my blue jacket?" with
    no jacket ordered: "blue jacket"), else None: up to three words after "my", cut where something is said
    of them, none of which an item of theirs is called by, ending in a word that is no word for the order
    itself, money, the account or a person."""
    if not orders or by_product(text, orders) is not None:
        return None
    owned = {w for order in orders for item in order.items for w in _singular(_words(item.name))}
    for match in _MY.finditer(text):
        name: list[str] = []
        for word in match.group(1).lower().split():
            if word in _NOT_ITEMS:  # "my dog hates…", "my gift card": no thing ordered
                name = []
                break
            if word in _AFTER_THE_NAME or word in _STOP:
                break
            name.append(word)
        name = [w for w in name if w not in _AGE]
        if name and len(name[-1]) > 2 and not (_singular(set(name)) & owned):
            return " ".join(name)
    return None


def mentioned_order(text: str, orders: Sequence[OrderSummary]) -> OrderSummary | None:
    """An order of these that the text names by number or by one of its products, if any."""
    for number in order_numbers(text):
        found = find_order(number, orders)
        if found is not None:
            return found
    return by_product(text, orders)


def named_earlier(earlier: Sequence[str], orders: Sequence[OrderSummary]) -> OrderSummary | None:
    """The order named last by earlier messages of the conversation (oldest first in ``earlier``)."""
    for previous in reversed(earlier):
        named = mentioned_order(previous, orders)
        if named is not None:
            return named
    return None


# The words order problems are told with, so a slip ("it arrived brokn", "damagd", "never arived") still
# reads as the problem it is.
PROBLEM_WORDS = frozenset({
    "broken", "damaged", "cracked", "smashed", "dented", "defective", "faulty", "missing", "arrived",
    "delivered", "received", "delayed", "cancel", "cancelled", "return", "returned", "refund", "exchange", "wrong",
    "stolen", "leaking", "working", "replacement", "warranty", "package", "parcel", "order", "ripped", "torn",
    "flickering", "flickers", "stopped", "shattered",  # the warranty and damage patterns' words too
})


def with_problem_words_respelt(text: str) -> str:
    return respelt_towards(text, PROBLEM_WORDS)


def problem_in(text: str) -> Problem | None:
    """The kind of order problem the text describes, if any (first match in a fixed order)."""
    text = with_problem_words_respelt(text)
    for problem, pattern in _PROBLEMS:
        if pattern.search(text):
            return problem
    return None


def refers_back(text: str) -> bool:
    return bool(_REFERS_BACK.search(text))


def problem_of_kind(kind: str) -> Problem | None:
    """The problem of that kind ("damaged", "return", …), or None for a kind that is not one."""
    return next((problem for problem, _ in _PROBLEMS if problem.kind == kind), None)


# Right after the bot spoke of one order, a short reference to another of the customer's orders asks the
# same about that one: "the kettle one", "no, the lamp", "what about 1022?", "and the socks?". A question
# of its own ("how much is the kettle?", "can I return the kettle?") is not such a reference.
_ORDER_REFERENCE = re.compile(
    r"^\s*(?:(?:and|no|nah|sorry|oh|oops|um|i mean|i meant|actually|what about|how about|it'?s|it was|its)\b[,\s]*)*"
    r"(?:(?:the|my|that|this|order)\s+)*[\w#-]+(?:\s+[\w-]+){0,2}?(?:\s+(?:one|order|please|pls))?\s*[?.!]*\s*$",
    re.I)
_OWN_QUESTION = re.compile(r"\b(?:how much|price|cost|stock|size|colou?r|spec\w*|work|use|clean|return|refund)\b", re.I)


def only_names_an_order(text: str) -> bool:
    """Whether the message does nothing but point at an order or one of its items ("the lamp one")."""
    return bool(_ORDER_REFERENCE.match(text)) and not _OWN_QUESTION.search(text)
