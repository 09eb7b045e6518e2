"""Hybrid knowledge search on the sample knowledge: casual wording, typos, out-of-scope questions,
internal pages kept apart, keyword indexes in step with ingest and never built on a turn."""

from __future__ import annotations

import csv
import shutil
import time
from collections import OrderedDict
from pathlib import Path

import pytest

import bot.knowledge.search as search_module
from bot.config import load_config
from bot.knowledge.lexical import LexicalDocument, LexicalIndex
from bot.knowledge.search import KnowledgeBase, KnowledgeHit
from bot.runtime import Runtime

ROOT = Path(__file__).resolve().parents[2]
ANSWER_MIN = 0.55  # config.yaml's thresholds.answer_min_similarity
INTERNAL = "knowledge/pages/internal-escalation-playbook.md"


async def ask(runtime: Runtime, text: str, limit: int = 3, staff: bool = False,
              knowledge: KnowledgeBase | None = None) -> list[KnowledgeHit]:
    base = knowledge or runtime.knowledge
    return await base.search(runtime.embedder.embed([text])[0], limit=limit, include_internal=staff, text=text)


def answers(hit: KnowledgeHit) -> bool:
    """What the decide stage should do with the best hit: answer at once only when this holds."""
    return hit.similarity >= ANSWER_MIN and hit.confident


async def test_opened_coffee_beans_get_the_returns_answer_not_coffee_storage(runtime: Runtime) -> None:
    hits = await ask(runtime, "can i return opened coffee beans?")
    assert (hits[0].source, hits[0].section) == ("knowledge/pages/returns.md", "Which items can't be returned?")
    assert answers(hits[0])
    assert hits[1].section == "How should I store coffee beans?"  # close, and ranked below


@pytest.mark.parametrize("text", ["how lnog does shiping take", "how long does shiping tkae?", "shiping time??"])
async def test_a_misspelt_shipping_question_is_answered_from_shipping(runtime: Runtime, text: str) -> None:
    hits = await ask(runtime, text)
    assert (hits[0].source, hits[0].section) == ("knowledge/pages/shipping.md", "How long does shipping take?")
    assert answers(hits[0])


async def test_a_misspelt_query_is_embedded_again_as_corrected_when_an_embedder_is_given(runtime: Runtime) -> None:
    respelling = KnowledgeBase(runtime.knowledge.pages, runtime.knowledge.catalog, runtime.embedder)
    without = KnowledgeBase(runtime.knowledge.pages, runtime.knowledge.catalog)  # the runtime's own re-embeds
    plain = (await ask(runtime, "how lnog does shiping take", knowledge=without))[0]
    respelt = (await ask(runtime, "how lnog does shiping take", knowledge=respelling))[0]
    assert respelt.section == plain.section == "How long does shipping take?"
    assert respelt.dense > plain.dense + 0.3  # the corrected words carry the meaning MiniLM missed


@pytest.mark.parametrize("text", ["do you price match amazon?", "will you match a competitor's price",
                                  "walmart has it cheaper, can you match?", "price match?"])
async def test_a_price_match_question_is_answered_by_the_price_match_policy_not_price_adjustments(
        runtime: Runtime, text: str) -> None:
    hits = await ask(runtime, text)
    # A price adjustment on our own prices is not an answer to matching another store's price.
    assert (hits[0].source, hits[0].section) == ("knowledge/pages/refunds.md", "Do you price match other stores?")
    assert answers(hits[0])


async def test_an_item_on_sale_after_buying_is_still_a_price_adjustment(runtime: Runtime) -> None:
    hits = await ask(runtime, "price dropped after i bought it")
    assert hits[0].section == "Do you offer a price adjustment if an item goes on sale after I buy it?"


@pytest.mark.parametrize("text", ["my kettle got cheaper since I bought it, can I get the difference?",
                                  "my kettle is cheaper now, can I get the difference?"])
async def test_a_price_drop_on_a_named_product_finds_the_price_adjustment(runtime: Runtime, text: str) -> None:
    # The runtime's knowledge base has the embedder: the question is also read with "item" for the product.
    hits = await ask(runtime, text)
    assert hits[0].section == "Do you offer a price adjustment if an item goes on sale after I buy it?"
    assert answers(hits[0])


@pytest.mark.parametrize(("text", "section"), [
    ("amazon sells the kettle for less, will you match it", "Do you price match other stores?"),
    ("the food went on sale after i ordered, can i get the diference",
     "Do you offer a price adjustment if an item goes on sale after I buy it?")])
async def test_a_named_product_question_found_near_but_not_answered_is_read_again_as_item(
        runtime: Runtime, text: str, section: str) -> None:
    # As written these find their policy (0.43, 0.48) but below the answer threshold: the product's name still
    # weighs on the embedding, so the "item" reading also runs, and answers.
    hits = await ask(runtime, text)
    assert hits[0].section == section
    assert answers(hits[0])


async def test_the_item_reading_does_not_replace_a_section_found_as_written(runtime: Runtime) -> None:
    # As written (0.49) the worn-shoes return section is first; "send back the items" alone would rank the
    # damaged-item section first at 0.64, so that reading is not kept.
    hits = await ask(runtime, "how do i send back the socks")
    assert hits[0].section == "Can I return running shoes I've already worn?"
    assert "What if my item arrived damaged or I received the wrong item?" not in {h.section for h in hits[:2]}


async def test_a_product_named_in_a_care_question_still_finds_its_care_section(runtime: Runtime) -> None:
    hits = await ask(runtime, "how do i clean my lamp")
    assert hits[0].section == "How do I clean the Halo LED Desk Lamp?" and answers(hits[0])


async def test_without_text_the_search_is_dense_only(runtime: Runtime) -> None:
    vector = runtime.embedder.embed(["how long does shipping take?"])[0]
    hits = await runtime.knowledge.search(vector)
    assert hits[0].section == "How long does shipping take?"
    assert all(h.similarity == pytest.approx(max(0.0, h.dense)) and h.lexical == 0.0 for h in hits)


async def test_every_similarity_stays_a_number_between_0_and_1(runtime: Runtime) -> None:
    for text in ["how long does shipping take", "hi", "!!!", "shipping shipping shipping shipping", "xqzv"]:
        for hit in await ask(runtime, text, limit=5):
            assert 0.0 <= hit.similarity <= 1.0 and 0.0 <= hit.lexical <= 1.0
        hits = await ask(runtime, text, limit=5)
        assert sum(h.confident for h in hits) <= 1 and all(not h.confident for h in hits[1:])


async def test_internal_pages_never_reach_a_customer_even_word_for_word(runtime: Runtime) -> None:
    heading = "What refund amount can an agent approve without a manager?"
    customer = await ask(runtime, heading, limit=10)
    assert customer and all(h.source != INTERNAL for h in customer)
    staff = await ask(runtime, heading, limit=10, staff=True)
    assert (staff[0].source, staff[0].section) == (INTERNAL, heading)
    # The public keyword index holds no internal word to match in the first place.
    public = runtime.knowledge.pages.lexical_public
    assert public is not None and all(key[0] != INTERNAL for key in public.keys)
    assert all(key[0] != INTERNAL for key in public.score(heading + " goodwill chargeback fraud-review tier"))


async def test_the_keyword_index_is_built_at_load_and_never_while_searching(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds: list[int] = []

    class CountingIndex(LexicalIndex):
        def __init__(self, documents: list[LexicalDocument], english: dict[str, int] | None = None) -> None:
            builds.append(len(documents))
            super().__init__(documents, english)

    monkeypatch.setattr(search_module, "LexicalIndex", CountingIndex)
    monkeypatch.setattr(search_module, "_BUILT", OrderedDict())  # as in a process that built none yet
    knowledge = await KnowledgeBase.open(runtime.knowledge.pages, runtime.knowledge.catalog)
    assert len(builds) == 2  # public and internal, once each
    questions = ["where is my refund", "how lnog does shiping take", "do you price match amazon?"] * 10
    vectors = runtime.embedder.embed(questions)
    started = time.perf_counter()
    for text, vector in zip(questions, vectors, strict=True):
        await knowledge.search(vector, text=text)
    per_search = (time.perf_counter() - started) / len(questions)
    assert len(builds) == 2
    assert per_search < 0.05, f"{per_search * 1000:.1f} ms per search"


async def test_a_search_before_load_builds_the_index_once_not_per_turn(runtime: Runtime) -> None:
    pages = runtime.knowledge.pages
    before = pages.lexical_builds
    for text in ["how long does shipping take", "what is your return policy", "gift card balance"]:
        await ask(runtime, text)
    assert pages.lexical_builds - before <= 1


@pytest.fixture
def project(tmp_path: Path, ingested_data: Path) -> Path:
    shutil.copy(ROOT / "config.yaml", tmp_path / "config.yaml")
    shutil.copytree(ROOT / "knowledge", tmp_path / "knowledge")
    shutil.copytree(ingested_data, tmp_path / "data")
    return tmp_path


async def test_reingest_keeps_the_keyword_index_in_step_with_the_sections(project: Path) -> None:
    shipping = project / "knowledge/pages/shipping.md"
    removed = "Can I ship to a PO box or military address?"
    text = shipping.read_text(encoding="utf-8")
    start = text.index(f"## {removed}")
    end = text.find("\n## ", start + 1)
    shipping.write_text(text[:start] + (text[end + 1:] if end != -1 else "")
                        + "\n## Do you ship to the Moon?\nNo, lunar addresses are outside our delivery area.\n",
                        encoding="utf-8")
    async with Runtime.open(load_config(project / "config.yaml", env={}), project / "data") as runtime:
        await runtime.knowledge.load()
        builds = runtime.knowledge.pages.lexical_builds
        report = await runtime.ingest()
        assert report.updated == ["knowledge/pages/shipping.md"]
        assert runtime.knowledge.pages.lexical_builds == builds + 1
        index = runtime.knowledge.pages.lexical_public
        assert index is not None
        sections = {d for d in index.keys if d[0] == "knowledge/pages/shipping.md"}
        assert len(sections) == text.count("\n## ")  # one removed, one added
        assert not index.score("military APO FPO DPO")  # its words went with it
        hits = await ask(runtime, "can you ship to an APO military address", limit=5)
        assert all(h.section != removed for h in hits)
        moon = await ask(runtime, "do u ship to the mooon")
        assert moon[0].section == "Do you ship to the Moon?" and answers(moon[0])


async def test_the_labelled_questions_rank_at_least_as_well_as_dense_alone(runtime: Runtime) -> None:
    """A floor on the evaluation set (scripts/eval_retrieval.py prints the full table)."""
    with (Path(__file__).parent / "retrieval_questions.csv").open(encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["language"] == "en" and r["audience"] == "customer"]
    vectors = runtime.embedder.embed([r["question"] for r in rows])
    dense_top1 = hybrid_top1 = dense_wrong = hybrid_wrong = labelled = 0
    for row, vector in zip(rows, vectors, strict=True):
        dense = (await runtime.knowledge.search(vector))[0]
        hybrid = (await runtime.knowledge.search(vector, text=row["question"]))[0]
        if row["page"] == "none":
            dense_wrong += dense.similarity >= ANSWER_MIN
            hybrid_wrong += answers(hybrid)
            continue
        labelled += 1
        expected = (f"knowledge/pages/{row['page']}.md", row["section"])
        dense_top1 += (dense.source, dense.section) == expected
        hybrid_top1 += (hybrid.source, hybrid.section) == expected
        dense_wrong += dense.similarity >= ANSWER_MIN and (dense.source, dense.section) != expected
        hybrid_wrong += answers(hybrid) and (hybrid.source, hybrid.section) != expected
    assert labelled >= 150
    assert hybrid_top1 >= dense_top1 and hybrid_top1 / labelled >= 0.8
    assert hybrid_wrong < dense_wrong / 2  # confident wrong answers (and answered none questions) at least halved


async def test_runtimes_on_the_same_knowledge_share_one_index_and_new_sections_get_a_new_one(
    runtime: Runtime,
) -> None:
    pages = runtime.knowledge.pages
    await pages.refresh_lexical()
    public = pages.lexical_public
    await pages.refresh_lexical()  # the same sections: the index already built
    assert pages.lexical_public is public
    changed = [LexicalDocument(("faq.md", 99), "Gift wrap", "Gift wrap", "We wrap any order for 3 EUR.")]
    assert search_module._index_for(changed) is not public
    assert "wrap" in search_module._index_for(changed).query_terms("gift wrap please")
