"""A newcomer's journey in a real browser (Debian's Chromium, Playwright) against the real
server in a subprocess with the scripted test model: the README's command makes the console
account, the landing page, the API docs rendered offline, signing in, importing posts, the
voice profile, the playground, a fan who chats in the space (the overview's counters move),
reloads and finds the chat again, the creator taking that conversation over and answering in
person, and the persona card exported and imported into a second new account.

Screenshots at 1280 and 390 px go to $PERSONA_SHOTS (default /tmp/persona-shots), not git."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingest.demo import DEMO_CREATOR_ID, DEMO_DISPLAY_NAME
from tests.console_support import PASSWORD, ConsoleServer

REPO = Path(__file__).resolve().parents[1]

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]  # fmt: skip
SHOTS = Path(os.environ.get("PERSONA_SHOTS", "/tmp/persona-shots"))
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


COPY_ID = "camille.copy"


@pytest.fixture
def server(demo_dir: Path) -> Iterator[ConsoleServer]:
    console = ConsoleServer(demo_dir)
    console.start()
    try:
        yield console
    finally:
        console.stop()


def readme_account(data_dir: Path, creator_id: str, name: str) -> str:
    """The README's piped `create-creator` command, run as written (for another creator: its
    id and name swapped), against the server's data directory."""
    readme = (REPO / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", readme, re.S)
    command = next(b.strip() for b in blocks if "create-creator" in b and "--password-stdin" in b)
    command = command.replace(DEMO_CREATOR_ID, creator_id).replace(DEMO_DISPLAY_NAME, name)
    command = command.replace(".venv/bin/persona", str(REPO / ".venv" / "bin" / "persona"))
    env = {**os.environ, "PERSONA_DATA_DIR": str(data_dir), "PERSONA_LOG_LEVEL": "WARNING"}
    done = subprocess.run(
        ["bash", "-c", command], env={**env, "PASSWORD": PASSWORD}, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def sign_in(page: Any, url: str, creator_id: str) -> None:
    page.goto(f"{url}/console/login")
    page.get_by_label("Creator id", exact=True).fill(creator_id)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{url}/console")


def shoot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for label, size in (("1280", DESKTOP), ("390", PHONE)):
        page.set_viewport_size(size)
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(SHOTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size(DESKTOP)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Chromium (apt-get install chromium)")
def test_a_newcomer_walks_from_the_readme_to_a_persona_card(
    server: ConsoleServer, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    url = server.url
    # 0. The console account, made as the README says (it prints where to sign in).
    assert "/console/login" in readme_account(server.data_dir, DEMO_CREATOR_ID, DEMO_DISPLAY_NAME)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            creator = browser.new_context(viewport=DESKTOP, accept_downloads=True).new_page()
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
            sign_in(creator, url, DEMO_CREATOR_ID)

            # 3b. Import posts (pasted), with progress, then the voice profile they feed.
            creator.goto(f"{url}/console/import")
            creator.get_by_label("Posts, separated by an empty line", exact=True).fill(
                "new lemon tart recipe on sunday 🍋\n\n"
                "the brioche is resting, see you at the market\n\n"
                "merci for all your messages about the croissants!"
            )
            creator.get_by_role("button", name="Import the text").click()
            expect(creator.locator("#progress-status")).to_contain_text(
                "Done: 3 new posts", timeout=120_000
            )
            expect(creator.locator("#recent-imports")).to_contain_text("pasted posts")
            shoot(creator, "import")
            creator.get_by_role("link", name="See your voice profile").click()
            creator.wait_for_url(f"{url}/console/profile")
            expect(creator.locator("#chart-topics")).to_contain_text("% of your posts")
            shoot(creator, "profile")

            # 3c. The playground: what the double would answer, and the posts it drew on.
            creator.goto(f"{url}/console/voice")
            creator.get_by_label("Fan message", exact=True).fill("any tip for the lemon tart?")
            creator.get_by_role("button", name="See the reply").click()
            expect(creator.locator("#reply-text")).to_contain_text(
                "thanks for writing", timeout=120_000
            )
            shoot(creator, "playground")

            # 3d. The overview stays open while a fan chats: its counters move by themselves.
            creator.goto(f"{url}/console")
            replies = creator.locator('[data-counter="ai_replies"]')
            replies_before = replies.inner_text()

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
            expect(replies).to_have_text(str(int(replies_before) + 1))
            shoot(creator, "overview")
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

            # 6. Export the persona card from Settings ...
            creator.goto(f"{url}/console/settings")
            with creator.expect_download() as download:
                creator.get_by_role("link", name="Export persona card").click()
            card_path = tmp_path / download.value.suggested_filename
            download.value.save_as(card_path)
            card = json.loads(card_path.read_text())
            assert card["spec"] == "chara_card_v2" and card["data"]["name"] == DEMO_DISPLAY_NAME
            # ... and seed a second new account with it, made the README's way.
            readme_account(server.data_dir, COPY_ID, "Camille's copy")
            creator.get_by_role("button", name="Sign out").click()
            sign_in(creator, url, COPY_ID)
            creator.goto(f"{url}/console/import")
            creator.get_by_label("Persona card", exact=True).set_input_files(str(card_path))
            creator.get_by_role("button", name="Import the card").click()
            creator.wait_for_url(f"{url}/console/profile*", timeout=120_000)
            expect(creator.locator(".banner-ok")).to_contain_text("persona card is imported")
            shoot(creator, "card-imported")
            copy = browser.new_context(viewport=PHONE).new_page()
            copy.goto(f"{url}/space/{COPY_ID}")
            # The card's default greeting names the character {{char}}: the copy's own name.
            assert "{{char}}" in card["data"]["first_mes"]
            expect(copy.locator("#greeting .text")).to_contain_text("I'm Camille's copy's AI")
            shoot(copy, "space-of-the-copy")
            assert errors == []
        finally:
            browser.close()
