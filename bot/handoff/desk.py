"""The agents' side of a handoff: a summary opens a thread on the desk, agents reply, claim and resolve.

``HandoffDesk`` is the service; a ``Desk`` is where agents work (the console stands in for
Slack locally; none: agents see handoffs in the admin console only). Replies to customers go out
through ``deliver`` (the outbox's ``ReplyPoster.send``), which routes by platform. Both are given
at construction by the composition root (bot/runtime.py).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

from bot.config import Brand, Templates
from bot.customers.insights import InsightBuilder
from bot.handoff.book import HandoffBook, Transition
from bot.handoff.rules import EscalationRule
from bot.stages.compose import template_fields
from bot.store.conversations import ConversationLog
from bot.store.customers import CustomerDirectory
from bot.store.inbox import Inbox
from bot.store.statuses import TurnRole
from bot.store.records import HandoffRecord
from bot.store.tables import Turn
from bot.types import ConversationKey, Inbound, Reply, Suggestion, Tone

if TYPE_CHECKING:
    from bot.learning.review import TeamAnswers

log = logging.getLogger("rapport.handoff")
Deliver = Callable[[Reply], Awaitable[None]]


class Desk(Protocol):
    """Where agents work. It is given frozen records: rows stay inside the store."""

    async def announce(self, handoff: HandoffRecord, summary: str) -> str:
        """Post a new handoff's summary; return a reference to its thread (agents reply there)."""

    async def forward(self, handoff: HandoffRecord, text: str) -> None:
        """Show agents what the customer wrote while waiting."""

    async def note(self, handoff: HandoffRecord, text: str) -> None:
        """Tell agents something about the handoff (claimed, resolved, a refusal)."""


class HandoffDesk:
    def __init__(
        self,
        book: HandoffBook,
        log_: ConversationLog,
        customers: CustomerDirectory,
        insights: InsightBuilder,
        inbox: Inbox,
        templates: Templates,
        brand: Brand,
        *,
        deliver: Deliver,
        desk: Desk | None = None,
        team_answers: TeamAnswers | None = None,
    ) -> None:
        self.book = book
        self._log = log_
        self._customers = customers
        self._insights = insights
        self._inbox = inbox
        self._t = templates
        self._brand = brand
        self.desk = desk
        self._deliver = deliver
        self._team_answers = team_answers  # a resolved handoff's question and answer go to the review queue

    # -- the bot's side ------------------------------------------------------------------------

    async def opened(self, conversation: str) -> None:
        """A handoff was just stored for this conversation: post its summary to the desk."""
        row = await self.book.open_for(conversation)
        if row is None or self.desk is None or row.desk_ref:
            return
        handoff = HandoffRecord.of(row)
        ref = await self.desk.announce(handoff, await self.summary(handoff))
        await self.book.set_desk_ref(handoff.id, ref)

    async def customer_wrote(self, handoff: HandoffRecord, text: str) -> None:
        """The customer wrote while a person has the conversation: show it to the agents."""
        if self.desk is None:
            return
        if not handoff.desk_ref:  # its announcement failed earlier: agents have not seen it yet
            await self.opened(handoff.conversation)
            row = await self.book.get(handoff.id)
            handoff = HandoffRecord.of(row) if row is not None else handoff
        await self.desk.forward(handoff, text)

    async def summary(self, handoff: HandoffRecord) -> str:
        customer = await self._customers.get(handoff.customer_id)
        assert customer is not None
        insights = await self._insights.build(customer)
        key = ConversationKey.parse(handoff.conversation)
        recent = await self._log.latest(handoff.customer_id, 6)
        trend = [t.sentiment for t in recent if t.role == TurnRole.CUSTOMER and t.sentiment is not None]
        lines = [
            f"Handoff #{handoff.id}: {customer.name or 'unknown customer'}"
            + (f" ({customer.external_id})" if customer.external_id else "") + f" on {key.platform}",
            f"Why: {handoff.reason} [rule: {handoff.rule or EscalationRule.ASKED_FOR_PERSON}]",
            "Sentiment trend: " + (" → ".join(f"{s:+.2f}" for s in trend) if trend else "n/a"),
            *[f"• {line}" for line in insights.lines()[:6]],
            "Last turns:",
            *[f"  {t.role}: {t.text[:200]}" for t in recent],
            "Reply here to answer the customer; 'claim' to take it, 'resolve' to hand back to the bot.",
        ]
        return "\n".join(lines)

    # -- the agents' side ----------------------------------------------------------------------

    async def agent_says(self, handoff_id: int, agent: str, text: str, message_id: str) -> Transition:
        """What an agent typed in the handoff's thread: 'claim', 'resolve', or a reply for the customer."""
        match text.strip().lower():
            case "claim":
                return await self.agent_claim(handoff_id, agent)
            case "resolve" | "resolved":
                return await self.agent_resolve(handoff_id, agent)
            case _:
                return await self.agent_message(handoff_id, agent, text, message_id)

    async def agent_message(self, handoff_id: int, agent: str, text: str, message_id: str) -> Transition:
        """Relay an agent's reply to the customer, once per desk message, claiming if still pending."""
        claim = await self.book.claim(handoff_id, agent)
        if not claim.ok:
            if claim.handoff is not None and self.desk is not None:
                await self.desk.note(HandoffRecord.of(claim.handoff), f"{agent}: not sent — {claim.reason}")
            return claim
        handoff = claim.handoff
        assert handoff is not None
        key = ConversationKey.parse(handoff.conversation)
        relay = Inbound(platform="desk", conversation=key, user_id=agent, text=text, message_id=message_id)
        if not await self._inbox.claim(relay):
            return Transition(True, handoff, "already relayed")
        reply = Reply(conversation=key, in_reply_to=message_id, text=text, tone=Tone.NEUTRAL, ask_feedback=False)
        try:
            await self._send(reply)
        except BaseException:
            await self._inbox.release(relay)
            raise
        await self._log.record(relay, [Turn(customer_id=handoff.customer_id, conversation=handoff.conversation,
                                            platform=key.platform, role=TurnRole.AGENT, text=text, message_id=message_id,
                                            action="relay")], None, answered=True)
        return claim

    async def agent_claim(self, handoff_id: int, agent: str) -> Transition:
        result = await self.book.claim(handoff_id, agent)
        if self.desk is not None and result.handoff is not None:
            await self.desk.note(HandoffRecord.of(result.handoff),
                                 f"claimed by {agent}" if result.ok else f"{agent}: {result.reason}")
        return result

    async def agent_resolve(self, handoff_id: int, agent: str) -> Transition:
        """Hand the conversation back to the bot, which asks the customer for a CSAT score."""
        result = await self.book.resolve(handoff_id, agent)
        if not result.ok or result.handoff is None:
            if self.desk is not None and result.handoff is not None:
                await self.desk.note(HandoffRecord.of(result.handoff), f"{agent}: {result.reason}")
            return result
        handoff = result.handoff
        customer = await self._customers.get(handoff.customer_id)
        key = ConversationKey.parse(handoff.conversation)
        text = self._t.csat.format(**template_fields(customer, self._brand))
        reply = Reply(conversation=key, in_reply_to=f"handoff-{handoff.id}-resolved", text=text, ask_feedback=False,
                      suggestions=tuple(Suggestion(str(n), f"/csat {n}") for n in range(1, 6)))
        await self._send(reply)
        if self.desk is not None:
            await self.desk.note(HandoffRecord.of(handoff), f"resolved by {agent}; the bot has the conversation again")
        if self._team_answers is not None:
            # Only the one resolve that moved the handoff gets here; the queue's unique handoff id holds anyway.
            await self._team_answers.collect(handoff)
        return result

    async def _send(self, reply: Reply) -> None:
        await self._deliver(reply)

