"""A newcomer's journey in a real browser (Debian's Chromium, Playwright) against the real
server in a subprocess with the scripted test model: the landing page, the API docs rendered
offline, signing in to the console, a fan who chats in the space, reloads and finds the chat
again, and the creator taking that conversation over and answering in person.

Screenshots at 1280 and 390 px go to $PERSONA_SHOTS (default /tmp/persona-shots), not git."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from channels.services import Services
from ingest.demo import DEMO_CREATOR_ID, DEMO_DISPLAY_NAME
from tests.conftest import make_settings
from tests.console_support import PASSWORD, ConsoleServer, add_account

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]  # fmt: skip
SHOTS = Path(os.environ.get("PERSONA_SHOTS", "/tmp/persona-shots"))
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def server(demo_dir: Path) -> Iterator[ConsoleServer]:
    services = Services.build(make_settings(demo_dir))
    try:
        add_account(services.db, DEMO_CREATOR_ID, DEMO_DISPLAY_NAME)
    finally:
        services.close()
    console = ConsoleServer(demo_dir)
    console.start()
    try:
        yield console
    finally:
        console.stop()


def shoot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for label, size in (("1280", DESKTOP), ("390", PHONE)):
        page.set_viewport_size(size)
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(SHOTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size(DESKTOP)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Chromium (apt-get install chromium)")
def test_a_newcomer_walks_from_the_landing_page_to_a_takeover(server: ConsoleServer) -> None:
    from playwright.sync_api import expect, sync_playwright

    url = server.url
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            creator = browser.new_context(viewport=DESKTOP).new_page()
            creator.set_default_timeout(30_000)
            # Loaded from anywhere but this server (a CSP-blocked attempt never loads).
            elsewhere: list[str] = []
            creator.on(
                "requestfinished",
                lambda r: (
                    None
                    if r.url.startswith((url, f"blob:{url}", "data:"))
                    else elsewhere.append(r.url)
                ),
            )
            errors: list[str] = []
            creator.on("pageerror", lambda exc: errors.append(str(exc)))

            # 1. The landing page links the demo creator's space, the console and the docs.
            creator.goto(f"{url}/")
            expect(creator.get_by_role("link", name=DEMO_DISPLAY_NAME)).to_be_visible()
            shoot(creator, "landing")
            # 2. The API docs render from this server alone (no CDN).
            creator.get_by_role("link", name="HTTP API (Swagger UI)").click()
            expect(creator.locator(".swagger-ui .info .title")).to_contain_text("Persona platform")
            shoot(creator, "docs")
            creator.goto(f"{url}/redoc")
            expect(creator.locator(".api-info h1, [class*=api-info] h1").first).to_contain_text(
                "Persona platform"
            )
            assert elsewhere == [], f"loaded from elsewhere: {elsewhere}"

            # 3. Sign in; the page says how an account is made.
            creator.goto(f"{url}/console/login")
            expect(creator.locator("#how-to-get-an-account")).to_contain_text(
                "persona admin create-creator"
            )
            shoot(creator, "login")
            creator.get_by_label("Creator id", exact=True).fill(DEMO_CREATOR_ID)
            creator.get_by_label("Password", exact=True).fill(PASSWORD)
            creator.get_by_role("button", name="Sign in").click()
            creator.wait_for_url(f"{url}/console")

            # 4. A fan on a phone: greeting, suggestions, a reply; a reload keeps the chat.
            fan = browser.new_context(viewport=PHONE).new_page()
            fan.set_default_timeout(30_000)
            fan.on("pageerror", lambda exc: errors.append(str(exc)))
            fan.goto(f"{url}/space/{DEMO_CREATOR_ID}")
            expect(fan.locator("#greeting")).to_contain_text("AI double")
            suggestions = fan.locator("button.suggestion")
            expect(suggestions).to_have_count(3)
            shoot(fan, "space-first-visit")
            question = suggestions.first.inner_text()
            expect(suggestions.first).to_be_enabled()
            suggestions.first.click()
            # The first reply starts the engine (embeddings, retrieval) in the server.
            expect(fan.locator(".msg.ai .text")).to_contain_text(
                "thanks for writing", timeout=120_000
            )
            expect(fan.locator(".msg.ai")).to_have_attribute("aria-busy", "false")
            fan.reload()
            expect(fan.locator("#transcript .msg.fan .text")).to_have_text([question])
            expect(fan.locator("#transcript .msg.ai .text")).to_contain_text(["thanks for writing"])
            expect(fan.locator("#suggestions")).to_be_hidden()
            expect(fan.locator(".ai-banner")).to_be_visible()

            # 5. The creator finds the fan by a readable name and takes the chat over.
            creator.goto(f"{url}/console/conversations")
            creator.get_by_role("link", name="Visitor of your space").click()
            assert "space:" not in creator.locator("h1").inner_text()
            creator.get_by_role("button", name="Take over this conversation").click()
            expect(creator.locator(".banner-ok")).to_contain_text("stays quiet")
            fan.locator("#message").fill("is it really you?")
            fan.locator("#message").press("Enter")
            expect(fan.locator(".msg.system .text").last).to_contain_text("in person")
            creator.reload()
            creator.get_by_label("Your reply to", exact=False).fill("yes, it's me, Camille!")
            creator.get_by_role("button", name="Send my reply").click()
            expect(creator.locator(".banner-ok")).to_contain_text("on its way")
            shoot(creator, "console-takeover")
            expect(fan.locator(".msg.creator .text")).to_have_text("yes, it's me, Camille!")
            shoot(fan, "space-after-takeover")
            # As the fan sees it: the newest message above the sticky composer.
            fan.set_viewport_size(PHONE)
            fan.locator(".msg.creator").scroll_into_view_if_needed()
            fan.screenshot(path=str(SHOTS / "space-after-takeover-390-viewport.png"))
            fan.reload()
            expect(fan.locator("#transcript .msg.creator .text")).to_have_text(
                "yes, it's me, Camille!"
            )
            assert errors == []
        finally:
            browser.close()
