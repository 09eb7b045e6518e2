"""A reply as one platform-neutral structure, the one place it degrades to plain text, and message splitting.

Every adapter renders through :func:`render`: the answer, its sources line, suggestion buttons
and 👍/👎 feedback buttons. Platforms draw that structure natively (Block Kit, inline keyboards,
Discord views); where a platform or client has no buttons, :func:`render_plain` is the text.

Button clicks come back as short strings (Telegram allows 64 bytes of callback data, Discord 100
characters of custom id). :func:`encode_click` and :func:`decode_click` are that format, shared so
every platform reads a click the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from bot.types import FeedbackKind, Reply, Source

__all__ = [
    "Button",
    "ButtonAction",
    "Click",
    "RenderedReply",
    "decode_click",
    "encode_click",
    "render",
    "render_plain",
    "shorten",
    "sources_line",
    "split_message",
    "text_length",
]


class ButtonAction(StrEnum):
    SUGGEST = "suggest"  # sends the button's text as the customer's next message
    FEEDBACK = "feedback"  # 👍/👎 on the reply


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    action: ButtonAction
    # SUGGEST: the text sent as the customer's next message. FEEDBACK: a FeedbackKind value.
    value: str
    index: int


@dataclass(frozen=True, slots=True)
class RenderedReply:
    """What every platform draws: ``body`` (answer and recommendations), ``sources`` (one line or ""),
    suggestion buttons and feedback buttons. ``in_reply_to`` is the customer message answered."""

    body: str
    sources: str
    suggestions: tuple[Button, ...]
    feedback: tuple[Button, ...]
    in_reply_to: str

    @property
    def text(self) -> str:
        """Body and sources line, for platforms that show buttons next to the text."""
        return "\n\n".join(part for part in (self.body, self.sources) if part)


_SOURCES_LINE = re.compile(r"^Sources?: \S")
FEEDBACK_BUTTONS = (("👍 Helpful", FeedbackKind.HELPFUL), ("👎 Not helpful", FeedbackKind.NOT_HELPFUL))


def sources_line(sources: tuple[Source, ...]) -> str:
    """``Source: Shipping — How long does shipping take?`` (several joined by ``·``), or ""."""
    if not sources:
        return ""
    names = []
    for source in sources:
        name = f"{source.title} — {source.section}" if source.section and source.section != source.title else source.title
        if name not in names:
            names.append(name)
    return ("Source: " if len(names) == 1 else "Sources: ") + " · ".join(names)


def render(reply: Reply) -> RenderedReply:
    """A reply as the structure every adapter draws."""
    sources = sources_line(reply.sources)
    body = reply.text.strip()
    # The composer may already end its text with a sources line; draw it once, as the sources.
    head, _, last = body.rpartition("\n\n")
    if sources and _SOURCES_LINE.match(last):
        body = head.rstrip()
    if reply.recommendations and "in stock" not in body:
        body = "\n\n".join(part for part in (body, _recommendations(reply)) if part)
    suggestions = tuple(
        Button(s.label, ButtonAction.SUGGEST, s.text, i) for i, s in enumerate(reply.suggestions)
    )
    feedback = (
        tuple(Button(label, ButtonAction.FEEDBACK, kind.value, i) for i, (label, kind) in enumerate(FEEDBACK_BUTTONS))
        if reply.ask_feedback
        else ()
    )
    return RenderedReply(body, sources, suggestions, feedback, reply.in_reply_to)


def render_plain(reply: Reply | RenderedReply) -> str:
    """A reply as plain text, for platforms (or clients) without buttons or blocks.

    Suggestions become a numbered list; feedback buttons are left out (there is nothing to click).
    """
    rendered = reply if isinstance(reply, RenderedReply) else render(reply)
    parts = [rendered.body, rendered.sources]
    if rendered.suggestions:
        parts.append("\n".join(f"[{b.index + 1}] {b.label}" for b in rendered.suggestions))
    return "\n\n".join(part for part in parts if part)


def _recommendations(reply: Reply) -> str:
    return "You might also like:\n" + "\n".join(
        f"• {r.name} — ${r.price:,.2f} ({r.reason})" for r in reply.recommendations
    )


# --- button clicks -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Click:
    """A decoded button click. For a suggestion, ``text`` is what to send, or "" when only the button's
    ``index`` fitted (then the adapter sends the clicked button's label)."""

    action: ButtonAction
    text: str = ""
    index: int = -1
    kind: FeedbackKind | None = None
    in_reply_to: str = ""


_FEEDBACK_CODES = {FeedbackKind.HELPFUL: "+", FeedbackKind.NOT_HELPFUL: "-"}
_FEEDBACK_KINDS = {code: kind for kind, code in _FEEDBACK_CODES.items()}


def encode_click(button: Button, in_reply_to: str, limit: int) -> str | None:
    """The short string a platform hands back when ``button`` is clicked, at most ``limit`` UTF-8 bytes.

    ``s|<text>`` for a suggestion whose text fits, else ``s#<index>``; ``f+|<message id>`` or
    ``f-|<message id>`` for feedback. None when feedback cannot fit (the id is too long): a feedback
    button that cannot say which reply it rates is better left out.
    """
    if button.action is ButtonAction.SUGGEST:
        data = f"s|{button.value}"
        return data if _bytes(data) <= limit else f"s#{button.index}"
    data = f"f{_FEEDBACK_CODES[FeedbackKind(button.value)]}|{in_reply_to}"
    return data if _bytes(data) <= limit else None


def decode_click(data: str) -> Click | None:
    """The click behind an :func:`encode_click` string; None for anything else (a stale or forged id)."""
    if data.startswith("s|") and len(data) > 2:
        return Click(ButtonAction.SUGGEST, text=data[2:])
    if data.startswith("s#") and data[2:].isdigit():
        return Click(ButtonAction.SUGGEST, index=int(data[2:]))
    if len(data) > 3 and data[0] == "f" and data[1] in _FEEDBACK_KINDS and data[2] == "|":
        return Click(ButtonAction.FEEDBACK, kind=_FEEDBACK_KINDS[data[1]], in_reply_to=data[3:])
    return None


def _bytes(text: str) -> int:
    return len(text.encode("utf-8"))


# --- lengths and splitting -----------------------------------------------------------------------


def text_length(text: str) -> int:
    """Length in UTF-16 code units, the way Telegram and Discord count (an emoji may count as 2)."""
    return len(text.encode("utf-16-le")) // 2


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis, for button labels."""
    text = " ".join(text.split())
    return text if text_length(text) <= limit else _prefix(text, limit - 1).rstrip() + "…"


# Preferred break points, best first: between paragraphs, lines, sentences, words.
_BREAKS = (re.compile(r"\n[ \t]*\n\s*"), re.compile(r"\n\s*"), re.compile(r"(?<=[.!?…])\s+"), re.compile(r"\s+"))


def split_message(text: str, limit: int) -> list[str]:
    """``text`` in pieces of at most ``limit`` UTF-16 code units, broken at the best boundary available:
    paragraph, then line, then sentence, then word; a single longer word is cut (never inside a character:
    a character wider than ``limit`` is a piece of its own; never inside an HTML character reference such
    as ``&amp;``). Whitespace at a break is dropped; no piece is
    empty. Empty text gives ``[]``."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    text = text.strip()
    if not text:
        return []
    return [piece for piece in (p.strip() for p in _split(text, limit, 0)) if piece]


def _split(text: str, limit: int, level: int) -> list[str]:
    if text_length(text) <= limit:
        return [text]
    pieces: list[str] = []
    if level == len(_BREAKS):
        while text:
            head = _prefix(text, limit) or text[0]
            head = head[:_outside_entity(text, len(head))]
            pieces.append(head)
            text = text[len(head):]
        return pieces
    current = ""
    position = 0
    for match in [*_BREAKS[level].finditer(text), None]:
        end = match.start() if match else len(text)
        part = text[position:end]
        gap = text[match.start():match.end()] if match else ""
        position = match.end() if match else len(text)
        if not part:
            continue
        joined = f"{current}{part}" if current else part
        if text_length(joined) <= limit:
            current = joined + gap
            continue
        if current.strip():
            pieces.append(current)
        if text_length(part) <= limit:
            current = part + gap
        else:
            *done, current = _split(part, limit, level + 1)
            pieces.extend(done)
            current += gap
    if current.strip():
        pieces.append(current)
    return pieces


# An HTML character reference (``&amp;``, ``&#60;``): Slack mrkdwn and Telegram HTML escape with these,
# and half of one is shown as garbage (or makes the platform refuse the text).
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_LONGEST_ENTITY = 34


def _outside_entity(text: str, cut: int) -> int:
    """``cut``, moved back to the start of the character reference it would fall inside (unless that
    reference starts the text: then there is no better place within the limit)."""
    start = text.rfind("&", max(0, cut - _LONGEST_ENTITY), cut)
    if start > 0:
        match = _ENTITY.match(text, start)
        if match and match.end() > cut:
            return start
    return cut


def _prefix(text: str, units: int) -> str:
    """The longest prefix of ``text`` within ``units`` UTF-16 code units (never half a character)."""
    total = 0
    for i, char in enumerate(text):
        total += 2 if ord(char) > 0xFFFF else 1
        if total > units:
            return text[:i]
    return text
