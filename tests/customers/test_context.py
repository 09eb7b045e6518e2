"""Order questions answered from this customer's own history, follow-ups resolved in the conversation."""

from __future__ import annotations

from bot.runtime import Runtime
from tests.recording import RecordingAdapter


async def as_customer(runtime: Runtime, ref: str, user: str) -> RecordingAdapter:
    customer = await runtime.customers.find(ref)
    await runtime.customers.attach(customer, "test", "W1", user)
    return RecordingAdapter(runtime.engine.handle)


async def test_where_is_my_order_gives_this_customers_order_only(sampled: Runtime) -> None:
    ana = await as_customer(sampled, "ana.silva@example.com", "U-ana")
    ben = await as_customer(sampled, "ben.okafor@example.com", "U-ben")
    a = await ana.say("where is my order?", user="U-ana", channel="DA")
    b = await ben.say("where is my order?", user="U-ben", channel="DB")
    assert a is not None and b is not None
    assert "1042" in a.text and "shipped" in a.text and "NW20261124042" in a.text
    assert "1043" in b.text and "hasn't shipped yet" in b.text
    assert "1042" not in b.text and "NW20261124042" not in b.text and "Desk Lamp" not in b.text


async def test_desk_lamp_follow_up_resolves_against_the_conversation(sampled: Runtime) -> None:
    ana = await as_customer(sampled, "C-1001", "U-ana")
    first = await ana.say("I ordered a desk lamp last week", user="U-ana", channel="DA")
    follow_up = await ana.say("where is it?", user="U-ana", channel="DA")
    assert first is not None and follow_up is not None
    assert "order 1042 (Halo LED Desk Lamp) shipped" in follow_up.text
    assert "Tracking number: NW20261124042." in follow_up.text
    assert follow_up.sources[0].title == "Your order history"


async def test_an_older_order_named_by_product_is_the_one_answered(sampled: Runtime) -> None:
    ana = await as_customer(sampled, "C-1001", "U-ana")
    reply = await ana.say("where are my trail running shoes?", user="U-ana", channel="DA")
    assert reply is not None and "order 999" in reply.text and "delivered" in reply.text


async def test_a_returning_customer_is_greeted_with_what_matters_now(sampled: Runtime) -> None:
    ana = await as_customer(sampled, "C-1001", "U-ana")
    reply = await ana.say("hi", user="U-ana", channel="DA")
    assert reply is not None
    assert reply.text.startswith("Welcome back, Ana! Your order 1042 (Halo LED Desk Lamp) shipped")


async def test_a_new_customer_gets_the_first_time_greeting_and_no_order_talk(sampled: Runtime) -> None:
    stranger = RecordingAdapter(sampled.engine.handle)
    hello = await stranger.say("hi", user="U-new", name="Kim Lee")
    order = await stranger.say("where is my order?", user="U-new", name="Kim Lee")
    assert hello is not None and hello.text.startswith("Hi, Kim! I'm Rapport")
    assert order is not None and "Your order" not in order.text


async def test_stated_preferences_are_remembered_on_the_profile(sampled: Runtime) -> None:
    ana = await as_customer(sampled, "C-1001", "U-ana")
    reply = await ana.say("I'm vegan, by the way", user="U-ana", channel="DA")
    assert reply is not None and "diet: vegan" in reply.text
    customer = await sampled.customers.find("C-1001")
    assert customer.preferences["diet"]["value"] == "vegan"
    assert customer.preferences["diet"]["said_at"]  # kept with when it was said
    insights = await sampled.insights.build(customer)
    assert any(line.startswith("told us — diet: vegan (said ") for line in insights.lines())


async def test_insights_are_derived_from_the_customers_data(sampled: Runtime) -> None:
    ana = await sampled.customers.find("C-1001")
    insights = await sampled.insights.build(ana)
    assert insights.order_count == 3 and insights.lifetime_value == 363.95
    assert insights.stage == "active"
    assert [o.order_id for o in insights.open_orders] == ["1042"]
    assert set(insights.favourite_categories) == {"kitchen", "running", "lighting"}
    assert "LMP-DESK-01" in insights.owned_skus
    lapsed = await sampled.insights.build(await sampled.customers.find("marcus.j@example.net"))
    assert lapsed.stage == "lapsed"


async def test_per_user_granularity_shares_history_across_channels(sampled: Runtime) -> None:
    from bot.config import Conversation
    from bot.runtime import Runtime as _Runtime

    config = sampled.config.model_copy(update={"conversation": Conversation(granularity="user")})
    async with _Runtime.open(config, sampled.data_dir) as runtime:
        ana = await as_customer(runtime, "C-1001", "U-ana")
        await ana.say("I ordered trail running shoes in April", user="U-ana", channel="C-one", thread="t1")
        follow_up = await ana.say("where are they?", user="U-ana", channel="C-two", thread="t9")
        # Without the shared history the newest open order (1042) would be the answer.
        assert follow_up is not None and "order 999" in follow_up.text
