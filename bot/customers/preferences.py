"""Facts customers tell about themselves in chat ("my dog is called Rex", "I'm vegetarian", "I moved to
Lyon", "call me Annie"), kept on the profile with when they were said, and the questions that ask
for them back ("what's my dog's name?").

On the customer row a fact is stored as ``{"value": "Rex", "said_at": "2026-12-01T10:00:00+00:00"}``
under its key; a newer statement of the same key replaces the older one. Plain string values (rows
written before facts had dates) are read as facts said at an unknown time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

_PETS = r"(dog|puppy|cat|kitten|rabbit|bunny|hamster|parrot|horse)"
_NAME = r"([A-Z][a-zA-Z'-]{1,20})"
_PLACE = r"([A-Z][\w'-]+(?:[ -][A-Z][\w'-]+){0,2})"

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("diet", re.compile(r"\bi(?:'m| am)\s+(?:a\s+)?(vegan|vegetarian|pescatarian|gluten[- ]free|lactose[- ]intolerant)\b", re.I)),
    ("allergy", re.compile(r"\bi(?:'m| am)\s+allergic to\s+([a-z][a-z \-]{1,30}?)(?:[.,!;]|$)", re.I)),
    ("contact_channel", re.compile(r"\b(?:i(?:'d)?\s+prefer|please\s+(?:use|contact me (?:by|via|on)))\s+(?:to be contacted (?:by|via)\s+)?(email|e-mail|phone|sms|text messages?|chat|whatsapp)\b", re.I)),
    ("preferred_name", re.compile(r"\b(?:please\s+)?call me\s+" + _NAME)),
    ("name", re.compile(r"\bmy name is\s+" + _NAME + r"(?:\s+[A-Z][a-zA-Z'-]+)?")),
    ("pet", re.compile(r"\bi (?:have|got|just got|adopted) (?:a|an|two|2|three|3)\s+(?:new\s+)?(dog|puppy|cat|kitten|dogs|cats|puppies)\b", re.I)),
    ("size", re.compile(r"\bi(?:'m| am)?\s*(?:a\s+)?(?:usually\s+)?(?:wear\s+)?(?:a\s+)?size\s+(\d{1,2}(?:\.5)?|xs|s|m|l|xl|xxl)\b", re.I)),
    ("city", re.compile(r"(?i:\bi(?:'ve| have)?\s*(?:just\s+|recently\s+)?(?:moved|relocated) to)\s+" + _PLACE)),
    ("city", re.compile(r"(?i:\bi (?:live|am based|'m based|now live) in)\s+" + _PLACE)),
    # Typed in lower case ("i moved to lyon"): one word that ends the sentence, so "to the new flat" is no city.
    ("city", re.compile(r"(?i:\bi(?:'ve| have)?\s*(?:just\s+|recently\s+)?(?:moved|relocated) to|\bi (?:live|now live) in)"
                        r"\s+([a-z][a-z'-]{2,})(?=\s*(?:[.!,;?]|$))", re.I)),
)
# "my dog is called Rex", "my dog's name is Rex", "our cat is named Luna"
_PET_NAME = re.compile(rf"(?i:\b(?:my|our)\s+(?:new\s+)?{_PETS}(?:'s name is|'s name's| is called| is named| is| called| named|,))\s+"
                       rf"(?:called\s+|named\s+)?{_NAME}\b")
# Typed in lower case ("my dog is called rex"): only after "called"/"named"/"name is" and ending the sentence,
# so "my dog is sick" or "my dog is called by the vet" is no name.
_PET_NAME_LOWER = re.compile(rf"(?i:\b(?:my|our)\s+(?:new\s+)?{_PETS}(?:'?s name is| is called| is named| called| named))\s+"
                             r"([a-z][a-z'-]{1,20})(?=\s*(?:[.!,;?]|$))")
_NOT_PLACES = {"the", "a", "an", "another", "new", "here", "there", "town", "city", "abroad", "you"}
_PET_WORDS = {"puppy": "dog", "kitten": "cat", "bunny": "rabbit"}
_NOT_NAMES = {"is", "was", "sick", "ill", "old", "young", "happy", "sad", "hurt", "allergic", "hungry", "the", "a", "an", "not", "very"}

# Questions asking a fact back: key, pattern. "what's my dog's name" (or "whats my dogs name"), "do you remember my name",
# "where do I live", "what did I say my diet was".
_QUESTIONS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("{pet}_name", re.compile(rf"\b(?:wh?at(?:'?s| is| was)|do you (?:remember|know))\s+(?:the name of\s+)?my\s+{_PETS}(?:'?s)?\s*(?:name|called)?\b", re.I)),
    ("{pet}_name", re.compile(rf"\bwh?at(?:'?s| is)\s+my\s+{_PETS}\s+called\b", re.I)),
    ("name", re.compile(r"\b(?:wh?at(?:'?s| is)|do you (?:remember|know))\s+my name\b|\bwho am i\b", re.I)),
    ("city", re.compile(r"\bwhere do i live\b|\b(?:wh?at(?:'?s| is)|do you (?:remember|know))\s+my (?:city|town)\b|\bwhere did i (?:say i )?move", re.I)),
    ("diet", re.compile(r"\b(?:wh?at(?:'?s| is)|do you (?:remember|know))\s+(?:what\s+)?(?:my )?diet\b|\bwhat do i eat\b|"
                        r"\bam i (?:a\s+)?(?:vegan|vegetarian)\b|\bwhat diet (?:do )?i (?:follow|have|eat)\b|\bwhat (?:food|foods) (?:can'?t|don'?t) i eat\b", re.I)),
    ("allergy", re.compile(r"\bwhat am i allergic to\b|\b(?:wh?at(?:'?s| is)|do you (?:remember|know))\s+my allerg", re.I)),
    ("size", re.compile(r"\bwh?at(?:'?s| is)\s+my size\b|\bwhat size (?:am i|do i wear)\b", re.I)),
)


@dataclass(frozen=True, slots=True)
class Fact:
    key: str  # "dog_name", "diet", "city", "preferred_name", …
    value: str
    said_at: datetime | None = None

    @property
    def label(self) -> str:
        if self.key == "preferred_name":
            return "preferred name"
        if self.key.endswith("_name") and self.key != "name":
            return f"{self.key[:-5]}'s name"  # "dog_name" -> "dog's name"
        return self.key.replace("_", " ")

    def stored(self) -> dict[str, str]:
        return {"value": self.value, "said_at": self.said_at.isoformat() if self.said_at else ""}


def stated_facts(text: str, at: datetime | None = None) -> dict[str, Fact]:
    """Facts the customer states about themselves in ``text``, by key."""
    found: dict[str, Fact] = {}
    for key, pattern in _PATTERNS:
        match = pattern.search(text)
        if match and key not in found:
            value = match.group(1).strip()
            if key == "city" and value.islower():
                if value in _NOT_PLACES:
                    continue
                value = value.title()
            elif key not in {"preferred_name", "name", "city"}:
                value = value.lower().replace("e-mail", "email")
            found[key] = Fact(key, value, at)
    for match in [*_PET_NAME.finditer(text), *_PET_NAME_LOWER.finditer(text)]:
        animal, name = match.group(1).lower(), match.group(2)
        if name.lower() in _NOT_NAMES:
            continue
        key = f"{_PET_WORDS.get(animal, animal)}_name"
        found[key] = Fact(key, name[:1].upper() + name[1:], at)
    if "name" in found and "preferred_name" not in found:
        found["preferred_name"] = Fact("preferred_name", found["name"].value, at)
    return found


def stated_preferences(text: str) -> dict[str, str]:
    """Key → value of the facts in ``text`` (the shape earlier callers use)."""
    return {key: fact.value for key, fact in stated_facts(text).items()}


def facts_of(preferences: Mapping[str, Any] | None) -> dict[str, Fact]:
    """The facts stored on a customer row, by key (plain values read as undated facts)."""
    facts: dict[str, Fact] = {}
    for key, raw in (preferences or {}).items():
        if isinstance(raw, Mapping):
            said = str(raw.get("said_at") or "")
            try:
                at = datetime.fromisoformat(said) if said else None
            except ValueError:
                at = None
            facts[key] = Fact(key, str(raw.get("value", "")), at)
        elif isinstance(raw, str):
            facts[key] = Fact(key, raw)
    return facts


def merged(preferences: Mapping[str, Any] | None, new: Mapping[str, Fact]) -> dict[str, Any]:
    """The row's preferences with ``new`` facts stored over older ones of the same key."""
    kept = {key: fact.stored() for key, fact in facts_of(preferences).items()}
    kept.update({key: fact.stored() for key, fact in new.items()})
    return kept


def asked_fact(text: str) -> str:
    """The fact key a question asks back ("what's my dog's name?" → "dog_name"), or ""."""
    for key, pattern in _QUESTIONS:
        match = pattern.search(text)
        if match:
            if "{pet}" in key:
                animal = match.group(1).lower()
                return key.format(pet=_PET_WORDS.get(animal, animal))
            return key
    return ""
