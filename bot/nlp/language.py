"""Which language a customer writes in, offline, and what the offline composer says to those
who do not write in English.

Detection is py3langid's model (a naive-Bayes byte n-gram model that ships inside the package,
~4.5 MB), held in ~20 MB (54 MB before) by :mod:`bot.nlp.language_model` with the same answers,
loaded once in ~1.2 s of CPU; ~0.1 ms a message), restricted to the languages customers realistically
write in, which removes most confusions on short text. Short messages carry too little evidence
for any model ("ok", "hi", "Halo LED Desk Lamp", "order 1042?"), so before asking the model we
drop what is not language (numbers, order references, SKUs, links, e-mail addresses, /commands and,
when given, the catalog's own product words) and answer English unless enough words and letters
remain and the model is confident. A wrong "English" costs an English reply; a wrong "foreign"
costs a confusing notice to an English speaker, so doubt resolves to English.

Measured with :func:`evaluate` on ``language_eval.csv`` (100 short support questions in
Spanish, French, German, Portuguese, Italian, Dutch and Polish, and 48 short English messages
such as "ok", "order 1042?", "Halo LED Desk Lamp"): 100/100 foreign right, 0/48 English called
foreign; on the repo's 516 English support sentences (intents, sentiment, retrieval questions)
0 called foreign. The thresholds (two words, twelve letters, probability 0.65) were chosen on
that set: at 0.8 four Spanish questions split between Spanish and Portuguese fell back to English.
Two-word foreign messages with fewer than twelve letters ("¿aceptan paypal?", "danke schön") are
taken as English.
"""

from __future__ import annotations

import csv
import logging
import re
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.nlp.language_model import ModelLayoutError, NgramLanguageIdentifier

log = logging.getLogger("rapport.language")
EVAL_CSV = Path(__file__).resolve().parent / "language_eval.csv"

ENGLISH = "en"
# The languages the model chooses among (ISO 639-1). Restricting the set matters: over all 97
# languages py3langid files two-word English as Arabic, Hungarian or Danish far more often.
CANDIDATES = (
    "en", "es", "fr", "de", "pt", "it", "nl", "pl", "sv", "da", "no", "fi", "tr", "ru", "uk", "cs",
    "ro", "hu", "el", "id", "vi", "ja", "zh", "ko", "ar", "he", "hi", "th",
)

# Tokens that are not words of any language: links, e-mail, @mentions, /commands, anything with a digit.
_NOT_LANGUAGE = re.compile(r"https?://\S+|www\.\S+|\S+@\S+|(?<!\w)[@/#]\w+|\S*\d\S*")
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")


@dataclass(frozen=True, slots=True)
class Language:
    """``code`` is ISO 639-1 ("en", "es", …); ``confidence`` the model's probability for it, or 1.0
    when English was assumed for want of evidence; ``reason`` says which (for logs and tests)."""

    code: str
    confidence: float
    is_english: bool
    reason: str


@dataclass(frozen=True, slots=True)
class LanguagePhrases:
    """What the offline composer says in this language, written by hand, not machine-translated."""

    code: str
    language: str  # its English name: "Spanish"
    english_answer: str  # "Our answers are available in English; here is what I found:"
    english_only: str  # "Our answers are available in English, but I couldn't find one for your question."
    offer_person: str  # "Would you like me to bring in a person from our team who can help?"
    # Asks where an order is or when it comes ("wo ist meine Bestellung?"): answered with its status in English.
    asks_order_status: str = ""

    def asks_status(self, text: str) -> bool:
        return bool(self.asks_order_status) and re.search(self.asks_order_status, text, re.I) is not None


# Written by hand, short and natural, in the register shops use in each language (tú, vous, Sie,
# você, tu, je). One row per language; add a row to support another.
PHRASES = (
    LanguagePhrases(
        "es", "Spanish",
        "Nuestras respuestas están disponibles en inglés; esto es lo que encontré:",
        "Nuestras respuestas están disponibles en inglés, pero no encontré una respuesta a tu pregunta.",
        "¿Quieres que te ponga en contacto con una persona de nuestro equipo que pueda ayudarte?",
        r"\b(?:d[oó]nde|cu[aá]ndo|estado|seguimiento)\b.*\b(?:pedido|paquete|env[ií]o|compra)\b",
    ),
    LanguagePhrases(
        "fr", "French",
        "Nos réponses sont disponibles en anglais ; voici ce que j'ai trouvé :",
        "Nos réponses sont disponibles en anglais, mais je n'ai pas trouvé de réponse à votre question.",
        "Voulez-vous que je fasse appel à une personne de notre équipe pour vous aider ?",
        r"\b(?:o[uù]|quand|statut|suivi)\b.*\b(?:commande|colis|livraison)\b",
    ),
    LanguagePhrases(
        "de", "German",
        "Unsere Antworten gibt es auf Englisch; Folgendes habe ich gefunden:",
        "Unsere Antworten gibt es auf Englisch, aber zu Ihrer Frage habe ich leider keine gefunden.",
        "Soll ich eine Person aus unserem Team dazuholen, die Ihnen helfen kann?",
        r"\b(?:wo|wann|status)\b.*\b(?:bestellung|paket|lieferung|sendung)\b",
    ),
    LanguagePhrases(
        "pt", "Portuguese",
        "Nossas respostas estão disponíveis em inglês; veja o que encontrei:",
        "Nossas respostas estão disponíveis em inglês, mas não encontrei uma resposta para a sua pergunta.",
        "Quer que eu chame uma pessoa da nossa equipe para ajudar?",
        r"\b(?:onde|quando|status|estado)\b.*\b(?:pedido|encomenda|pacote|entrega)\b",
    ),
    LanguagePhrases(
        "it", "Italian",
        "Le nostre risposte sono disponibili in inglese; ecco cosa ho trovato:",
        "Le nostre risposte sono disponibili in inglese, ma non ho trovato una risposta alla tua domanda.",
        "Vuoi che coinvolga una persona del nostro team che possa aiutarti?",
        r"\b(?:dove\b|dov['’]|quando\b|stato\b).*\b(?:ordine|pacco|spedizione|consegna)\b",
    ),
    LanguagePhrases(
        "nl", "Dutch",
        "Onze antwoorden zijn beschikbaar in het Engels; dit heb ik gevonden:",
        "Onze antwoorden zijn beschikbaar in het Engels, maar ik heb geen antwoord op je vraag gevonden.",
        "Wil je dat ik iemand van ons team erbij haal die je kan helpen?",
        r"\b(?:waar|wanneer|status)\b.*\b(?:bestelling|pakket|levering)\b",
    ),
    LanguagePhrases(
        "pl", "Polish",
        "Nasze odpowiedzi są dostępne po angielsku; oto, co udało mi się znaleźć:",
        "Nasze odpowiedzi są dostępne po angielsku, ale nie udało mi się znaleźć odpowiedzi na Twoje pytanie.",
        "Czy mam poprosić o pomoc osobę z naszego zespołu?",
        r"\b(?:gdzie|kiedy|status)\b.*\b(?:zam[oó]wieni\w*|paczk\w*|przesyłk\w*)\b",
    ),
)
_BY_CODE = {p.code: p for p in PHRASES}

class LanguageDetector:
    """Build once at start-up (it loads the model); :meth:`detect` is then cheap enough per turn."""

    def __init__(
        self,
        known_words: Iterable[str] = (),
        *,
        candidates: Iterable[str] = CANDIDATES,
        min_words: int = 2,
        min_letters: int = 12,
        min_confidence: float = 0.65,
    ) -> None:
        """``known_words``: words that say nothing about the language (product and brand names from
        the catalog); they are dropped before detection. Thresholds apply to Latin-script text; a
        message mostly in another script (Cyrillic, CJK, Arabic, …) needs only two letters."""
        self._candidates = list(candidates)
        self._known = frozenset(w.lower() for w in known_words)
        self._min_words = min_words
        self._min_letters = min_letters
        self._min_confidence = min_confidence

    def detect(self, text: str) -> Language:
        """The language of ``text``; English unless the evidence for another language is clear."""
        words = [w for w in _WORD.findall(_NOT_LANGUAGE.sub(" ", text)) if w.lower() not in self._known]
        letters = sum(len(w) for w in words)
        if letters == 0:
            return Language(ENGLISH, 1.0, True, "no words")
        latin = _latin_share(words) >= 0.5
        if latin and (len(words) < self._min_words or letters < self._min_letters):
            return Language(ENGLISH, 1.0, True, f"too short to tell ({len(words)} words, {letters} letters)")
        code, probability = self._identifier().classify(" ".join(words))
        probability = float(probability)
        if code == ENGLISH:
            return Language(ENGLISH, probability, True, "detected")
        if latin and probability < self._min_confidence:
            return Language(ENGLISH, 1.0 - probability, True, f"unsure ({code} at {probability:.2f})")
        return Language(code, probability, False, "detected")


    def _identifier(self) -> Any:
        return _identifier_for(tuple(self._candidates))


# The loaded models, one per set of candidates for the whole process: loading costs ~1.1 s of CPU and
# ~20 MB, and every runtime has its detector (the scenario runner opens one a scenario).
_IDENTIFIERS: dict[tuple[str, ...], Any] = {}
_LOADING = threading.Lock()


def _identifier_for(candidates: tuple[str, ...]) -> Any:
    """The model for ``candidates``, loaded by the first message long enough to need it; classify
    only reads it, so detectors on any thread share it."""
    with _LOADING:  # detect runs on worker threads: two first messages load it once
        if candidates not in _IDENTIFIERS:
            try:  # ~20 MB, the same answers (bot/nlp/language_model.py)
                _IDENTIFIERS[candidates] = NgramLanguageIdentifier.from_py3langid(candidates)
            except ModelLayoutError as error:  # another py3langid's file: its own loader, ~50 MB
                log.warning("py3langid's model loaded whole (~50 MB, ~105 MB while loading): %s", error)
                _IDENTIFIERS[candidates] = _py3langid_identifier(list(candidates))
        return _IDENTIFIERS[candidates]


def _py3langid_identifier(candidates: list[str]) -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    model = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    model.set_languages(candidates)
    # set_languages keeps the 97-language table for a later reset we never make: drop it (~20 MB).
    model._full_model = (model.nb_ptc, model.nb_pc, model.nb_classes)
    return model


def _latin_share(words: list[str]) -> float:
    letters = [c for w in words for c in w if c.isalpha()]
    if not letters:
        return 1.0
    return sum(unicodedata.name(c, "").startswith("LATIN") for c in letters) / len(letters)


def phrases_for(code: str) -> LanguagePhrases | None:
    """The hand-written sentences for ``code``, or None for English and languages we have none for."""
    return _BY_CODE.get(code)


def notice_for(code: str) -> str | None:
    """"Our answers are available in English; here is what I found:" in ``code``, or None (English or unknown)."""
    phrases = phrases_for(code)
    return phrases.english_answer if phrases else None


def english_only_reply(code: str, english_answer: str | None) -> str | None:
    """The offline composer's reply to a customer writing in ``code``: in their language, that our
    answers are in English, then the English answer when one matched well, then the offer of a
    person. None for English and for languages without hand-written phrases (reply as usual)."""
    phrases = phrases_for(code)
    if phrases is None:
        return None
    if english_answer:
        return f"{phrases.english_answer}\n\n{english_answer.strip()}\n\n{phrases.offer_person}"
    return f"{phrases.english_only} {phrases.offer_person}"


def notice_languages() -> tuple[str, ...]:
    """Codes that have hand-written notices, for the README and start-up checks."""
    return tuple(_BY_CODE)


@dataclass(frozen=True, slots=True)
class LanguageEvaluation:
    foreign_total: int
    foreign_correct: int  # right language
    foreign_flagged: int  # not English (what the composer acts on), right language or not
    english_total: int
    english_false_foreign: int
    mistakes: tuple[tuple[str, str, str], ...]  # (expected, detected, text)

    @property
    def accuracy(self) -> float:
        return self.foreign_correct / self.foreign_total if self.foreign_total else 0.0

    @property
    def false_foreign_rate(self) -> float:
        return self.english_false_foreign / self.english_total if self.english_total else 0.0


def read_labelled(path: Path = EVAL_CSV) -> list[tuple[str, str]]:
    """``lang,text`` rows as (code, text)."""
    with path.open(encoding="utf-8", newline="") as handle:
        return [(r["lang"], r["text"]) for r in csv.DictReader(handle)]


def evaluate(detector: LanguageDetector, rows: Iterable[tuple[str, str]]) -> LanguageEvaluation:
    """Accuracy on the non-English rows and the share of English rows called foreign."""
    foreign_total = foreign_correct = foreign_flagged = english_total = false_foreign = 0
    mistakes: list[tuple[str, str, str]] = []
    for expected, text in rows:
        found = detector.detect(text)
        if expected == ENGLISH:
            english_total += 1
            false_foreign += not found.is_english
        else:
            foreign_total += 1
            foreign_correct += found.code == expected
            foreign_flagged += not found.is_english
        if found.code != expected:
            mistakes.append((expected, found.code, text))
    return LanguageEvaluation(foreign_total, foreign_correct, foreign_flagged, english_total, false_foreign,
                              tuple(mistakes))
