"""What a customer tells us about themselves, their family or their pets in their own words ("my dog is
allergic to chicken btw", "my daughter just started running", "I'm training for a marathon in March"),
and the questions that ask for it back ("what did I tell you about my dog?").

The structured facts with a key of their own ("my dog is called Rex", "I'm vegan") are
``bot.customers.preferences``; these are the rest, which only the customer's semantic memory keeps.
A statement about an order, a parcel or a return is a support request, never something "noted".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Protocol

_WHO = (r"(?:dog|dogs|puppy|cat|cats|kitten|rabbit|bunny|hamster|parrot|horse|pet|pets|son|daughter|kid|kids|"
        r"child|children|baby|toddler|wife|husband|partner|boyfriend|girlfriend|mom|mum|mother|dad|father|"
        r"brother|sister|family|grandma|grandpa|grandmother|grandfather|friend|roommate|flatmate)")
# "my dog is …", "our kids love …", "my wife's birthday is …", "my son just turned 12"
_ABOUT_THEM = re.compile(
    rf"\b(?:my|our)\s+(?:new\s+|little\s+|old\s+|older\s+|younger\s+|two\s+|2\s+)?{_WHO}(?:'s\s+\w+)?\s+"
    r"(?:is|are|'s|was|were|has|have|had|loves?|likes?|hates?|prefers?|gets|eats?|can't|cannot|"
    r"can|doesn't|does not|don't|do not|won't|only|just|turned|turns|started|runs?|plays?|wears?)\b", re.I)
# "I'm training for a marathon", "I love trail running", "I don't drink coffee", "I work from home"
_ABOUT_ME = re.compile(
    r"\bi(?:'m| am)\s+(?:training for|pregnant|left-handed|a (?:nurse|teacher|student|runner|chef|vet)|"
    r"(?:moving|going) (?:house|abroad)|on a (?:diet|budget))\b|"
    r"\bi\s+(?:really\s+)?(?:love|like|enjoy|hate|prefer|don't (?:eat|drink|like)|do not (?:eat|drink|like)|"
    r"can't (?:eat|drink|stand)|never (?:eat|drink)|work from home|work nights|run|cook|bake|hike|cycle|swim)\b"
    # "I like it", "I hate waiting", "I love that": a verdict on something here, not a fact about them.
    r"(?!\s+(?:it|this|that|them|these|those|waiting|when|how|you|your|the way|being)\b)", re.I)
# Support requests are never "noted": "my order is late", "my package has not arrived", "my lamp is broken".
_SUPPORT = re.compile(
    r"\b(?:orders?|package|parcel|delivery|delivered|shipping|shipped|tracking|refunds?|returns?|returned|"
    r"exchange|cancel\w*|charged?|payment|invoice|broken|damaged|defective|faulty|missing|late|wrong|"
    r"account|password|discount|coupon|"
    # ... nor is shopping: "my daughter just started running and needs shoes" wants suggestions.
    r"needs?|wants?|looking for|gift|present|recommend\w*|suggest\w*|buy|birthday)\b", re.I)
_QUESTION_WORDS = re.compile(r"^\s*(?:what|where|when|which|who|how|why|can|could|do|does|is|are|will|would|should)\b",
                             re.I)
# "btw", "fyi", "lol" and friends at either end are not part of what was said.
_FILLER = re.compile(r"^\s*(?:btw|fyi|by the way|just so you know|oh and|also)[,:\s]+|[,\s]+(?:btw|fyi|lol|haha|:\))\s*$",
                     re.I)

# "what did I tell you about my dog?" (or "what did i tell u about…"), "do you remember what I said about
# my wife", "remind me what I told you about my marathon", "what do you know about my kids?"
_ASKED = re.compile(
    r"\b(?:what|anything)\s+(?:did|have)\s+i\s+(?:tell|told|say|said|mention|mentioned)(?:\s+(?:to\s+)?(?:you|u|ya))?\s+"
    r"(?:about|regarding|on)\s+(?P<a>[^?.!]+)|"
    r"\b(?:do|did)\s+(?:you|u|ya)\s+remember\s+what\s+i\s+(?:said|told (?:you|u|ya)|mentioned)\s+(?:about|regarding)\s+(?P<b>[^?.!]+)|"
    r"\bremind\s+me\s+what\s+i\s+(?:said|told (?:you|u|ya)|mentioned)\s+(?:about|regarding)\s+(?P<c>[^?.!]+)|"
    r"\bwhat\s+do\s+(?:you|u|ya)\s+(?:know|remember)\s+about\s+(?P<d>(?:my|our)\s+[^?.!]+)", re.I)
_STOP = frozenset("a an the my our me i you u ya your of to for about and or is are was were it that this what did "
                  "tell told say said mention mentioned do remember know".split())
_WORD = re.compile(r"[a-z0-9][a-z0-9'-]*")


class Said(Protocol):
    """A memory as recalled: what the customer said, and when (ISO text)."""

    text: str
    at: str
    similarity: float


def told_about_themselves(text: str) -> str:
    """The statement (filler trimmed) when ``text`` tells something about the customer, their family or
    pets and asks nothing and requests nothing; else ""."""
    if "?" in text or _QUESTION_WORDS.search(text) or _SUPPORT.search(text):
        return ""
    if not (_ABOUT_THEM.search(text) or _ABOUT_ME.search(text)):
        return ""
    statement = _FILLER.sub("", _FILLER.sub("", text.strip())).strip(" .!")
    return statement if 3 <= len(statement) <= 300 else ""


def in_their_words(statement: str) -> str:
    """The statement as the bot says it back: "my dog is allergic to chicken" -> "your dog is allergic to chicken"."""
    swaps = {"my": "your", "our": "your", "i'm": "you're", "i am": "you are", "i've": "you've", "i": "you",
             "me": "you", "mine": "yours", "myself": "yourself"}
    flipped = re.sub(r"\b(?:i'm|i am|i've|i|my|our|me|mine|myself)\b",
                     lambda m: swaps[m.group(0).lower()], statement, flags=re.I)
    return flipped[:1].lower() + flipped[1:] if flipped.split(" ", 1)[0].lower() in swaps.values() else flipped


def asked_what_they_told(text: str) -> str:
    """The topic of a question asking back what the customer told us ("my dog"), or ""."""
    match = _ASKED.search(text)
    if match is None:
        return ""
    topic = next(group for group in match.groups() if group)
    return topic.strip()


def _words(text: str) -> set[str]:
    return {w.rstrip("s") for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 1}


def best_told(topic: str, memories: Iterable[Said]) -> Said | None:
    """The recalled memory that tells about ``topic``: one that shares a word with it (plural or not), the
    most similar first; None when none does, so the bot never answers with an unrelated memory."""
    wanted = _words(topic)
    if not wanted:
        return None
    about = [m for m in memories if wanted & _words(m.text) and not asked_what_they_told(m.text)]
    return max(about, key=lambda m: m.similarity, default=None)
