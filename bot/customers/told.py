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

from bot.customers.spelling import respelt_towards
from bot.knowledge.lexical import english_counts

_WHO = (r"(?:dog|dogs|puppy|cat|cats|kitten|rabbit|bunny|hamster|parrot|horse|pet|pets|son|daughter|kid|kids|"
        r"child|children|baby|toddler|wife|husband|partner|boyfriend|girlfriend|mom|mum|mother|dad|father|"
        r"brother|sister|family|grandma|grandpa|grandmother|grandfather|friend|roommate|flatmate)")
# "my dog is …", "our kids love …", "my wife's birthday is …", "my son just turned 12"
_ABOUT_THEM = re.compile(
    rf"\b(?:my|our)\s+(?:new\s+|little\s+|old\s+|older\s+|younger\s+|two\s+|2\s+)?{_WHO}(?:'s\s+\w+)?\s+"
    r"(?:is|are|'s|was|were|has|have|had|loves?|likes?|hates?|prefers?|gets|eats?|can'?t|cannot|can not|"
    r"can|doesn'?t|does not|don'?t|do not|won'?t|only|just|turned|turns|started|runs?|plays?|wears?)\b", re.I)
# "I'm training for a marathon", "I love trail running", "I don't drink coffee", "I work from home"
_ABOUT_ME = re.compile(
    r"\bi(?:'m| am)\s+(?:training for|pregnant|left-handed|a (?:nurse|teacher|student|runner|chef|vet)|"
    r"(?:moving|going) (?:house|abroad)|on a (?:diet|budget))\b|"
    r"\bi\s+(?:really\s+)?(?:love|like|enjoy|hate|prefer|don'?t (?:eat|drink|like)|do not (?:eat|drink|like)|"
    r"can'?t (?:eat|drink|stand)|never (?:eat|drink)|work from home|work nights|run|cook|bake|hike|cycle|swim)\b"
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
_WHO_WORDS = frozenset(_WHO.strip("(?:)").split("|"))
_TOKEN = re.compile(r"[A-Za-z][A-Za-z']*")
_STOP = frozenset("a an the my our me i you u ya your of to for about and or is are was were it that this what did "
                  "tell told say said mention mentioned do remember know".split())
_WORD = re.compile(r"[a-z0-9][a-z0-9'-]*")


class Said(Protocol):
    """A memory as recalled: what the customer said, and when (ISO text)."""

    text: str
    at: str
    similarity: float


def _who_respelt(text: str) -> str:
    """``text`` with a misspelt family member or pet said right ("my dgo" -> "my dog", "my daugther" ->
    "my daughter"); an English word of its own ("cot", "son") is never taken for another."""
    return respelt_towards(text, _WHO_WORDS)


def told_about_themselves(text: str) -> str:
    """The statement (filler trimmed) when ``text`` tells something about the customer, their family or
    pets and asks nothing and requests nothing; else "". A misspelt "dgo" is read as the dog it is."""
    if "?" in text or _QUESTION_WORDS.search(text) or _SUPPORT.search(text):
        return ""
    respelt = _who_respelt(text)
    if not (_ABOUT_THEM.search(respelt) or _ABOUT_ME.search(respelt)):
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


def spelt_cleanly(statement: str) -> bool:
    """Whether every word of ``statement`` is an English word, a name (capitalised) or a contraction: only
    then is it fit to say back word for word ("allergic to chiken" is not)."""
    english = english_counts()
    for word in _TOKEN.findall(statement):
        if "'" in word or word[:1].isupper() and word.lower() not in _WHO_WORDS | {"my", "our", "i"}:
            continue
        if word.lower() not in english and word.lower() not in _WHO_WORDS:
            return False
    return True


_LETTERS = "abcdefghijklmnopqrstuvwxyz"
# A correction is made only when the likeliest word is this many times more common than the next.
_CLEAR_LEAD = 10


def _respelt_word(word: str, english: dict[str, int]) -> str:
    """The English word a misspelt one clearly means, else the word itself. Only a dropped letter is put
    back ("chiken" -> "chicken", "alergic" -> "allergic", "footbal" -> "football"), the commonest slip and
    the safest to undo: taking letters out or changing them guesses too freely ("chikn" is one slip from
    "chin", and meant "chicken"), and a wrong word said back is worse than none."""
    low = word.lower()
    if len(low) < 4 or not low.isalpha() or low in english or word[:1].isupper():
        return word
    with_letter = {low[:i] + c + low[i:] for i in range(len(low) + 1) for c in _LETTERS}
    ranked = sorted(((english[w], w) for w in with_letter if w in english), reverse=True)
    if not ranked or (len(ranked) > 1 and ranked[0][0] < _CLEAR_LEAD * ranked[1][0]):
        return word
    return ranked[0][1]


def said_back(statement: str) -> str:
    """The statement as the bot may repeat it: its words respelt where the meaning is clear ("my dgo is
    allergic to chiken" -> "my dog is allergic to chicken"), or "" when some word is still not one we can
    read ("chikn"), so the bot confirms without quoting rather than repeat a typo."""
    english = english_counts()
    respelt = _TOKEN.sub(lambda m: _respelt_word(m.group(0), english), _who_respelt(statement))
    return respelt if spelt_cleanly(respelt) else ""


def whom_about(statement: str) -> str:
    """Whom the statement is about, as the bot says it ("your dog", "your daughter"), or "" when it is
    about the customer themselves."""
    match = re.search(rf"\b(?:my|our)\s+(?:new\s+|little\s+|old\s+|older\s+|younger\s+|two\s+|2\s+)?({_WHO})\b",
                      _who_respelt(statement), re.I)
    return f"your {match.group(1).lower()}" if match else ""


def asked_what_they_told(text: str) -> str:
    """The topic of a question asking back what the customer told us ("my dog"), or ""."""
    match = _ASKED.search(text)
    if match is None:
        return ""
    topic = next(group for group in match.groups() if group)
    return topic.strip()


def _words(text: str) -> set[str]:
    return {w.rstrip("s") for w in _WORD.findall(_who_respelt(text).lower()) if w not in _STOP and len(w) > 1}


def best_told(topic: str, memories: Iterable[Said]) -> Said | None:
    """The recalled memory that tells about ``topic``: one that shares a word with it (plural or not), the
    most similar first; None when none does, so the bot never answers with an unrelated memory."""
    wanted = _words(topic)
    if not wanted:
        return None
    about = [m for m in memories if wanted & _words(m.text) and not asked_what_they_told(m.text)]
    return max(about, key=lambda m: m.similarity, default=None)
