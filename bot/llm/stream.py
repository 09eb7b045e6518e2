"""Streaming a model's reply while it is written, without letting an unchecked word out.

The model's text is released sentence by sentence, each only after the text so far passes the same
checks as a finished reply (:class:`bot.llm.grounding.ReplyChecker`). A sentence that fails, or a stream
that breaks (a retry starts a new attempt), closes the gate: the sink is told to abandon what it showed and
the final reply — which always goes through the outbox — is the offline composer's.

Where a reply is shown while it streams is the platform's business: :class:`Streams` maps a platform to a
function that opens a :class:`StreamSink` for one reply (the console prints; Slack, Telegram and Discord
would edit a placeholder message — not built, see the README).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Protocol

from bot.llm.grounding import ReplyChecker
from bot.llm.redact import Vault
from bot.types import ConversationKey

__all__ = ["SentenceGate", "StreamSink", "Streams", "TextOfJson"]

# A sentence ends at . ! ? (or a line break) followed by white space; "$89.00" and "1Z999…" do not end one.
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")
_MARKER = re.compile(r"\s?\[(\d{1,2})\]")


class StreamSink(Protocol):
    async def text(self, sentence: str) -> None: ...  # a checked sentence, placeholders restored

    async def abandon(self) -> None: ...  # what was shown is void: the final reply replaces it


SinkOpener = Callable[[ConversationKey, str], "StreamSink | None"]


class Streams:
    """Platform → opener of a sink for one reply (``conversation``, ``in_reply_to``); none: no streaming."""

    def __init__(self) -> None:
        self._openers: dict[str, SinkOpener] = {}

    def register(self, platform: str, opener: SinkOpener) -> None:
        self._openers[platform] = opener

    def open(self, conversation: ConversationKey, in_reply_to: str) -> StreamSink | None:
        opener = self._openers.get(conversation.platform)
        return opener(conversation, in_reply_to) if opener is not None else None


class TextOfJson:
    """The ``text`` value of a ``{"action": …, "text": "…"}`` answer as it streams in, or the raw text when
    the answer is not JSON (a server that ignored the format). Fed pieces, returns the new text."""

    def __init__(self) -> None:
        self._raw = ""
        self._shown = 0

    def feed(self, piece: str) -> str:
        self._raw += piece
        text = self._text()
        new, self._shown = text[self._shown:], max(self._shown, len(text))
        return new

    def _text(self) -> str:
        raw = self._raw.lstrip()
        if not raw:
            return ""
        if not raw.startswith("{") and not raw.startswith("`"):
            return self._raw
        match = re.search(r'"text"\s*:\s*"', raw)
        if match is None:
            return ""
        body = raw[match.end():]
        # Decode as much of the JSON string as has arrived: cut at its closing quote, or before a half escape.
        end, i = len(body), 0
        while i < len(body):
            if body[i] == "\\":
                i += 2
                continue
            if body[i] == '"':
                end = i
                break
            i += 1
        part = body[:min(end, len(body))]
        while part:
            try:
                return json.loads(f'"{part}"')
            except ValueError:
                part = part[:-1]  # an escape cut in half ("\u00e") waits for its next piece
        return ""


class SentenceGate:
    """Between the model's stream and a sink: only whole sentences that pass the checks get through."""

    def __init__(self, sink: StreamSink, checker: ReplyChecker, vault: Vault) -> None:
        self._sink = sink
        self._checker = checker
        self._vault = vault
        self._json = TextOfJson()
        self._pending = ""
        self._released = ""
        self._attempt = 0
        self.closed = False
        self.released_any = False

    async def feed(self, piece: str, attempt: int) -> None:
        if self.closed:
            return
        if self._attempt and attempt != self._attempt:
            await self.close()  # the stream broke and the call was retried: what was shown is void
            return
        self._attempt = attempt
        self._pending += self._json.feed(piece)
        parts = _SENTENCE_END.split(self._pending)
        for sentence in parts[:-1]:
            if not await self._release(sentence):
                return
        self._pending = parts[-1]

    async def finish(self) -> None:
        """The stream ended: the last sentence (no full stop needed) is checked like the others."""
        if not self.closed and self._pending.strip():
            await self._release(self._pending)
            self._pending = ""

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self.released_any:
                await self._sink.abandon()

    async def _release(self, sentence: str) -> bool:
        if not sentence.strip():
            return True
        candidate = f"{self._released} {sentence}".strip()
        if not self._checker.check(candidate).ok:
            await self.close()
            return False
        self._released = candidate
        self.released_any = True
        await self._sink.text(self._vault.restore(_MARKER.sub("", sentence).strip()))
        return True
