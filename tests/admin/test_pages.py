"""The console's pages over real stores: figures checked against SQL, and what each page shows and does."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from markupsafe import escape
from sqlalchemy import text
from sqlmodel import select

from bot.runtime import Runtime
from bot.store.tables import Customer, Handoff, Turn
from tests.admin.conftest import TOKEN, csrf_of, sign_in
from tests.admin.support import ANA, load_samples_and_chat


def _html(value: object) -> str:
    """Text as the templates write it (Jinja's autoescape)."""
    return str(escape(str(value)))


BEARER = {"Authorization": f"Bearer {TOKEN}"}


def _row(page: str, platform: str) -> str:
    found = re.search(rf'<tr data-platform="{re.escape(platform)}">(.*?)</tr>', page, re.S)
    assert found, f"no overview row for {platform}"
    return found.group(1)


def _metric(row: str, name: str) -> str:
    found = re.search(rf'data-metric="{name}"[^>]*>([^<]*)<', row)
    assert found, name
    return found.group(1).strip()


async def _sql(runtime: Runtime, sql: str) -> list[tuple[object, ...]]:
    async with runtime.database.session() as session:
        return [tuple(r) for r in (await session.exec(text(sql))).all()]  # type: ignore[call-overload]


async def test_overview_figures_match_counts_made_in_sql(runtime: Runtime, client: httpx.AsyncClient) -> None:
    chats = await load_samples_and_chat(runtime)
    page = (await client.get("/admin/", headers=BEARER)).text

    conversations = dict(await _sql(runtime, "SELECT platform, COUNT(DISTINCT conversation) FROM turn "
                                             "WHERE role = 'customer' GROUP BY platform"))
    # Automated resolution, written out in SQL: no handoff, no 👎 on a reply, no other conversation of
    # the same customer within 24 h after this one's last message.
    resolved = dict(await _sql(runtime, """
        SELECT t.platform, COUNT(DISTINCT t.conversation) FROM turn t
        WHERE t.role = 'customer'
          AND NOT EXISTS (SELECT 1 FROM handoff h WHERE h.conversation = t.conversation)
          AND NOT EXISTS (SELECT 1 FROM feedback f JOIN turn q ON q.customer_id = f.customer_id
                          AND q.platform = f.platform AND q.message_id = f.in_reply_to AND q.role = 'customer'
                          WHERE f.kind = 'not_helpful' AND q.conversation = t.conversation)
          AND NOT EXISTS (SELECT 1 FROM turn o WHERE o.customer_id = t.customer_id AND o.role = 'customer'
                          AND o.conversation <> t.conversation
                          AND julianday(o.created_at) > (SELECT julianday(MAX(l.created_at)) FROM turn l
                                                         WHERE l.conversation = t.conversation AND l.role = 'customer')
                          AND julianday(o.created_at) <= (SELECT julianday(MAX(l.created_at)) + 1 FROM turn l
                                                          WHERE l.conversation = t.conversation AND l.role = 'customer'))
        GROUP BY t.platform"""))
    handoffs = await _sql(runtime, "SELECT substr(conversation, 1, instr(conversation, ':') - 1), "
                                   "CASE WHEN rule = '' THEN 'asked_for_person' ELSE rule END, COUNT(*) "
                                   "FROM handoff GROUP BY 1, 2")
    unanswered = await _sql(runtime, "SELECT text, COUNT(*) FROM turn WHERE role = 'customer' "
                                     "AND action IN ('unknown', 'clarify') GROUP BY lower(text)")

    assert conversations == {"slack": 2, "telegram": 3}  # the chats held, nothing else
    assert resolved.get("telegram") == 1  # chat-1 was handed off; Ravi came back in another thread
    assert resolved.get("slack", 0) == 1  # Ana's answer got a 👎
    for platform in ("slack", "telegram"):
        row = _row(page, platform)
        assert _metric(row, "conversations") == str(conversations[platform])
        assert _metric(row, "resolved") == str(resolved.get(platform, 0))
        assert _metric(row, "resolution-rate") == f"{resolved.get(platform, 0) / conversations[platform] * 100:.0f}%"
    total = _row(page, "all")
    assert _metric(total, "conversations") == str(sum(conversations.values()))
    assert _metric(total, "resolved") == str(sum(resolved.values()))
    assert handoffs, "asking for a person opened a handoff"
    for platform, rule, count in handoffs:
        assert re.search(rf'data-metric="handoffs" data-rule="{rule}" data-count="{count}"', _row(page, str(platform)))
    shown = re.search(r'<table id="unanswered">(.*?)</table>', page, re.S).group(1)  # type: ignore[union-attr]
    for question, count in unanswered:
        assert f"<td>{_html(str(question))}</td><td class=\"num\">{count}</td>" in shown
    assert _html(chats.unanswered) in shown
    assert "not reopened" in page and "no handoff" in page and "no 👎" in page  # the definition is on the page
    chart = json.loads(re.search(r'<script type="application/json" id="sentiment-data">(.*?)</script>', page, re.S).group(1))  # type: ignore[union-attr]
    days = await _sql(runtime, "SELECT COUNT(DISTINCT date(created_at)) FROM turn "
                               "WHERE role = 'customer' AND sentiment IS NOT NULL")
    assert len(chart["labels"]) == days[0][0] and set(chart["series"]) == {"all", "slack", "telegram"}

    # A period with none of the chats shows none of them.
    old = (await client.get("/admin/?from=2020-01-01&to=2020-01-31", headers=BEARER)).text
    assert "2020-01-01 to 2020-01-31" in old and 'data-platform="slack"' not in old
    assert "Ignored the period" in (await client.get("/admin/?from=yesterday", headers=BEARER)).text


async def test_handoff_claim_and_resolve_from_the_page_then_csat(runtime: Runtime, client: httpx.AsyncClient) -> None:
    chats = await load_samples_and_chat(runtime)
    await sign_in(client)
    page = await client.get("/admin/handoffs")
    async with runtime.database.session() as session:
        handoff = (await session.exec(select(Handoff))).one()
    assert f'data-handoff="{handoff.id}" data-status="pending"' in page.text
    claimed = await client.post(f"/admin/handoffs/{handoff.id}/claim", data={"csrf": csrf_of(page.text)})
    assert claimed.status_code == 303
    async with runtime.database.session() as session:
        row = await session.get(Handoff, handoff.id)
        assert row is not None and (row.status, row.agent) == ("human", "admin:console")
    page = await client.get(claimed.headers["location"])
    assert f"Handoff #{handoff.id} claimed." in page.text
    again = await client.post(f"/admin/handoffs/{handoff.id}/claim", data={"csrf": csrf_of(page.text)})
    assert again.status_code == 303  # the same agent claiming again is fine
    resolved = await client.post(f"/admin/handoffs/{handoff.id}/resolve", data={"csrf": csrf_of(page.text)})
    assert resolved.status_code == 303
    async with runtime.database.session() as session:
        row = await session.get(Handoff, handoff.id)
        assert row is not None and row.status == "resolved"
    # The bot asked the customer for a rating, through the outbox to Telegram.
    await runtime.delivery.deliver(chats.telegram.inbound("", user="T-1", channel="chat-1").conversation)
    assert any("/csat 5" in [s.text for s in r.suggestions] for r in chats.telegram.sent)
    late = await client.post(f"/admin/handoffs/{handoff.id}/claim", data={"csrf": csrf_of(page.text)})
    assert late.status_code == 409 and "already resolved" in late.text

    await chats.telegram.say("/csat 4", user="T-1", channel="chat-1", name="Tess")
    overview = (await client.get("/admin/")).text
    assert re.search(r'data-metric="csat-people" data-count="1">4\.00', _row(overview, "telegram"))
    scores = await _sql(runtime, "SELECT value FROM feedback WHERE kind = 'csat'")
    assert scores == [("4",)]
    recent = (await client.get("/admin/handoffs")).text
    assert re.search(rf'<div id="resolved">.*data-handoff="{handoff.id}" data-status="resolved"', recent, re.S)


async def test_review_shows_the_disliked_answer_and_the_gaps(runtime: Runtime, client: httpx.AsyncClient) -> None:
    chats = await load_samples_and_chat(runtime)
    page = (await client.get("/admin/review", headers=BEARER)).text
    disliked = re.search(r'<table id="disliked">(.*?)</table>', page, re.S).group(1)  # type: ignore[union-attr]
    assert _html(chats.disliked_question) in disliked
    assert _html(chats.disliked_answer) in disliked  # the exact message, as stored
    assert '<table id="candidates">' in page  # the review queue (tests/admin/test_review_page.py)
    assert _html(chats.unanswered) in re.search(r'<table id="gaps">(.*?)</table>', page, re.S).group(1)  # type: ignore[union-attr]

    # The transcript shows the 👎 on the reply, with its sources and each turn's action.
    ref = re.search(r'href="/admin/conversations/(\d+)"', disliked).group(1)  # type: ignore[union-attr]
    transcript = (await client.get(f"/admin/conversations/{ref}", headers=BEARER)).text
    assert 'data-feedback="not_helpful"' in transcript and "knowledge/pages/" in transcript
    assert _html(chats.disliked_question) in transcript and "<code>answer</code>" in transcript
    async with runtime.database.session() as session:
        not_first = (await session.exec(select(Turn).where(Turn.id == int(ref) + 1))).one()
    assert (await client.get(f"/admin/conversations/{not_first.id}", headers=BEARER)).status_code == 404

    knowledge = (await client.get("/admin/knowledge", headers=BEARER)).text
    cited = (await _sql(runtime, "SELECT sources FROM turn WHERE role = 'bot' AND sources <> '[]'"))
    page_source = next(s for row in cited for s in json.loads(str(row[0])) if s.startswith("knowledge/pages/"))
    uses = sum(page_source in json.loads(str(row[0])) for row in cited)
    row = re.search(rf'<tr data-source="{re.escape(page_source)}">(.*?)</tr>', knowledge, re.S).group(1)  # type: ignore[union-attr]
    assert _metric(row, "used") == str(uses)
    assert re.search(r'<td class="num">1</td>\s*</tr>', row + "</tr>"), "the 👎 is counted on the page"
    # ... and on the very section that answered, as the vote that re-ranks it.
    voted = await _sql(runtime, "SELECT source, section FROM answer_vote WHERE polarity = -1")
    assert [(s, t) for s, t in voted] == [(page_source, voted[0][1])]
    assert re.search(rf'<li>{re.escape(_html(voted[0][1]))} <span class="note" data-section-votes="0/1">', row)


async def test_conversation_filters(runtime: Runtime, client: httpx.AsyncClient) -> None:
    await load_samples_and_chat(runtime)

    async def refs(query: str) -> set[str]:
        page = (await client.get(f"/admin/conversations?{query}", headers=BEARER)).text
        return set(re.findall(r'<tr data-ref="(\d+)">', page))

    every = await refs("")
    assert len(every) == 5
    assert len(await refs("platform=slack")) == 2 and len(await refs("platform=telegram")) == 3
    assert len(await refs("handoff=any")) == 1 == len(await refs("handoff=open"))
    assert len(await refs("handoff=none")) == 4
    assert len(await refs(f"customer={ANA}")) == 1
    negative = await refs("sentiment=negative")
    lowest = await _sql(runtime, "SELECT COUNT(*) FROM (SELECT conversation FROM turn GROUP BY conversation "
                                 f"HAVING MIN(sentiment) < {runtime.config.thresholds.negative_sentiment})")
    assert len(negative) == lowest[0][0] >= 1
    unknown = (await client.get("/admin/conversations?customer=C-0000", headers=BEARER)).text
    assert "No customer with that id" in unknown


async def test_customer_page_export_and_forget(runtime: Runtime, client: httpx.AsyncClient) -> None:
    await load_samples_and_chat(runtime)
    await sign_in(client)
    page = (await client.get(f"/admin/customers/{ANA}")).text
    assert "Ana Silva" in page and "1042" in page and "Halo LED Desk Lamp" in page
    kinds = set(re.findall(r'<li data-kind="(\w+)">', page))
    assert {"conversation", "order", "identity"} <= kinds
    chart = json.loads(re.search(r'id="customer-sentiment-data">(.*?)</script>', page, re.S).group(1))  # type: ignore[union-attr]
    scored = await _sql(runtime, "SELECT COUNT(*) FROM turn t JOIN customer c ON c.id = t.customer_id "
                                 f"WHERE c.external_id = '{ANA}' AND t.role = 'customer' AND t.sentiment IS NOT NULL")
    assert len(chart["series"]["sentiment"]) == scored[0][0] == 2
    assert re.search(r'<table id="recommendations"><tbody>\s*<tr><td>', page), "recommendations with reasons"
    assert "ana.silva@example.com" not in re.findall(r'href="([^"]+)"', page).__str__()  # no email in any link

    exported = await client.get(f"/admin/customers/{ANA}/export.json")
    assert exported.status_code == 200 and "attachment" in exported.headers["content-disposition"]
    assert exported.json()["customer"]["external_id"] == ANA and exported.json()["turn"]

    form = await client.get(f"/admin/customers/{ANA}/forget")
    wrong = await client.post(f"/admin/customers/{ANA}/forget", data={"csrf": csrf_of(form.text), "confirm": "yes"})
    assert wrong.status_code == 400
    async with runtime.database.session() as session:
        assert (await session.exec(select(Customer).where(Customer.external_id == ANA))).first() is not None
    done = await client.post(f"/admin/customers/{ANA}/forget", data={"csrf": csrf_of(form.text), "confirm": ANA})
    assert done.status_code == 303 and done.headers["location"] == "/admin/customers?forgotten=1"
    async with runtime.database.session() as session:
        assert (await session.exec(select(Customer).where(Customer.external_id == ANA))).first() is None
    assert (await client.get(f"/admin/customers/{ANA}")).status_code == 404

    # A name search is a POST: the name never sits in a URL.
    found = await client.post("/admin/customers/find", data={"csrf": csrf_of(form.text), "q": "okafor"})
    assert "Ben Okafor" in found.text and "C-1002" in found.text


def test_period_defaults_to_the_last_30_days() -> None:
    from bot.admin.queries import Period

    period = Period.parse(None, None, today=datetime(2026, 3, 31, tzinfo=UTC).date())
    assert (period.first_day.isoformat(), period.last_day.isoformat()) == ("2026-03-02", "2026-03-31")
    assert period.end - period.start == timedelta(days=30)


async def test_memory_delete_ingest_and_nothing_personal_in_logs(
        runtime: Runtime, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    await load_samples_and_chat(runtime)
    # INFO and up, as the web process logs (a driver's DEBUG output echoes every parameter, by design).
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="rapport")
    await sign_in(client, "a-wrong-token-for-the-log")
    await sign_in(client)
    page = (await client.get(f"/admin/customers/{ANA}")).text
    ana = await runtime.customers.find(ANA)
    assert ana.id is not None
    before = await runtime.memory.export(ana.id)
    target = next(m for m in before if m["text"] == "how long does shipping take?")
    action = f"/admin/customers/{ANA}/memories/{target['id']}/delete"
    assert f'action="{action}"' in page
    deleted = await client.post(action, data={"csrf": csrf_of(page)})
    assert deleted.status_code == 303
    after = {m["id"] for m in await runtime.memory.export(ana.id)}
    assert target["id"] not in after and len(after) == len(before) - 1
    # Another customer's page cannot delete Ana's memories.
    other = await client.post(f"/admin/customers/C-1002/memories/{next(iter(after))}/delete", data={"csrf": csrf_of(page)})
    assert other.status_code == 404 and len(await runtime.memory.export(ana.id)) == len(after)

    ingested = await client.post("/admin/knowledge/ingest", data={"csrf": csrf_of(page)})
    assert ingested.status_code == 303 and "unchanged=" in ingested.headers["location"]
    assert "Ingest finished" in (await client.get(ingested.headers["location"])).text
    await client.post("/admin/customers/find", data={"csrf": csrf_of(page), "q": "ana.silva@example.com"})

    logged = "\n".join(r.getMessage() + str(r.__dict__) for r in caplog.records if r.name != "httpx")  # the test's client
    for secret in (TOKEN, "a-wrong-token-for-the-log", "ana.silva@example.com", "Ana Silva", "how long does shipping"):
        assert secret not in logged, secret


async def test_out_of_range_dates_ids_and_pages_are_no_server_error(client: httpx.AsyncClient) -> None:
    for path in ("/admin/?to=9999-12-31", "/admin/?from=0001-01-01&to=0001-01-05", "/admin/customers/%C2%B2",
                 "/admin/conversations/99999999999999999999", "/admin/conversations?page=99999999999999999999",
                 "/admin/customers?page=99999999999999999999", "/admin/customers/99999999999999999999"):
        response = await client.get(path, headers=BEARER)
        assert response.status_code < 500, (path, response.status_code)
