"""``rapport ingest``: chunk, embed and upsert the knowledge folder, touching only what changed."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.embedder import Embedder, embed_async
from bot.errors import KnowledgeError
from bot.knowledge.catalog import read_catalog
from bot.knowledge.pages import PageChunk, read_page
from bot.knowledge.search import PageCollections
from bot.store.vectors import VectorCollection

PAGES = "knowledge"
PAGES_INTERNAL = "knowledge-internal"
CATALOG = "catalog"
# Sections approved from agents' answers (bot/learning/review.py) live in the pages collection with no file
# behind them: ingest never removes them as stale, only once their exported page is ingested in their place.
TEAM_SOURCE_PREFIX = "review/"

Progress = Callable[[str, int], None]  # (file being processed, files done so far)


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    problems: list[KnowledgeError] = field(default_factory=list)
    chunks: int = 0
    products: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


@dataclass(frozen=True, slots=True)
class KnowledgeFiles:
    pages_dir: Path
    catalog: Path
    # Sources are recorded relative to this folder so the store survives a moved checkout.
    root: Path

    def pages(self) -> list[Path]:
        return sorted(self.pages_dir.rglob("*.md")) if self.pages_dir.is_dir() else []

    def source(self, path: Path) -> str:
        try:
            return path.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return path.resolve().as_posix()

    def count(self) -> int:
        return len(self.pages()) + (1 if self.catalog.exists() else 0)


def _digest(path: Path, chunk_size: int, chunk_overlap: int, embedder: str) -> str:
    # Chunking settings and the embedder are part of the digest: changing them re-indexes.
    h = hashlib.sha256(path.read_bytes())
    h.update(f"|{chunk_size}|{chunk_overlap}|{embedder}".encode())
    return h.hexdigest()


async def _indexed(collection: VectorCollection | PageCollections) -> dict[str, tuple[str, list[str]]]:
    """source -> (digest, ids) of what the collection holds now."""
    by_source: dict[str, list[str]] = defaultdict(list)
    digests: dict[str, str] = {}
    for vector_id, meta in (await collection.metadatas()).items():
        source = str(meta.get("source", ""))
        by_source[source].append(vector_id)
        digests[source] = str(meta.get("digest", ""))
    return {s: (digests[s], ids) for s, ids in by_source.items()}


async def ingest(
    files: KnowledgeFiles,
    pages: PageCollections,
    catalog: VectorCollection,
    embedder: Embedder,
    chunk_size: int,
    chunk_overlap: int,
    progress: Progress | None = None,
) -> IngestReport:
    """Bring both collections in line with the files. A bad file is reported; the rest still loads."""
    report = IngestReport()
    done = 0
    indexed_pages = await _indexed(pages)
    present: set[str] = set()
    for path in files.pages():
        source = files.source(path)
        present.add(source)
        if progress:
            progress(source, done)
        digest = _digest(path, chunk_size, chunk_overlap, embedder.name)
        old_digest, old_ids = indexed_pages.get(source, ("", []))
        if digest == old_digest:
            report.unchanged.append(source)
        else:
            try:
                chunks = read_page(path, source, chunk_size, chunk_overlap)
            except KnowledgeError as problem:
                report.problems.append(problem)
                # Keep serving the last good version rather than nothing.
            else:
                await pages.delete(ids=old_ids)
                await _upsert_chunks(pages, embedder, chunks, source, digest)
                report.chunks += len(chunks)
                (report.updated if old_ids else report.added).append(source)
        done += 1
    for source, (_, ids) in indexed_pages.items():
        if source not in present and not source.startswith(TEAM_SOURCE_PREFIX):
            await pages.delete(ids=ids)
            report.removed.append(source)
    if report.added or report.updated:
        report.removed += await _drop_exported_team_answers(pages)
    if report.changed or pages.lexical_public is None:
        # The keyword indexes mirror the stored sections: rebuilt here, never on a customer's turn.
        await pages.refresh_lexical()

    await _ingest_catalog(files, catalog, embedder, report, progress, done)
    return report


async def _drop_exported_team_answers(pages: PageCollections) -> list[str]:
    """An approved team answer whose exported page (``rapport review export``) is now ingested: the page's
    section replaces the ``review/<id>`` copy, which would otherwise tie with it and blur the answer."""
    rows = await pages.public.documents()
    from_files = {(m.get("section"), text) for _, text, m in rows
                  if not str(m.get("source", "")).startswith(TEAM_SOURCE_PREFIX)}
    copies = [(vector_id, str(m.get("source"))) for vector_id, text, m in rows
              if str(m.get("source", "")).startswith(TEAM_SOURCE_PREFIX) and (m.get("section"), text) in from_files]
    await pages.delete(ids=[vector_id for vector_id, _ in copies])
    return sorted({source for _, source in copies})


async def _upsert_chunks(
    pages: PageCollections, embedder: Embedder, chunks: list[PageChunk], source: str, digest: str
) -> None:
    """Each section is indexed twice: by its question heading alone and by heading plus answer.

    Customers type questions; matching them against the heading alone finds the right
    section even when a neighbouring answer shares more words. Search keeps the better
    of the two scores per section.
    """
    entries = [(f"page:{source}#{c.index}", c, c.embedding_text) for c in chunks]
    entries += [(f"page:{source}#{c.index}:q", c, c.section) for c in chunks if c.section]
    vectors = await embed_async(embedder, [text for _, _, text in entries])
    await pages.upsert(
        ids=[vector_id for vector_id, _, _ in entries],
        embeddings=vectors,
        documents=[c.text for _, c, _ in entries],
        metadatas=[
            {"source": source, "digest": digest, "title": c.title, "section": c.section, "chunk": c.index,
             "internal": c.internal, "kind": "page"}
            for _, c, _ in entries
        ],
    )


async def _ingest_catalog(
    files: KnowledgeFiles,
    catalog: VectorCollection,
    embedder: Embedder,
    report: IngestReport,
    progress: Progress | None,
    done: int,
) -> None:
    indexed = await _indexed(catalog)
    source = files.source(files.catalog)
    for old_source, (_, ids) in indexed.items():
        if old_source != source:
            await catalog.delete(ids=ids)
            report.removed.append(old_source)
    if not files.catalog.exists():
        if source in indexed:
            await catalog.delete(ids=indexed[source][1])
            report.removed.append(source)
        return
    if progress:
        progress(source, done)
    digest = _digest(files.catalog, 0, 0, embedder.name)
    old_digest, old_ids = indexed.get(source, ("", []))
    if digest == old_digest:
        report.unchanged.append(source)
        return
    try:
        products, row_problems = read_catalog(files.catalog, source)
    except KnowledgeError as problem:
        report.problems.append(problem)
        return
    report.problems.extend(row_problems)
    vectors = await embed_async(embedder, [p.embedding_text for p in products])
    await catalog.delete(ids=old_ids)
    await catalog.upsert(
        ids=[f"product:{p.sku}" for p in products],
        embeddings=vectors,
        documents=[p.description for p in products],
        metadatas=[
            {"source": source, "digest": digest, "kind": "product", "sku": p.sku, "name": p.name,
             "category": p.category, "price": p.price, "stock": p.stock, "tags": ";".join(p.tags)}
            for p in products
        ],
    )
    report.products = len(products)
    (report.updated if old_ids else report.added).append(source)
