"""The creator console end to end in a real browser (Debian's Chromium driven by Playwright)
against the real server in a subprocess: sign in, import posts, read the profile, try the
playground, change settings and see the next reply follow them, approve a held reply, pause
the AI, follow a live stream, make avatars and download them. Every page is photographed at
desktop and phone width into artifacts/screenshots/ (kept out of git)."""

from __future__ import annotations

import json
import shutil
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from channels.services import Services
from ingest.demo import DEMO_CREATOR_ID, demo_posts_path
from tests.conftest import RealLLM, make_settings
from tests.console_support import (
    PASSWORD,
    WEBHOOK_PLATFORM,
    WEBHOOK_SECRET,
    ConsoleServer,
    add_account,
)

REPO = Path(__file__).resolve().parents[1]
SHOTS = REPO / "artifacts" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
CREATOR = "lena.bakes"
OTHER = "otto.grills"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed: run .ci/browser-deps (apt-get install chromium)")
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def prepare(data_dir: Path, *accounts: tuple[str, str]) -> None:
    """A migrated data dir with console accounts (what `persona admin create-creator` does)."""
    services = Services.build(make_settings(data_dir))
    try:
        for creator_id, name in accounts:
            add_account(services.db, creator_id, name)
    finally:
        services.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ConsoleServer]:
    data_dir = tmp_path / "data"
    prepare(data_dir, (CREATOR, "Lena"), (OTHER, "Otto"))
    console = ConsoleServer(data_dir)
    console.start()
    try:
        yield console
    finally:
        console.stop()


def expect(locator: Any) -> Any:
    """Playwright's retrying assertions (the page may still be navigating after a click)."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def shoot(page: Any, name: str) -> None:
    """The page at desktop and phone width (full length), then back to desktop."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        # From the top: a sticky header would otherwise be drawn mid-page.
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(SHOTS / f"console-{name}-{label}.png"), full_page=True)
    page.set_viewport_size(DESKTOP)


def sign_in(page: Any, url: str, creator_id: str) -> None:
    page.goto(f"{url}/console")
    assert "/console/login" in page.url
    page.get_by_label("Creator id", exact=True).fill(creator_id)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{url}/console")


def send_dm(url: str, creator_id: str, message_id: str, text: str) -> None:
    from channels.inbox.signing import signed_headers

    body = json.dumps(
        {
            "type": "dm",
            "creator_id": creator_id,
            "message_id": message_id,
            "fan": {"id": "fan-42", "handle": "mia", "name": "Mia"},
            "text": text,
        }
    ).encode()
    headers = {"Content-Type": "application/json", **signed_headers(WEBHOOK_SECRET, body)}
    response = httpx.post(f"{url}/webhooks/{WEBHOOK_PLATFORM}", content=body, headers=headers)
    assert response.status_code == 202, response.text


def reload_until(page: Any, selector: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if page.locator(selector).count():
            return
        time.sleep(0.5)
        page.reload()
    raise AssertionError(f"{selector} never appeared on {page.url}")


def selfies(folder: Path, n: int = 3) -> list[str]:
    from avatar.testing import selfie_uploads

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for upload in selfie_uploads(n):
        path = folder / upload.filename
        path.write_bytes(upload.data)
        paths.append(str(path))
    return paths


@pytest.mark.slow
def test_a_creator_runs_their_double_from_the_console(
    browser: Any, server: ConsoleServer, tmp_path: Path
) -> None:
    url = server.url
    context = browser.new_context(viewport=DESKTOP, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # Every asset is the platform's own and nothing is inline: no CSP violation anywhere.
    page.on(
        "console",
        lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None,
    )

    # 1. Sign in.
    page.goto(f"{url}/console/login")
    shoot(page, "login")
    sign_in(page, url, CREATOR)

    # 2. Import posts, with a progress bar, then read the profile.
    page.goto(f"{url}/console/import")
    # The first 100 posts of the demo creator (all 342 take half a minute to embed here).
    posts = tmp_path / "my-posts.jsonl"
    posts.write_text("".join(demo_posts_path().read_text().splitlines(keepends=True)[:100]))
    page.get_by_label("File of posts", exact=True).set_input_files(str(posts))
    page.get_by_role("button", name="Import the file").click()
    page.locator("#progress-status").filter(has_text="Done:").wait_for(timeout=180_000)
    assert page.locator("#progress-bar").get_attribute("value") == "100"
    shoot(page, "import")
    page.get_by_role("link", name="See your voice profile").click()
    page.wait_for_url(f"{url}/console/profile")
    assert "Measured on your 100 posts" in page.locator("main").inner_text()
    assert "🍋" in page.locator("#chart-emoji").inner_text()
    shoot(page, "profile")
    page.goto(f"{url}/console")
    shoot(page, "overview")

    # 3. The playground: a reply, its label and the posts it drew on.
    page.goto(f"{url}/console/voice")
    page.get_by_label("Fan message", exact=True).fill(
        "Your lemon tart is the best, any tip for the crust?"
    )
    page.get_by_role("button", name="See the reply").click()
    assert "thanks for writing" in page.locator("#reply-text").inner_text()
    assert page.locator("#reply-sources li").count() >= 1
    shoot(page, "voice")

    # 4. A boundary set in Settings changes the very next reply.
    page.goto(f"{url}/console/settings")
    page.get_by_label("AI label shown with every reply", exact=True).fill("Lena's AI double")
    page.get_by_label("Topics it must never discuss", exact=True).fill("politics")
    page.get_by_label("Tone of its ready-made replies", exact=True).select_option("playful")
    page.get_by_role("button", name="Save label and boundaries").click()
    assert "Saved." in page.locator(".banner-ok").inner_text()
    # ... and direct messages now wait for review.
    dm = page.locator("#channel-dm")
    dm.locator("summary").click()
    dm.get_by_label("I review every reply first", exact=True).check()
    dm.get_by_role("button", name="Save direct messages").click()
    expect(page.locator("#channel-dm .tag")).to_have_text("review")
    shoot(page, "settings")
    page.goto(f"{url}/console/voice")
    page.get_by_label("Fan message", exact=True).fill("What do you think of politics?")
    page.get_by_role("button", name="See the reply").click()
    assert "off the menu here" in page.locator("#reply-text").inner_text()
    assert page.locator("#reply-label").inner_text() == "Lena's AI double"

    # 5. A fan's DM is held for review; approve it edited.
    send_dm(url, CREATOR, "dm-1", "Hi Lena! Will you post the croissant recipe soon?")
    page.goto(f"{url}/console/approvals")
    reload_until(page, "li.held")
    held = page.locator("li.held").first
    assert "croissant recipe" in held.inner_text()
    shoot(page, "approvals")
    held.get_by_label("The AI's reply (edit it if you like)", exact=True).fill(
        "yes! sunday, promise 🥐"
    )
    held.get_by_role("button", name="Approve and send").click()
    assert "Approved" in page.locator(".banner-ok").inner_text()
    expect(page.locator("#no-held")).to_be_visible()

    # 6. Conversations: the approved exchange, flagged "not me".
    page.goto(f"{url}/console/conversations")
    page.get_by_role("link", name="Mia").click()
    page.wait_for_url(f"{url}/console/conversations/*")
    assert "yes! sunday, promise 🥐" in page.locator("main").inner_text()
    page.get_by_text("This is not me").click()
    page.get_by_label("What is wrong?").fill("I never promise dates")
    page.get_by_role("button", name="Flag as “not me”").click()
    expect(page.locator(".tag-error", has_text="not me")).to_have_count(1)
    shoot(page, "conversation")
    page.goto(f"{url}/console/conversations")
    shoot(page, "conversations")
    page.goto(f"{url}/console/flags")
    assert "I never promise dates" in page.locator("main").inner_text()
    shoot(page, "flags")

    # 7. The kill switch, from any page: the next reply is not sent.
    page.goto(f"{url}/console/voice")
    page.get_by_role("button", name="Pause AI").click()
    expect(page.locator(".banner-paused")).to_be_visible()
    page.get_by_label("Fan message", exact=True).fill("are you there?")
    page.get_by_role("button", name="See the reply").click()
    assert "your AI is paused" in page.locator("#reply-action").inner_text()
    shoot(page, "paused")
    page.get_by_role("button", name="Resume AI").click()
    expect(page.locator(".banner-paused")).to_have_count(0)

    # 8. Live: a stream's questions, answers and skips appear while the page is open.
    follow_live_stream(page, server)

    # 9. The avatar studio: verdicts, styles, progress that ends, keeping, downloads.
    make_avatars(page, url, tmp_path)

    # 10. Another creator cannot reach any of it.
    other = browser.new_context(viewport=DESKTOP).new_page()
    sign_in(other, url, OTHER)
    other.goto(f"{url}/console/conversations")
    assert "0 conversations" in other.locator("main").inner_text()
    response = other.goto(f"{url}/console/conversations/1")
    assert response is not None and response.status == 404
    api = other.request.get(f"{url}/api/creators/{CREATOR}/avatar/jobs")
    assert api.status == 403
    other.context.close()
    context.close()
    assert errors == []


def follow_live_stream(page: Any, server: ConsoleServer) -> None:
    from websockets.sync.client import connect

    from channels.deps import new_api_token

    url = server.url
    # The platform's chat feed authenticates with the creator's API token.
    services = Services.build(make_settings(server.data_dir), migrate=False)
    try:
        token = new_api_token(services, CREATOR)
    finally:
        services.close()
    page.goto(f"{url}/console/live")
    assert page.locator("#no-streams").is_visible()
    ws_url = url.replace("http://", "ws://") + f"/ws/live/{CREATOR}/sunday-live/in?token={token}"
    question = "how long do you rest the croissant dough?"
    frame = [
        {"kind": "chat", "id": str(i), "user": f"v{i}", "name": f"Viewer {i}", "text": text}
        for i, text in enumerate(
            [question, question, question, "lol", "free followers http://x.example"]
        )
    ]
    with connect(ws_url) as feed:
        feed.send(json.dumps(frame))
        assert json.loads(feed.recv())["received"] == 5
        page.locator(".stream ol.answers li").first.wait_for(timeout=60_000)
        text = page.locator("#live-streams").inner_text()
        assert "croissant dough" in text and "spam" in text and "chatter" in text
        shoot(page, "live")


def make_avatars(page: Any, url: str, tmp_path: Path) -> None:
    page.goto(f"{url}/console/avatar")
    page.locator("#styles input[name=styles]").first.wait_for()
    page.get_by_label("Photos of you").set_input_files(selfies(tmp_path / "selfies"))
    page.get_by_role("button", name="Check my photos").click()
    page.locator("#verdicts li.ok").nth(2).wait_for(timeout=120_000)
    styles = page.locator("#styles input[name=styles]")
    styles.nth(0).check()
    styles.nth(1).check()
    shoot(page, "avatar-setup")
    page.get_by_role("button", name="Make my avatars").click()
    page.locator("#outputs li.output").first.wait_for(timeout=240_000)
    outputs = page.locator("#outputs li.output")
    count = outputs.count()
    assert count >= 2
    # Each avatar shows its likeness; the job its median likeness and variety (issue 20).
    assert outputs.nth(0).locator(".likeness").inner_text().startswith("Likeness 0.")
    assert "Variety:" in page.locator("#job-report").inner_text()
    # The progress ended with the job: no bar left behind once the avatars are shown.
    expect(page.locator("#job-step")).to_be_hidden()
    # One primary action per avatar; the others behind "More".
    first = outputs.nth(0)
    assert first.locator("button:visible, a:visible, input:visible").count() == 1
    first.get_by_role("button", name="Keep Avatar 1", exact=False).click()
    expect(first.get_by_role("button", name="Keep Avatar 1", exact=False)).to_have_text("★ Kept")
    first.locator("summary").click()
    first.get_by_role("button", name="Use as my profile picture").click()
    page.locator("#studio-status").filter(has_text="profile picture").wait_for()
    with page.expect_download() as one:
        first.get_by_role("link", name="Download").click()
    assert one.value.suggested_filename.endswith(".jpg")
    outputs.nth(1).get_by_role("button", name="Keep Avatar 2", exact=False).click()
    expect(page.get_by_role("button", name="Download the 2 kept")).to_be_enabled()
    with page.expect_download() as several:
        page.get_by_role("button", name="Download the 2 kept").click()
    with zipfile.ZipFile(several.value.path()) as archive:
        assert len([n for n in archive.namelist() if n.endswith(".jpg")]) == 2
    with page.expect_download() as everything:
        page.get_by_role("link", name="Download all").click()
    with zipfile.ZipFile(everything.value.path()) as archive:
        assert len([n for n in archive.namelist() if n.endswith(".jpg")]) == count
    shoot(page, "avatar-results")


@pytest.mark.slow
def test_the_playground_with_the_real_model(
    browser: Any, real_llm: RealLLM, demo_dir: Path, tmp_path: Path
) -> None:
    data_dir = tmp_path / "real"
    shutil.copytree(demo_dir, data_dir)
    prepare(data_dir, (DEMO_CREATOR_ID, "Camille Roux"))
    env = {
        "PERSONA_LLM_BACKEND": "openai",
        "PERSONA_LLM_BASE_URL": real_llm.url,
        "PERSONA_LLM_API_KEY": real_llm.api_key,
        "PERSONA_LLM_MODEL": real_llm.model,
        "PERSONA_REPLY_CANDIDATES": "1",
    }
    console = ConsoleServer(data_dir, env)
    console.start()
    try:
        page = browser.new_context(viewport=DESKTOP).new_page()
        page.set_default_timeout(120_000)
        sign_in(page, console.url, DEMO_CREATOR_ID)
        page.goto(f"{console.url}/console/voice")
        page.get_by_label("Fan message", exact=True).fill(
            "Coucou Camille ! Ta tarte au citron, c'est quoi le secret ?"
        )
        page.get_by_role("button", name="See the reply").click()
        reply = page.locator("#reply-text").inner_text()
        assert reply.strip() and reply != "(no reply)"
        assert "thanks for writing" not in reply  # a real model, not the test double
        assert page.locator("#reply-sources li").count() >= 1
        shoot(page, "voice-real-model")
        page.context.close()
    finally:
        console.stop()
