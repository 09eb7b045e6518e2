"""6½. act: carry out what the customer asked of their account — link, export, forget.

Between decide and compose because these change stores before the reply is written:
the reply must report what really happened.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

from bot.customers.linking import IdentityLinker, Presenter
from bot.customers.privacy import PrivacyDesk
from bot.stages.decide import Action, Decision
from bot.stages.recall import Context
from bot.stages.understand import Understanding
from bot.store.customers import CustomerDirectory
from bot.store.tables import Customer
from bot.store.feedback import FeedbackLog
from bot.types import Feedback, FeedbackKind, Inbound, OutboundFile

FORGET_CONFIRM_WINDOW = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class Outcome:
    # Who the turn belongs to afterwards: another record after a merge, None once forgotten.
    customer: Customer | None
    link_code: str = ""
    linked: bool = False
    link_problem: str = ""
    export: OutboundFile | None = None
    forget_pending: bool = False
    forgotten: bool = False
    csat: int | None = None


class Act:
    def __init__(
        self, linker: IdentityLinker, privacy: PrivacyDesk, directory: CustomerDirectory, feedback: FeedbackLog
    ) -> None:
        self._linker = linker
        self._privacy = privacy
        self._directory = directory
        self._feedback = feedback

    async def __call__(
        self, inbound: Inbound, customer: Customer, understanding: Understanding, context: Context, decision: Decision
    ) -> Outcome:
        assert customer.id is not None
        command = understanding.command
        match decision.action:
            case Action.LINK if command is not None and command.argument:
                presenter = Presenter(customer.id, inbound.platform, inbound.conversation.workspace, inbound.user_id)
                result = await self._linker.redeem(command.argument, presenter)
                if not result.linked:
                    return Outcome(customer, link_problem=result.reason)
                merged = await self._directory.get(result.customer_id) if result.customer_id else None
                return Outcome(merged or customer, linked=True)
            case Action.LINK:
                code = await self._linker.issue(customer.id, inbound.platform, inbound.conversation.workspace)
                return Outcome(customer, link_code=code)
            case Action.EXPORT:
                data = await self._privacy.export(customer.id)
                content = json.dumps(data, indent=2, ensure_ascii=False, default=str)
                return Outcome(customer, export=OutboundFile(f"rapport-export-{customer.id}.json", content))
            case Action.FORGET if command is not None and command.argument.lower() == "confirm":
                # Asked for in any conversation of this customer: a Slack DM makes each message its own thread.
                if not await self._privacy.forget_requested(customer.id, FORGET_CONFIRM_WINDOW):
                    await self._privacy.request_forget(customer.id)  # the reply is the warning: confirm again
                    return Outcome(customer, forget_pending=True)
                await self._privacy.forget(customer.id)
                return Outcome(None, forgotten=True)
            case Action.FORGET:
                await self._privacy.request_forget(customer.id)
                return Outcome(customer, forget_pending=True)
            case Action.CSAT if command is not None and command.argument[:1] in "12345" and command.argument:
                score = int(command.argument[0])
                await self._feedback.record(Feedback(inbound.platform, inbound.conversation, inbound.user_id,
                                                     inbound.message_id, FeedbackKind.CSAT, str(score),
                                                     feedback_id=f"csat:{inbound.message_id}"))
                return Outcome(customer, csat=score)
            case _:
                return Outcome(customer)

