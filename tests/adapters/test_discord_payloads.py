"""Discord messages → Inbound, clicks → Inbound / Feedback, replies → messages with buttons: pure functions.

Messages are built from gateway payloads exactly as discord.py's parser builds them.
"""

from __future__ import annotations

from adapters.discord import MESSAGE_LIMIT, click_to_turn, message_to_inbound, reply_messages
from bot.types import ConversationKey, Feedback, FeedbackKind, Inbound, Suggestion
from tests.adapters.support import sample_reply
from tests.fakes.discord import (
    BOT_ID,
    BOT_USER,
    CHANNEL_ID,
    CUSTOMER,
    DM_CHANNEL_ID,
    GUILD_ID,
    OTHER_BOT,
    THREAD_CHANNEL,
    THREAD_ID,
    build_interaction,
    build_message,
    interaction_payload,
    message_payload,
)

BOT = int(BOT_ID)


def inbound(data: dict[str, object]) -> Inbound | None:
    return message_to_inbound(build_message(data), BOT)


def test_direct_message_is_always_for_the_bot() -> None:
    data = message_payload("where is my order?", channel_id=DM_CHANNEL_ID, guild=False)
    result = inbound(data)
    assert result is not None
    assert result.text == "where is my order?"
    assert result.conversation == ConversationKey("discord", "@me", DM_CHANNEL_ID, "")
    assert result.message_id == data["id"]
    assert result.user_id == CUSTOMER["id"] and result.display_name == "Ana Silva"


def test_guild_mention_is_answered_without_the_mention() -> None:
    result = inbound(message_payload("how long does shipping take?", mention_bot=True))
    assert result is not None
    assert result.text == "how long does shipping take?"
    assert result.conversation == ConversationKey("discord", GUILD_ID, CHANNEL_ID, "")


def test_guild_message_without_mention_is_ignored() -> None:
    assert inbound(message_payload("anyone here?")) is None


def test_thread_mention_lives_in_the_thread() -> None:
    result = inbound(message_payload("it arrived damaged", channel_id=THREAD_ID, mention_bot=True))
    assert result is not None
    assert result.conversation == ConversationKey("discord", GUILD_ID, CHANNEL_ID, THREAD_ID)


def test_reply_to_the_bot_is_answered_without_a_mention() -> None:
    bot_said = message_payload("Standard shipping takes 3–5 business days.", author=BOT_USER)
    data = message_payload("and to Canada?", type=19, referenced_message=bot_said,
                           message_reference={"message_id": bot_said["id"], "channel_id": CHANNEL_ID,
                                              "guild_id": GUILD_ID})
    result = inbound(data)
    assert result is not None and result.text == "and to Canada?"


def test_edited_message_is_ignored() -> None:
    data = message_payload("how long does shipping take??", mention_bot=True,
                           edited_timestamp="2024-05-01T10:00:00+00:00")
    assert inbound(data) is None


def test_message_with_only_an_attachment_carries_it() -> None:
    attachment = {"id": "1100000000000000900", "filename": "broken-lamp.jpg", "size": 48213,
                  "url": "https://cdn.discordapp.example/attachments/1/2/broken-lamp.jpg",
                  "proxy_url": "https://media.discordapp.example/attachments/1/2/broken-lamp.jpg",
                  "content_type": "image/jpeg", "width": 800, "height": 600}
    result = inbound(message_payload("", channel_id=DM_CHANNEL_ID, guild=False, attachments=[attachment]))
    assert result is not None and result.text == ""
    assert [(a.name, a.mime_type, a.size) for a in result.attachments] == [("broken-lamp.jpg", "image/jpeg", 48213)]


def test_own_messages_other_bots_and_webhooks_are_ignored() -> None:
    assert inbound(message_payload("hello", channel_id=DM_CHANNEL_ID, guild=False, author=BOT_USER)) is None
    assert inbound(message_payload("deploy done", mention_bot=True, author=OTHER_BOT)) is None
    assert inbound(message_payload("status", mention_bot=True, webhook_id="1100000000000000700")) is None


def test_system_messages_are_ignored() -> None:
    assert inbound(message_payload("", mention_bot=True, type=7)) is None  # member joined


def test_suggestion_click_is_the_customers_next_message_in_the_thread() -> None:
    bot_reply = message_payload("…", channel_id=THREAD_ID, author=BOT_USER)
    interaction = build_interaction(interaction_payload("s|Do you ship internationally?", bot_reply,
                                                        channel=THREAD_CHANNEL))
    turn = click_to_turn(interaction, "s|Do you ship internationally?", "Do you ship abroad?")
    assert isinstance(turn, Inbound)
    assert turn.text == "Do you ship internationally?"
    assert turn.conversation == ConversationKey("discord", GUILD_ID, CHANNEL_ID, THREAD_ID)
    assert turn.message_id == f"interaction:{interaction.id}"


def test_suggestion_click_with_only_an_index_sends_the_label() -> None:
    bot_reply = message_payload("…", channel_id=DM_CHANNEL_ID, guild=False, author=BOT_USER)
    turn = click_to_turn(build_interaction(interaction_payload("s#1", bot_reply)), "s#1", "Talk to a person")
    assert isinstance(turn, Inbound) and turn.text == "Talk to a person"
    assert turn.conversation == ConversationKey("discord", "@me", DM_CHANNEL_ID, "")


def test_feedback_click_is_feedback() -> None:
    bot_reply = message_payload("…", author=BOT_USER)
    interaction = build_interaction(interaction_payload("f+|1100000000000000800", bot_reply))
    turn = click_to_turn(interaction, "f+|1100000000000000800", "👍 Helpful")
    assert isinstance(turn, Feedback)
    assert (turn.kind, turn.in_reply_to, turn.user_id) == (FeedbackKind.HELPFUL, "1100000000000000800", CUSTOMER["id"])
    assert turn.feedback_id == str(interaction.id)


def test_reply_has_sources_as_subtext_and_buttons_in_rows() -> None:
    [message] = reply_messages(sample_reply(in_reply_to="1100000000000000800"))
    assert message.text.endswith("\n\n-# Source: Shipping — How long does shipping take?")
    assert [(b.label, b.custom_id, b.row) for b in message.buttons] == [
        ("Do you ship abroad?", "s|Do you ship internationally?", 0),
        ("Talk to a person", "s|I'd like to talk to a person", 0),
        ("👍 Helpful", "f+|1100000000000000800", 1),
        ("👎 Not helpful", "f-|1100000000000000800", 1),
    ]


def test_long_reply_is_split_under_2000_characters_with_buttons_last() -> None:
    text = "\n".join(f"{i}. Keep the receipt, the box and every accessory for the return. " * 3 for i in range(40))
    many = tuple(Suggestion(f"Question {i} " + "x" * 100, f"Question {i}") for i in range(7))
    messages = reply_messages(sample_reply(text=text, sources=(), suggestions=many))
    assert len(messages) > 1 and all(len(m.text) <= MESSAGE_LIMIT for m in messages)
    assert all(not m.buttons for m in messages[:-1])
    buttons = messages[-1].buttons
    assert all(len(b.label) <= 80 for b in buttons)
    assert [b.row for b in buttons] == [0, 0, 0, 0, 0, 1, 1, 2, 2]  # five to a row, feedback on its own row


def test_buttons_in_one_message_have_distinct_custom_ids() -> None:
    twice = (Suggestion("Shipping times", "How long does shipping take?"),
             Suggestion("Delivery times", "How long does shipping take?"))
    [message] = reply_messages(sample_reply(suggestions=twice))
    ids = [b.custom_id for b in message.buttons]
    assert ids[:2] == ["s|How long does shipping take?", "s#1"] and len(set(ids)) == len(ids)
