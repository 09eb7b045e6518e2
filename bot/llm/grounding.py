"""After generation: is every fact in the reply in the brief, and is the reply safe to show?

Facts are the things a model invents convincingly: prices and amounts of money, percentages, dates,
order numbers, tracking numbers, SKUs, and any other number. Each one found in the reply must appear in
the brief's trusted data (never in what the customer wrote). The output guards catch what grounding
cannot: a command line, a link that is not ours, a passage of a staff-only page or of our own rules, and
contact details that are not this customer's.

A check that fires names itself (:class:`Check`); the caller logs that name and ids, never the text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Check", "Verdict", "ReplyChecker", "facts_of"]


class Check(StrEnum):
    MONEY = "money"
    PERCENT = "percent"
    DATE = "date"
    ORDER_NUMBER = "order_number"
    TRACKING = "tracking"
    SKU = "sku"
    NUMBER = "number"
    COMMAND = "command"
    LINK = "link"
    INTERNAL = "internal_text"
    RULES = "system_prompt"
    CONTACT = "contact_details"
    CLAIM = "action_claim"
    EMPTY = "empty"
    STREAM = "stream"  # streamed: a sentence failed a check on its way out, or the stream broke mid-way


@dataclass(frozen=True, slots=True)
class Verdict:
    check: Check | None  # None: the reply passed
    detail: str = ""  # which kind of value (never the value itself, it may be personal)

    @property
    def ok(self) -> bool:
        return self.check is None


_MONTHS = {m: i + 1 for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])}
_MONTH = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
# Month names of the languages a reply may be written in (bot/nlp/language.py's phrase languages): a date
# the model translates ("16. November", "16 de noviembre", "16 novembre") is still a date to check.
_FOREIGN_MONTHS = {name: n for n, names in enumerate((
    "january enero janvier januar jänner janeiro gennaio januari stycznia styczeń",
    "february febrero février fevrier februar fevereiro febbraio februari lutego luty",
    "march marzo mars märz maerz março maart marca marzec",
    "april abril avril aprile kwietnia kwiecień",
    "may mayo mai maio maggio mei maja maj",
    "june junio juin juni junho giugno czerwca czerwiec",
    "july julio juillet juli julho luglio lipca lipiec",
    "august agosto août aout augustus sierpnia sierpień",
    "september septiembre setiembre septembre setembro settembre września wrzesień",
    "october octubre octobre oktober outubro ottobre października październik",
    "november noviembre novembre novembro listopada listopad",
    "december diciembre décembre decembre dezember dezembro dicembre grudnia grudzień",
), start=1) for name in names.split()}
_FOREIGN_MONTH = "(" + "|".join(sorted(_FOREIGN_MONTHS, key=len, reverse=True)) + r")\b"
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_DAY_MONTH = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}", re.IGNORECASE)
# "16. November", "16 de noviembre", "le 16 novembre", "16 listopada": day first, as those languages write it.
_DAY_FOREIGN_MONTH = re.compile(rf"\b(\d{{1,2}})(?:\.|º|°)?\s*(?:de\s+|di\s+)?{_FOREIGN_MONTH}", re.IGNORECASE)
_MONTH_DAY = re.compile(rf"\b{_MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?\b", re.IGNORECASE)
_SLASH_DATE = re.compile(r"\b(\d{1,2})[/.](\d{1,2})(?:[/.](\d{2,4}))?\b")
# An amount: "1,234.50" as English writes it, or "1.234,50" / "89,00" as most of Europe does.
_AMOUNT = r"\d(?:[\d.,]*\d)?"
_MONEY = re.compile(rf"(?P<pre>[$€£]|\b(?:US\$|USD|EUR|GBP)\s?)\s?(?P<a>{_AMOUNT})"
                    rf"|\b(?P<b>{_AMOUNT})\s?(?P<post>(?:USD|EUR|GBP|US-Dollar|dollars?|dólares|dollari|euros?|"
                    r"pounds?|libras?)\b|[$€£])", re.IGNORECASE)
_PERCENT = re.compile(r"\b(\d+(?:[.,]\d+)?)\s?(?:%|percent\b|per cent\b|prozent\b|por ?ciento\b|por ?cento\b|"
                      r"pour ?cent\b|per ?cento\b|procent\b)", re.IGNORECASE)
_ORDER = re.compile(r"(?:\border\s*(?:number|no\.?|#)?\s*#?|#)\s*([A-Z]{0,3}-?\d{3,})\b", re.IGNORECASE)
# Tracking numbers: long runs of letters and digits with both in them, or 10+ digits (carriers use both).
_TRACKING = re.compile(r"\b(?=[A-Z0-9]*\d)(?=[A-Z0-9]*[A-Z])[A-Z0-9]{10,35}\b|\b\d{10,30}\b")
_SKU = re.compile(r"\b[A-Z]{2,6}-[A-Z0-9]{2,10}(?:-[A-Z0-9]{1,10})*\b")
_NUMBER = re.compile(r"(?<![\w.,])\d(?:[\d.,]*\d)?(?![\w])")
_MARKER = re.compile(r"\[(\d{1,2})\]")
_PLACEHOLDER = re.compile(r"\[(?:EMAIL|IBAN|CARD|PHONE|ADDRESS)_\d+\]")
_URL = re.compile(r"\b(?:https?://|www\.)[^\s)>\]]+|\]\((?P<md>[^)\s]+)\)", re.IGNORECASE)
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_PHONE = re.compile(r"(?:\+|(?<!\d)00)\d[\d ().-]{7,}\d|\(\d{3}\)\s?\d{3}[-. ]\d{4}|\b\d{3}[-.]\d{3}[-.]\d{4}\b")
# A command line: "/forget confirm" at the start of a line or after a space. Paths inside a URL are not.
_COMMAND = re.compile(r"(?:^|\s)/[a-z][a-z_-]{1,30}\b", re.IGNORECASE | re.MULTILINE)
_WORD = re.compile(r"[a-z0-9]+")
# The model cannot act, so a reply saying it did ("I've issued a refund", "I have deleted your data") is false;
# only the typed handlers act, and their draft says so itself.
_CLAIM = re.compile(r"\b(?:i(?:'ve| have)?|we(?:'ve| have)?)\s+(?:just\s+|now\s+|already\s+)?(?:deleted|erased|removed|"
                    r"changed|updated|switched|disabled|enabled|turned (?:off|on)|issued|refunded|credited|cancell?ed|"
                    r"granted|applied|reset|unlocked|upgraded|linked|exported|forwarded|sent you)\b", re.IGNORECASE)
# The same claim in the other languages a reply may be written in ("Ich habe Ihre Bestellung storniert").
_CLAIM_FOREIGN = re.compile(
    r"\b(?:ich|wir)\s+(?:habe|haben)\b[^.!?\n]{0,60}?\b(?:storniert|erstattet|zurückerstattet|gelöscht|geändert|"
    r"gutgeschrieben|aktualisiert|deaktiviert|zurückgesetzt|weitergeleitet|gewährt)\b"
    r"|\b(?:he|hemos)\s+(?:ya\s+)?(?:cancelado|reembolsado|eliminado|borrado|cambiado|actualizado|desactivado|"
    r"acreditado|aplicado|concedido)\b"
    r"|\b(?:j['’]ai|nous avons)\s+(?:déjà\s+)?(?:annulé|remboursé|supprimé|effacé|modifié|changé|crédité|appliqué|"
    r"désactivé|accordé)\b"
    r"|\b(?:cancelei|reembolsei|apaguei|excluí|alterei|cancelamos|reembolsamos)\b"
    r"|\b(?:ho|abbiamo)\s+(?:già\s+)?(?:annullato|rimborsato|cancellato|eliminato|modificato|accreditato)\b"
    r"|\b(?:ik|we|wij)\s+(?:heb|hebben)\b[^.!?\n]{0,60}?\b(?:geannuleerd|terugbetaald|verwijderd|gewijzigd)\b",
    re.IGNORECASE)
SHINGLE_WORDS = 8  # eight words in a row from a hidden text are a quote, not a coincidence


_DECIMAL_COMMA = re.compile(r"\d{1,3}(?:\.\d{3})+(?:,\d+)?|\d+,\d{1,2}")


def _number(text: str) -> str:
    """One spelling per value: "1,234.50", "1.234,50" and "1234.5" are the same number. A comma with one or
    two digits after it is a decimal comma ("89,00"); with three it is English thousands ("1,234")."""
    if _DECIMAL_COMMA.fullmatch(text):
        value = text.replace(".", "").replace(",", ".")
    else:
        value = text.replace(",", "")
    if "." in value:
        value = value.rstrip("0").rstrip(".")
    return value.lstrip("0") or "0"


def _dates(text: str) -> set[tuple[int, int]]:
    found: set[tuple[int, int]] = set()
    for y, m, d in _ISO_DATE.findall(text):
        found.add((int(m), int(d)))
    for d, mon in _DAY_MONTH.findall(text):
        found.add((_MONTHS[mon[:3].lower()], int(d)))
    for mon, d in _MONTH_DAY.findall(text):
        found.add((_MONTHS[mon[:3].lower()], int(d)))
    for d, mon in _DAY_FOREIGN_MONTH.findall(text):
        found.add((_FOREIGN_MONTHS[mon.lower()], int(d)))
    return found


_CURRENCIES = {"$": "USD", "us$": "USD", "usd": "USD", "us-dollar": "USD", "dollar": "USD", "dollars": "USD",
               "dólares": "USD", "dollari": "USD", "€": "EUR", "eur": "EUR", "euro": "EUR", "euros": "EUR",
               "£": "GBP", "gbp": "GBP", "pound": "GBP", "pounds": "GBP", "libra": "GBP", "libras": "GBP"}


def _money(text: str) -> set[tuple[str, str]]:
    """(currency, value) of every amount of money: "$89.00", "89,00 $" and "89 dollars" are one price, and
    "89,00 €" is another (a price translated into euros is a price invented)."""
    found = set()
    for m in _MONEY.finditer(text):
        currency = (m.group("pre") or m.group("post")).strip().lower()
        found.add((_CURRENCIES.get(currency, currency), _number(m.group("a") or m.group("b"))))
    return found


def _slash_dates(text: str) -> set[tuple[int, int]]:
    # 11/17 or 17.11: ambiguous, so both readings count when checking the reply.
    found: set[tuple[int, int]] = set()
    for a, b, _ in _SLASH_DATE.findall(text):
        found.add((int(a), int(b)))
        found.add((int(b), int(a)))
    return found


@dataclass(frozen=True, slots=True)
class Facts:
    numbers: frozenset[str]
    money: frozenset[tuple[str, str]]  # (currency, amount) written as money: "3-5 days" does not make "$5" a price
    percents: frozenset[str]
    dates: frozenset[tuple[int, int]]
    tokens: frozenset[str]  # upper-cased words, for order/tracking/SKU look-ups
    links: frozenset[str]
    contacts: frozenset[str]
    commands: frozenset[str]


def facts_of(text: str) -> Facts:
    """What the brief's trusted text allows a reply to state."""
    return Facts(
        # A date's day is not a number the reply may use elsewhere ("within 14 days"); its year may be.
        numbers=frozenset({_number(n) for n in _NUMBER.findall(_ISO_DATE.sub(" ", text))}
                          | {y for y, _, _ in _ISO_DATE.findall(text)}),
        money=frozenset(_money(text)),
        percents=frozenset(_number(v) for v in _PERCENT.findall(text)),
        dates=frozenset(_dates(text)),
        tokens=frozenset(t.upper().strip(".,;:()") for t in re.findall(r"[\w#-]+", text)),
        links=frozenset(_link(m) for m in _URL.finditer(text)),
        contacts=frozenset(_contact(c) for c in (*_EMAIL.findall(text), *_PHONE.findall(text))),
        commands=frozenset(c.strip().lower() for c in _COMMAND.findall(_URL.sub(" ", text))),
    )


def _link(match: re.Match[str]) -> str:
    url = match.group("md") or match.group(0)
    return url.lower().rstrip(".,;:!?").removeprefix("https://").removeprefix("http://").removeprefix("www.")


def _contact(value: str) -> str:
    return re.sub(r"[^0-9a-z@.]", "", value.lower())


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return {tuple(words[i:i + SHINGLE_WORDS]) for i in range(len(words) - SHINGLE_WORDS + 1)}


class ReplyChecker:
    """Checks one model reply against one brief. ``hidden`` are texts the reader must never see quoted:
    the system rules and any staff-only section left out of this brief."""

    def __init__(self, trusted: str, hidden: Iterable[str] = (), own_contacts: Iterable[str] = ()) -> None:
        self._facts = facts_of(trusted)
        self._hidden = set().union(*(_shingles(h) for h in hidden)) if hidden else set()
        self._rules_shingles: set[tuple[str, ...]] = set()
        self._claims = {m.group(0).lower() for m in _CLAIM.finditer(trusted)}
        self._own_contacts = {_contact(c) for c in own_contacts} | set(self._facts.contacts)

    def with_rules(self, rules: str) -> ReplyChecker:
        self._rules_shingles = _shingles(rules)
        return self

    def check(self, reply: str) -> Verdict:
        """The first check ``reply`` fails, or a passing verdict. Placeholders and [n] markers are ours."""
        text = _MARKER.sub(" ", _PLACEHOLDER.sub(" ", reply))
        if not text.strip():
            return Verdict(Check.EMPTY)
        for verdict in (self._guards(text), self._grounded(text)):
            if not verdict.ok:
                return verdict
        return Verdict(None)

    def _guards(self, text: str) -> Verdict:
        # Links first: a phishing URL is a command-looking path too.
        for match in _URL.finditer(text):
            if _link(match) not in self._facts.links:
                return Verdict(Check.LINK, "url")
        without_links = _URL.sub(" ", text)
        # Replies are text and never executed; still, a command the offline draft did not offer (/forget
        # confirm) is a model told to make the customer run it. A reply that is a command is refused outright.
        if text.lstrip().startswith("/"):
            return Verdict(Check.COMMAND, "starts with a slash")
        offered = self._facts.commands
        if any(c.strip().lower() not in offered for c in _COMMAND.findall(without_links)):
            return Verdict(Check.COMMAND, "slash command")
        shingles = _shingles(text)
        if shingles & self._hidden:
            return Verdict(Check.INTERNAL, "quoted a staff-only section")
        if shingles & self._rules_shingles:
            return Verdict(Check.RULES, "quoted the system rules")
        if (claim := _CLAIM.search(text)) and claim.group(0).lower() not in self._claims:
            return Verdict(Check.CLAIM, "claims an action")
        # Translated, a claim cannot be matched word for word: allowed only when the English data claims one.
        if not self._claims and _CLAIM_FOREIGN.search(text):
            return Verdict(Check.CLAIM, "claims an action")
        for value in (*_EMAIL.findall(text), *_PHONE.findall(text)):
            if _contact(value) not in self._own_contacts:
                return Verdict(Check.CONTACT, "email" if "@" in value else "phone")
        return Verdict(None)

    def _grounded(self, text: str) -> Verdict:
        f = self._facts
        if _money(text) - f.money:
            return Verdict(Check.MONEY)
        for value in _PERCENT.findall(text):
            if _number(value) not in f.percents:
                return Verdict(Check.PERCENT)
        dates = _dates(text)
        if dates - f.dates:
            return Verdict(Check.DATE)
        # "$12.50" and "12,50 €" are prices, checked above, not the 12th of some month.
        for a, b, _ in _SLASH_DATE.findall(_MONEY.sub(" ", text)):
            if (int(a), int(b)) not in f.dates and (int(b), int(a)) not in f.dates:
                return Verdict(Check.DATE)
        for value in _ORDER.findall(text):
            if value.upper() not in f.tokens and _number(re.sub(r"\D", "", value)) not in f.numbers:
                return Verdict(Check.ORDER_NUMBER)
        for value in _TRACKING.findall(text.upper()):
            if value not in f.tokens:
                return Verdict(Check.TRACKING)
        for value in _SKU.findall(text):
            if value.upper() not in f.tokens:
                return Verdict(Check.SKU)
        # Any other number: "within 3 days", "a 2-year warranty" are policies, and policies come from the data.
        dateless = _SLASH_DATE.sub(" ", _ISO_DATE.sub(" ", text))
        for value in _NUMBER.findall(dateless):
            if _number(value) not in f.numbers and not _is_date_part(value, text):
                return Verdict(Check.NUMBER)
        return Verdict(None)


def _is_date_part(value: str, text: str) -> bool:
    """A day or year inside a date the reply states (already checked as a date)."""
    return any(value in m.group(0) for m in (*_DAY_MONTH.finditer(text), *_MONTH_DAY.finditer(text),
                                             *_DAY_FOREIGN_MONTH.finditer(text)))
