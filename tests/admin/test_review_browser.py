"""Approving a review item in a real browser (Debian's Chromium driven by Playwright, as tests/admin/test_browser.py):
the admin edits the agent's answer in the form and approves it; the next customer gets it as edited."""

from __future__ import annotations

import shutil
from pathlib import Path

from bot.learning.review import TEAM_TITLE
from bot.runtime import Runtime
from bot.store.review import ReviewStatus
from tests.admin.conftest import TOKEN
from tests.admin.test_browser import SHOTS, chromium, serving  # noqa: F401 (chromium is a fixture)
from tests.learning.test_review import ANSWER, PARAPHRASE, QUESTION, customers_of, teach

EDITED = "Yes! Students get 15% off full-price items: sign up with your student email."


async def test_approve_an_edited_review_item_in_chromium(chromium: str, runtime: Runtime, tmp_path: Path) -> None:  # noqa: F811
    from playwright.async_api import async_playwright

    await teach(runtime)
    (item,) = await runtime.team_answers.queue.items()
    shot = tmp_path / "review.png"
    async with serving(runtime) as base, async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, headless=True,
                                                   args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            page = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
            page.set_default_timeout(15_000)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            await page.goto(f"{base}/admin/review")
            await page.fill("input[name=token]", TOKEN)
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{base}/admin/review")

            row = page.locator(f'#candidates tr[data-review="{item.id}"]')
            assert QUESTION in await row.inner_text()
            answer = row.locator("textarea[name=answer]")
            assert await answer.input_value() == ANSWER  # the agent's words, ready to edit
            await answer.fill(EDITED)
            await row.locator("button:has-text('Approve')").click()
            await page.wait_for_selector(f"text=Review item #{item.id} approved")
            assert await page.locator(f'#decided tr[data-review="{item.id}"][data-status="approved"]').count() == 1
            assert await page.locator(f'#candidates tr[data-review="{item.id}"]').count() == 0
            await page.screenshot(path=str(shot), full_page=True)
            assert not errors, errors
        finally:
            await browser.close()

    approved = await runtime.team_answers.queue.get(item.id)
    assert approved is not None and (approved.status, approved.answer) == (ReviewStatus.APPROVED, EDITED)
    reply = await customers_of(runtime).say(PARAPHRASE, user="U-next", name="Gil")
    assert reply is not None and EDITED in reply.text and reply.sources[0].title == TEAM_TITLE
    assert shot.stat().st_size > 10_000
    SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, SHOTS / shot.name)
