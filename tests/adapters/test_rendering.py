"""The one rendering of a reply every adapter draws, its plain-text degradation, clicks and splitting."""

from __future__ import annotations

import pytest

from adapters import base
from adapters.rendering import (
    ButtonAction,
    decode_click,
    encode_click,
    render,
    render_plain,
    shorten,
    split_message,
    text_length,
)
from bot.types import FeedbackKind, Recommendation, Source, Suggestion
from tests.adapters.support import sample_reply


def test_render_separates_answer_sources_suggestions_and_feedback() -> None:
    rendered = render(sample_reply())
    assert rendered.body == "Standard shipping takes 3–5 business days."
    assert rendered.sources == "Source: Shipping — How long does shipping take?"
    assert [(b.label, b.value, b.action) for b in rendered.suggestions] == [
        ("Do you ship abroad?", "Do you ship internationally?", ButtonAction.SUGGEST),
        ("Talk to a person", "I'd like to talk to a person", ButtonAction.SUGGEST),
    ]
    assert [(b.label, b.value) for b in rendered.feedback] == [("👍 Helpful", "helpful"), ("👎 Not helpful", "not_helpful")]


def test_sources_are_drawn_even_when_the_text_does_not_carry_them() -> None:
    rendered = render(sample_reply(text="Standard shipping takes 3–5 business days."))
    assert rendered.sources == "Source: Shipping — How long does shipping take?"
    two = (Source("Shipping", "Costs", "a.md", 0.7), Source("Returns", "Returns", "b.md", 0.6))
    assert render(sample_reply(text="x", sources=two)).sources == "Sources: Shipping — Costs · Returns"


def test_no_feedback_buttons_when_the_reply_does_not_ask() -> None:
    assert render(sample_reply(ask_feedback=False)).feedback == ()


def test_plain_text_is_the_one_degradation_and_the_console_uses_it() -> None:
    reply = sample_reply(recommendations=(Recommendation("LMP-DESK-01", "Desk lamp", 89.0, "fits your desk", 0.9),))
    assert render_plain(reply) == (
        "Standard shipping takes 3–5 business days.\n\n"
        "You might also like:\n• Desk lamp — $89.00 (fits your desk)\n\n"
        "Source: Shipping — How long does shipping take?\n\n"
        "[1] Do you ship abroad?\n[2] Talk to a person"
    )
    assert base.render_plain is render_plain


def test_product_lists_are_not_repeated_as_recommendations() -> None:
    reply = sample_reply(text="Here's what we have:\n• Desk lamp (LMP-DESK-01) — $89.00, in stock", sources=(),
                         recommendations=(Recommendation("LMP-DESK-01", "Desk lamp", 89.0, "match", 0.9),))
    assert "You might also like" not in render_plain(reply)


def test_clicks_round_trip_within_the_limit() -> None:
    rendered = render(sample_reply(in_reply_to="-1001234567890:4242"))
    for button in rendered.suggestions + rendered.feedback:
        data = encode_click(button, rendered.in_reply_to, 64)
        assert data is not None and len(data.encode()) <= 64
        click = decode_click(data)
        assert click is not None and click.action is button.action
        if button.action is ButtonAction.FEEDBACK:
            assert click.kind is FeedbackKind(button.value) and click.in_reply_to == "-1001234567890:4242"
        else:
            assert click.text == button.value


def test_suggestion_too_long_for_the_limit_is_sent_by_index() -> None:
    long = Suggestion("Returns for worn shoes", "Can I return a worn pair of running shoes after a week of running in them?")
    [button] = render(sample_reply(suggestions=(long,))).suggestions
    assert encode_click(button, "x", 64) == "s#0"
    assert decode_click("s#0").index == 0  # type: ignore[union-attr]


def test_feedback_that_cannot_name_its_message_is_left_out() -> None:
    rendered = render(sample_reply(in_reply_to="m" * 80))
    assert encode_click(rendered.feedback[0], rendered.in_reply_to, 64) is None


@pytest.mark.parametrize("data", ["", "s|", "s#x", "f|1", "f+1", "f*|1", "hello", "s"])
def test_unknown_click_data_decodes_to_nothing(data: str) -> None:
    assert decode_click(data) is None


def test_split_prefers_paragraphs_then_lines_then_sentences_then_words() -> None:
    text = "First paragraph here.\n\nSecond one.\nIts second line is longer. It has two sentences."
    assert split_message(text, 60) == ["First paragraph here.",
                                       "Second one.\nIts second line is longer. It has two sentences."]
    assert split_message(text, 40) == ["First paragraph here.", "Second one.", "Its second line is longer.",
                                       "It has two sentences."]
    assert split_message("alpha beta gamma delta", 11) == ["alpha beta", "gamma delta"]
    assert split_message("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]


@pytest.mark.parametrize("limit", [2, 7, 50, 300, 4096])
def test_split_keeps_every_word_and_every_piece_within_the_limit(limit: int) -> None:
    text = "\n\n".join(f"Paragraph {i} 😀 has some words. " * (i + 1) + "\nand a line" for i in range(20))
    pieces = split_message(text, limit)
    assert all(0 < text_length(p) <= limit for p in pieces)
    assert "".join("".join(pieces).split()) == "".join(text.split())


def test_split_counts_like_telegram_and_discord_and_never_halves_a_character() -> None:
    assert text_length("😀") == 2
    assert split_message("😀😀😀", 4) == ["😀😀", "😀"]
    assert split_message("  \n ", 10) == []


def test_shorten_marks_a_cut_label() -> None:
    assert shorten("Do you ship abroad?", 80) == "Do you ship abroad?"
    assert shorten("a" * 100, 10) == "a" * 9 + "…"


def test_a_hard_cut_never_falls_inside_an_html_entity() -> None:
    escaped = "&lt;" + "x" * 5 + "&amp;" * 3 + "&#128512;"
    for limit in range(len("&#128512;"), len(escaped)):  # below that, an entity alone is too long
        pieces = split_message(escaped, limit)
        assert "".join(pieces) == escaped
        for piece in pieces:
            assert text_length(piece) <= limit
            # Every "&" a piece holds starts a whole entity inside that piece.
            assert all(piece[i:].split(";")[0] + ";" in piece for i, c in enumerate(piece) if c == "&"), (limit, pieces)
