"""The flow of one message, start to end. Each step is a small stage object in ``bot/stages``."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.locks import ConversationLocks
from bot.stages.accept import Accept
from bot.stages.act import Act
from bot.stages.compose import Composer
from bot.handoff.desk import HandoffDesk
from bot.stages.decide import Action, Decide, Decision
from bot.stages.identify import Identify
from bot.stages.recall import Context, Recall
from bot.stages.recommend import Recommend
from bot.stages.remember import Remember
from bot.stages.understand import Understand
from bot.store.feedback import FeedbackLog
from bot.types import Feedback, FeedbackKind, Inbound, Reply

log = logging.getLogger("rapport.engine")
_ON_SUGGESTIONS = {FeedbackKind.RECOMMENDATION_CLICKED, FeedbackKind.RECOMMENDATION_REJECTED}


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

    async def handle(self, inbound: Inbound) -> Reply | None:
        """Answer one message; None when it is a redelivery or a person owns the conversation."""
        async with self.locks.hold(str(inbound.conversation)):
            if not await self.accept(inbound):
                log.info("duplicate message skipped", extra={"platform": inbound.platform, "message_id": inbound.message_id})
                return None
            try:
                customer = await self.identify(inbound)
                understanding = await self.understand(inbound)
                context = await self.recall(inbound, customer, understanding)
                products = await self.recommend(customer, understanding, context)
                decision = self.decide(customer, understanding, context, products)
                outcome = await self.act(inbound, customer, understanding, context, decision)
                reply = await self.compose(inbound, customer, understanding, context, decision, products, outcome)
                await self.remember(inbound, outcome.customer, understanding, context, decision, reply)
            except BaseException:
                # Release the claim so the platform's redelivery gets answered rather than lost.
                await self.accept.failed(inbound)
                raise
            # The turn is stored and marked answered: from here a failure must not lose the reply.
            await self._tell_the_desk(inbound, context, decision)
            # Ids and the decision only: message bodies and personal data stay out of logs.
            log.info(
                "turn handled",
                extra={"platform": inbound.platform, "message_id": inbound.message_id,
                       "customer_id": customer.id, "action": decision.action.value},
            )
            return reply

    async def _tell_the_desk(self, inbound: Inbound, context: Context, decision: Decision) -> None:
        """A new handoff opens a thread for agents; a message while waiting is shown to them.

        The desk being down never costs the customer their reply: the handoff is stored, and
        the next message in the conversation announces it again.
        """
        try:
            if decision.action is Action.HANDOFF:
                await self.desk.opened(str(inbound.conversation))
            elif decision.action is Action.SILENT and context.open_handoff is not None:
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
