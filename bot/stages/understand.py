"""3. understand: embed the message once, score its sentiment, tell its language, spot greetings,
thanks, commands, requests for a person and facts the customer states about themselves."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field

import numpy as np

from bot.customers.preferences import Fact, stated_facts
from bot.embedder import Embedder, embed_async
from bot.intents import OUT_OF_SCOPE, Intent, IntentLabel, IntentRouter
from bot.nlp.language import ENGLISH, Language, LanguageDetector
from bot.nlp.spelling import EnglishRespeller
from bot.sentiment import SentimentScorer
from bot.types import Inbound, Sentiment

_GREETING = re.compile(
    r"^\s*(hi|hello|hey|hiya|howdy|yo|good (morning|afternoon|evening)|greetings)\b[\s\w]{0,20}[!.?]*\s*$", re.I
)
# "hey do u sell giftcards" fits the greeting's 20 characters but asks something: not a bare hello.
_ASKS_IN_GREETING = re.compile(
    r"\b(do|does|did|where|what(?!'?s up\b| up\b)|when|why|which|sell|have|order|refund|return|track|check)\b", re.I)
_THANKS = re.compile(r"^\s*((ok(ay)?|great|perfect|cool|awesome)[,!.]?\s*)?(thanks|thank you|thx|ty|cheers)\b.{0,30}$", re.I)
# Praise and thanks anywhere in a short message: "you guys are awesome, thank you!!"
_THANKS_ANYWHERE = re.compile(r"^(?=.{0,80}$).*\b(thanks|thank you|thank u|thx|cheers|much appreciated|you('re| are) (awesome|great|the best)|"
                              r"you guys (are|rock)|that helped|perfect, thanks)\b", re.I | re.S)
# Thanks followed by a new request is the request: "thanks! do you sell gift cards", "thx, can you check my order".
_ASKS_MORE = re.compile(r"\b(?:thanks|thank you|thank u|thx|ty|cheers)\b.*\b(?:do you|can (?:i|you)|could you|how (?:do|can|long|much)|"
                        r"where(?:'s| is| are)|what(?:'s| is| are)|whats|wheres|when (?:will|do|does|is)|is there|are there|do i|i need|i want|also|status|"
                        r"order\s*#?\d{3,})\b",
                        re.I)
_REQUEST_VERB = r"(talk|speak|chat|connect|transfer|put me through|get|want|need|give me|escalate)"
# "I need to talk to someone about my order": a person asked for without the words "human" or "agent".
_TALK_TO_SOMEONE = re.compile(r"\b(talk|speak|chat)\s+(to|with)\s+(someone|somebody|a (real )?(person|human|manager))\b", re.I)
_ORDER_STATUS = re.compile(
    r"\b(where('s| is| are)\s+(it|they|that|my (order|package|parcel|delivery|shipment|stuff))\b|track(ing)?\b|"
    r"has (it|my order|my package) (shipped|arrived)|did (it|my order) ship|order status|"
    r"when (will|does|do) (it|they|my (order|package|parcel)) (arrive|ship|come|get here|be delivered)|"
    r"(status|update) (of|on) my (order|package|parcel|delivery))",
    re.I,
)
_ORDER_MENTION = re.compile(r"\b(i (ordered|bought|purchased)|my (order|package|parcel|delivery)|order\s*#?\d{3,})\b", re.I)
_RECOMMENDATION = re.compile(
    r"\b(recommend\w*|suggest\w*|what should i (buy|get)|looking for|something for|gift (for|idea)|"
    r"any (ideas|tips) for|what('s| is) good for|do you (have|sell|carry))\b",
    re.I,
)
KNOWN_COMMANDS = ("link", "start", "export", "forget", "help", "csat", "helpful", "unhelpful")
_COMMAND = re.compile(r"^\s*/(link|start|export|forget|help|csat|helpful|unhelpful)\b\s*(.*)$", re.I | re.S)
# A whole message that rates the last answer, as the 👍/👎 buttons do. Whole messages only: "that's
# wrong, I ordered two" is a complaint about an order, not a verdict on an answer.
_THUMB = r"[\U0001F3FB-\U0001F3FF\ufe0f]*"
_UNHELPFUL = re.compile(
    rf"^\s*(👎{_THUMB}|(no,?\s*)?(that|this|it)\s+(didn'?t|did not|doesn'?t|does not)\s+help|not (very )?(helpful|useful)|"
    r"(that'?s|that is|this is)\s+(wrong|not (it|right|what i (asked|meant)))|wrong answer|unhelpful)"
    r"(,?\s*(sorry|at all))?\s*[.!]*\s*$", re.I)
_HELPFUL = re.compile(
    rf"^\s*(👍{_THUMB}|(that|this|it)\s+(helped|was helpful|answered it|answers it|answered my question)|"
    r"(very |really )?helpful)(,?\s*(thanks|thank you|thx|cheers)( a lot)?)?\s*[.!]*\s*$", re.I)
_ANY_COMMAND = re.compile(r"^\s*/([a-z][\w-]{0,30})\b\s*(.*)$", re.I | re.S)
# In a direct message the account commands may be typed without the slash, but only as these exact
# words: "I forget my password" or "link to the manual" stay sentences.
_BARE_COMMAND = re.compile(
    r"^\s*(?:(link)(?:\s+([A-Z0-9]{4}-?[A-Z0-9]{4}))?|(export)|(forget)(?:\s+(confirm))?)\s*$", re.I
)
# The confirmation button's words (a suggestion click sends its text), anywhere.
_CONFIRM_FORGET = re.compile(r"^\s*yes,?\s+delete\s+everything[.!]?\s*$", re.I)
DM_WORKSPACE_DISCORD = "@me"  # adapters/discord.py: DMs have no guild


@dataclass(frozen=True, slots=True)
class Command:
    name: str  # link | start | export | forget | help | csat, or what was typed when not known
    argument: str
    known: bool = True


@dataclass(frozen=True, slots=True)
class Understanding:
    text: str
    # Computed once here and reused by every later stage (recall, recommend, remember).
    embedding: np.ndarray
    sentiment: Sentiment
    is_greeting: bool
    is_thanks: bool
    wants_human: bool
    asks_order_status: bool = False
    mentions_order: bool = False
    asks_recommendation: bool = False
    command: Command | None = None
    facts: dict[str, Fact] = field(default_factory=dict)  # what the customer states about themselves
    intent: Intent = Intent(OUT_OF_SCOPE, 0.0, "")
    language: Language = Language(ENGLISH, 1.0, True, "assumed")
    vote: int = 0  # +1 / -1: the message rates the last answer (/helpful, 👍, "that didn't help"); 0: it does not
    # The text as read: English misspellings corrected ("recomend" -> "recommend"), what was embedded;
    # ``text`` as written where they are the same or none was.
    read: str = ""

    @property
    def as_read(self) -> str:
        return self.read or self.text

    @property
    def preferences(self) -> dict[str, str]:
        return {key: fact.value for key, fact in self.facts.items()}


class Understand:
    def __init__(
        self, embedder: Embedder, scorer: SentimentScorer, human_phrases: list[str], router: IntentRouter | None = None,
        languages: LanguageDetector | None = None, respeller: EnglishRespeller | None = None,
    ) -> None:
        self._router = router or IntentRouter(None)
        self._languages = languages
        self._respeller = respeller
        self._embedder = embedder
        self._scorer = scorer
        phrases = "|".join(re.escape(p) for p in sorted(human_phrases, key=len, reverse=True))
        self._wants_human = re.compile(rf"\b{_REQUEST_VERB}\b.*\b({phrases})\b|^\s*({phrases})\s*[!.?]*\s*$", re.I)

    async def __call__(self, inbound: Inbound) -> Understanding:
        text = inbound.text.strip()
        # "my lamp arived brokn!!!" is embedded, scored and routed as "my lamp arrived broken!!!"; every
        # check on the words themselves, and what is stored, keeps the text as written.
        read, language = text, None
        if self._respeller is not None and self._respeller.needs_lookup(text):  # a word in no dictionary
            read, language = await asyncio.to_thread(self._respelt, text)
        # Through the batcher when there is one: concurrent conversations share one model call.
        (embedding,) = await embed_async(self._embedder, [read or " "])
        # One thread hop for the small models keeps the event loop free and the overhead low.
        sentiment, intent, language = await asyncio.to_thread(self._models, text, read, embedding, language)
        return Understanding(
            text=text,
            embedding=embedding,
            sentiment=sentiment,
            is_greeting=bool(_GREETING.match(text)) and not _ASKS_IN_GREETING.search(text),
            is_thanks=bool(_THANKS.match(text) or _THANKS_ANYWHERE.match(text)) and "?" not in text
            and not _ASKS_MORE.search(text),
            # Phrases catch the unmistakable cases; the intent router catches the paraphrases.
            wants_human=bool(self._wants_human.search(text) or _TALK_TO_SOMEONE.search(text)) or intent.label == IntentLabel.HUMAN_AGENT,
            asks_order_status=bool(_ORDER_STATUS.search(text)) or intent.label == IntentLabel.ORDER_STATUS,
            mentions_order=bool(_ORDER_MENTION.search(text)),
            asks_recommendation=bool(_RECOMMENDATION.search(text)) or intent.label == IntentLabel.PRODUCT_SEARCH,
            command=_command(text, direct=is_direct_message(inbound)),
            facts=stated_facts(text, inbound.received_at),
            intent=intent,
            language=language,
            vote=answer_vote(text),
            read=read,
        )

    def _models(self, text: str, read: str, embedding: np.ndarray,
                language: Language | None) -> tuple[Sentiment, Intent, Language]:
        """Sentiment and intent of the message as read (respelt), its language as written (``language``:
        already detected, to respell)."""
        return (self._scorer.score_embedding(read, embedding), self._router.route(read, embedding),
                language or self._language(text))

    def _language(self, text: str) -> Language:
        return self._languages.detect(text) if self._languages is not None else Language(ENGLISH, 1.0, True, "assumed")

    def _respelt(self, text: str) -> tuple[str, Language]:
        """``text`` with its English misspellings corrected, and its language; a message in another
        language as written ("meine Bestellung" is not a misspelt "mine")."""
        language = self._language(text)
        if self._respeller is None or not language.is_english:
            return text, language
        return self._respeller.respell(text) or text, language


def answer_vote(text: str) -> int:
    """+1 when the message only says the last answer helped, -1 when it only says it did not, else 0."""
    if re.match(r"^\s*/helpful\b", text, re.I) or _HELPFUL.match(text):
        return 1
    if re.match(r"^\s*/unhelpful\b", text, re.I) or _UNHELPFUL.match(text):
        return -1
    return 0


def _command(text: str, direct: bool = False) -> Command | None:
    match = _COMMAND.match(text)
    if match:
        return Command(match.group(1).lower(), match.group(2).strip())
    other = _ANY_COMMAND.match(text)
    if other:
        return Command(other.group(1).lower(), other.group(2).strip(), known=False)
    if _CONFIRM_FORGET.match(text):
        return Command("forget", "confirm")
    bare = _BARE_COMMAND.match(text) if direct else None
    if bare is None:
        return None
    link, code, export, forget, confirm = bare.groups()
    if link:
        return Command("link", (code or "").upper())
    if export:
        return Command("export", "")
    return Command("forget", (confirm or "").lower()) if forget else None


def is_direct_message(inbound: Inbound) -> bool:
    """Whether the message was written one to one with the bot, from how each adapter keys conversations:
    Slack DM channel ids start with "D"; a Telegram private chat's id is the user's id (the console keys
    its sessions the same way); a Discord DM has no guild. Anything else counts as shared."""
    key = inbound.conversation
    match inbound.platform:
        case "slack":
            return key.channel.startswith("D")
        case "discord":
            return key.workspace == DM_WORKSPACE_DISCORD
        case "telegram" | "console":
            return key.channel == inbound.user_id
        case _:
            return False
