"""The flow of one message, start to end. Each step is a small stage object in ``bot/stages``."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace

from bot.locks import ConversationLocks
from bot.metrics import METRICS, TurnOutcome
from bot.stages.accept import Accept
from bot.stages.act import Act
from bot.stages.compose import Composer
from bot.handoff.desk import HandoffDesk
from bot.stages.decide import Decide, Decision
from bot.handlers.base import Situation
from bot.stages.identify import Identify
from bot.stages.recall import Context, Recall
from bot.stages.recommend import Recommend
from bot.stages.remember import Remember
from bot.stages.understand import Understand
from bot.learning.answers import AnswerLearning
from bot.store.feedback import FeedbackLog
from bot.store.inbox import Arrival, LeaseLost, QueuedMessage
from bot.store.outbox import with_key
from bot.types import ConversationKey, Feedback, FeedbackKind, Inbound, Reply

log = logging.getLogger("rapport.engine")


def _addressed(reply: Reply, inbound: Inbound) -> Reply:
    """The reply with its delivery key, for the person who wrote, and private when asked privately
    (a Slack slash command is answered where only its sender can see it)."""
    return replace(with_key(reply), recipient=reply.recipient or inbound.user_id,
                   private=reply.private or inbound.private)


_ON_SUGGESTIONS = {FeedbackKind.RECOMMENDATION_CLICKED, FeedbackKind.RECOMMENDATION_REJECTED}
_ON_ANSWERS = {FeedbackKind.HELPFUL: 1, FeedbackKind.NOT_HELPFUL: -1}


@dataclass
class Engine:
    accept: Accept
    identify: Identify
    understand: Understand
    recall: Recall
    recommend: Recommend
    decide: Decide
    act: Act
    compose: Composer
    remember: Remember
    locks: ConversationLocks
    feedback_log: FeedbackLog
    desk: HandoffDesk
    learning: AnswerLearning | None = None  # 👍/👎 on answers re-rank knowledge (bot/learning)

    async def handle(self, inbound: Inbound) -> Reply | None:
        """Store one message and run its conversation's queue; the reply to it (stored in the outbox
        too), or None: a redelivery, a person owns the conversation, or another process ran it."""
        if await self.receive(inbound) is Arrival.FINISHED:
            return None
        return (await self.run_queue(inbound.conversation)).get(inbound.message_id)

    async def receive(self, inbound: Inbound) -> Arrival:
        """1. accept: the message is durably queued when this returns; only then may a platform be told."""
        arrival = await self.accept(inbound)
        if arrival is not Arrival.NEW:
            log.info("redelivered message", extra={"platform": inbound.platform, "arrival": arrival.value})
        return arrival

    async def run_queue(self, conversation: ConversationKey) -> dict[str, Reply]:
        """Run every waiting turn of one conversation, oldest first; replies by message id."""
        replies: dict[str, Reply] = {}
        async with self.locks.hold(str(conversation)):
            while (message := await self.accept.next(conversation)) is not None:
                started = time.perf_counter()
                try:
                    async with self.accept.leased(message):
                        reply = await self._turn(message)
                except LeaseLost:
                    # Another process took this turn over and answered it; ours is dropped whole.
                    log.warning("lost the lease of a turn; dropped it", extra={"inbox_id": message.entry_id})
                    continue
                except Exception as error:
                    METRICS.error("engine", error)
                    METRICS.observe_turn(conversation.platform, TurnOutcome.FAILED, time.perf_counter() - started)
                    raise
                outcome = (TurnOutcome.SILENT if reply is None
                           else TurnOutcome.HANDED_OFF if reply.handoff is not None else TurnOutcome.ANSWERED)
                METRICS.observe_turn(conversation.platform, outcome, time.perf_counter() - started)
                if reply is not None:
                    replies[message.inbound.message_id] = reply
        return replies

    async def _turn(self, message: QueuedMessage) -> Reply | None:
        inbound = message.inbound
        customer = await self.identify(inbound)
        assert customer.id is not None
        await self.accept.identified(message, customer.id)
        understanding = await self.understand(inbound)
        context = await self.recall(inbound, customer, understanding)
        picks = await self.recommend(customer, understanding, context)
        situation = Situation(inbound, customer, understanding, context, picks.items, picks.no_match_reason,
                              picks.led_by_question)
        decision = self.decide(situation)
        outcome = await self.act(situation, decision)
        reply = await self.compose(situation, decision, outcome)
        if reply is not None:
            reply = _addressed(reply, inbound)
        # The turn, its reply (in the outbox), the dialogue state and the inbox mark commit together.
        await self.remember(situation, outcome.customer, decision, reply, owner=message.owner, found=outcome.found)
        await self._tell_the_desk(inbound, context, decision)
        # Ids and the decision only: message bodies and personal data stay out of logs.
        log.info(
            "turn handled",
            extra={"platform": inbound.platform, "customer_id": customer.id, "action": decision.action},
        )
        return reply

    async def _tell_the_desk(self, inbound: Inbound, context: Context, decision: Decision) -> None:
        """A new handoff opens a thread for agents; a message while waiting is shown to them.

        The desk being down never costs the customer their reply: the handoff is stored, and
        the next message in the conversation announces it again.
        """
        try:
            if decision.opens_handoff:
                METRICS.handoff_opened(inbound.platform, str(decision.rule or decision.action))
                await self.desk.opened(str(inbound.conversation))
            elif decision.silent and context.open_handoff is not None:
                await self.desk.customer_wrote(context.open_handoff, inbound.text)
        except Exception:
            log.exception("could not reach the agents' desk",
                          extra={"platform": inbound.platform, "message_id": inbound.message_id})

    async def feedback(self, feedback: Feedback) -> None:
        """Record a button click, reaction or CSAT score once; later stages learn from these records."""
        customer_id = await self.feedback_log.record(feedback)
        log.info("feedback %s", "recorded" if customer_id else "skipped",
                 extra={"platform": feedback.platform, "kind": feedback.kind.value})
        if customer_id is not None and feedback.value and feedback.kind in _ON_SUGGESTIONS:
            self.recommend.learn(customer_id, feedback.value, positive=feedback.kind is not FeedbackKind.RECOMMENDATION_REJECTED)
        if customer_id is not None and self.learning is not None and feedback.kind in _ON_ANSWERS:
            await self._vote_on_answer(customer_id, feedback)

    async def _vote_on_answer(self, customer_id: int, feedback: Feedback) -> None:
        """A 👍/👎 click votes on the section that answered; after a 👎 the customer's reply (the
        next-best answers and a person) is a queued turn of its own, keyed by the click, so it is
        given exactly once however often the platform redelivers the click."""
        assert self.learning is not None
        answered = await self.learning.answered(customer_id, feedback.in_reply_to)
        if answered is None:
            return
        if _ON_ANSWERS[feedback.kind] > 0:
            await self.learning.vote(customer_id, answered, +1)
            return
        # The 👎 votes in its own turn, once, on the very message it rates (the command's argument).
        # Run by the delivery's sweeper (or the next message): this call returns to the platform now.
        click = feedback.feedback_id or feedback.in_reply_to
        await self.receive(Inbound(feedback.platform, feedback.conversation, feedback.user_id,
                                   f"/unhelpful {feedback.in_reply_to}", f"unhelpful:{click}"[:200],
                                   received_at=feedback.received_at))
