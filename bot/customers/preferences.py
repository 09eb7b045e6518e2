"""Preferences customers state in chat ("I'm vegan", "I prefer email"), as key → value."""

from __future__ import annotations

import re

_PATTERNS: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("diet", re.compile(r"\bi(?:'m| am)\s+(?:a\s+)?(vegan|vegetarian|pescatarian|gluten[- ]free|lactose[- ]intolerant)\b", re.I), "{0}"),
    ("allergy", re.compile(r"\bi(?:'m| am)\s+allergic to\s+([a-z][a-z \-]{1,30}?)(?:[.,!;]|$)", re.I), "{0}"),
    ("contact_channel", re.compile(r"\b(?:i(?:'d)?\s+prefer|please\s+(?:use|contact me (?:by|via|on)))\s+(?:to be contacted (?:by|via)\s+)?(email|e-mail|phone|sms|text messages?|chat|whatsapp)\b", re.I), "{0}"),
    ("preferred_name", re.compile(r"\b(?:please\s+)?call me\s+([A-Z][a-z]{1,20})\b"), "{0}"),
    ("pet", re.compile(r"\bi (?:have|got|just got|adopted) (?:a|an|two|2|three|3)\s+(?:new\s+)?(dog|puppy|cat|kitten|dogs|cats|puppies)\b", re.I), "{0}"),
    ("size", re.compile(r"\bi(?:'m| am)?\s*(?:a\s+)?(?:usually\s+)?(?:wear\s+)?(?:a\s+)?size\s+(\d{1,2}(?:\.5)?|xs|s|m|l|xl|xxl)\b", re.I), "{0}"),
)


def stated_preferences(text: str) -> dict[str, str]:
    found = {}
    for key, pattern, template in _PATTERNS:
        match = pattern.search(text)
        if match:
            value = template.format(*(g.strip().lower() if key != "preferred_name" else g for g in match.groups()))
            found[key] = value.replace("e-mail", "email")
    return found
