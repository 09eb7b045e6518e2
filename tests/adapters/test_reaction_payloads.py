"""Reaction payloads as each platform sends them → Feedback on the message they were put on (pure functions)."""

from __future__ import annotations

import discord

from adapters.discord import reaction_to_feedback as discord_reaction
from adapters.slack import reaction_to_feedback as slack_reaction
from adapters.telegram import reaction_to_feedback as telegram_reaction
from bot.types import FeedbackKind
from tests.fakes import discord as fake_dc
from tests.fakes.slack import BOT_USER, TEAM, event_envelope, reaction_added
from tests.fakes.telegram import BOT_ID, GROUP, message_reaction


def test_slack_thumbs_with_any_skin_tone_rate_the_message_they_are_on() -> None:
    up = slack_reaction(event_envelope(reaction_added("+1::skin-tone-4", "C0SUPPORT", "1700.0001")), BOT_USER)
    down = slack_reaction(event_envelope(reaction_added("thumbsdown", "C0SUPPORT", "1700.0001")), BOT_USER)
    assert up is not None and down is not None
    assert (up.kind, up.reacted_to, up.in_reply_to, up.conversation.workspace) == (
        FeedbackKind.HELPFUL, "C0SUPPORT:1700.0001", "", TEAM)
    assert down.kind is FeedbackKind.NOT_HELPFUL
    # One id per (user, message, emoji): a redelivery or a remove-and-add counts once; 👍 and 👎 differ.
    again = slack_reaction(event_envelope(reaction_added("+1", "C0SUPPORT", "1700.0001")), BOT_USER)
    assert again is not None and again.feedback_id == up.feedback_id != down.feedback_id


def test_slack_ignores_other_emoji_the_bots_own_and_reactions_on_peoples_messages() -> None:
    for event in (reaction_added("tada", "C0SUPPORT", "1700.0001"),
                  reaction_added("+1", "C0SUPPORT", "1700.0001", user=BOT_USER),
                  reaction_added("-1", "C0SUPPORT", "1700.0001", item_user="U0CUSTOMER"),
                  {**reaction_added("-1", "C0SUPPORT", "1700.0001"), "item": {"type": "file", "file": "F1"}}):
        assert slack_reaction(event_envelope(event), BOT_USER) is None


def test_telegram_reads_the_added_thumb_only() -> None:
    feedback = telegram_reaction(message_reaction(9001, "👎🏽", chat=GROUP, old=("🔥",)), BOT_ID)
    assert feedback is not None
    assert (feedback.kind, feedback.reacted_to, feedback.conversation.channel) == (
        FeedbackKind.NOT_HELPFUL, f"{GROUP['id']}:9001", str(GROUP["id"]))
    assert telegram_reaction(message_reaction(9001, "👍", old=("👍",)), BOT_ID) is None  # already there
    assert telegram_reaction(message_reaction(9001, "", old=("👎",)), BOT_ID) is None  # taken back
    assert telegram_reaction(message_reaction(9001, "❤"), BOT_ID) is None
    anonymous = message_reaction(9001, "👍", chat=GROUP)
    del anonymous["message_reaction"]["user"]
    anonymous["message_reaction"]["actor_chat"] = GROUP
    assert telegram_reaction(anonymous, BOT_ID) is None


def _raw(data: dict[str, object]) -> discord.RawReactionActionEvent:
    emoji = discord.PartialEmoji.from_dict(data["emoji"])  # type: ignore[arg-type]
    return discord.RawReactionActionEvent(data, emoji, "REACTION_ADD")  # type: ignore[arg-type]


def test_discord_reads_unicode_thumbs_on_the_bots_messages() -> None:
    bot = int(fake_dc.BOT_ID)
    feedback = discord_reaction(_raw(fake_dc.reaction_payload("👍", "1100000000000000990", fake_dc.CHANNEL_ID)), bot)
    assert feedback is not None
    assert (feedback.kind, feedback.reacted_to, feedback.conversation.workspace) == (
        FeedbackKind.HELPFUL, "1100000000000000990", fake_dc.GUILD_ID)
    custom = fake_dc.reaction_payload("👍", "1100000000000000990", fake_dc.CHANNEL_ID)
    custom["emoji"] = {"id": "1100000000000000777", "name": "thumbsup"}
    for data in (custom,
                 fake_dc.reaction_payload("🎉", "1100000000000000990", fake_dc.CHANNEL_ID),
                 fake_dc.reaction_payload("👎", "1100000000000000990", fake_dc.CHANNEL_ID, author_id=fake_dc.CUSTOMER["id"]),
                 fake_dc.reaction_payload("👎", "1100000000000000990", fake_dc.CHANNEL_ID, user=fake_dc.BOT_USER)):
        assert discord_reaction(_raw(data), bot) is None
