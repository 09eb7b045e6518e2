"""The composition root: stores, models, knowledge and engine, wired once from config.yaml."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config import Config
from bot.errors import ConfigError
from sqlmodel import col, select

from bot.customers.insights import InsightBuilder
from bot.customers.linking import IdentityLinker
from bot.customers.privacy import PrivacyDesk
from bot.handoff.book import HandoffBook
from bot.handoff.desk import Desk, HandoffDesk
from bot.handoff.escalation import Escalation
from bot.intents import IntentRouter, check_intent_labels
from bot.knowledge.catalog_index import CatalogIndex
from bot.learning.review import TeamAnswers
from bot.recommend.advisor import ProductAdvisor
from bot.store.tables import Ticket, Turn, as_utc
from bot.embedder import DeferredEmbedder, Embedder, EmbeddingBatcher, embed_async
from bot.engine import Engine
from bot.knowledge.ingest import CATALOG, PAGES, PAGES_INTERNAL, IngestReport, KnowledgeFiles, Progress, ingest
from bot.knowledge.search import KnowledgeBase, PageCollections
from bot.learning.answers import AnswerLearning, rules_from
from bot.store.votes import VoteStore
from bot.locks import conversation_locks
from bot.sentiment import load_scorer
from bot.stages.accept import Accept
from bot.stages.act import Act
from bot.stages.compose import Composer, OfflineComposer
from bot.stages.decide import Decide
from bot.handlers import registry as handler_registry
from bot.handlers.base import Services
from bot.nlp.language import LanguageDetector
from bot.nlp.spelling import EnglishRespeller
from bot.store.dialogue import DialogueStore
from bot.stages.identify import Identify
from bot.stages.recall import Recall
from bot.stages.recommend import Recommend
from bot.stages.remember import Remember
from bot.stages.understand import Understand
from bot.store.conversations import ConversationLog
from bot.store.customers import CustomerDirectory
from bot.store.database import Database
from bot.store.feedback import FeedbackLog
from bot.store.inbox import Inbox
from bot.store.outbox import Outbox
from bot.store.review import ReviewQueue
from bot.delivery import Delivery, ReplyPoster
from bot.notify import reply_notices
from bot.store.memory import CustomerMemory, shard_names, ticket_source, turn_source
from bot.store.migrations import ensure_schema
from bot.store.statuses import TurnRole
from bot.store.vectors import VectorStore

if TYPE_CHECKING:  # imported by `rapport import`, the one command that imports files
    from bot.customers.importer import FileReport, Importer
    from bot.customers.importer import Progress as ImportProgress


def resolve_data_dir(flag: Path | None) -> Path:
    """--data-dir, else RAPPORT_DATA_DIR, else ./data."""
    return flag or Path(os.environ.get("RAPPORT_DATA_DIR") or "data")


def database_url(config: Config) -> str:
    # DATABASE_URL is what Heroku-style hosts set; it wins over an empty config value.
    return config.stores.database_url or os.environ.get("DATABASE_URL", "")


def check_names(config: Config) -> None:
    """Names the data files share with code and config (intent labels) agree; else a ConfigError
    naming the file, the value and the fix. Run by ``Runtime.open`` and ``rapport config check``."""
    intents = config.knowledge.intents
    check_intent_labels(config.resolve(intents), config.handoff.intents, shown=str(intents))


@dataclass
class Runtime:
    config: Config
    data_dir: Path
    database: Database
    embedder: Embedder
    vectors: VectorStore
    knowledge: KnowledgeBase
    customers: CustomerDirectory
    log: ConversationLog
    memory: CustomerMemory
    engine: Engine
    catalog: CatalogIndex
    insights: InsightBuilder
    privacy: PrivacyDesk
    advisor: ProductAdvisor
    desk: HandoffDesk
    delivery: Delivery
    team_answers: TeamAnswers  # the review queue of agents' answers (rapport review, /admin/review)

    @classmethod
    @asynccontextmanager
    async def open(cls, config: Config, data_dir: Path, desk: Desk | None = None) -> AsyncIterator[Runtime]:
        """Everything wired once, from ``config``; ``desk``: where agents work on handoffs (the Slack
        channel, the terminal), None for the admin console alone. Stores close on exit."""
        check_names(config)  # before any store opens: a renamed intent is an admin's fix, not an outage
        database = Database(database_url(config), data_dir)
        try:
            # An embedded SQLite upgrades itself; a shared server database is upgraded by `rapport db upgrade`.
            await ensure_schema(database, auto_upgrade=database.is_sqlite)
            # Concurrent conversations share model calls (one call for messages a few ms apart); the
            # model loads on the first text to embed, so commands that embed nothing never load it.
            embedder = EmbeddingBatcher(DeferredEmbedder(config.models.embedder))
            vectors = VectorStore.open(config.stores.chroma_url, data_dir, embedder.name, embedder.dimension,
                                       backend=config.stores.vectors, database=database)
            pages = PageCollections(await vectors.collection(PAGES), await vectors.collection(PAGES_INTERNAL))
            knowledge = await KnowledgeBase.open(pages, await vectors.collection(CATALOG), embedder)
            # Answer votes re-rank the knowledge search; read into memory once, here, not per turn.
            learning = AnswerLearning(VoteStore(database), rules_from(config.learning), embedder)
            if config.learning.enabled:
                learning.attach(knowledge)
                await learning.load()
            catalog = await CatalogIndex.load(knowledge.catalog)
            memory = CustomerMemory([await vectors.collection(n) for n in shard_names(config.stores.memory_shards)],
                                    database, max_per_customer=config.stores.memories_per_customer)
            customers = CustomerDirectory(database)
            log = ConversationLog(database)
            insights = InsightBuilder(database, catalog, config.journey)
            privacy = PrivacyDesk(database, vectors, memory)
            feedback_log = FeedbackLog(database)
            # The desk posts to customers through the outbox, which exists before the engine that holds
            # the desk: desk → poster, engine → desk, delivery → engine and poster; nothing set later.
            accept = Accept(Inbox(database))
            poster = ReplyPoster(Outbox(database), accept.owner,
                                 notices=reply_notices(config.stores.redis_url or os.environ.get("REDIS_URL", "")))
            team_answers = TeamAnswers(ReviewQueue(database), pages, embedder)
            handoffs = HandoffDesk(HandoffBook(database), log, customers, insights, Inbox(database),
                                   config.templates, config.brand, deliver=poster.send, desk=desk,
                                   team_answers=team_answers)
            advisor = ProductAdvisor(database, catalog, config.recommendations)
            await advisor.fit(knowledge.catalog)
            escalation = Escalation(config.handoff, config.thresholds.negative_sentiment)
            linker = IdentityLinker(database, vectors, memory)
            registry = handler_registry.build(Services(
                brand=config.brand, templates=config.templates, thresholds=config.thresholds, handoff=config.handoff,
                escalation=escalation, linker=linker, privacy=privacy,
                directory=customers, feedback=feedback_log, knowledge=knowledge, embedder=embedder, catalog=catalog,
                advisor=advisor, learning=learning if config.learning.enabled else None,
            ))
            # Product names say nothing about the language a message is in.
            product_words = [w for p in catalog.products.values() for w in p.name.split()]
            offline = OfflineComposer(config.brand, config.templates, registry, config.thresholds)
            # With an LLM configured it writes the conversational replies from a grounded brief; the
            # offline composer drafts every reply first and stands in on any fault.
            composer: Composer = offline
            if config.llm.enabled:  # the OpenAI client (~20 MB, ~0.5 s of imports) only when one is configured
                from bot.llm import LlmComposer
                from bot.llm.stage import LlmComposeStage

                composer = LlmComposeStage(offline, LlmComposer.from_config(config.llm, config.brand), config.brand,
                                           set(config.admins))
            engine = Engine(
                accept=accept,
                identify=Identify(customers),
                understand=Understand(
                    embedder, load_scorer(config.models.sentiment), config.handoff.human_request_phrases,
                    IntentRouter.load(config.resolve(config.knowledge.intents), data_dir, embedder,
                                      config.thresholds.intent_confidence),
                    LanguageDetector(product_words),
                    EnglishRespeller(product_words),
                ),
                recall=Recall(log, memory, knowledge, insights, config.conversation.recent_turns,
                              config.conversation.recalled_memories, set(config.admins),
                              config.conversation.granularity, DialogueStore(database)),
                recommend=Recommend(advisor, config.recommendations, config.thresholds, embedder),
                decide=Decide(registry, escalation),
                act=Act(registry, linker),
                compose=composer,
                remember=Remember(log, memory, registry, config.conversation.granularity,
                                  config.thresholds.negative_sentiment),
                locks=conversation_locks(config.stores.redis_url or os.environ.get("REDIS_URL", "")),
                feedback_log=feedback_log,
                desk=handoffs,
                learning=learning if config.learning.enabled else None,
            )
            delivery = Delivery(engine, poster)
            try:
                yield cls(config, data_dir, database, embedder, vectors, knowledge, customers, log, memory, engine,
                          catalog, insights, privacy, advisor, handoffs, delivery, team_answers)
            finally:
                await delivery.stop()  # running turns finish before the stores close
                if composer is not offline:
                    await composer.close()  # type: ignore[attr-defined]
                await memory.close()
                await engine.locks.close()
                await vectors.close()  # a Chroma server's HTTP connections; nothing for the others
                embedder.close()
        finally:
            await database.close()

    def importer(self) -> Importer:
        from bot.customers.importer import Importer

        return Importer(self.database, self.memory, self.embedder)

    async def import_files(
        self, paths: list[Path], skip_bad: bool = False, progress: ImportProgress | None = None
    ) -> list[FileReport]:
        """Import customer data, then bring what derives from it up to date: stages and the recommender."""
        reports = await self.importer().import_files(paths, skip_bad=skip_bad, progress=progress)
        if any(r.written for r in reports):
            await self.refresh_stages()
            await self.advisor.fit(self.knowledge.catalog)
        return reports

    async def refresh_stages(self) -> int:
        """Recompute every customer's journey stage (after an import changed their orders); returns changes."""
        changed = 0
        for customer in await self.customers.all():
            stage = (await self.insights.build(customer)).stage
            if stage != customer.stage:
                await self.customers.update(customer.id, stage=stage)
                changed += 1
        return changed

    async def rebuild_memories(self, batch: int = 256) -> int:
        """Re-embed every remembered customer message and past ticket from SQL into the memory shards."""
        # The handlers say which turns are memories: the same set the remember stage writes.
        memorable = sorted(self.engine.decide.registry.memorable)
        count = 0
        async with self.database.session() as session:
            turns = (await session.exec(select(Turn).where(Turn.role == TurnRole.CUSTOMER, col(Turn.action).in_(memorable)))).all()
            tickets = (await session.exec(select(Ticket))).all()
        # Sources name SQL rows (turn row id, ticket id): the vector store gets no text and no platform id.
        items = [(t.customer_id, turn_source(t.id or 0), t.text, t.conversation, t.created_at) for t in turns]
        items += [(t.customer_id, ticket_source(t.ticket_id), f"{t.subject}. {t.body}", f"ticket:{t.ticket_id}",
                   t.created_at) for t in tickets]
        for start in range(0, len(items), batch):
            chunk = items[start : start + batch]
            vectors = await embed_async(self.embedder, [text for _, _, text, _, _ in chunk])
            for (customer_id, memory_id, text, conversation, at), vector in zip(chunk, vectors, strict=True):
                self.memory.remember(customer_id, memory_id, text, vector, conversation, as_utc(at))
            count += len(chunk)
        await self.memory.flush()
        return count

    def knowledge_files(self) -> KnowledgeFiles:
        return KnowledgeFiles(
            pages_dir=self.config.resolve(self.config.knowledge.pages),
            catalog=self.config.resolve(self.config.knowledge.catalog),
            root=self.config.base_dir,
        )

    async def ingest(self, progress: Progress | None = None) -> IngestReport:
        report = await ingest(
            self.knowledge_files(),
            self.knowledge.pages,
            self.knowledge.catalog,
            self.embedder,
            self.config.knowledge.chunk_size,
            self.config.knowledge.chunk_overlap,
            progress,
        )
        # Replies and insights read names, prices and stock from here: keep it in step with the catalog.
        self.catalog.products = (await CatalogIndex.load(self.knowledge.catalog)).products
        await self.advisor.fit(self.knowledge.catalog)
        return report

    async def health(self) -> dict[str, object]:
        """Each dependency checked at once, each within 2 s: the database (``SELECT 1``), Redis when
        configured (``PING``) and the vector store (list its collections). Returns ``{"status": "ok" |
        "down", "checks": {name: {"status": "ok", "ms": 3} | {"status": "down", "error": "ConnectionError"}}}``;
        errors are named by type only (it is served on a public URL), their details are logged."""
        # Imports and helpers live inside: this method is the one addition to the composition root.
        import asyncio
        import logging
        import time
        from collections.abc import Awaitable, Callable

        from bot.errors import find_outage
        from bot.locks import redis_client

        timeout = 2.0

        async def ping_redis(url: str) -> None:
            # A client of its own: a check must not wait behind, or disturb, the turns' lock connections.
            client = redis_client(url, socket_connect_timeout=timeout, socket_timeout=timeout)  # rediss:// too
            try:
                await client.ping()
            finally:
                await client.aclose()

        async def check(name: str, probe: Callable[[], Awaitable[object]]) -> dict[str, object]:
            started = time.monotonic()
            try:
                await asyncio.wait_for(probe(), timeout)
            except Exception as error:
                reason = f"no answer within {timeout:.0f}s" if isinstance(error, TimeoutError) else type(error).__name__
                logging.getLogger("rapport.health").warning("%s is down: %s", name, find_outage(error) or reason)
                return {"status": "down", "error": reason}
            return {"status": "ok", "ms": round((time.monotonic() - started) * 1000, 1)}

        probes: dict[str, Callable[[], Awaitable[object]]] = {"database": self.database.ping,
                                                              "vectors": self.vectors.names}
        redis_url = self.config.stores.redis_url or os.environ.get("REDIS_URL", "")
        if redis_url:
            probes["redis"] = lambda: ping_redis(redis_url)
        results = await asyncio.gather(*(check(name, probe) for name, probe in probes.items()))
        checks = dict(zip(probes, results, strict=True))
        return {"status": "ok" if all(c["status"] == "ok" for c in checks.values()) else "down", "checks": checks}

async def reindex(config: Config, data_dir: Path) -> None:
    """Drop every vector collection (e.g. after changing embedder); ingest and
    ``Runtime.rebuild_memories`` then rebuild them from the files and from SQL."""
    embedder = DeferredEmbedder(config.models.embedder)  # its name and size only: nothing is embedded
    database = Database(database_url(config), data_dir)  # pgvector keeps its collections there
    try:
        vectors = VectorStore.open(config.stores.chroma_url, data_dir, embedder.name, embedder.dimension,
                                   backend=config.stores.vectors, database=database)
        try:
            for name in await vectors.names():
                await vectors.drop(name)
        finally:
            await vectors.close()
    finally:
        await database.close()
