"""Replies in the customer's language, grounded in the English data: the brief names the language, the
checks read prices, dates and percentages as other languages write them, and still stop invented ones."""

from __future__ import annotations

import dataclasses

import pytest

from bot.config import Brand, LlmBudgets
from bot.llm import LlmComposer
from bot.llm.brief import BriefBuilder
from bot.llm.grounding import Check, ReplyChecker
from tests.fakes.openai import Answer, FakeOpenAI
from tests.llm.conftest import DRAFT_TEXT, request

GERMAN = "Wo ist meine Lampe? Ich warte schon seit einer Woche auf die Bestellung."
SPANISH = "¿Dónde está mi lámpara? Llevo una semana esperando el pedido."


def brief_for(language: str) -> str:
    brief = BriefBuilder(Brand(), LlmBudgets()).build(dataclasses.replace(request(GERMAN), language=language))
    return brief.system


def test_the_brief_names_the_language_and_says_the_data_is_english() -> None:
    german, english = brief_for("de"), brief_for("en")
    assert "Reply in the customer's language (German, de)" in german
    assert "The data is in English: write in German anyway" in german
    assert "Reply in the customer's language (English, en)" in english and "The data is in English" not in english


# Ana's brief: order 1042, $89.00, shipped 2026-11-16, tracking 1Z999AA10123456784, the bulb at $12.50,
# returns within 30 days.
@pytest.mark.parametrize("reply", [
    "Ihre Bestellung 1042 wurde am 16. November 2026 versandt, Sendungsnummer 1Z999AA10123456784.",
    "Tu pedido 1042 se envió el 16 de noviembre de 2026 y costó 89,00 $.",
    "Votre commande 1042 (89 dollars) est partie le 16 novembre ; retour possible sous 30 jours.",
    "La lampadina costa 12,50 $ [1].",
    "Uw bestelling is op 16.11.2026 verzonden.",
    "The bulb is $12.50.",  # an English price is not a date either (12.50 was read as the 12th of the 50th)
])
def test_facts_written_the_customers_way_pass(reply: str) -> None:
    checker = ReplyChecker(BriefBuilder(Brand(), LlmBudgets()).build(request()).grounding)
    assert checker.check(reply).ok


@pytest.mark.parametrize(("reply", "check"), [
    ("Ihre Bestellung kostet 89,00 €.", Check.MONEY),  # the right amount in another currency is invented
    ("Der Preis ist 79,00 $.", Check.MONEY),
    ("La bombilla cuesta 12,60 $.", Check.MONEY),
    ("Versandt am 18. November 2026.", Check.DATE),
    ("Enviado el 17 de noviembre.", Check.DATE),
    ("Expédiée le 17.11.2026.", Check.DATE),
    ("Sie bekommen 25 Prozent Rabatt.", Check.PERCENT),
    ("Le devolvemos el 20 por ciento.", Check.PERCENT),
    ("Bestellung 9999 ist unterwegs.", Check.NUMBER),
    ("Rückgabe innerhalb von 60 Tagen.", Check.NUMBER),
    ("Ich habe Ihre Bestellung storniert.", Check.CLAIM),
    ("He reembolsado tu pedido.", Check.CLAIM),
    ("J'ai annulé la commande.", Check.CLAIM),
])
def test_invented_facts_are_stopped_in_any_language(reply: str, check: Check) -> None:
    checker = ReplyChecker(BriefBuilder(Brand(), LlmBudgets()).build(request()).grounding)
    assert checker.check(reply).check is check


async def test_a_german_customer_gets_the_models_german_reply(fake: FakeOpenAI, composer: LlmComposer) -> None:
    fake.script(Answer("Ihre Lampe (Bestellung 1042) ist am 16. November 2026 losgegangen, Sendungsnummer "
                       "1Z999AA10123456784 [1]."))

    result = await composer.compose_detailed(dataclasses.replace(request(GERMAN), language="de"))

    system, user = (m["content"] for m in fake.requests[0].messages)
    assert "(German, de)" in system and "write in German" in system
    assert "order 1042: shipped" in user and "Return window" in user  # the English data, as it is
    assert result.by_model and result.reply.text.startswith("Ihre Lampe (Bestellung 1042)")


async def test_a_spanish_reply_with_a_translated_price_gets_the_offline_draft(
        fake: FakeOpenAI, composer: LlmComposer) -> None:
    fake.script(Answer("Tu lámpara costó 89,00 € y llega pronto."), Answer("Tu lámpara costó 79 dólares."))

    result = await composer.compose_detailed(dataclasses.replace(request(SPANISH), language="es"))

    assert "(Spanish, es)" in fake.requests[0].messages[0]["content"]
    assert not result.by_model and result.checks == (Check.MONEY, Check.MONEY)
    assert result.reply.text == DRAFT_TEXT
