"""config.yaml: load once, expand ``${VAR}`` from the environment, validate, explain every mistake.

Secrets never live in the file: they are ``${VAR}`` references resolved from the
environment at load time. Unknown keys are errors, so a typo cannot silently turn
a setting off. Rules across fields (overlap below chunk size, clarify below answer, a webhook
secret in webhook mode, paths that exist) are model validators that name the key they are about.
No message shows a secret: values of credential fields and of ``${…TOKEN/SECRET/KEY/PASSWORD}``
variables are masked, and so are passwords inside URLs.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import yaml
from pydantic import (BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator,
                      model_validator)
from pydantic_core import PydanticCustomError

from bot.errors import MISSING, REDACTED, ConfigError, ConfigProblem, is_secret_name, mask_url_passwords


@dataclass(frozen=True, slots=True)
class Finding:
    """A broken rule across fields: the key (relative to the section whose validator found it), its value,
    what is wrong and the fix. A model validator has no single location, so each finding names its own."""

    key: str  # "" for the validated field itself
    value: object
    problem: str
    fix: str


RULE_ERROR = "config_rule"
# Validation context key: the config file's folder, present when a file is loaded. Checks that look at
# the disk (knowledge paths) run only then, never for a Config built in code.
BASE_DIR_CONTEXT = "base_dir"


def broken(*findings: Finding) -> PydanticCustomError:
    """The error a model validator raises for its findings; ``_explain`` turns each into a ConfigProblem."""
    summary = "; ".join(f"{f.key}: {f.problem}" for f in findings)
    return PydanticCustomError(RULE_ERROR, "{summary}", {"summary": summary, "findings": findings})


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Brand(Section):
    name: str = Field("Rapport Store", description="Company or shop name used in replies.")
    bot_name: str = Field("Rapport", description="What the bot calls itself.")
    persona: str = Field(
        "friendly, concise and practical", description="How the bot should sound (used by the LLM composer)."
    )


class Templates(Section):
    """Reply wording. Fields: {name} first name (empty if unknown), {name_suffix} ", Ana" or "",
    {name_comma} "Ana, " or "", {bot}, {brand}; some templates have more, named in their comment."""

    greeting: str = (
        "Hi{name_suffix}! I'm {bot}, the support assistant at {brand}. "
        "Ask me about orders, shipping, returns or our products."
    )
    # {news}: what matters now, e.g. "Your order 1042 (Halo LED Desk Lamp) shipped yesterday. "
    greeting_returning: str = "Welcome back{name_suffix}! {news}How can I help today?"
    no_answer: str = (
        "I'm sorry{name_suffix}, I don't know the answer to that and I'd rather not guess. "
        "Would you like me to bring in a person from our team? Just say \"talk to a human\"."
    )
    clarify: str = "I want to get this right{name_suffix}. Did you mean one of these?"
    handoff: str = (
        "I've asked a person from our team to take over{name_suffix}. They'll reply right here in this conversation."
    )
    csat: str = "You're back with {bot}{name_suffix}. How did our team do? Rate us from 1 (poor) to 5 (great)."
    csat_thanks: str = "Thank you{name_suffix}, that helps us get better."
    # Tone. Negative: acknowledge, apologise, go straight to the fix (and never upsell).
    empathy_lead: str = "I'm sorry about the trouble{name_suffix}. Here's what applies:"
    empathy_order: str = "I'm sorry for the wait{name_suffix}."
    # Positive: warm and brief. Neutral: just the answer (with the name when known).
    warm_lead: str = "Happy to help{name_suffix}!"
    neutral_lead: str = "{name_comma}here's what I found."
    thanks: str = "You're welcome{name_suffix}! Anything else I can help with?"
    settled: str = "Glad it's sorted{name_suffix}! If anything else comes up, just write."
    # {facts}: what the customer just told us, e.g. "diet: vegan".
    noted: str = "Thanks{name_suffix}, I'll remember that ({facts}). Anything I can help with?"
    # {statement}: what they told, said back ("your dog is allergic to chicken").
    noted_told: str = "Got it{name_suffix}: {statement}. I'll keep that in mind. Anything I can help with?"
    # {whom}: who or what it was about, when it cannot be said back ("your dog").
    noted_about: str = "Got it{name_suffix}, I'll remember that about {whom}. Anything I can help with?"
    noted_plain: str = "Got it{name_suffix}, I'll keep that in mind. Anything I can help with?"
    product_intro: str = "Here's what we have that matches:"
    picks_intro: str = "A few picks for you{name_suffix}:"
    # Order status. Fields: {order_id}, {items}, {ordered} and {shipped} (e.g. "yesterday", "on 17 Nov"), {tracking}.
    order_processing: str = "Your order {order_id} ({items}) was placed {ordered} and is being prepared; it hasn't shipped yet."
    order_shipped: str = "Your order {order_id} ({items}) shipped {shipped}."
    order_delivered: str = "Your order {order_id} ({items}) is marked as delivered."
    order_cancelled: str = "Your order {order_id} ({items}) was cancelled."
    order_returned: str = "Your order {order_id} ({items}) was returned."
    order_tracking: str = "Tracking number: {tracking}."
    # Account commands. {code}: a one-time link code; {reason}: why linking failed.
    link_code: str = (
        "To link another account (Slack, Discord or Telegram), send this there within 10 minutes: /link {code} "
        "— the code works once."
    )
    link_done: str = "Done{name_suffix}: your accounts are linked, so I'll know you wherever you write."
    link_failed: str = "I couldn't link the accounts: {reason}."
    export_ready: str = "Here's everything we store about you, as JSON."
    forget_ask: str = (
        "This permanently deletes your profile, messages, orders and memories here. "
        "To confirm, send /forget confirm within 10 minutes."
    )
    forget_done: str = "Everything we stored about you has been deleted. If you write again, we'll start fresh."
    help: str = (
        "I can answer questions about orders, shipping, returns, refunds and products. Commands: "
        "/link (connect your accounts on other platforms), /export (your data), /forget (delete your data)."
    )
    # {command}: what was typed, e.g. "/foo"; {commands}: the commands that exist, one per line.
    unknown_command: str = "I don't know the command {command}. These are the ones I know:\n{commands}"
    # Orders. {order_ref}: the number the customer typed; {orders}: their own recent order numbers.
    order_not_found: str = (
        "I can't find an order {order_ref} on your account{name_suffix}. Could you check the number? "
        "The orders I can see on your account are: {orders}."
    )
    # Said missing, but the order has not left the warehouse. {order_id}.
    order_missing_not_sent: str = (
        "So it can't have been delivered yet{name_suffix}: if a tracking page says delivered, it is for another "
        "order. Send me that order's number and I'll check it."
    )
    # Someone with no orders on record gives an email address to look up: never opened from a chat.
    email_given: str = (
        "Thanks{name_suffix}. For your privacy I can't open an account from an email address typed in a chat, "
        "since anyone could type one. A person from our team can check it's you and look up your orders: just "
        "say \"talk to a human\"."
    )
    # Asked about something of theirs that no order holds. {item}: "a jacket", "shoes"; {orders}: their newest
    # orders with what each held.
    item_not_ordered: str = (
        "I don't see {item} in your orders{name_suffix}. The newest ones on your account are {orders}. If it was "
        "ordered with another email or account, send me the order number from the confirmation email and I'll "
        "take a look."
    )
    # Asked about another person's order or account: never whether it exists.
    others_order: str = (
        "For privacy I can only look at orders on your own account{name_suffix}. If the order was placed on "
        "someone else's account, they can message us from it, or sign in, and we'll help them right away. "
        "If it's actually yours, send me the order number from your confirmation email."
    )
    # ... when they named a number ({order_ref}) that is not on their account.
    others_order_ref: str = (
        "Order {order_ref} isn't on your account{name_suffix}, and for privacy I can only look at orders on your "
        "own account. If it was placed on someone else's account, they can message us from it, or sign in, and "
        "we'll help them right away."
    )
    order_not_found_none: str = (
        "I can't find an order {order_ref} on your account{name_suffix}, and I don't see any orders on it yet. "
        "If you ordered with another email address, tell me and I can bring in a person from our team."
    )
    # {order_id}, {items}, {status}, {ordered}, {total} (e.g. "89.00"), {tracking}
    order_facts: str = "Your order {order_id} ({items}) was placed {ordered} and is {status}."
    order_problem_lead: str = "I'm sorry about that{name_suffix}. Here's what applies to your order {order_id} ({items}, {status}):"
    # A request about an order (a return, a cancellation, an address, its warranty) is no mishap to apologise for.
    order_request_lead: str = "Here's what applies to your order {order_id} ({items}, {status}){name_suffix}:"
    # Asked to cancel an order that has shipped or been delivered.
    order_cancel_too_late: str = (
        "Your order {order_id} ({items}) has already {status_done}{name_suffix}, so it can't be cancelled any more. "
        "Here's what you can do:"
    )
    order_total: str = "Your order {order_id} ({items}) came to ${total}."
    order_when: str = "You placed order {order_id} ({items}) {ordered}."
    order_tracking_only: str = "The tracking number for your order {order_id} ({items}) is {tracking}."
    order_no_tracking: str = "Your order {order_id} ({items}) has no tracking number yet: it is {status}."
    last_purchase: str = "Your most recent order is {order_id}, placed {ordered}: {items}."
    no_orders: str = "I don't see any orders on your account{name_suffix}. Did you order with another email address?"
    # Facts the customer told. {label} e.g. "dog name", {value} "Rex", {said} e.g. "yesterday".
    fact_recall: str = "You told me {said}: your {label} is {value}."
    fact_unknown: str = "I don't think you've told me that yet{name_suffix}. I'll remember it if you do."
    # What they told in their own words, asked back ("what did I tell you about my dog?"): {said} e.g. "today",
    # {statement} said back ("your dog is allergic to chicken"), {quote} their message as they wrote it.
    told_recall: str = "You told me {said} that {statement}."
    told_recall_quote: str = "You told me {said}: \u201c{quote}\u201d"
    # Safety reports: {guidance} is the safety section of the knowledge pages.
    safety: str = (
        "Please stop using it right away{name_suffix}, unplug it and keep it away from anything that can burn. "
        "I've asked a person from our team to take this up with you now; they'll reply right here.\n\n{guidance}"
    )
    # An upset customer whose message matches no answer: empathy and a way forward, not "I don't know".
    upset: str = (
        "I'm really sorry{name_suffix}, that's not the experience we want you to have. I couldn't find an answer "
        "to this myself, but I can look into an order, a return or a refund for you right now, or bring in a "
        "person from our team. What would help most?"
    )
    # After this many misses in a row the reply offers a person (a button) before handing off.
    offer_person: str = "I'm not getting this right, sorry{name_suffix}. Would you like a person from our team to help?"


class Knowledge(Section):
    pages: Path = Field(Path("knowledge/pages"), description="Folder of Markdown pages (FAQ, policies).")
    catalog: Path = Field(Path("knowledge/catalog.csv"), description="Product catalog CSV.")
    intents: Path = Field(Path("knowledge/intents.csv"), description="Intent examples (text,label) for routing.")
    chunk_size: Annotated[int, Field(ge=200, le=8000)] = 1200
    chunk_overlap: Annotated[int, Field(ge=0, le=1000)] = 100

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> Self:
        findings = self._overlap_findings()
        base_dir = (info.context or {}).get(BASE_DIR_CONTEXT)
        if isinstance(base_dir, Path):
            findings += self._path_findings(base_dir)
        if findings:
            raise broken(*findings)
        return self

    def _overlap_findings(self) -> list[Finding]:
        # The splitter refuses an overlap that is not smaller than the chunk; say so before ingest does.
        if self.chunk_overlap < self.chunk_size:
            return []
        return [Finding("chunk_overlap", self.chunk_overlap, f"must be smaller than chunk_size ({self.chunk_size})",
                        f"set chunk_overlap below {self.chunk_size}, e.g. {min(self.chunk_size // 10, 1000)}")]

    def _path_findings(self, base_dir: Path) -> list[Finding]:
        # Only paths the admin wrote: a missing default is a fresh install (no pages or intent examples
        # yet), which the runtime handles; a written path that is missing is a typo that would silently
        # leave the bot knowing nothing.
        findings = []
        for key, kind in (("pages", "folder"), ("catalog", "file"), ("intents", "file")):
            value: Path = getattr(self, key)
            resolved = value if value.is_absolute() else base_dir / value
            if key in self.model_fields_set and not (resolved.is_dir() if kind == "folder" else resolved.is_file()):
                findings.append(Finding(key, str(value), f"no such {kind} ({resolved})",
                                        f"create the {kind} or correct the path (relative paths are read from "
                                        f"{base_dir}, the config file's folder)"))
        return findings


class Stores(Section):
    database_url: str = Field(
        "", description="Empty: SQLite in the data directory. Else a PostgreSQL URL (postgres:// is accepted)."
    )
    chroma_url: str = Field("", description="Empty: embedded Chroma in the data directory. Else http(s)://host:port.")
    vectors: Literal["chroma", "pgvector"] = Field(
        "chroma", description="Where vectors live: chroma (embedded, or the server at chroma_url), or pgvector "
        "(tables in the DATABASE_URL PostgreSQL, which needs the pgvector extension)."
    )
    redis_url: str = Field(
        "", description="Empty: in-process conversation locks (one process). Else redis://host:port/db, "
        "for locks shared by several processes."
    )
    memories_per_customer: Annotated[int, Field(ge=10, le=100_000)] = Field(
        1000, description="Semantic memories kept per customer (oldest dropped first; turns stay in SQL)."
    )
    memory_shards: Annotated[int, Field(ge=1, le=1024)] = Field(
        32, description="Vector collections customer memories are spread over (by customer id); "
        "changing it needs `rapport ingest --reindex`."
    )

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if value and not re.match(r"^(postgres|postgresql|postgresql\+asyncpg|sqlite|sqlite\+aiosqlite)://", value):
            raise broken(Finding("", value, "must start with postgres://, postgresql:// or sqlite://",
                                 "write postgres://user:password@host:5432/dbname (DATABASE_URL), or leave it empty "
                                 "for SQLite in the data directory"))
        return value

    @field_validator("chroma_url")
    @classmethod
    def _http_chroma(cls, value: str) -> str:
        if value and not re.match(r"^https?://[^/]+", value):
            raise broken(Finding("", value, "must be an http:// or https:// URL of a Chroma server",
                                 "write http://host:8000, or leave it empty for the embedded store"))
        return value


class Models(Section):
    embedder: Literal["minilm-onnx-int8", "minilm-torch"] = Field(
        "minilm-onnx-int8",
        description="all-MiniLM-L6-v2 as int8 ONNX (no torch) or full precision via sentence-transformers.",
    )
    sentiment: Literal["minilm-logreg", "vader"] = Field(
        "minilm-logreg",
        description="A classifier on the MiniLM embedding, trained on public review data (scripts/train_sentiment.py), "
        "or VADER's lexicon.",
    )


class Thresholds(Section):
    answer_min_similarity: Annotated[float, Field(ge=0, le=1)] = Field(
        0.55, description="At or above this cosine similarity the best knowledge section is given as the answer."
    )
    clarify_min_similarity: Annotated[float, Field(ge=0, le=1)] = Field(
        0.4, description="Between this and answer_min_similarity the bot asks which of the close matches is meant."
    )
    product_min_similarity: Annotated[float, Field(ge=0, le=1)] = 0.45
    intent_confidence: Annotated[float, Field(ge=0, le=1)] = Field(
        0.5, description="Below this an intent is out of scope and the knowledge search decides alone."
    )
    negative_sentiment: Annotated[float, Field(ge=-1, le=0)] = -0.3
    positive_sentiment: Annotated[float, Field(ge=0, le=1)] = 0.3

    @model_validator(mode="after")
    def _clarify_below_answer(self) -> Self:
        # Above the answer threshold the clarify band is empty: the bot would never ask which one was meant.
        if self.clarify_min_similarity > self.answer_min_similarity:
            raise broken(Finding(
                "clarify_min_similarity", self.clarify_min_similarity,
                f"is above answer_min_similarity ({self.answer_min_similarity}), so the bot would never ask "
                "which answer was meant",
                f"set clarify_min_similarity at or below {self.answer_min_similarity} (e.g. 0.4), or raise "
                "answer_min_similarity",
            ))
        return self


class Conversation(Section):
    granularity: Literal["user", "channel", "thread"] = Field(
        "thread", description="What one conversation is: a user's DM stream, a channel, or a thread."
    )
    recent_turns: Annotated[int, Field(ge=0, le=50)] = 6
    recalled_memories: Annotated[int, Field(ge=0, le=20)] = 3
    context_budget_chars: Annotated[int, Field(ge=200, le=50_000)] = Field(
        2400, description="Most characters of customer context (insights, turns, memories) a composer is given "
        "(Context.brief)."
    )


class Journey(Section):
    """Journey stages: new → first_purchase → active → at_risk → lapsed, from order dates."""

    active_min_orders: Annotated[int, Field(ge=1)] = 2
    at_risk_after_days: Annotated[int, Field(ge=1)] = 90
    lapsed_after_days: Annotated[int, Field(ge=1)] = 180


class Recommendations(Section):
    enabled: bool = True
    max_per_reply: Annotated[int, Field(ge=0, le=10)] = 3
    exclude_categories: list[str] = []
    weights: dict[Literal["collaborative", "content", "popularity"], Annotated[float, Field(ge=0)]] = Field(
        {"collaborative": 1.0, "content": 0.3, "popularity": 0.1},
        description="Blend of the three signals (each scaled to [0, 1] per request first).",
    )
    boosts: dict[str, Annotated[float, Field(gt=0)]] = Field(
        {}, description="SKU → score multiplier, e.g. {LMP-DESK-01: 1.5} to promote an item."
    )
    cross_sell_after_orders: bool = Field(True, description="Suggest something after an order question is answered.")


class Learning(Section):
    """Answer votes (👍/👎) re-rank knowledge sections for similar questions (bot/learning/scorer.py)."""

    enabled: bool = True
    agree: Annotated[int, Field(ge=1)] = Field(
        3, description="Different customers whose votes must agree before a section moves for everyone.")
    half_life_days: Annotated[float, Field(gt=0)] = Field(30.0, description="A vote's weight halves every this many days.")
    similarity: Annotated[float, Field(ge=0, le=1)] = Field(
        0.7, description="Cosine between two questions at or above which a vote on one counts for the other.")
    shift: Annotated[float, Field(ge=0, le=1)] = Field(0.15, description="How far agreed votes move a section's score.")
    own_shift: Annotated[float, Field(ge=0, le=1)] = Field(0.5, description="How far a customer's own vote moves it for them.")


class Platform(Section):
    enabled: bool = False
    api_base_url: str = Field("", description="Override the platform's API endpoint (proxy, GovSlack, local fake).")

    @field_validator("api_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value and not re.match(r"^https?://[^/]+", value):
            raise ValueError("must be an http:// or https:// URL")
        return value


def _secret(env: str, description: str) -> Any:
    """A credential field; ``env`` is the variable config.yaml reads it from, named in start-up errors."""
    return Field("", description=f"{description} Set ${env}.", json_schema_extra={"env": env})


class SlackPlatform(Platform):
    mode: Literal["socket", "http"] = Field(
        "socket", description="socket: Socket Mode from `rapport run` (no public URL). http: Events API at "
        "POST /slack/events on `rapport serve`."
    )
    api_base_url: str = Field(
        "", description="Slack Web API root; empty means https://slack.com/api/ (GovSlack: https://slack-gov.com/api/)."
    )
    bot_token: str = _secret("SLACK_BOT_TOKEN", "Bot User OAuth Token (xoxb-…).")
    app_token: str = _secret("SLACK_APP_TOKEN", "App-level token with connections:write (xapp-…), for Socket Mode.")
    signing_secret: str = _secret("SLACK_SIGNING_SECRET", "Signing Secret from Basic Information, for HTTP mode.")


class DiscordPlatform(Platform):
    api_base_url: str = Field(
        "", description="Discord REST API root; empty means https://discord.com/api/v10. The gateway URL is then "
        "asked of this API (GET /gateway/bot)."
    )
    bot_token: str = _secret("DISCORD_BOT_TOKEN", "Bot token from the Developer Portal (Bot → Token).")
    message_content_intent: bool = Field(
        False, description="Request the privileged Message Content intent (turn it on in the Developer Portal first). "
        "Not needed for DMs and @mentions; lets the bot read replies to it that do not ping it."
    )


class TelegramPlatform(Platform):
    mode: Literal["polling", "webhook"] = Field(
        "polling", description="polling: long polling from `rapport run`. webhook: POST /telegram/webhook on "
        "`rapport serve`."
    )
    api_base_url: str = Field(
        "", description="Bot API server root; empty means https://api.telegram.org (or a self-hosted Bot API server)."
    )
    bot_token: str = _secret("TELEGRAM_BOT_TOKEN", "Token from @BotFather.")
    webhook_secret: str = _secret(
        "TELEGRAM_WEBHOOK_SECRET", "Secret Telegram sends in X-Telegram-Bot-Api-Secret-Token (1-256 of A-Z a-z 0-9 _ -)."
    )
    webhook_url: str = Field(
        "", description="Public https URL of POST /telegram/webhook; when set, `rapport serve` registers it with "
        "Telegram (setWebhook) at start-up."
    )

    @field_validator("webhook_secret")
    @classmethod
    def _telegram_secret(cls, value: str) -> str:
        if value and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", value):
            raise ValueError("must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> Self:
        # Without the secret anyone who finds the URL could post updates as any user.
        if self.enabled and self.mode == "webhook" and not self.webhook_secret:
            raise broken(Finding(
                "webhook_secret", self.webhook_secret, "is empty, but mode: webhook needs it to authenticate "
                "Telegram's requests",
                "set TELEGRAM_WEBHOOK_SECRET to 1-256 characters of A-Z, a-z, 0-9, _ and - (e.g. from "
                "`openssl rand -hex 32`), or use mode: polling",
            ))
        return self


class Platforms(Section):
    slack: SlackPlatform = SlackPlatform()
    discord: DiscordPlatform = DiscordPlatform()
    telegram: TelegramPlatform = TelegramPlatform()


class LlmBudgets(Section):
    """Token budget of each block of the grounded brief (o200k tokens). A block's items go in most
    relevant first until its budget is spent; the rest are left out, never cut mid-way."""

    customer: Annotated[int, Field(ge=0, le=4000)] = 80
    dialogue: Annotated[int, Field(ge=0, le=4000)] = 40
    orders: Annotated[int, Field(ge=0, le=4000)] = 80  # the discussed order in full, one or two others in short
    knowledge: Annotated[int, Field(ge=0, le=8000)] = 520  # two full sections at the default chunk size
    recommendations: Annotated[int, Field(ge=0, le=4000)] = 40  # the best pick or two
    memories: Annotated[int, Field(ge=0, le=4000)] = 40  # the most relevant one or two
    turns: Annotated[int, Field(ge=0, le=8000)] = 90  # the last two or three exchanges, whole
    draft: Annotated[int, Field(ge=0, le=4000)] = 180


class Llm(Section):
    enabled: bool = False
    base_url: str = Field("", description="Any OpenAI-compatible endpoint; empty means the provider's default.")
    model: str = "gpt-4o-mini"
    api_key: str = ""
    timeout_seconds: Annotated[float, Field(gt=0, le=120)] = Field(
        12, description="Overall time for one reply, retries and the fallback endpoint included; then the offline "
        "composer answers. The default leaves the other stages room: every customer hears back within 20 s.")
    first_token_seconds: Annotated[float, Field(gt=0, le=60)] = Field(
        6, description="A call whose first token has not arrived by then is abandoned (and retried).")
    max_retries: Annotated[int, Field(ge=0, le=2)] = Field(
        2, description="Retries (with jitter) on connection errors, 408, 409, 429 and 5xx.")
    max_tokens: Annotated[int, Field(gt=0, le=4000)] = 350
    temperature: Annotated[float, Field(ge=0, le=2)] = 0.3
    stream: bool = Field(True, description="Ask for a streamed answer (the first-token timeout needs it).")
    fallback_base_url: str = Field("", description="A second endpoint tried when the first fails; empty: none.")
    fallback_model: str = Field("", description="Model for the second endpoint (or a smaller model on the first).")
    fallback_api_key: str = ""
    send_first_name: bool = Field(False, description="Send the customer's first name to the model.")
    breaker_failures: Annotated[int, Field(ge=1, le=100)] = Field(
        3, description="Failed replies in a row that open the circuit breaker (the offline composer answers).")
    breaker_cooldown_seconds: Annotated[float, Field(gt=0, le=3600)] = 30
    budgets: LlmBudgets = LlmBudgets()


class Handoff(Section):
    """When to bring in a person, and where agents work."""

    human_request_phrases: list[str] = [
        "human", "a person", "real person", "agent", "representative", "someone from your team",
    ]
    negative_turns: Annotated[int, Field(ge=0, le=20)] = Field(
        3, description="Hand off after this many negative customer messages in a row (0: never)."
    )
    unresolved_repeats: Annotated[int, Field(ge=0, le=20)] = Field(
        3, description="Hand off when the bot could not help this many turns in a row, counted since the bot "
        "last took over the conversation (a resolved handoff starts afresh; 0: never)."
    )
    offer_person_after: Annotated[int, Field(ge=0, le=20)] = Field(
        2, description="Offer a person (a button, not a handoff) after this many turns in a row the bot could "
        "not help with (0: never)."
    )
    safety_phrases: list[str] = Field(
        ["swelling", "swollen", "smoke", "smoking", "smoked", "overheating", "overheats", "overheated",
         "burning smell", "smells like burning", "burn", "burned", "burnt", "burns", "sparks", "sparking",
         "caught fire", "on fire", "melted", "melting", "electric shock", "shocked me"],
        description="Words that make a message a product safety report: answered with the safety guidance "
        "and handed to a person.",
    )
    intents: list[str] = Field(
        ["cancel_account", "legal"], description="Intents (from knowledge/intents.csv) that always go to a person."
    )
    topics: dict[str, list[str]] = Field(
        {
            "cancel_account": ["close my account", "cancel my account", "delete my account"],
            "legal": ["lawyer", "legal action", "sue you", "small claims", "attorney"],
        },
        description="Topics that always go to a person: topic → phrases that signal it.",
    )
    vip: dict[str, str] = Field(
        {"loyalty_tier": "Summit"},
        description="Customer attributes that mark a VIP; an unhappy VIP goes to a person at once.",
    )
    vip_unhappy_sentiment: Annotated[float, Field(ge=-1, le=0)] = Field(
        -0.5, description="A VIP is unhappy, and goes to a person at once, at or below this sentiment score: "
                          "clearer than thresholds.negative_sentiment, so a VIP's misspelt price question or a "
                          "'my order is late' gets an answer first (the negative-trend rule still counts it).",
    )
    desk: Literal["console", "slack"] = Field(
        "console", description="Where agents pick up handoffs: the local console desk or a Slack channel."
    )
    slack_channel: str = Field("", description="Internal Slack channel id for the desk (desk: slack).")
    agents: list[str] = Field(
        [], description="Slack user ids allowed to act as agents in the desk channel; empty: any member of the "
                        "desk's own workspace (never a Slack Connect user from another organisation).",
    )


class Config(Section):
    """Everything an admin tunes. Secrets come from the environment via ``${VAR}``."""

    brand: Brand = Brand()
    templates: Templates = Templates()
    knowledge: Knowledge = Knowledge()
    stores: Stores = Stores()
    models: Models = Models()
    thresholds: Thresholds = Thresholds()
    conversation: Conversation = Conversation()
    journey: Journey = Journey()
    recommendations: Recommendations = Recommendations()
    learning: Learning = Learning()
    platforms: Platforms = Platforms()
    llm: Llm = Llm()
    handoff: Handoff = Handoff()
    admins: list[str] = Field([], description="Platform user ids (platform:user) allowed to run admin commands.")

    # Where the file was read from; relative paths in it are relative to its folder.
    base_dir: Path = Field(Path("."), exclude=True)

    def resolve(self, path: Path) -> Path:
        return path if path.is_absolute() else (self.base_dir / path)


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand_env(
    node: Any, env: dict[str, str], path: str, problems: list[ConfigProblem], secrets: set[str] | None = None
) -> Any:
    """Replace ``${VAR}`` and ``${VAR:-default}`` in every string, recording unset variables, and into
    ``secrets`` the values of variables whose name says they are credentials."""
    if isinstance(node, dict):
        return {k: expand_env(v, env, f"{path}.{k}" if path else str(k), problems, secrets) for k, v in node.items()}
    if isinstance(node, list):
        return [expand_env(v, env, f"{path}[{i}]", problems, secrets) for i, v in enumerate(node)]
    if not isinstance(node, str):
        return node

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            if secrets is not None and env[name] and is_secret_name(name):
                secrets.add(env[name])
            return env[name]
        if default is not None:
            return default
        problems.append(
            ConfigProblem(path, node, f"environment variable {name} is not set", f"export {name}=… or write ${{{name}:-default}}")
        )
        return ""

    return _VAR.sub(substitute, node)


def default_config_path() -> Path:
    return Path(os.environ.get("RAPPORT_CONFIG", "config.yaml"))


def load_config(path: Path | None = None, env: dict[str, str] | None = None) -> Config:
    """Read, expand and validate a config file. Raises ConfigError listing every problem."""
    path = path or default_config_path()
    env = dict(os.environ) if env is None else env
    if not path.exists():
        raise ConfigError(
            f"config file {path} does not exist",
            fix="run from the project folder, pass --config PATH or set RAPPORT_CONFIG",
        )
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path} is not valid YAML{where}: {getattr(exc, 'problem', exc)}",
                          fix="check indentation and quoting on that line") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must hold a mapping of sections (brand:, knowledge:, …)",
                          fix="start the file with top-level keys such as `brand:`")
    problems: list[ConfigProblem] = []
    secrets: set[str] = set()
    expanded = expand_env(raw, env, "", problems, secrets)
    try:
        base_dir = path.resolve().parent
        config = Config.model_validate({**expanded, "base_dir": base_dir}, context={BASE_DIR_CONTEXT: base_dir})
    except ValidationError as exc:
        problems.extend(_explain(exc, expanded))
        config = None
    if problems:
        raise ConfigError(f"{path} has {len(problems)} problem(s):", [_masked(p, secrets) for p in problems])
    assert config is not None
    return config


def _explain(exc: ValidationError, data: dict[str, Any]) -> list[ConfigProblem]:
    problems = []
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        path = ".".join(loc)
        value = error.get("input", MISSING)
        kind = error["type"]
        if kind == RULE_ERROR:
            problems.extend(ConfigProblem(".".join([*loc, f.key] if f.key else loc), f.value, f.problem, f.fix)
                            for f in error["ctx"]["findings"])
        elif kind == "extra_forbidden":
            known = _known_keys(loc[:-1])
            close = difflib.get_close_matches(loc[-1], known, n=1)
            fix = f"did you mean '{close[0]}'?" if close else f"remove it; known keys here: {', '.join(sorted(known))}"
            problems.append(ConfigProblem(path, value, "unknown key", fix))
        elif kind == "literal_error":
            allowed = error.get("ctx", {}).get("expected", "")
            problems.append(ConfigProblem(path, value, "not one of the allowed values", f"use one of {allowed}"))
        elif kind in {"int_parsing", "int_type", "int_from_float"}:
            problems.append(ConfigProblem(path, value, "expected a whole number", "write a number such as 3"))
        elif kind in {"float_parsing", "float_type"}:
            problems.append(ConfigProblem(path, value, "expected a number", "write a number such as 0.5"))
        elif kind in {"bool_parsing", "bool_type"}:
            problems.append(ConfigProblem(path, value, "expected true or false", "write true or false"))
        elif kind in {"list_type"}:
            problems.append(ConfigProblem(path, value, "expected a list", "write a YAML list, e.g. [a, b]"))
        elif kind in {"model_type", "model_attributes_type", "dict_type"}:
            problems.append(ConfigProblem(path, value, "expected a section (a mapping of keys)", "indent keys under it"))
        elif kind.startswith(("greater_than", "less_than")):
            problems.append(ConfigProblem(path, value, error["msg"].lower(), "choose a value in the allowed range"))
        else:
            msg = error["msg"].removeprefix("Value error, ")
            problems.append(ConfigProblem(path, value, msg, "see `rapport config schema` for the expected form"))
    return problems


# A secret shorter than this is not searched for inside other text: masking every "ab" would garble
# messages. Credential fields are masked whole whatever their length.
MIN_MASKED_LENGTH = 4


def _masked(problem: ConfigProblem, secrets: set[str]) -> ConfigProblem:
    """``problem`` with every secret in it replaced by ``***``: the value of a credential field, any value
    that came from a secret variable, and passwords in URLs."""
    hidden = sorted((s for s in secrets if len(s) >= MIN_MASKED_LENGTH), key=len, reverse=True)

    def text(value: str) -> str:
        for secret in hidden:
            value = value.replace(secret, REDACTED)
        return mask_url_passwords(value)

    def value(node: object, key: str) -> object:
        if isinstance(node, str):
            if _VAR.fullmatch(node):
                return node  # an unexpanded ${VAR} reference names the variable, not its value
            return REDACTED if node and is_secret_name(key) else text(node)
        if isinstance(node, dict):
            return {k: value(v, str(k)) for k, v in node.items()}
        if isinstance(node, list | tuple):
            return type(node)(value(v, key) for v in node)
        return node

    key = problem.path.rsplit(".", 1)[-1]
    shown = problem.value if problem.value is MISSING else value(problem.value, key)
    return ConfigProblem(problem.path, shown, text(problem.problem), text(problem.fix))


def _known_keys(loc: list[str]) -> list[str]:
    model: Any = Config
    for part in loc:
        field = model.model_fields.get(part)
        if field is None or not isinstance(field.annotation, type) or not issubclass(field.annotation, BaseModel):
            return []
        model = field.annotation
    return [name for name in model.model_fields if name != "base_dir"]


def config_schema() -> dict[str, Any]:
    schema = Config.model_json_schema()
    schema.get("properties", {}).pop("base_dir", None)
    schema["title"] = "Rapport config.yaml"
    return schema
