"""Slack payloads → Inbound / Feedback, and replies → Block Kit: pure functions on realistic payloads."""

from __future__ import annotations

import pytest

from adapters.slack import (
    FEEDBACK_ACTION,
    FEEDBACK_BLOCK,
    SUGGEST_ACTION,
    SUGGESTIONS_BLOCK,
    click_to_turn,
    event_to_inbound,
    reply_blocks,
)
from bot.types import ConversationKey, Feedback, FeedbackKind, Inbound, Reply, Source, Suggestion
from tests.fakes.slack import BOT_ID, BOT_USER, OTHER_TEAM, TEAM, button_click, direct_message, event_envelope, mention


def test_direct_message_is_a_customer_message_in_its_own_thread() -> None:
    profile = {"display_name": "ana", "real_name": "Ana Silva"}
    body = event_envelope(direct_message("where is my order?", user_profile=profile))
    inbound = event_to_inbound(body, BOT_USER)
    assert inbound is not None
    assert inbound.text == "where is my order?"
    assert inbound.user_id == "U0CUSTOMER" and inbound.display_name == "ana"
    assert inbound.conversation == ConversationKey("slack", TEAM, "D0CUSTOMER", "1700000100.000200")
    assert inbound.message_id == "D0CUSTOMER:1700000100.000200"
    assert not inbound.external


def test_mention_loses_the_bot_mention_and_keeps_the_rest_readable() -> None:
    event = mention("how do I return <https://shop.example/o/1|order 1> &amp; get a refund?")
    inbound = event_to_inbound(event_envelope(event), BOT_USER)
    assert inbound is not None
    assert inbound.text == "how do I return order 1 & get a refund?"
    assert inbound.conversation.thread == event["ts"]  # a top-level mention starts its thread


def test_reply_inside_a_thread_stays_in_that_thread() -> None:
    event = mention("and the shipping cost?", ts="1700000200.000300", thread_ts="1700000000.000100")
    inbound = event_to_inbound(event_envelope(event), BOT_USER)
    assert inbound is not None
    assert inbound.conversation.thread == "1700000000.000100"
    assert inbound.message_id == "C0SUPPORT:1700000200.000300"


def test_edited_and_deleted_messages_are_ignored() -> None:
    edited = direct_message("", subtype="message_changed",
                            message={"type": "message", "user": "U0CUSTOMER", "text": "edited text", "ts": "1.1"},
                            previous_message={"type": "message", "user": "U0CUSTOMER", "text": "text", "ts": "1.1"})
    edited.pop("user")
    assert event_to_inbound(event_envelope(edited), BOT_USER) is None
    assert event_to_inbound(event_envelope(direct_message("x", subtype="message_deleted")), BOT_USER) is None


def test_message_with_only_a_file_carries_the_attachment() -> None:
    event = direct_message("", subtype="file_share", files=[{
        "id": "F0PHOTO", "name": "broken-lamp.jpg", "title": "broken-lamp.jpg", "mimetype": "image/jpeg",
        "size": 48213, "url_private": "https://files.slack.example/F0PHOTO/broken-lamp.jpg"}])
    inbound = event_to_inbound(event_envelope(event), BOT_USER)
    assert inbound is not None
    assert inbound.text == ""
    assert [(a.name, a.mime_type, a.size) for a in inbound.attachments] == [("broken-lamp.jpg", "image/jpeg", 48213)]


def test_own_and_other_bots_messages_are_ignored() -> None:
    own = direct_message("Here's what I found…", user=BOT_USER, bot_id=BOT_ID)
    other_bot = direct_message("deploy finished", user="U0OTHERBOT", bot_id="B0OTHER",
                               bot_profile={"id": "B0OTHER", "name": "ci"})
    legacy_bot = direct_message("beep", subtype="bot_message", bot_id="B0LEGACY")
    legacy_bot.pop("user")
    for event in (own, other_bot, legacy_bot):
        assert event_to_inbound(event_envelope(event), BOT_USER) is None


def test_channel_messages_without_a_mention_are_not_for_the_bot() -> None:
    event = direct_message("lunch?", channel="C0RANDOM")
    event["channel_type"] = "channel"
    assert event_to_inbound(event_envelope(event), BOT_USER) is None


def test_slack_connect_user_from_another_org_is_external() -> None:
    event = mention("what is the goodwill credit limit?", user="U0PARTNER", user_team=OTHER_TEAM)
    inbound = event_to_inbound(event_envelope(event), BOT_USER, home_team=TEAM)
    assert inbound is not None
    assert inbound.external and inbound.external_org == OTHER_TEAM
    assert inbound.conversation.workspace == TEAM  # the conversation lives in the installing workspace
    # The installing workspace comes from auth.test; without it the envelope's authorizations say it.
    assert event_to_inbound(event_envelope(event), BOT_USER).external  # type: ignore[union-attr]


def test_same_team_user_is_not_external() -> None:
    inbound = event_to_inbound(event_envelope(mention("hi")), BOT_USER, home_team=TEAM)
    assert inbound is not None and not inbound.external and inbound.external_org == ""


def test_non_event_payloads_and_garbage_are_ignored() -> None:
    assert event_to_inbound({"type": "url_verification", "challenge": "x"}, BOT_USER) is None
    assert event_to_inbound({"type": "event_callback", "event": "nonsense"}, BOT_USER) is None
    assert event_to_inbound(event_envelope({"type": "app_mention", "text": "no user or ts"}), BOT_USER) is None


def _reply(**kwargs: object) -> Reply:
    base: dict[str, object] = {
        "conversation": ConversationKey("slack", TEAM, "C0SUPPORT", "1700000000.000100"),
        "in_reply_to": "C0SUPPORT:1700000000.000100",
        "text": "Standard shipping takes 3–5 business days.\n\nSource: Shipping — How long does shipping take?",
        "sources": (Source("Shipping", "How long does shipping take?", "knowledge/pages/shipping.md", 0.8),),
        "suggestions": (Suggestion("Do you ship abroad?", "Do you ship internationally?"),),
    }
    base.update(kwargs)
    return Reply(**base)  # type: ignore[arg-type]


def test_reply_blocks_hold_answer_sources_suggestions_and_feedback() -> None:
    blocks = reply_blocks(_reply())
    assert [b["type"] for b in blocks] == ["section", "context", "actions", "actions"]
    assert blocks[0]["text"]["text"] == "Standard shipping takes 3–5 business days."  # sources line not repeated
    assert blocks[1]["elements"][0]["text"] == "Source: Shipping — How long does shipping take?"
    suggestion = blocks[2]["elements"][0]
    assert blocks[2]["block_id"] == SUGGESTIONS_BLOCK
    assert (suggestion["text"]["text"], suggestion["value"]) == ("Do you ship abroad?", "Do you ship internationally?")
    assert suggestion["action_id"].startswith(SUGGEST_ACTION)
    assert blocks[3]["block_id"] == FEEDBACK_BLOCK
    assert [e["text"]["text"] for e in blocks[3]["elements"]] == ["👍 Helpful", "👎 Not helpful"]
    assert {e["value"] for e in blocks[3]["elements"]} == {"C0SUPPORT:1700000000.000100"}


def test_reply_text_is_escaped_so_it_cannot_ping_or_link() -> None:
    blocks = reply_blocks(_reply(text="Tell <!channel> & <@U123>", sources=(), suggestions=(), ask_feedback=False))
    assert blocks == [{"type": "section", "text": {"type": "mrkdwn", "text": "Tell &lt;!channel&gt; &amp; &lt;@U123&gt;"}}]


def test_long_reply_is_split_into_sections_within_slack_limits() -> None:
    text = "\n\n".join(f"Paragraph {i}. " + "word " * 150 for i in range(10))
    sections = [b for b in reply_blocks(_reply(text=text, sources=())) if b["type"] == "section"]
    assert len(sections) > 1 and all(len(s["text"]["text"]) <= 3000 for s in sections)


def test_suggestion_click_is_the_customers_next_message_in_the_same_thread() -> None:
    message = {"type": "message", "ts": "1700000001.000500", "thread_ts": "1700000000.000100", "bot_id": BOT_ID,
               "text": "…", "blocks": reply_blocks(_reply())}
    turn = click_to_turn(button_click(message, f"{SUGGEST_ACTION}_0", "Do you ship internationally?"), TEAM)
    assert isinstance(turn, Inbound)
    assert turn.text == "Do you ship internationally?"
    assert turn.conversation == ConversationKey("slack", TEAM, "C0SUPPORT", "1700000000.000100")
    assert turn.message_id.startswith("C0SUPPORT:click:")


def test_feedback_click_is_feedback_on_the_answered_message() -> None:
    message = {"type": "message", "ts": "1700000001.000500", "thread_ts": "1700000000.000100", "text": "…"}
    body = button_click(message, f"{FEEDBACK_ACTION}_not_helpful", "C0SUPPORT:1700000000.000100")
    turn = click_to_turn(body, TEAM)
    assert isinstance(turn, Feedback)
    assert turn.kind is FeedbackKind.NOT_HELPFUL
    assert turn.in_reply_to == "C0SUPPORT:1700000000.000100"
    assert turn.feedback_id == f"U0CUSTOMER:{body['actions'][0]['action_ts']}"


def test_external_user_clicking_a_suggestion_stays_external() -> None:
    message = {"type": "message", "ts": "1700000001.000500", "thread_ts": "1700000000.000100", "text": "…"}
    turn = click_to_turn(button_click(message, f"{SUGGEST_ACTION}_0", "goodwill credit?", user_team=OTHER_TEAM), TEAM)
    assert isinstance(turn, Inbound) and turn.external and turn.external_org == OTHER_TEAM


@pytest.mark.parametrize("subtype", [[], {}, 7, True])
def test_a_subtype_that_is_not_a_string_is_dropped_not_a_crash(subtype: object) -> None:
    # Found by the webhook fuzz test: `[] in frozenset(...)` raised TypeError inside bolt's listener.
    body = event_envelope(direct_message("hi"))
    body["event"]["subtype"] = subtype
    assert event_to_inbound(body, BOT_USER, TEAM) is None
