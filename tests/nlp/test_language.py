"""Offline language detection: foreign questions are recognised, short English never called foreign."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from bot.nlp.language import (
    CANDIDATES,
    LanguageDetector,
    evaluate,
    notice_for,
    notice_languages,
    phrases_for,
    read_labelled,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    return LanguageDetector(known_words=["Halo", "Ridgeback", "TrailCharge", "Yirgacheffe"])


@pytest.mark.parametrize(("text", "code"), [
    ("¿Cuánto tarda el envío a España?", "es"),
    ("Hola, ¿tienen la lámpara Halo en stock?", "es"),
    ("Bonjour, où en est ma commande ?", "fr"),
    ("Wie lange dauert der Versand nach Österreich?", "de"),
    ("Quanto custa a luminária de mesa?", "pt"),
    ("Posso restituire le scarpe da corsa?", "it"),
    ("Waar blijft mijn bestelling?", "nl"),
    ("Где мой заказ?", "ru"),
])
def test_foreign_questions_are_detected(detector: LanguageDetector, text: str, code: str) -> None:
    found = detector.detect(text)
    assert found.code == code and not found.is_english, found


@pytest.mark.parametrize("text", [
    "hi", "ok", "ok thanks", "thanks!", "order 1042?", "Halo LED Desk Lamp", "powerbank", "C-1001", "/agent",
    "TrailCharge 20000 mAh", "Yirgacheffe beans", "is the halo lamp in stock?", "bye", "ty", "lol",
    "https://example.com/orders/1042", "ana@example.com", "",
])
def test_short_english_product_names_and_references_stay_english(detector: LanguageDetector, text: str) -> None:
    found = detector.detect(text)
    assert found.is_english and found.code == "en", found


def test_accuracy_on_the_labelled_set() -> None:
    result = evaluate(LanguageDetector(), read_labelled())
    assert result.foreign_total >= 100 and result.english_total >= 40
    assert len({code for code, _ in read_labelled()}) >= 8
    assert result.accuracy >= 0.95, result.mistakes
    assert result.english_false_foreign == 0, result.mistakes


def test_no_english_support_sentence_in_the_repo_is_called_foreign() -> None:
    texts = [r["text"] for r in csv.DictReader((ROOT / "knowledge/intents.csv").open(encoding="utf-8"))]
    texts += [r["text"] for r in csv.DictReader((ROOT / "bot/nlp/support_sentiment.csv").open(encoding="utf-8"))]
    detector = LanguageDetector()
    foreign = [(t, detector.detect(t).code) for t in texts if not detector.detect(t).is_english]
    assert len(texts) > 250
    assert foreign == []


def test_notices_exist_for_the_main_languages_and_not_for_english() -> None:
    for code in ("es", "fr", "de", "pt", "it", "nl"):
        phrases = phrases_for(code)
        assert phrases is not None and code in CANDIDATES
        assert notice_for(code) == phrases.english_answer
        assert phrases.english_answer.rstrip().endswith(":")
        assert phrases.offer_person.rstrip().endswith("?")
        assert len({phrases.english_answer, phrases.english_only, phrases.offer_person}) == 3
    assert notice_for("en") is None and phrases_for("en") is None
    assert notice_for("xx") is None
    assert set(notice_languages()) >= {"es", "fr", "de", "pt", "it", "nl"}


def test_each_notice_reads_as_its_own_language() -> None:
    detector = LanguageDetector()
    for code in notice_languages():
        phrases = phrases_for(code)
        assert phrases is not None
        for sentence in (phrases.english_answer, phrases.english_only, phrases.offer_person):
            assert detector.detect(sentence).code == code, (code, sentence)


def test_the_offline_reply_puts_the_english_answer_between_the_notice_and_the_offer() -> None:
    from bot.nlp.language import english_only_reply

    answer = "Standard shipping takes 3 to 5 business days."
    reply = english_only_reply("es", answer)
    assert reply is not None
    notice, body, offer = reply.split("\n\n")
    assert notice == notice_for("es") and body == answer and offer == phrases_for("es").offer_person  # type: ignore[union-attr]
    nothing = english_only_reply("de", None)
    assert nothing is not None and nothing.startswith(phrases_for("de").english_only)  # type: ignore[union-attr]
    assert english_only_reply("en", answer) is None and english_only_reply("ja", answer) is None
