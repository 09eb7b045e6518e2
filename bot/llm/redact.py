"""Personal data out before the API, back in after: emails, phones, cards, IBANs, street addresses.

Plain patterns with checksums (Luhn for cards, ISO 7064 mod 97 for IBANs) rather than an NER model:
they need nothing downloaded, run in microseconds, and the kinds we must hide all have a shape. One
:class:`Vault` per turn maps each value to a numbered placeholder (``[EMAIL_1]``), the same value to the
same placeholder in every text of that turn, so the model can still say "we'll write to [EMAIL_1]" and the
customer reads their own address back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["PiiKind", "Redactor", "Vault", "luhn_ok", "iban_ok"]


class PiiKind(StrEnum):
    EMAIL = "EMAIL"
    IBAN = "IBAN"
    CARD = "CARD"
    PHONE = "PHONE"
    ADDRESS = "ADDRESS"


_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?\b")
# 13–19 digits, optionally grouped by spaces or dashes; Luhn decides.
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
# An optional +country, then 9–15 digits with the usual separators. Order numbers (4–6 digits) and
# dates stay below that; a digit run that goes on (more digits after a space) is something else: a
# Luhn-invalid card, a gift card or a tracking number.
_PHONE = re.compile(r"(?<![\w+(])(?<!\d[ .\-/])(?:\+|00|\()?\d(?:[ .\-/]?\(?\d\)?){8,14}(?!\w|[ .\-/]\d)")
_STREET_WORDS = (r"street|st|avenue|ave|road|rd|lane|ln|boulevard|blvd|drive|dr|way|court|ct|place|pl|terrace|"
                 r"square|sq|parkway|pkwy|highway|hwy|close|crescent|row")
# "221B Baker Street", "12 Rue de la Paix" is left alone (no suffix), "Hauptstraße 5", "Calle Mayor 10".
_ADDRESS = re.compile(
    rf"\b\d{{1,5}}[A-Za-z]?(?:\s+[A-Z][\w'.-]*){{1,4}}\s+(?:{_STREET_WORDS})\b\.?"
    r"|\b[A-ZÄÖÜ][\wäöüß-]*(?:straße|strasse|weg|gasse|platz|allee)\s+\d{1,5}[a-z]?\b"
    r"|\b(?:Calle|Avenida|Rua|Via|Rue)\s+(?:[\wÀ-ÿ'-]+\s+){0,3}\d{1,5}\b",
    re.IGNORECASE,
)
_PLACEHOLDER = re.compile(r"\[(EMAIL|IBAN|CARD|PHONE|ADDRESS)_(\d+)\]")


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_ok(value: str) -> bool:
    compact = value.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34:
        return False
    moved = compact[4:] + compact[:4]
    number = "".join(str(int(c, 36)) for c in moved)
    return int(number) % 97 == 1


@dataclass
class Vault:
    """The placeholders of one turn and the values they stand for. Never logged, never stored."""

    _by_value: dict[tuple[PiiKind, str], str] = field(default_factory=dict)
    _by_placeholder: dict[str, str] = field(default_factory=dict)
    _counts: dict[PiiKind, int] = field(default_factory=dict)

    def placeholder(self, kind: PiiKind, value: str) -> str:
        key = (kind, value)
        if key not in self._by_value:
            n = self._counts.get(kind, 0) + 1
            self._counts[kind] = n
            token = f"[{kind.value}_{n}]"
            self._by_value[key] = token
            self._by_placeholder[token] = value
        return self._by_value[key]

    @property
    def values(self) -> list[str]:
        return list(self._by_placeholder.values())

    def counts(self) -> dict[str, int]:
        return {k.value: n for k, n in self._counts.items()}

    def restore(self, text: str) -> str:
        """``text`` with this turn's placeholders put back; an unknown placeholder is left as it is."""
        return _PLACEHOLDER.sub(lambda m: self._by_placeholder.get(m.group(0), m.group(0)), text)


class Redactor:
    """Replaces personal data in customer-written text with the placeholders of a :class:`Vault`."""

    def redact(self, text: str, vault: Vault) -> str:
        text = _EMAIL.sub(lambda m: vault.placeholder(PiiKind.EMAIL, m.group(0)), text)
        text = _IBAN.sub(lambda m: vault.placeholder(PiiKind.IBAN, m.group(0)) if iban_ok(m.group(0))
                         else m.group(0), text)
        text = _CARD.sub(lambda m: self._card(m, vault), text)
        text = _PHONE.sub(lambda m: self._phone(m, vault), text)
        return _ADDRESS.sub(lambda m: vault.placeholder(PiiKind.ADDRESS, m.group(0)), text)

    @staticmethod
    def _card(match: re.Match[str], vault: Vault) -> str:
        digits = re.sub(r"\D", "", match.group(0))
        return vault.placeholder(PiiKind.CARD, match.group(0)) if luhn_ok(digits) else match.group(0)

    @staticmethod
    def _phone(match: re.Match[str], vault: Vault) -> str:
        value = match.group(0)
        digits = re.sub(r"\D", "", value)
        # A bare run of digits with no separator and no "+" is as likely an account or tracking number as a
        # phone; grouped digits or a country prefix are how people write phones.
        if not 9 <= len(digits) <= 15 or (value.isdigit() and len(digits) > 11):
            return value
        return vault.placeholder(PiiKind.PHONE, value)
