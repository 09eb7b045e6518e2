"""Keyword index: spelling correction against the knowledge vocabulary, stemming, coverage."""

from __future__ import annotations

from bot.knowledge.lexical import LexicalDocument, LexicalIndex, words
from bot.knowledge.search import fused_similarity

DOCS = [
    LexicalDocument(("shipping.md", 0), "Shipping", "How long does shipping take?",
                    "Standard shipping takes 3-5 business days."),
    LexicalDocument(("returns.md", 0), "Returns", "Which items can't be returned?",
                    "Opened consumables such as coffee beans cannot be returned. Leather goods can."),
    LexicalDocument(("orders.md", 0), "Orders", "How do I check my order status?", "Sign in and go to My Orders."),
]


def test_misspelt_words_become_the_nearest_knowledge_word() -> None:
    index = LexicalIndex(DOCS)
    assert index.correct("how lnog does shiping take") == "how long does shipping take"
    assert index.correct("whats the status of my oder") == "whats the status of my order"
    assert index.respell("how long does shipping take") is None  # nothing to fix: nothing re-embedded


def test_respelling_changes_only_the_misspelt_words_and_keeps_how_the_rest_was_written() -> None:
    index = LexicalIndex(DOCS)
    # The embedding reads case, commas and question marks; only "shiping" and "Oder" were wrong.
    assert index.respell("Hi, how long does shiping take?!") == "Hi, how long does shipping take?!"
    assert index.respell("Can’t find my Oder, where is it?") == "Can’t find my order, where is it?"


def test_real_words_are_not_corrected_into_knowledge_words() -> None:
    index = LexicalIndex(DOCS)
    # "weather" is one edit from "leather", but it is a common English word in its own right.
    assert index.correct("what's the weather tomorrow") == "whats the weather tomorrow"
    assert index.correct("do you price match amazon") == "do you price match amazon"


def test_stems_meet_and_coverage_counts_the_query_words_a_section_holds() -> None:
    index = LexicalIndex(DOCS)
    scores = index.score("can i return opened coffee beans?")
    best = max(scores.values(), key=lambda s: s.bm25)
    assert best.key == ("returns.md", 0) and best.coverage == 1.0
    partial = index.score("do you price match returned coffee")[("returns.md", 0)]
    assert 0.0 < partial.coverage < 0.5  # "price" and "match" are in no section and weigh the most


def test_a_query_of_stopwords_only_has_no_terms() -> None:
    index = LexicalIndex(DOCS)
    assert index.query_terms("hi, can you help me please?") == ["help"]
    assert index.query_terms("hi there") == [] and index.score("hi there") == {}
    assert words("Can’t I?") == ["cant", "i"]


def test_an_empty_index_scores_nothing() -> None:
    assert LexicalIndex([]).score("shipping") == {}


def test_the_fused_score_stays_on_the_dense_scale_and_within_0_and_1() -> None:
    assert fused_similarity(0.6, 0.5) == 0.6
    assert fused_similarity(0.5, 1.0) == 0.6 and fused_similarity(0.5, 0.0) == 0.4
    assert fused_similarity(0.98, 1.0) == 1.0 and fused_similarity(0.02, 0.0) == 0.0
