"""Streaming a model's reply while it is written, without letting an unchecked word out.

The model's text is released sentence by sentence, each only after the text so far passes the same
checks as a finished reply (:class:`bot.llm.grounding.ReplyChecker`). A sentence that fails, or a stream
that breaks (a retry starts a new attempt), closes the gate: the sink is told to abandon what it showed and
the final reply — which always goes through the outbox — is the offline composer's.

Where a reply is shown while it streams is the platform's business: :class:`Streams` maps a platform to a
function that opens a :class:`StreamSink` for one reply. The console prints; on Slack, Telegram and Discord
an :class:`EditingStream` posts the first checked sentence as a placeholder message (outside the outbox),
edits it as more arrive — at most once a second per chat (:class:`EditThrottle`), the sentences in between
shown by the next edit — and records the placeholder by the reply's outbox key. The final send, through the
outbox, edits that message into the checked reply with its buttons instead of posting a second one; after
``abandon`` it is edited into the offline reply the same way. A process that dies after the placeholder was
posted leaves it recorded: the retried turn's stream edits it rather than posting another, and the outbox
edits it on every retry of the send, posting instead only when the placeholder is gone (deleted).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from typing import Protocol

from bot.llm.grounding import ReplyChecker
from bot.llm.redact import Vault
from bot.types import ConversationKey

__all__ = ["EditThrottle", "EditingStream", "MessageEditor", "PlaceholderBook", "SentenceGate", "StreamSink",
           "Streams", "TextOfJson", "editing_streams"]

log = logging.getLogger("rapport.llm.stream")

# Edits of one chat's streamed message at most this often: within Slack's ~1 message/s per channel, Telegram's
# ~1 message/s per chat and Discord's 5 edits per 5 s per channel.
EDIT_EVERY = 1.0

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


class MessageEditor(Protocol):
    """What a platform adapter offers a stream: post a placeholder where the reply will go, edit it."""

    async def post_placeholder(self, conversation: ConversationKey, text: str) -> str: ...  # its platform id

    async def edit_placeholder(self, conversation: ConversationKey, message: str, text: str) -> None: ...


class PlaceholderBook(Protocol):
    """Where a placeholder is recorded by the reply's outbox key (``bot.store.outbox.Outbox``)."""

    async def hold_placeholder(self, key: str, platform: str, message: str) -> None: ...

    async def placeholder(self, key: str) -> str | None: ...


class EditThrottle:
    """At most one edit per chat every ``every`` seconds (the leading edge: an edit asked for sooner is
    skipped, and the next one shows its text too)."""

    def __init__(self, every: float = EDIT_EVERY, clock: Callable[[], float] = time.monotonic) -> None:
        self._every = every
        self._clock = clock
        self._last: dict[str, float] = {}

    def allow(self, chat: str) -> bool:
        now = self._clock()
        if now - self._last.get(chat, float("-inf")) < self._every:
            return False
        self._last[chat] = now
        if len(self._last) > 10_000:  # chats idle for longer than the window need no memory
            self._last = {c: t for c, t in self._last.items() if now - t < self._every}
        return True


class EditingStream:
    """One reply streamed into a placeholder message on a platform that can edit (see the module doc).

    A platform that refuses the placeholder or an edit ends the stream quietly (logged by ids): the final
    reply still goes out through the outbox, as an edit of the placeholder if there is one, else a post."""

    def __init__(self, editor: MessageEditor, book: PlaceholderBook, throttle: EditThrottle,
                 conversation: ConversationKey, key: str) -> None:
        self._editor = editor
        self._book = book
        self._throttle = throttle
        self._conversation = conversation
        self._key = key
        self._shown: list[str] = []
        self._message: str | None = None
        self.stopped = False  # abandoned, or the platform refused: nothing more is shown

    @property
    def message(self) -> str | None:
        """The placeholder's platform id, once posted (or found from an earlier attempt of the turn)."""
        return self._message

    async def text(self, sentence: str) -> None:
        if self.stopped:
            return
        self._shown.append(sentence)
        text = " ".join(self._shown)
        chat = f"{self._conversation.channel}:{self._conversation.thread}"
        try:
            if self._message is None:
                # A turn retried after its process died finds the placeholder that process posted.
                self._message = await self._book.placeholder(self._key)
                if self._message is None:
                    self._throttle.allow(chat)
                    self._message = await self._editor.post_placeholder(self._conversation, text)
                    await self._book.hold_placeholder(self._key, self._conversation.platform, self._message)
                    return
            if self._throttle.allow(chat):
                await self._editor.edit_placeholder(self._conversation, self._message, text)
        except Exception as error:  # the platform's trouble must not cost the turn: the outbox sends the reply
            self.stopped = True
            log.warning("streaming stopped: the platform refused a placeholder or an edit",
                        extra={"platform": self._conversation.platform, "delivery_key": self._key,
                               "error": type(error).__name__})

    async def abandon(self) -> None:
        # Nothing to undo here: the final send edits the placeholder into the offline reply.
        self.stopped = True


def editing_streams(editor: MessageEditor, book: PlaceholderBook, key_of: Callable[[str, str], str],
                    throttle: EditThrottle | None = None) -> SinkOpener:
    """The opener to register in :class:`Streams` for a platform that can edit; ``key_of(platform,
    in_reply_to)`` is the reply's outbox key (``bot.store.outbox.reply_key``)."""
    shared = throttle or EditThrottle()

    def open_stream(conversation: ConversationKey, in_reply_to: str) -> EditingStream:
        return EditingStream(editor, book, shared, conversation, key_of(conversation.platform, in_reply_to))

    return open_stream


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
