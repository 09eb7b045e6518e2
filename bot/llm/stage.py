"""The compose stage with an LLM: the offline composer writes the draft, the LLM composer rewrites it.

:class:`LlmComposeStage` has the compose stage's shape (``Composer`` in :mod:`bot.stages.compose`), so the
runtime puts it where the offline composer was. Only conversational replies go to the model; replies
whose words are a contract — a link code, an export, a forget warning, a safety instruction, a handoff
notice, the command list — are sent as the offline composer wrote them.
"""

from __future__ import annotations

import logging

from bot.config import Brand
from bot.handlers.base import Decision, Outcome, Situation
from bot.llm.composer import LlmComposer
from bot.llm.request import request_from_turn
from bot.llm.stream import Streams
from bot.stages.compose import Composer, template_fields
from bot.types import Reply

__all__ = ["LLM_ACTIONS", "LlmComposeStage"]

log = logging.getLogger("rapport.llm")

# Actions whose reply the model may reword. Everything else keeps the offline text word for word.
LLM_ACTIONS = frozenset({
    "answer", "clarify", "greet", "thank", "noted", "fact_recall", "order_status", "order_problem",
    "order_not_found", "product_info", "products", "purchases", "unknown", "upset", "other_language",
})


class LlmComposeStage:
    def __init__(self, offline: Composer, llm: LlmComposer, brand: Brand, admins: set[str]) -> None:
        self._offline = offline
        self._llm = llm
        self._brand = brand
        self._admins = admins
        # Platforms that can show a reply while it is written register here (the console in `rapport chat`).
        self.streams = Streams()

    async def __call__(self, situation: Situation, decision: Decision, outcome: Outcome) -> Reply | None:
        draft = await self._offline(situation, decision, outcome)
        if draft is None or not self._for_the_model(situation, decision, draft):
            return draft
        inbound = situation.inbound
        staff = not inbound.external and f"{inbound.platform}:{inbound.user_id}" in self._admins
        first = template_fields(outcome.customer or situation.customer, self._brand)["name"]
        try:
            sink = self.streams.open(inbound.conversation, inbound.message_id)
            return await self._llm.compose(request_from_turn(situation, decision, draft, staff=staff, first_name=first),
                                           sink)
        except Exception as error:
            # A bug in the brief, the checks or the restore must not cost the customer their answer: a failed
            # turn is retried and then set aside, while the draft is right here.
            log.exception("the LLM composer failed; the offline reply goes out",
                          extra={"platform": inbound.platform, "error": type(error).__name__})
            return draft

    async def close(self) -> None:
        await self._llm.close()

    @staticmethod
    def _for_the_model(situation: Situation, decision: Decision, draft: Reply) -> bool:
        return (decision.action in LLM_ACTIONS and not decision.opens_handoff and not draft.private
                and not draft.files and draft.handoff is None and situation.understanding.command is None)
