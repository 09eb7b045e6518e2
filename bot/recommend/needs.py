"""What a shopper asked for, read from their words: a need ("loves cooking", "my new puppy"), a
recipient ("for my dad") and a budget ("under $50"). The advisor lets a stated need beat purchase
history and never goes over a stated budget.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.knowledge.products import stem_word, text_words

# People a gift is for: framing, not a need ("for my dad who loves cooking" → need "cooking").
# Animals and babies are needs in themselves ("something for my new puppy").
_PEOPLE = frozenset("""
dad father daddy papa mom mum mother mommy mama wife husband partner boyfriend girlfriend fiance fiancee son daughter
kid kids child children boy girl brother sister bro sis grandma grandmother granny grandpa grandfather nephew niece
uncle aunt cousin friend friends buddy boss coworker colleague teacher neighbor neighbour roommate someone somebody
him her them he she they person guy man woman family parents in-laws
""".split())
# Words that frame a request for suggestions rather than say what is needed.
_FRAMING = frozenset("""
a an the any some anything something stuff things thing item items product products idea ideas gift gifts present
presents suggestion suggestions suggest recommend recommendation recommendations recommended what which should would
could can do does did you your yours have has got get buy buying give giving for to of my me i i'm im we our us who
that loves love lover lovers likes like enjoys enjoy into is are be really big huge fan fans good great nice best
new little cute please pls thanks thank hi hey hello looking look want wanted need needs needed shopping shop
birthday christmas xmas holiday holidays anniversary occasion cheap affordable budget under below less than max maximum
up around about between and or over more above dollars dollar usd bucks price prices priced cost costs spend spending
just also maybe perhaps kind sort type types with without in on at from this these those his her their it its
everything else other another one ones wants needs always lot lots of all
thx ty cheers ok okay so well hmm btw guys sell sells selling carry carries stock stocks offer offers
""".split()) | _PEOPLE

_MONEY = r"\$?\s*(\d+(?:[.,]\d{1,2})?)\s*(?:\$|dollars?|usd|bucks)?"
_UNDER = re.compile(rf"\b(?:under|below|less than|no more than|not more than|max(?:imum)?|up to|at most|within|cheaper than)\s*{_MONEY}", re.I)
_OR_LESS = re.compile(rf"{_MONEY}\s*(?:or less|or under|max|tops)\b", re.I)
_OVER = re.compile(rf"\b(?:over|above|more than|at least|min(?:imum)?)\s*{_MONEY}", re.I)
_BETWEEN = re.compile(rf"\bbetween\s*{_MONEY}\s*(?:and|-|to)\s*{_MONEY}|\$\s*(\d+(?:[.,]\d{{1,2}})?)\s*(?:-|to)\s*{_MONEY}", re.I)
_AROUND = re.compile(r"\b(?:around|about|roughly|approximately|~)\s*\$\s*(\d+(?:[.,]\d{1,2})?)", re.I)
_GIFT = re.compile(r"\b(?:gifts?|presents?|stocking stuffers?)\b", re.I)
_AROUND_SHARE = 0.25  # "around $50" takes $37.50 to $62.50
_RECIPIENT = re.compile(r"\b(?:for|get|buy|give|gift)\s+(?:my|our|a|an|the)\s+(?:new\s+|little\s+|best\s+|old\s+)?([a-z'-]+)", re.I)


@dataclass(frozen=True, slots=True)
class Budget:
    low: float | None = None
    high: float | None = None

    def allows(self, price: float) -> bool:
        return (self.low is None or price >= self.low) and (self.high is None or price <= self.high)

    def describe(self) -> str:
        if self.low is not None and self.high is not None:
            return f"between {_dollars(self.low)} and {_dollars(self.high)}"
        if self.high is not None:
            return f"under {_dollars(self.high)}"
        return f"over {_dollars(self.low)}" if self.low is not None else ""


@dataclass(frozen=True, slots=True)
class ShopperNeed:
    """``topic``: the customer's words for what is needed ("cooking", "new puppy"), "" when none;
    ``stems``: those words stemmed for matching; ``recipient``: who it is for ("dad"), "" when not said."""

    text: str
    topic: str
    stems: tuple[str, ...]
    recipient: str
    budget: Budget | None
    gift: bool = False  # "gift", "present" or a recipient was mentioned

    @property
    def stated(self) -> bool:
        """Whether the question says anything that should steer suggestions away from history."""
        return bool(self.topic or self.budget or self.recipient or self.gift)

    def describe(self) -> str:
        """ "cooking under $50", for reasons and for "nothing in our catalog for …"."""
        parts = [self.topic] if self.topic else []
        if self.budget:
            parts.append(self.budget.describe())
        return " ".join(parts) or (f"your {self.recipient}" if self.recipient else "")


def _dollars(value: float) -> str:
    return f"${value:,.0f}" if value == int(value) else f"${value:,.2f}"


def _amount(value: str) -> float:
    return float(value.replace(",", "."))


def read_budget(text: str) -> Budget | None:
    """The price range a customer states, or None: "under $50", "$20-$40", "around $100", "over 200 dollars"."""
    if found := _BETWEEN.search(text):
        numbers = [g for g in found.groups() if g]
        if len(numbers) == 2:
            low, high = sorted((_amount(numbers[0]), _amount(numbers[1])))
            return Budget(low, high)
    if found := (_UNDER.search(text) or _OR_LESS.search(text)):
        return Budget(high=_amount(found.group(1)))
    if found := _OVER.search(text):
        return Budget(low=_amount(found.group(1)))
    if found := _AROUND.search(text):
        value = _amount(found.group(1))
        return Budget(round(value * (1 - _AROUND_SHARE), 2), round(value * (1 + _AROUND_SHARE), 2))
    return None


def read_need(text: str) -> ShopperNeed:
    """What ``text`` asks for. Words about money, gifts and people are framing; what is left is the need."""
    budget = read_budget(text)
    recipient_match = _RECIPIENT.search(text)
    recipient = recipient_match.group(1).lower() if recipient_match and recipient_match.group(1).lower() in _PEOPLE else ""
    kept = [w for w in text_words(text) if w not in _FRAMING and not any(c.isdigit() for c in w) and len(w) > 1]
    topic = " ".join(dict.fromkeys(kept))
    gift = bool(recipient) or bool(_GIFT.search(text))
    return ShopperNeed(text, topic, tuple(dict.fromkeys(stem_word(w) for w in kept)), recipient, budget, gift)
