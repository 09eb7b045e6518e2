"""The LLM composer: a grounded, redacted brief to any OpenAI-compatible server, every fact in the answer
checked against the brief, and the offline composer's draft whenever anything goes wrong.

The compose stage calls :meth:`LlmComposer.compose` with a :class:`ComposeRequest` built by
:func:`request_from_turn` after the offline composer wrote its reply.
"""

from bot.llm.client import ChatClient, CircuitBreaker, FailureKind, LlmUnavailable
from bot.llm.composer import Composition, LlmComposer
from bot.llm.request import (ComposeRequest, CustomerInsights, DialogueFocus, KnowledgeSection, OrderFacts,
                             OrderLine, Pick, Remembered, TurnText, request_from_turn)

__all__ = ["ChatClient", "CircuitBreaker", "ComposeRequest", "Composition", "CustomerInsights", "DialogueFocus",
           "FailureKind", "KnowledgeSection", "LlmComposer", "LlmUnavailable", "OrderFacts", "OrderLine", "Pick",
           "Remembered", "TurnText", "request_from_turn"]
