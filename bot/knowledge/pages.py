"""Markdown pages with front matter, cut into one retrievable section per ``##`` question."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.errors import KnowledgeError

FRONT_MATTER_KEYS = {"title", "summary", "internal"}


@dataclass(frozen=True, slots=True)
class PageChunk:
    source: str  # path relative to the knowledge folder's parent, e.g. knowledge/pages/shipping.md
    title: str
    section: str
    text: str
    internal: bool
    index: int

    @property
    def embedding_text(self) -> str:
        # The question heading carries most of the meaning customers search with.
        return f"{self.section}\n{self.text}" if self.section else f"{self.title}\n{self.text}"


def read_page(path: Path, source: str, chunk_size: int, chunk_overlap: int) -> list[PageChunk]:
    """Parse one page; raise KnowledgeError naming the file and what is wrong with it."""
    try:
        raw = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise KnowledgeError(source, f"not UTF-8 text (byte {exc.start}); save it as UTF-8") from exc
    meta, body = _split_front_matter(raw, source)
    if not body.strip():
        raise KnowledgeError(source, "the page has no text after its front matter")
    title = str(meta.get("title") or path.stem.replace("-", " ").title())
    internal = meta.get("internal", False)
    if not isinstance(internal, bool):
        raise KnowledgeError(source, f"front matter 'internal' must be true or false, not {internal!r}")

    # Imported here: only ingest splits pages, and the import costs a serving process ~0.4 s of start-up.
    from langchain_text_splitters import MarkdownHeaderTextSplitter, RecursiveCharacterTextSplitter

    by_heading = MarkdownHeaderTextSplitter(headers_to_split_on=[("#", "h1"), ("##", "h2"), ("###", "h3")])
    sized = RecursiveCharacterTextSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap)
    chunks: list[PageChunk] = []
    for document in sized.split_documents(by_heading.split_text(body)):
        text = document.page_content.strip()
        if not text:
            continue
        section = document.metadata.get("h3") or document.metadata.get("h2") or ""
        chunks.append(PageChunk(source, title, section, text, internal, len(chunks)))
    if not chunks:
        raise KnowledgeError(source, "no text found under any heading")
    return chunks


def _split_front_matter(raw: str, source: str) -> tuple[dict[str, object], str]:
    if not raw.startswith("---"):
        return {}, raw
    parts = raw.split("\n---", 1)
    if len(parts) != 2:
        raise KnowledgeError(source, "front matter starts with '---' but never ends; close it with a '---' line")
    try:
        meta = yaml.safe_load(parts[0].removeprefix("---")) or {}
    except yaml.YAMLError as exc:
        raise KnowledgeError(source, f"front matter is not valid YAML: {exc}") from exc
    if not isinstance(meta, dict):
        raise KnowledgeError(source, "front matter must be 'key: value' lines")
    unknown = set(meta) - FRONT_MATTER_KEYS
    if unknown:
        raise KnowledgeError(source, f"unknown front matter key(s) {sorted(unknown)}; allowed: {sorted(FRONT_MATTER_KEYS)}")
    return meta, parts[1].split("\n", 1)[1] if "\n" in parts[1] else ""
