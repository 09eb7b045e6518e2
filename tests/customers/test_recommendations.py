"""Suggestions in the shop: in stock, not already owned, explained from the customer's data, never to someone upset."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from bot.cli.app import app
from bot.recommend.advisor import NoMatch
from bot.runtime import Runtime
from bot.types import ConversationKey, Feedback, FeedbackKind
from tests.recording import RecordingAdapter

ROOT = Path(__file__).resolve().parents[2]


async def test_recommend_command_gives_in_stock_unowned_items_with_reasons(sampled: Runtime) -> None:
    result = subprocess.run([sys.executable, "-m", "bot", "recommend", "C-1001", "--json", "--data-dir",
                             str(sampled.data_dir)], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    picks = json.loads(result.stdout)
    assert picks
    ana = await sampled.insights.build(await sampled.customers.find("C-1001"))
    owned_names = {i.name for o in ana.recent_orders for i in o.items}
    for pick in picks:
        product = sampled.catalog.products[pick["sku"]]
        assert pick["stock"] > 0
        assert pick["sku"] not in ana.owned_skus or product.consumable
        # The reason comes from her own history: an item she bought or looked at, or her categories.
        assert any(name in pick["reason"] for name in owned_names) or "you" in pick["reason"]


async def test_out_of_stock_and_excluded_items_never_appear(sampled: Runtime) -> None:
    out_of_stock = {sku for sku, p in sampled.catalog.products.items() if p.stock == 0}
    assert out_of_stock
    for customer_id in range(1, 37):
        for pick in await sampled.advisor.suggest(customer_id, owned=set(), limit=10):
            assert pick.sku not in out_of_stock


async def test_no_suggestions_while_upset_and_suggestions_once_happy(sampled: Runtime) -> None:
    ben = await sampled.customers.find("C-1002")
    await sampled.customers.attach(ben, "test", "W1", "U-ben")
    adapter = RecordingAdapter(sampled.engine.handle)
    upset = await adapter.say("This is terrible service, my order is late again and I'm furious. Anything for my puppy?",
                              user="U-ben", channel="DB")
    assert upset is not None and upset.sentiment is not None and upset.sentiment.label == "negative"
    assert upset.recommendations == ()
    happy = await adapter.say("Great, it arrived and I love it! What do you recommend for my puppy?",
                              user="U-ben", channel="DB")
    assert happy is not None and happy.sentiment is not None and happy.sentiment.label == "positive"
    assert happy.recommendations
    assert all(sampled.catalog.products[r.sku].category == "pet" for r in happy.recommendations)


async def test_rejected_suggestion_sinks_for_that_customer(sampled: Runtime) -> None:
    ana = await sampled.customers.find("C-1001")
    await sampled.customers.attach(ana, "test", "W1", "U-ana")
    adapter = RecordingAdapter(sampled.engine.handle)
    reply = await adapter.say("what do you recommend?", user="U-ana", channel="DA")
    assert reply is not None and reply.recommendations
    first = reply.recommendations[0].sku
    for n in range(3):
        await sampled.engine.feedback(Feedback("test", ConversationKey("test", "W1", "DA"), "U-ana", reply.in_reply_to,
                                               FeedbackKind.RECOMMENDATION_REJECTED, first, feedback_id=f"no-{n}"))
    again = await adapter.say("what else do you recommend?", user="U-ana", channel="DA")
    assert again is not None and again.recommendations
    assert again.recommendations[0].sku != first


# --- what was asked beats what was bought -------------------------------------------------------

async def _suggest_for(runtime: Runtime, ref: str, text: str):  # type: ignore[no-untyped-def]
    customer = await runtime.customers.find(ref)
    assert customer.id is not None
    insights = await runtime.insights.build(customer)
    return await runtime.advisor.suggest_for(customer.id, insights.owned_skus, text,
                                             runtime.embedder.embed([text])[0], runtime.embedder), insights


async def test_a_cooking_gift_gets_kitchen_items_not_the_customers_running_gear(sampled: Runtime) -> None:
    plain, _ = await _suggest_for(sampled, "C-1001", "what do you recommend?")
    found, insights = await _suggest_for(sampled, "C-1001", "any gift ideas for my dad who loves cooking?")
    assert found.need.topic == "cooking" and found.need.recipient == "dad" and found.no_match is None
    assert found.items and {r.sku for r in found.items}.isdisjoint({r.sku for r in plain.items})
    for pick in found.items:
        product = sampled.catalog.products[pick.sku]
        assert product.category == "kitchen" and product.stock > 0, product
        assert "cooking" in pick.reason
        assert pick.sku not in insights.owned_skus or product.consumable


async def test_a_new_puppy_gets_pet_items(sampled: Runtime) -> None:
    found, _ = await _suggest_for(sampled, "C-1001", "something for my new puppy")
    assert found.items and all(sampled.catalog.products[r.sku].category == "pet" for r in found.items)
    assert "PET-KIT-01" in {r.sku for r in found.items}


async def test_a_budget_is_never_exceeded(sampled: Runtime) -> None:
    for text, limit in [("a gift under $50", 50.0), ("cooking gift under $40", 40.0), ("camping gear under $60", 60.0)]:
        found, _ = await _suggest_for(sampled, "C-1002", text)
        assert found.items, text
        assert all(sampled.catalog.products[r.sku].price <= limit for r in found.items), (text, found.items)


async def test_when_nothing_fits_it_says_so_instead_of_falling_back_to_history(sampled: Runtime) -> None:
    knitting, _ = await _suggest_for(sampled, "C-1001", "any ideas for my mum who loves knitting?")
    assert knitting.items == [] and knitting.no_match is NoMatch.NOTHING_FITS
    assert knitting.no_match_reason == "nothing in our catalog for knitting"
    cheap, _ = await _suggest_for(sampled, "C-1001", "cooking gift under $10")
    assert cheap.items == [] and cheap.no_match is NoMatch.OVER_BUDGET
    assert cheap.fitting and "under $10" in (cheap.no_match_reason or "")


def test_recommend_command_follows_the_query(sampled: Runtime) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["recommend", "C-1001", "--query", "cooking", "--json",
                                 "--data-dir", str(sampled.data_dir)])
    assert result.exit_code == 0, result.output
    picks = json.loads(result.stdout)
    assert picks and all(sampled.catalog.products[p["sku"]].category == "kitchen" for p in picks)
    nothing = runner.invoke(app, ["recommend", "C-1001", "--query", "knitting", "--data-dir", str(sampled.data_dir)])
    assert nothing.exit_code == 0, nothing.output
    assert "nothing in our catalog for knitting" in nothing.stdout
