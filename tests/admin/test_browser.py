"""The console in a real browser: Debian's headless Chromium driven by Playwright, against ``rapport serve``'s
web app on a loopback port over a real Runtime. Screenshots are kept as test artifacts.

Skips only when Chromium (or Playwright) is missing and neither CI nor RAPPORT_REQUIRE_CHROMIUM is set;
``.ci/run`` installs Chromium with apt and sets RAPPORT_REQUIRE_CHROMIUM=1, so in CI it must run.
Playwright's own browser download is never used.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import uvicorn
from sqlmodel import select

from adapters.web import create_web_app
from bot.admin import AdminConsole
from bot.runtime import Runtime
from bot.store.tables import Handoff
from tests.admin.conftest import TOKEN
from tests.admin.support import ANA, load_samples_and_chat

CHROMIUM = os.environ.get("RAPPORT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(os.environ.get("RAPPORT_ADMIN_SHOTS", "/tmp/rapport-admin-shots"))


@pytest.fixture
def chromium() -> str:
    """Chromium's path; asked for before the runtime, so a skip costs no start-up."""
    problem = ""
    if not Path(CHROMIUM).exists():
        problem = f"no Chromium at {CHROMIUM} (apt-get install -y chromium)"
    else:
        try:
            import playwright.async_api  # noqa: F401
        except ImportError:
            problem = "playwright is not installed (pip install -e '.[test]')"
    if problem:
        if os.environ.get("CI") or os.environ.get("RAPPORT_REQUIRE_CHROMIUM") == "1":
            pytest.fail(f"CI (or RAPPORT_REQUIRE_CHROMIUM=1, set by .ci/run) says the browser test must run, but {problem}")
        pytest.skip(problem)
    return CHROMIUM


@asynccontextmanager
async def serving(runtime: Runtime) -> AsyncIterator[str]:
    """The web app with the console, under uvicorn on a free loopback port; yields its base URL."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    app = create_web_app(admin=AdminConsole.from_env(runtime, env={"ADMIN_TOKEN": TOKEN}), health=runtime.health)
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_config=None, access_log=False))
    task = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        for _ in range(100):
            if server.started:
                break
            await asyncio.sleep(0.05)
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        listener.close()


async def test_console_in_chromium(chromium: str, runtime: Runtime, tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    await load_samples_and_chat(runtime)
    shots: list[Path] = []
    async with serving(runtime) as base, async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, headless=True,
                                                   args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            page = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
            page.set_default_timeout(15_000)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))

            # A bookmark to a customer leads through the login form and back to the customer.
            await page.goto(f"{base}/admin/customers/{ANA}")
            assert "/admin/login" in page.url
            await page.fill("input[name=token]", TOKEN)
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{base}/admin/customers/{ANA}")
            assert "Ana Silva" in await page.inner_text("h1")

            # The sentiment chart was drawn by the vendored Chart.js, with one point per scored message.
            await page.wait_for_selector("#customer-sentiment[data-points]", state="attached")
            points = await page.evaluate(
                "() => Chart.getChart(document.getElementById('customer-sentiment')).data.datasets[0].data.length")
            assert points == 2
            assert await page.get_attribute("#customer-sentiment", "data-points") == "2"
            box = await page.locator("#customer-sentiment").bounding_box()
            assert box is not None and box["width"] > 200 and box["height"] > 100
            # The journey timeline: orders from the import and the Slack conversation, in time order.
            kinds = await page.locator("#journey li").evaluate_all("items => items.map(i => i.dataset.kind)")
            assert {"order", "shipment", "conversation", "identity"} <= set(kinds)
            assert "slack" in await page.inner_text("#journey")
            assert "1042" in await page.inner_text("#orders")
            shots.append(tmp_path / "customer.png")
            await page.screenshot(path=str(shots[-1]), full_page=True)

            await page.click("header >> text=Overview")
            await page.wait_for_selector("#sentiment-chart[data-points]", state="attached")
            assert int(await page.get_attribute("#sentiment-chart", "data-points") or 0) >= 1
            assert await page.inner_text('tr[data-platform="telegram"] [data-metric="conversations"]') == "3"
            assert "not reopened" in await page.inner_text("#definition")
            shots.append(tmp_path / "overview.png")
            await page.screenshot(path=str(shots[-1]), full_page=True)

            # Claim, then resolve, the open handoff from the page.
            await page.click("header >> text=Handoffs")
            await page.click("#open button:has-text('Claim')")
            await page.wait_for_selector("text=claimed.")
            assert await page.locator("#open [data-status=human]").count() == 1
            await page.click("#open button:has-text('Resolve')")
            await page.wait_for_selector("text=resolved; the bot asked the customer for a rating")
            assert await page.locator("#resolved [data-status=resolved]").count() == 1
            shots.append(tmp_path / "handoffs.png")
            await page.screenshot(path=str(shots[-1]), full_page=True)
            assert not errors, errors
        finally:
            await browser.close()

    async with runtime.database.session() as session:
        handoff = (await session.exec(select(Handoff))).one()
    assert (handoff.status, handoff.agent) == ("resolved", "admin:console")
    SHOTS.mkdir(parents=True, exist_ok=True)
    for shot in shots:
        assert shot.stat().st_size > 10_000, shot
        shutil.copy(shot, SHOTS / shot.name)
