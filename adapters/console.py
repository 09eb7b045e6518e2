"""The console adapter: talk to Rapport in a terminal, or pipe one message per line through it."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from dataclasses import asdict
from collections.abc import Awaitable, Callable
from typing import TextIO

from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from adapters.base import render_plain
from bot.store.records import HandoffRecord
from bot.types import ConversationKey, Inbound, MessageHandler, Reply

PLATFORM = "console"
WORKSPACE = "local"
QUIT = {"/quit", "/exit", "quit", "exit"}
AGENT_PREFIX = "/agent"
AgentHandler = Callable[[ConversationKey, str], Awaitable[None]]


def to_inbound(text: str, user_id: str, display_name: str, session: str, sequence: int) -> Inbound:
    """One typed line as an Inbound. Every run of `rapport chat` is its own conversation thread."""
    return Inbound(
        platform=PLATFORM,
        conversation=ConversationKey(PLATFORM, WORKSPACE, user_id, session),
        user_id=user_id,
        display_name=display_name,
        text=text,
        message_id=f"{session}-{sequence}",
    )


def reply_json(reply: Reply) -> str:
    """The machine-readable form of a reply printed by ``rapport chat --json`` (``"type": "reply"``).

    Every line ``chat --json`` prints has a ``type``: ``reply`` (the bot's or a relayed agent's
    answer, fields below), ``desk`` (an event at the local agents' desk: ``event`` is
    ``handoff_opened`` | ``customer_wrote`` | ``note``, with ``handoff`` (its id), ``desk`` (a title)
    and ``text``) or ``notice`` (``text``, ``in_reply_to``: a message the bot did not answer
    because a person has the conversation)."""
    return json.dumps(
        {
            "type": "reply",
            "text": reply.text,
            "sources": [asdict(s) for s in reply.sources],
            "suggestions": [asdict(s) for s in reply.suggestions],
            "recommendations": [asdict(r) for r in reply.recommendations],
            "sentiment": asdict(reply.sentiment) if reply.sentiment else None,
            "tone": reply.tone.value,
            "handoff": asdict(reply.handoff) if reply.handoff else None,
            "in_reply_to": reply.in_reply_to,
            "intent": {"label": reply.intent, "confidence": reply.intent_confidence} if reply.intent else None,
            "files": [{"name": f.name, "mime_type": f.mime_type, "content": f.content} for f in reply.files],
        },
        ensure_ascii=False,
    )


class ConsoleStream:
    """One reply printed as its checked sentences arrive (bot/llm/stream.py); ``send`` then finishes it."""

    def __init__(self, console: Console, bot_name: str) -> None:
        self._console = console
        self._bot_name = bot_name
        self.shown: list[str] = []
        self.abandoned = False

    async def text(self, sentence: str) -> None:
        if not self.shown:
            self._console.print(Text(f"{self._bot_name} › ", style="bold green"), end="")
        self.shown.append(sentence)
        self._console.print(Text(sentence + " "), end="")

    async def abandon(self) -> None:
        self.abandoned = True
        self._console.print()
        self._console.print("[dim](that answer was stopped; here is a checked one instead)[/]")


class ConsoleAdapter:
    platform = PLATFORM

    def __init__(
        self,
        user_id: str,
        display_name: str = "",
        json_output: bool = False,
        stdin: TextIO | None = None,
        console: Console | None = None,
        bot_name: str = "Rapport",
        agent: AgentHandler | None = None,
    ) -> None:
        # Lines starting with /agent play the human agent at the local desk (see ConsoleDesk).
        self._agent = agent
        self.user_id = user_id
        self.display_name = display_name
        self._json = json_output
        self._stdin = stdin or sys.stdin
        self._console = console or Console()
        self._bot_name = bot_name
        self._session = uuid.uuid4().hex[:12]
        self._stopped = asyncio.Event()
        self._offered: tuple[str, ...] = ()
        self._streams: dict[str, ConsoleStream] = {}  # in_reply_to → the reply being printed as it comes

    @property
    def conversation(self) -> ConversationKey:
        return ConversationKey(PLATFORM, WORKSPACE, self.user_id, self._session)

    @property
    def interactive(self) -> bool:
        return self._stdin.isatty() and not self._json

    async def start(self, handler: MessageHandler) -> None:
        sequence = 0
        if self.interactive:
            self._console.print(f"[bold]{self._bot_name}[/] is listening. Type [italic]/quit[/] to leave.\n")
        while not self._stopped.is_set():
            line = await asyncio.to_thread(self._read_line)
            if line is None:
                break
            text = line.strip()
            if not text:
                continue
            if text.lower() in QUIT:
                break
            if self._agent is not None and text.lower().startswith(AGENT_PREFIX):
                await self._agent(self.conversation, text[len(AGENT_PREFIX):].strip())
                continue
            if text.isdigit() and 1 <= int(text) <= len(self._offered):
                text = self._offered[int(text) - 1]
            sequence += 1
            reply = await handler(to_inbound(text, self.user_id, self.display_name, self._session, sequence))
            if reply is None and self._json:
                print(json.dumps({"type": "notice", "text": "no bot reply: a person has this conversation",
                                  "in_reply_to": f"{self._session}-{sequence}"}), flush=True)
            elif reply is None:
                self._console.print("[dim](no bot reply: a person has this conversation — type /agent … to answer as the agent)[/]")
            if reply is not None:
                await self.send(reply)

    def _read_line(self) -> str | None:
        if self.interactive:
            try:
                return self._console.input("[bold cyan]you ›[/] ")
            except (EOFError, KeyboardInterrupt):
                return None
        line = self._stdin.readline()
        return line if line else None

    def stream_for(self, conversation: ConversationKey, in_reply_to: str) -> ConsoleStream | None:
        """A sink for the LLM composer's checked sentences; none for --json (one JSON object per reply)."""
        if self._json or conversation != self.conversation:
            return None
        stream = self._streams[in_reply_to] = ConsoleStream(self._console, self._bot_name)
        return stream

    async def send(self, reply: Reply) -> None:
        # Suggestions of the last reply can be picked by number, like a button.
        self._offered = tuple(s.text for s in reply.suggestions)
        if self._json:
            # Plain print: one JSON object per line, no Rich markup or wrapping.
            print(reply_json(reply), flush=True)
            return
        stream = self._streams.pop(reply.in_reply_to, None)
        if stream is not None and stream.shown and not stream.abandoned:
            self._console.print()
            rendered = render_plain(reply)
            if " ".join(" ".join(stream.shown).split()) == " ".join(reply.text.split()) \
                    and rendered.startswith(reply.text):
                # Already on screen: only what follows the text (sources, buttons) is left to print.
                if rest := rendered[len(reply.text):].strip():
                    self._console.print(Text(rest, style="dim"))
                return
        self._console.print(Panel(Text(render_plain(reply)), title=self._bot_name, title_align="left", border_style="green"))
        for file in reply.files:  # a terminal has no uploads: show the file itself
            self._console.print(Panel(Text(file.content), title=file.name, title_align="left", border_style="dim"))

    async def stop(self) -> None:
        self._stopped.set()


class ConsoleDesk:
    """The local stand-in for the agents' Slack channel: handoff threads printed in the terminal."""

    def __init__(self, console: Console | None = None, json_output: bool = False) -> None:
        self._console = console or Console(stderr=True)
        self._json = json_output

    def _show(self, event: str, handoff: HandoffRecord, title: str, text: str) -> None:
        if self._json:
            print(json.dumps({"type": "desk", "event": event, "handoff": handoff.id, "desk": title, "text": text},
                             ensure_ascii=False), flush=True)
        else:
            self._console.print(Panel(Text(text), title=title, title_align="left", border_style="yellow"))

    async def announce(self, handoff: HandoffRecord, summary: str) -> str:
        self._show("handoff_opened", handoff, f"desk · handoff #{handoff.id}", summary)
        return f"console:{handoff.id}"

    async def forward(self, handoff: HandoffRecord, text: str) -> None:
        self._show("customer_wrote", handoff, f"desk · handoff #{handoff.id} · customer wrote", text)

    async def note(self, handoff: HandoffRecord, text: str) -> None:
        self._show("note", handoff, f"desk · handoff #{handoff.id}", text)
