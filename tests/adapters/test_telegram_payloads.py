"""Telegram updates → Inbound / Feedback, and replies → messages with inline keyboards: pure functions."""

from __future__ import annotations

import json

from adapters.telegram import MESSAGE_LIMIT, callback_to_turn, reply_messages, update_to_inbound
from bot.types import ConversationKey, Feedback, FeedbackKind, Inbound, Suggestion
from tests.adapters.support import sample_reply
from tests.fakes.telegram import (
    BOT_ID,
    BOT_USER,
    BOT_USERNAME,
    CUSTOMER,
    GROUP,
    callback_query,
    group_message,
    private_message,
)


def inbound(update: dict[str, object]) -> Inbound | None:
    return update_to_inbound(update, BOT_ID, BOT_USERNAME)


def test_private_message_is_always_for_the_bot() -> None:
    result = inbound(private_message("where is my order?"))
    assert result is not None
    assert result.text == "where is my order?"
    assert result.user_id == "555001" and result.display_name == "Ana Silva"
    assert result.conversation == ConversationKey("telegram", str(BOT_ID), "555001", "")
    assert result.message_id == "555001:41"


def test_redelivered_update_keeps_the_message_id() -> None:
    first, again = private_message("hi", message_id=42), private_message("hi", message_id=42)
    assert first["update_id"] != again["update_id"]
    assert inbound(first).message_id == inbound(again).message_id == "555001:42"  # type: ignore[union-attr]


def test_group_message_without_mention_or_reply_is_ignored() -> None:
    assert inbound(group_message("anyone know when the sale starts?")) is None


def test_group_mention_is_answered_without_the_mention() -> None:
    result = inbound(group_message(f"@{BOT_USERNAME} how long does shipping take?"))
    assert result is not None
    assert result.text == "how long does shipping take?"
    assert result.conversation.channel == str(GROUP["id"])
    assert result.message_id == f"{GROUP['id']}:77"


def test_group_reply_to_the_bot_is_answered() -> None:
    bot_message = {"message_id": 70, "from": BOT_USER, "chat": GROUP, "date": 1700000000, "text": "Standard shipping…"}
    assert inbound(group_message("and to Canada?", reply_to_message=bot_message)) is not None
    other = {**bot_message, "from": {**CUSTOMER, "id": 999}}
    assert inbound(group_message("and to Canada?", reply_to_message=other)) is None


def test_edited_messages_and_channel_posts_are_ignored() -> None:
    edited = private_message("where is my order??")
    edited["edited_message"] = {**edited.pop("message"), "edit_date": 1700000100}
    assert inbound(edited) is None
    post = {"update_id": 1, "channel_post": {"message_id": 1, "chat": {"id": -100, "type": "channel"},
                                             "date": 1700000000, "text": "news"}}
    assert inbound(post) is None


def test_photo_without_caption_carries_the_attachment() -> None:
    photo = [{"file_id": "small", "file_unique_id": "s", "width": 90, "height": 90, "file_size": 1200},
             {"file_id": "large", "file_unique_id": "l", "width": 1280, "height": 1280, "file_size": 182044}]
    update = private_message("", photo=photo)
    del update["message"]["text"]
    result = inbound(update)
    assert result is not None and result.text == ""
    assert [(a.name, a.mime_type, a.size) for a in result.attachments] == [("photo.jpg", "image/jpeg", 182044)]
    update["message"]["caption"] = "it arrived broken"
    assert inbound(update).text == "it arrived broken"  # type: ignore[union-attr]


def test_bots_and_the_bot_itself_are_ignored() -> None:
    assert inbound(private_message("hi", user={**CUSTOMER, "id": 777, "is_bot": True})) is None
    assert inbound(private_message("hi", user=BOT_USER)) is None


def test_start_deep_link_passes_through_for_identity_linking() -> None:
    assert inbound(private_message("/start LINK-7f3a9c")).text == "/start LINK-7f3a9c"  # type: ignore[union-attr]
    group = inbound(group_message(f"/start@{BOT_USERNAME} LINK-7f3a9c"))
    assert group is not None and group.text == "/start LINK-7f3a9c"


def test_forum_topic_is_the_conversation_thread() -> None:
    result = inbound(group_message(f"@{BOT_USERNAME} hi", message_thread_id=12, is_topic_message=True))
    assert result is not None and result.conversation.thread == "12"


def test_malformed_updates_are_ignored() -> None:
    assert inbound({"update_id": 1}) is None
    assert inbound({"update_id": 1, "message": "x"}) is None
    assert inbound({"update_id": 1, "message": {"message_id": 1, "chat": {"id": 5, "type": "private"}}}) is None


def bot_reply_message(keyboard: list[list[dict[str, str]]]) -> dict[str, object]:
    return {"message_id": 9001, "from": BOT_USER, "chat": {"id": CUSTOMER["id"], "type": "private"},
            "date": 1700000000, "text": "…", "reply_markup": {"inline_keyboard": keyboard}}


def test_suggestion_click_is_the_customers_next_message() -> None:
    update = callback_query("s|Do you ship internationally?", bot_reply_message([]))
    turn = callback_to_turn(update, BOT_ID)
    assert isinstance(turn, Inbound)
    assert turn.text == "Do you ship internationally?"
    assert turn.conversation.channel == "555001"
    assert turn.message_id == f"555001:cb:{update['callback_query']['id']}"


def test_suggestion_too_long_for_callback_data_sends_its_label() -> None:
    keyboard = [[{"text": "How do I care for a cast-iron skillet after cooking?", "callback_data": "s#0"}]]
    turn = callback_to_turn(callback_query("s#0", bot_reply_message(keyboard)), BOT_ID)
    assert isinstance(turn, Inbound) and turn.text == "How do I care for a cast-iron skillet after cooking?"


def test_feedback_click_is_feedback() -> None:
    update = callback_query("f-|555001:41", bot_reply_message([]))
    turn = callback_to_turn(update, BOT_ID)
    assert isinstance(turn, Feedback)
    assert (turn.kind, turn.in_reply_to, turn.user_id) == (FeedbackKind.NOT_HELPFUL, "555001:41", "555001")
    assert turn.feedback_id == update["callback_query"]["id"]


def test_unknown_button_data_is_ignored() -> None:
    assert callback_to_turn(callback_query("v1:legacy", bot_reply_message([])), BOT_ID) is None


def test_reply_is_plain_text_with_suggestions_and_feedback_under_it() -> None:
    conversation = ConversationKey("telegram", str(BOT_ID), "555001", "")
    [message] = reply_messages(sample_reply(conversation, "555001:41"))
    assert message.text == ("Standard shipping takes 3–5 business days.\n\n"
                            "Source: Shipping — How long does shipping take?")
    assert message.keyboard == (
        (("Do you ship abroad?", "s|Do you ship internationally?"),),
        (("Talk to a person", "s|I'd like to talk to a person"),),
        (("👍 Helpful", "f+|555001:41"), ("👎 Not helpful", "f-|555001:41")),
    )


def test_callback_data_stays_within_64_bytes() -> None:
    long = "Can I return a worn pair of running shoes if they hurt my feet after a week?"
    [message] = reply_messages(sample_reply(in_reply_to="-1001234567890:123456", suggestions=(Suggestion(long, long),)))
    data = [d for row in message.keyboard for _, d in row]
    assert data[0] == "s#0" and all(len(d.encode()) <= 64 for d in data)


def test_long_reply_is_split_at_paragraphs_with_buttons_on_the_last_piece() -> None:
    paragraphs = [f"Paragraph {i}: " + "lorem ipsum dolor sit amet " * 30 for i in range(12)]
    messages = reply_messages(sample_reply(text="\n\n".join(paragraphs), sources=()))
    assert len(messages) > 1
    assert all(len(m.text) <= MESSAGE_LIMIT for m in messages)
    assert all(m.text.startswith("Paragraph") and m.text.endswith("amet") for m in messages)  # clean breaks
    assert [bool(m.keyboard) for m in messages] == [False] * (len(messages) - 1) + [True]
    assert json.dumps([m.text for m in messages]).count("Paragraph") == 12
