"""The customer of a scenario as each platform's adapter would present them: realistic Inbounds.

Ids and conversation keys follow what the adapters build from real payloads (``adapters/*.py``): a
Slack DM channel ``D…`` whose top-level messages each start their own thread, a Slack Connect user
from another team, a Telegram private chat whose id is the user's id, a Discord DM under ``@me``.
``bot/`` never imports the adapters, so the shapes are mirrored here, not produced by them.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field

from bot.scenarios.model import Place, Platform
from bot.types import ConversationKey, Inbound

CONSOLE_WORKSPACE = "local"  # adapters/console.py
SLACK_TEAM = "T0RAPPORT"  # the workspace the app is installed in
SLACK_PARTNER_TEAM = "T0PARTNER"  # a Slack Connect organisation
TELEGRAM_BOT_ID = "7000000001"  # the bot's own id is the workspace of every Telegram chat
DISCORD_DM_WORKSPACE = "@me"  # adapters/discord.py DM_WORKSPACE
DISCORD_GUILD = "900000000000000001"


@dataclass
class Speaker:
    """One scenario's customer: a user id per platform, the current conversation on each, message ids."""

    scenario: str  # unique within the run; every id is derived from it
    place: Place
    external: bool = False
    display_name: str = ""
    _tag: str = field(init=False)
    _counter: itertools.count[int] = field(init=False, default_factory=lambda: itertools.count(1))
    _current: dict[Platform, ConversationKey] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._tag = hashlib.sha256(self.scenario.encode()).hexdigest()[:8].upper()

    def user_id(self, platform: Platform) -> str:
        number = int(self._tag, 16)
        match platform:
            case Platform.SLACK:
                return f"U0{self._tag}"
            case Platform.TELEGRAM:
                return str(100_000_000 + number % 900_000_000)
            case Platform.DISCORD:
                return str(400_000_000_000_000_000 + number)
            case _:
                return f"user:scenario-{self._tag.lower()}"

    def workspace(self, platform: Platform) -> str:
        return {Platform.SLACK: SLACK_TEAM, Platform.TELEGRAM: TELEGRAM_BOT_ID,
                Platform.DISCORD: DISCORD_GUILD if self.place is Place.CHANNEL else DISCORD_DM_WORKSPACE,
                }.get(platform, CONSOLE_WORKSPACE)

    def conversation(self, platform: Platform) -> ConversationKey | None:
        """The conversation the scenario is in on this platform, None before its first line there."""
        return self._current.get(platform)

    def inbound(self, platform: Platform, text: str, new_conversation: bool = False) -> Inbound:
        sequence = next(self._counter)
        user = self.user_id(platform)
        key = self._current.get(platform)
        if key is None or new_conversation:
            key = self._start(platform, sequence)
            self._current[platform] = key
        match platform:
            case Platform.SLACK:
                ts = f"{1_764_000_000 + sequence}.{sequence:06d}"
                message_id = f"{key.channel}:{ts}"
            case Platform.TELEGRAM:
                message_id = f"{key.channel}:{sequence}"
            case Platform.DISCORD:
                message_id = str(1_300_000_000_000_000_000 + int(self._tag, 16) * 1000 + sequence)
            case _:
                message_id = f"{key.thread}-{sequence}"
        return Inbound(
            platform=platform.value,
            conversation=key,
            user_id=user,
            text=text,
            message_id=message_id,
            display_name=self.display_name,
            external=self.external,
            external_org=SLACK_PARTNER_TEAM if self.external else "",
        )

    def _start(self, platform: Platform, sequence: int) -> ConversationKey:
        workspace = self.workspace(platform)
        shared = self.place is Place.CHANNEL
        match platform:
            case Platform.SLACK:
                # A top-level message is its own thread (thread_ts = its ts); replies stay in that thread.
                channel = f"C0SHARED{self._tag}" if shared else f"D0{self._tag}"
                return ConversationKey(platform.value, workspace, channel, f"{1_764_000_000 + sequence}.{sequence:06d}")
            case Platform.TELEGRAM:
                # A private chat's id is the user's id; a supergroup's is negative.
                chat = f"-100{int(self._tag, 16) % 10**10}" if shared else self.user_id(platform)
                return ConversationKey(platform.value, workspace, chat, "")
            case Platform.DISCORD:
                channel = str(500_000_000_000_000_000 + int(self._tag, 16))
                # In a guild, a new conversation is a thread under the channel; a DM is one conversation.
                thread = str(600_000_000_000_000_000 + int(self._tag, 16) * 100 + sequence) if shared and sequence > 1 else ""
                return ConversationKey(platform.value, workspace, channel, thread)
            case _:
                session = f"{self._tag.lower()}{sequence:04d}"
                return ConversationKey(platform.value, workspace, self.user_id(platform), session)

