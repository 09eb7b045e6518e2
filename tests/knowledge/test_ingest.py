"""Ingest touches only what changed, reports bad files, and never lets Chroma embed by itself."""

from __future__ import annotations

import csv

import shutil
from pathlib import Path

import pytest

from bot.config import load_config
from bot.errors import EmbedderMismatchError
from bot.runtime import Runtime
from bot.store.vectors import VectorStore

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path: Path, ingested_data: Path) -> Path:
    """A copy of config.yaml, knowledge/ and its ingested stores that a test may edit.

    Sources are recorded relative to the config's folder, so the copied stores are
    current for the copied files and only what a test changes gets re-embedded.
    """
    shutil.copy(ROOT / "config.yaml", tmp_path / "config.yaml")
    shutil.copytree(ROOT / "knowledge", tmp_path / "knowledge")
    shutil.copytree(ingested_data, tmp_path / "data")
    return tmp_path


def catalog_rows(project: Path) -> int:
    with (project / "knowledge/catalog.csv").open(newline="") as catalog:
        return sum(1 for _ in csv.DictReader(catalog))


async def ingest(project: Path):  # type: ignore[no-untyped-def]
    async with Runtime.open(load_config(project / "config.yaml", env={}), project / "data") as runtime:
        return await runtime.ingest(), await runtime.knowledge.pages.count(), await runtime.knowledge.catalog.count()


async def test_reingest_touches_only_changed_files_and_removes_deleted_ones(project: Path) -> None:
    unchanged, _, products = await ingest(project)
    assert not unchanged.changed and unchanged.chunks == 0
    assert len(unchanged.unchanged) == len(list((project / "knowledge/pages").glob("*.md"))) + 1
    assert products == catalog_rows(project)

    shipping = project / "knowledge/pages/shipping.md"
    shipping.write_text(shipping.read_text() + "\n## Do you ship to the Moon?\nNo, the Moon is outside our delivery area.\n")
    (project / "knowledge/pages/gift-cards.md").unlink()
    second, _, _ = await ingest(project)
    assert second.updated == ["knowledge/pages/shipping.md"]
    assert second.removed == ["knowledge/pages/gift-cards.md"]
    assert second.added == []

    async with Runtime.open(load_config(project / "config.yaml", env={}), project / "data") as runtime:
        hits = await runtime.knowledge.search(runtime.embedder.embed(["do you ship to the moon?"])[0])
        assert hits[0].section == "Do you ship to the Moon?"
        gift = await runtime.knowledge.search(runtime.embedder.embed(["how do I check my gift card balance?"])[0])
        assert all(h.source != "knowledge/pages/gift-cards.md" for h in gift)


async def test_a_bad_file_is_reported_and_the_rest_still_ingested(project: Path) -> None:
    (project / "knowledge/pages/broken.md").write_bytes(b"---\ntitle: Broken\n---\n\xff\xfe not utf-8")
    (project / "knowledge/pages/typo.md").write_text("---\ntitle: Typo\ninternl: true\n---\n## Q?\nA.\n")
    good = catalog_rows(project)
    with (project / "knowledge/catalog.csv").open("a") as catalog:
        catalog.write('BAD-01,Broken Thing,kitchen,cheap,3,"No price",x\n')
    report, _, products = await ingest(project)
    reasons = {p.path: p.reason for p in report.problems}
    assert "not UTF-8" in reasons["knowledge/pages/broken.md"]
    assert "internl" in reasons["knowledge/pages/typo.md"]
    assert reasons[f"knowledge/catalog.csv:{good + 2}"] == "price 'cheap' is not a number"  # header is line 1
    assert products == good  # the bad row is skipped, every good one is still indexed
    assert report.products == good


async def test_internal_pages_are_not_found_by_customers(project: Path) -> None:
    async with Runtime.open(load_config(project / "config.yaml", env={}), project / "data") as runtime:
        query = runtime.embedder.embed(["what is the refund approval limit for goodwill credits?"])[0]
        customer_hits = await runtime.knowledge.search(query, limit=5)
        staff_hits = await runtime.knowledge.search(query, limit=5, include_internal=True)
    internal = "knowledge/pages/internal-escalation-playbook.md"
    assert all(h.source != internal for h in customer_hits)
    assert staff_hits[0].source == internal


async def test_a_collection_built_by_another_embedder_is_refused_with_a_fix(tmp_path: Path) -> None:
    first = VectorStore.open("", tmp_path, "some-other-model", 384)
    await first.collection("knowledge")
    ours = VectorStore.open("", tmp_path, "all-MiniLM-L6-v2/onnx-int8", 384)
    with pytest.raises(EmbedderMismatchError) as caught:
        await ours.collection("knowledge")
    assert "some-other-model" in caught.value.message
    assert "rapport ingest --reindex" in caught.value.fix


async def test_chroma_never_embeds_by_itself(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from chromadb.utils import embedding_functions

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("Chroma's default embedding function was used")

    monkeypatch.setattr(embedding_functions.DefaultEmbeddingFunction, "__init__", refuse)
    monkeypatch.setattr(embedding_functions.ONNXMiniLM_L6_V2, "__init__", refuse)
    shutil.rmtree(project / "data")
    # An empty catalog (the header only): a missing one is a config error since `config check` checks paths.
    (project / "knowledge/catalog.csv").write_text("sku,name,category,price,stock,description,tags\n")
    for page in sorted((project / "knowledge/pages").glob("*.md"))[2:]:
        page.unlink()
    report, pages, _ = await ingest(project)
    assert pages > 0 and not report.problems and len(report.added) == 3  # two pages and the empty catalog
