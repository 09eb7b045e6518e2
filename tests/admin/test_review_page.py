"""The console's review page: FAQ candidates from agents' answers approved (as edited), rejected, each form
guarded by CSRF; knowledge gaps grouped by meaning."""

from __future__ import annotations

import re

import httpx
from markupsafe import escape

from bot.learning.review import TEAM_TITLE, team_source
from bot.runtime import Runtime
from bot.store.review import ReviewStatus
from tests.admin.conftest import csrf_of, sign_in
from tests.learning.test_review import ANSWER, PARAPHRASE, QUESTION, customers_of, teach


def _table(page: str, name: str) -> str:
    found = re.search(rf'<table id="{name}">(.*?)</table>', page, re.S)
    assert found, name
    return found.group(1)


async def test_approve_an_edited_candidate_from_the_page(runtime: Runtime, client: httpx.AsyncClient) -> None:
    await teach(runtime)
    (item,) = await runtime.team_answers.queue.items()
    await sign_in(client)
    page = (await client.get("/admin/review")).text
    row = _table(page, "candidates")
    assert f'data-review="{item.id}" data-status="pending"' in row
    assert str(escape(QUESTION)) in row and str(escape(ANSWER)) in row

    edited = "Students get 15% off full-price items with a student email."
    form = {"question": QUESTION, "answer": edited}
    # Without the session's CSRF token the form is refused and nothing changes.
    refused = await client.post(f"/admin/review/{item.id}/approve", data=form)
    assert refused.status_code == 403
    assert (await runtime.team_answers.queue.get(item.id)).status is ReviewStatus.PENDING  # type: ignore[union-attr]

    done = await client.post(f"/admin/review/{item.id}/approve", data={**form, "csrf": csrf_of(page)})
    assert done.status_code == 303 and done.headers["location"] == f"/admin/review?done=approved&id={item.id}"
    approved = await runtime.team_answers.queue.get(item.id)
    assert approved is not None and (approved.status, approved.answer) == (ReviewStatus.APPROVED, edited)
    after = (await client.get(done.headers["location"])).text
    assert f"Review item #{item.id} approved" in after
    assert f'data-review="{item.id}" data-status="approved"' in _table(after, "decided")

    reply = await customers_of(runtime).say(PARAPHRASE, user="U5", name="Flo")
    assert reply is not None and edited in reply.text and reply.sources[0].path == team_source(item.id)
    assert reply.sources[0].title == TEAM_TITLE

    # Deciding twice, or on an item that does not exist, changes nothing and says why.
    again = await client.post(f"/admin/review/{item.id}/reject", data={"csrf": csrf_of(after)})
    assert again.status_code == 409 and "already approved" in again.text
    missing = await client.post("/admin/review/4242/approve", data={**form, "csrf": csrf_of(after)})
    assert missing.status_code == 404
    too_long = await client.post(f"/admin/review/{item.id}/approve",
                                 data={"question": QUESTION, "answer": "x" * 6000, "csrf": csrf_of(after)})
    assert too_long.status_code == 400


async def test_reject_from_the_page_keeps_it_out_of_knowledge(runtime: Runtime, client: httpx.AsyncClient) -> None:
    await teach(runtime)
    (item,) = await runtime.team_answers.queue.items()
    await sign_in(client)
    page = (await client.get("/admin/review")).text
    done = await client.post(f"/admin/review/{item.id}/reject", data={"csrf": csrf_of(page)})
    assert done.status_code == 303
    assert (await runtime.team_answers.queue.get(item.id)).status is ReviewStatus.REJECTED  # type: ignore[union-attr]
    assert await runtime.knowledge.pages.metadatas({"source": team_source(item.id)}) == {}
    emptied = await client.post(f"/admin/review/{item.id}/approve",
                                data={"question": "", "answer": "", "csrf": csrf_of(page)})
    assert emptied.status_code == 409


async def test_gaps_are_grouped_by_meaning(runtime: Runtime, client: httpx.AsyncClient) -> None:
    adapter = customers_of(runtime)
    for n, text in enumerate(("what's the weather on Mars?", "how is the weather on mars today", "weather on Mars?")):
        await adapter.say(text, user=f"U-{n}", name="Sam")
    await adapter.say("do you sell spaceships?", user="U-9", name="Sam")
    await sign_in(client)
    gaps = _table((await client.get("/admin/review")).text, "gaps")
    rows = re.findall(r"<tr><td>(.*?)</tr>", gaps, re.S)
    counts = [re.search(r'class="num">(\d+)<', r).group(1) for r in rows]  # type: ignore[union-attr]
    assert counts[0] == "3" and "Mars" in rows[0] and "spaceships" not in rows[0]
