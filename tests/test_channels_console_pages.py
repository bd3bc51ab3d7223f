"""The creator console in-process (TestClient, the scripted model, the demo creator): sign-in,
CSRF, every page, settings, the kill switch, approvals, conversations and "not me" flags,
imports with progress, and one creator never reaching another's data."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from channels.console.history import evaluation_set
from channels.console.models import ConsoleImport, ReplyFlag
from channels.inbox import store as inbox_store
from channels.inbox.models import OutboxReply, ReplyStatus
from channels.inbox.policy import load_policy
from channels.inbox.protocol import inbound_event
from ingest.demo import DEMO_CREATOR_ID
from persona.engine import Channel
from persona.engine.memory import ConversationStore
from persona.store import Creator
from tests.conftest import make_settings
from tests.console_support import add_account, build_app, csrf_of, sign_in

PAGES = (
    "/console",
    "/console/import",
    "/console/profile",
    "/console/voice",
    "/console/settings",
    "/console/approvals",
    "/console/conversations",
    "/console/live",
    "/console/avatar",
    "/console/flags",
)
OTHER = "bruno.bakes"


@pytest.fixture
def client(demo_dir: Path) -> Iterator[TestClient]:
    app = build_app(make_settings(demo_dir), avatar=False)
    with TestClient(app, base_url="http://console.test") as test_client:
        db = test_client.app.state.services.db
        add_account(db, DEMO_CREATOR_ID)
        add_account(db, OTHER, "Bruno")
        yield test_client


@pytest.fixture
def csrf(client: TestClient) -> str:
    return sign_in(client, DEMO_CREATOR_ID)


def creator_settings(client: TestClient, creator_id: str = DEMO_CREATOR_ID) -> dict:
    with client.app.state.services.db.session() as session:
        return dict(session.get(Creator, creator_id).settings or {})


def held_reply(
    client: TestClient, creator_id: str, n: int, text: str = "merci, à dimanche ✨"
) -> int:
    """A reply the inbox held for review, written through the inbox's own store."""
    db = client.app.state.services.db
    now = datetime.now(UTC)
    event = inbound_event.validate_python(
        {
            "type": "dm",
            "creator_id": creator_id,
            "message_id": f"msg-{creator_id}-{n}",
            "fan": {"id": f"fan-{n}", "handle": f"fan{n}", "name": f"Fan {n}"},
            "text": f"question {n}: tu fais quoi dimanche ?",
        }
    )
    accepted = inbox_store.accept_event(db, "testgram", event, None, now)
    assert inbox_store.claim_one(db, "test", accepted.event_id, 30, now) is not None
    reply = OutboxReply(
        event_id=accepted.event_id,
        creator_id=creator_id,
        platform="testgram",
        channel="dm",
        thread_key=event.thread_key,
        in_reply_to=event.message_id,
        fan_id=event.fan.id,
        text=text,
        label="AI reply",
        action="hold",
        category="ok",
        review_reason="this channel is in review mode",
        status=ReplyStatus.HELD,
    )
    reply_id = inbox_store.finish_with_reply(db, "test", reply, now)
    assert reply_id is not None
    return reply_id


def conversation(
    client: TestClient, creator_id: str, fan: str, turns: list[tuple[str, str]]
) -> tuple[int, list[int]]:
    store = ConversationStore(client.app.state.services.db)
    state = store.open(creator_id, Channel.DM, fan, fan, fan.title(), 0)
    ids = [store.record(state, f, r, {"label": "AI", "action": "send"}) for f, r in turns]
    return state.conversation_id, ids


# -- sign-in and CSRF ------------------------------------------------------------------------


def test_pages_send_strangers_to_the_sign_in_page(client: TestClient) -> None:
    for page in PAGES:
        response = client.get(page, follow_redirects=False)
        assert response.status_code == 303, page
        assert response.headers["location"].startswith("/console/login?next=")
    login = client.get("/console/login")
    assert login.status_code == 200
    assert 'autocomplete="current-password"' in login.text
    assert "default-src 'self'" in login.headers["content-security-policy"]
    # The JSON API still wants a token or a session.
    assert client.get(f"/api/creators/{DEMO_CREATOR_ID}/profile").status_code == 401


def test_wrong_password_and_stale_login_form_are_refused(client: TestClient) -> None:
    page = client.get("/console/login")
    token = page.text.split('name="login_token" value="')[1].split('"')[0]
    wrong = client.post(
        "/console/login",
        data={"creator_id": DEMO_CREATOR_ID, "password": "not the password", "login_token": token},
        follow_redirects=False,
    )
    assert wrong.status_code == 401 and "Wrong creator id or password" in wrong.text
    client.cookies.clear()
    stale = client.post(
        "/console/login",
        data={"creator_id": DEMO_CREATOR_ID, "password": "correct horse battery staple"},
        follow_redirects=False,
    )
    assert stale.status_code == 401 and "sign in again" in stale.text


def test_every_page_renders_for_a_signed_in_creator(client: TestClient, csrf: str) -> None:
    for page in PAGES:
        response = client.get(page)
        assert response.status_code == 200, page
        assert response.headers["cache-control"] == "no-store"
        assert "Pause AI" in response.text  # the kill switch is on every page
        assert 'aria-current="page"' in response.text or page == "/console/flags"
    profile = client.get("/console/profile").text
    assert "Phrases you repeat" in profile and "🍋" in profile and "French" in profile
    assert "What your AI is told about your style" in profile
    # The topic chart has a unit: the share of the creator's posts using each word.
    topics = profile.split('id="chart-topics"')[1].split("</figure>")[0]
    assert "% of your posts" in topics and re.search(r'class="bar-value"[^>]*>\d+%<', topics)


def test_the_overview_counters_are_served_for_the_page_to_update(
    client: TestClient, csrf: str
) -> None:
    page = client.get("/console").text
    assert 'data-counter="held"' in page and "counters.js" in page
    response = client.get("/console/counters")
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    counts = response.json()
    assert counts["posts"] > 0 and counts["held"] == 0
    assert f'data-counter="posts">{counts["posts"]}<' in page


def test_topic_shares_count_each_post_once() -> None:
    from channels.console.profile_view import topic_shares

    texts = ["Lemon tart, lemon curd", "the tart again", "croissants"]
    assert topic_shares(["lemon", "tart"], texts) == {"lemon": 1 / 3, "tart": 2 / 3}
    assert topic_shares(["lemon"], []) == {}


def test_static_assets_are_served_by_the_platform(client: TestClient) -> None:
    for name in ("console.css", "console.js", "import.js", "live.js", "avatar.js", "counters.js"):
        response = client.get(f"/console/static/{name}")
        assert response.status_code == 200 and response.content
    assert client.get("/console/static/../web.py").status_code == 404
    assert client.get("/console/static/missing.js").status_code == 404


def test_forms_and_the_api_need_the_csrf_token(client: TestClient, csrf: str) -> None:
    assert client.post("/console/pause", data={}).status_code == 403
    assert client.post("/console/pause", data={"csrf_token": "forged"}).status_code == 403
    assert not creator_settings(client).get("paused")
    # The session works for the JSON API only with the token in the header.
    api = f"/api/creators/{DEMO_CREATOR_ID}/pause"
    assert client.post(api).status_code == 401
    assert client.post(api, headers={"X-CSRF-Token": csrf}).json()["paused"] is True
    # A request from another site gets no session at all, token or not.
    forged = client.post(
        f"/api/creators/{DEMO_CREATOR_ID}/resume",
        headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"},
    )
    assert forged.status_code == 401
    assert creator_settings(client)["paused"] is True


def test_sign_out_ends_the_session(client: TestClient, csrf: str) -> None:
    response = client.post("/console/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == 303
    assert client.get("/console", follow_redirects=False).status_code == 303


# -- kill switch, playground, settings -------------------------------------------------------


def test_the_kill_switch_pauses_everything_from_any_page(client: TestClient, csrf: str) -> None:
    response = client.post(
        "/console/pause",
        data={"csrf_token": csrf, "back": "/console/settings"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/console/settings?notice=paused"
    assert creator_settings(client)["paused"] is True
    page = client.get("/console/approvals").text
    assert "Your AI is paused." in page and "Resume AI" in page
    reply = client.post("/console/voice", data={"csrf_token": csrf, "message": "coucou !"})
    assert "sends nothing: your AI is paused" in reply.text
    # An outside redirect target is ignored.
    back = client.post(
        "/console/resume",
        data={"csrf_token": csrf, "back": "https://evil.example/"},
        follow_redirects=False,
    )
    assert back.headers["location"] == "/console?notice=resumed"
    assert creator_settings(client)["paused"] is False


def test_the_playground_shows_the_reply_and_its_sources(client: TestClient, csrf: str) -> None:
    page = client.post(
        "/console/voice",
        data={"csrf_token": csrf, "message": "your lemon tart recipe, any tip for the crust?"},
    )
    assert page.status_code == 200
    assert "thanks for writing" in page.text  # the scripted model's answer
    assert 'id="reply-sources"' in page.text and "similarity" in page.text
    assert "lemon" in page.text.split('id="reply-sources"')[1].lower()
    # Nothing was recorded.
    assert "0 conversations" in client.get("/console/conversations").text


def test_a_boundary_takes_effect_on_the_next_reply(client: TestClient, csrf: str) -> None:
    no_answer = "Ça, je le garde pour moi 🙏"
    form = {
        "csrf_token": csrf,
        "ai_label": "Camille's AI double",
        "forbidden_topics": "",
        "forbidden_statements": "my home address",
        "no_answer_message_fr": no_answer,
        "style_hint": "playful",
    }
    assert client.post("/console/settings/boundaries", data=form).status_code == 200
    before = client.post(
        "/console/voice", data={"csrf_token": csrf, "message": "What do you think of politics?"}
    )
    assert "thanks for writing" in before.text  # not a boundary yet: the model answered
    saved = client.post(
        "/console/settings/boundaries",
        data={**form, "forbidden_topics": "politics\npolitics\nmy family"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    settings = creator_settings(client)
    assert settings["forbidden_topics"] == ["politics", "my family"]
    assert settings["no_answer_messages"] == {"fr": no_answer}
    assert settings["style_hint"] == "playful"
    after = client.post(
        "/console/voice", data={"csrf_token": csrf, "message": "What do you think of politics?"}
    )
    assert "thanks for writing" not in after.text
    assert "asks about a forbidden topic: politics" in after.text
    assert "off the menu here" in after.text  # the playful ready-made reply
    assert "Camille&#39;s AI double" in after.text  # the new label


def test_channel_settings_are_validated_and_stored_as_policies(
    client: TestClient, csrf: str
) -> None:
    form = {
        "csrf_token": csrf,
        "enabled": "on",
        "mode": "review",
        "max_chars": "300",
        "fan_rate_count": "3",
        "fan_rate_per_s": "60",
        "channel_rate_count": "100",
        "channel_rate_per_s": "60",
        "delay_min_s": "1",
        "delay_max_s": "5",
        "hours_on": "on",
        "hours_start": "09:00",
        "hours_end": "21:30",
        "hours_timezone": "Europe/Paris",
        "hours_days": ["1", "2", "3", "4", "5"],
        "channel_ai_label": "AI (DM)",
    }
    assert (
        client.post("/console/settings/channels/dm", data=form, follow_redirects=False).status_code
        == 303
    )
    policy = load_policy(creator_settings(client), "dm")
    assert policy.mode == "review" and policy.max_chars == 300 and policy.enabled
    assert policy.active_hours is not None and policy.active_hours.days == [1, 2, 3, 4, 5]
    assert policy.active_hours.timezone == "Europe/Paris" and policy.ai_label == "AI (DM)"
    assert 'value="review" checked' in client.get("/console/settings").text

    bad = client.post(
        "/console/settings/channels/dm",
        data={**form, "hours_timezone": "Mars/Olympus", "delay_max_s": "0.5", "max_chars": "5"},
    )
    assert bad.status_code == 422
    assert "unknown time zone" in bad.text
    assert load_policy(creator_settings(client), "dm").max_chars == 300  # unchanged

    live = client.post(
        "/console/settings/channels/live",
        data={**form, "hours_on": "", "live_cadence_s": "6"},
        follow_redirects=False,
    )
    assert live.status_code == 303
    # One key for the live channel, its cadence included (the stream reads nothing else).
    assert "live" not in creator_settings(client)
    assert load_policy(creator_settings(client), "live").model_dump()["cadence_s"] == 6.0
    paused = {**form, "hours_on": "", "live_cadence_s": "6", "paused": "on"}
    client.post("/console/settings/channels/live", data=paused)
    assert load_policy(creator_settings(client), "live").paused
    assert client.post("/console/settings/channels/fax", data=form).status_code == 404


def test_review_mode_shows_in_the_playground(client: TestClient, csrf: str) -> None:
    with client.app.state.services.db.session() as session:
        creator = session.get(Creator, DEMO_CREATOR_ID)
        creator.settings = {**creator.settings, "channels": {"comment": {"mode": "review"}}}
    page = client.post(
        "/console/voice", data={"csrf_token": csrf, "message": "trop beau !", "channel": "comment"}
    )
    assert "would wait in your approvals" in page.text


# -- approvals -------------------------------------------------------------------------------


def test_held_replies_can_be_approved_edited_or_rejected(client: TestClient, csrf: str) -> None:
    first = held_reply(client, DEMO_CREATOR_ID, 1)
    second = held_reply(client, DEMO_CREATOR_ID, 2)
    page = client.get("/console/approvals").text
    assert "question 1: tu fais quoi dimanche ?" in page and "Fan 2" in page
    assert "this channel is in review mode" in page

    edited = "merci ! dimanche c'est brioche 🥐"
    response = client.post(
        f"/console/approvals/{first}/approve",
        data={"csrf_token": csrf, "text": edited},
        follow_redirects=False,
    )
    assert response.status_code == 303
    db = client.app.state.services.db
    reply = inbox_store.get_reply(db, DEMO_CREATOR_ID, first)
    # Approved: queued for delivery, or already delivered if the outbox was quick.
    assert reply.status in (ReplyStatus.PENDING, ReplyStatus.SENT) and reply.text == edited
    assert reply.original_text == "merci, à dimanche ✨"

    client.post(
        f"/console/approvals/{second}/reject", data={"csrf_token": csrf, "reason": "too short"}
    )
    assert inbox_store.get_reply(db, DEMO_CREATOR_ID, second).status == ReplyStatus.REJECTED
    assert "Nothing is waiting for you." in client.get("/console/approvals").text
    again = client.post(f"/console/approvals/{second}/approve", data={"csrf_token": csrf})
    assert again.status_code == 409


# -- conversations and "not me" ----------------------------------------------------------------


def test_conversations_are_searchable_and_replies_can_be_flagged(
    client: TestClient, csrf: str
) -> None:
    conv, ids = conversation(
        client,
        DEMO_CREATOR_ID,
        "lea",
        [
            ("tu as un chien ?", "oui, Brioche le beagle !"),
            ("il a quel âge ?", "As an AI I cannot say."),
        ],
    )
    conversation(
        client, DEMO_CREATOR_ID, "marc", [("recette du pain ?", "farine, eau, sel, temps")]
    )
    listing = client.get("/console/conversations").text
    assert "2 conversations" in listing
    found = client.get("/console/conversations", params={"q": "beagle"}).text
    assert "1 conversation." in found and f"/console/conversations/{conv}" in found
    assert "1 conversation." in client.get("/console/conversations", params={"fan": "mar"}).text
    assert (
        "0 conversations" in client.get("/console/conversations", params={"channel": "live"}).text
    )

    detail = client.get(f"/console/conversations/{conv}").text
    assert "oui, Brioche le beagle !" in detail and "This is not me" in detail
    response = client.post(
        f"/console/messages/{ids[1]}/flag",
        data={"csrf_token": csrf, "note": "I never say that", "better": "il a 4 ans 🐶"},
        follow_redirects=False,
    )
    assert response.headers["location"] == f"/console/conversations/{conv}?notice=flagged#m{ids[1]}"
    assert evaluation_set(client.app.state.services.db, DEMO_CREATOR_ID) == [
        {
            "fan": "il a quel âge ?",
            "reply": "As an AI I cannot say.",
            "note": "I never say that",
            "better": "il a 4 ans 🐶",
            "channel": "dm",
        }
    ]
    assert "I never say that" in client.get("/console/flags").text
    # Only AI replies can be flagged; fan messages cannot.
    fan_message_id = ids[1] - 1  # recorded just before the reply
    assert (
        client.post(
            f"/console/messages/{fan_message_id}/flag", data={"csrf_token": csrf}
        ).status_code
        == 404
    )
    client.post(f"/console/messages/{ids[1]}/unflag", data={"csrf_token": csrf})
    assert evaluation_set(client.app.state.services.db, DEMO_CREATOR_ID) == []


# -- imports ---------------------------------------------------------------------------------


def wait_import(client: TestClient, status_url: str, timeout_s: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = client.get(status_url).json()
        if job["finished"]:
            return job
        time.sleep(0.2)
    raise AssertionError("the import did not finish")


def test_an_upload_is_imported_with_progress_and_builds_the_profile(client: TestClient) -> None:
    csrf = sign_in(client, OTHER)
    assert "No profile yet" in client.get("/console/profile").text
    posts = [
        {"id": str(i), "text": f"fresh sourdough batch number {i} today, the crumb is so open 🍞"}
        for i in range(12)
    ] + [{"id": "x", "text": "croissants on sunday, who is in? 🥐"}]
    body = "\n".join(json.dumps(p) for p in posts).encode()
    response = client.post(
        "/console/import",
        files={"posts": ("my posts.jsonl", body, "application/json")},
        headers={"X-CSRF-Token": csrf, "Accept": "application/json"},
    )
    assert response.status_code == 202, response.text
    job = wait_import(client, response.json()["status_url"])
    assert job["state"] == "done" and job["percent"] == 100
    assert job["report"]["added"] == 13 and job["report"]["parsed"] == 13
    profile = client.get("/console/profile").text
    assert "Measured on your 13 posts" in profile and "🍞" in profile
    assert client.get(f"/console/import/{job['id']}").status_code == 200
    # Every post is this creator's, whatever the file says.
    with client.app.state.services.db.session() as session:
        assert session.get(Creator, OTHER).profile["post_count"] == 13

    pasted = client.post(
        "/console/import",
        data={
            "csrf_token": csrf,
            "text": "first pasted post about bread\n\nsecond one, on cake 🎂",
        },
        follow_redirects=False,
    )
    assert pasted.status_code == 303
    job_id = pasted.headers["location"].split("/console/import/")[1].split("?")[0]
    assert wait_import(client, f"/console/import/{job_id}/status")["report"]["added"] == 2


def test_bad_uploads_are_refused_with_a_reason(client: TestClient) -> None:
    csrf = sign_in(client, OTHER)
    headers = {"X-CSRF-Token": csrf, "Accept": "application/json"}
    wrong_type = client.post(
        "/console/import",
        files={"posts": ("photo.exe", b"MZ", "application/octet-stream")},
        headers=headers,
    )
    assert wrong_type.status_code == 400 and "not a file of posts" in wrong_type.json()["detail"]
    broken = client.post(
        "/console/import",
        files={"posts": ("posts.jsonl", b'{"text": "ok"}\n{broken', "text/plain")},
        headers=headers,
    )
    job = wait_import(client, broken.json()["status_url"])
    assert job["state"] == "failed" and "posts.jsonl, line 2" in job["message"]
    assert "Nothing was imported" in job["message"]
    assert (
        client.post("/console/import", data={"csrf_token": "forged", "text": "x"}).status_code
        == 403
    )
    # One import at a time per creator.
    now = datetime.now(UTC)
    with client.app.state.services.db.session() as session:
        session.add(
            ConsoleImport(
                id="running-one", creator_id=OTHER, filename="big.csv", state="running",
                stage="embed", done=0, total=0, message="", report={},
                created_at=now, updated_at=now,
            )
        )  # fmt: skip
    busy = client.post("/console/import", data={"csrf_token": csrf, "text": "hello"})
    assert busy.status_code == 409 and "already running" in busy.text


# -- isolation -------------------------------------------------------------------------------


def test_a_creator_cannot_read_or_change_another_creators_data(client: TestClient) -> None:
    """Bruno signs in and tries every door to Camille's data."""
    held = held_reply(client, DEMO_CREATOR_ID, 7)
    conv, ids = conversation(client, DEMO_CREATOR_ID, "lea", [("salut", "coucou Léa !")])
    with client.app.state.services.db.session() as session:
        session.add(
            ConsoleImport(
                id="camilles-import",
                creator_id=DEMO_CREATOR_ID,
                filename="secret.csv",
                state="done",
                stage="profile",
                done=1,
                total=1,
                message="",
                report={"added": 1},
                created_at=datetime.now(UTC),
                updated_at=datetime.now(UTC),
            )
        )
    csrf = sign_in(client, OTHER)
    api = f"/api/creators/{DEMO_CREATOR_ID}"
    header = {"X-CSRF-Token": csrf}

    # Pages show only Bruno's own data ...
    assert "question 7" not in client.get("/console/approvals").text
    assert "0 conversations" in client.get("/console/conversations").text
    assert "secret.csv" not in client.get("/console/import").text
    assert "🍋" not in client.get("/console/profile").text
    # ... and Camille's objects read as not found.
    assert client.get(f"/console/conversations/{conv}").status_code == 404
    assert client.get("/console/import/camilles-import").status_code == 404
    assert client.get("/console/import/camilles-import/status").status_code == 404
    assert (
        client.post(f"/console/messages/{ids[0]}/flag", data={"csrf_token": csrf}).status_code
        == 404
    )
    assert (
        client.post(f"/console/approvals/{held}/approve", data={"csrf_token": csrf}).status_code
        == 404
    )
    assert (
        client.post(f"/console/approvals/{held}/reject", data={"csrf_token": csrf}).status_code
        == 404
    )
    # The JSON API refuses Bruno's session on Camille's paths, reads and writes alike.
    assert client.get(f"{api}/profile").status_code == 403
    assert client.get(f"{api}/approvals").status_code == 403
    assert client.post(f"{api}/pause", headers=header).status_code == 403
    assert client.post(f"{api}/approvals/{held}/approve", headers=header).status_code == 403
    assert (
        client.put(f"{api}/channels/dm", json={"mode": "review"}, headers=header).status_code == 403
    )
    assert client.get(f"{api}/live").status_code == 403

    # Nothing of Camille's changed.
    assert (
        inbox_store.get_reply(client.app.state.services.db, DEMO_CREATOR_ID, held).status
        == ReplyStatus.HELD
    )
    settings = creator_settings(client)
    assert not settings.get("paused") and "channels" not in settings
    with client.app.state.services.db.session() as session:
        assert session.scalars(select(ReplyFlag)).all() == []
    # Bruno's own kill switch is his alone.
    client.post("/console/pause", data={"csrf_token": csrf})
    assert creator_settings(client, OTHER)["paused"] is True
    assert not creator_settings(client).get("paused")
    assert csrf_of(client.get("/console").text) == csrf


# -- live dashboard --------------------------------------------------------------------------


def live_data_until(client: TestClient, check, timeout_s: float = 60.0) -> dict:  # noqa: ANN001
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        data = client.get("/console/live/data").json()
        if check(data):
            return data
        time.sleep(0.2)
    raise AssertionError(f"the live dashboard never showed it: {data}")


def test_the_live_dashboard_follows_a_stream(client: TestClient, csrf: str) -> None:
    from channels.deps import new_api_token

    assert client.get("/console/live/data").json() == {"streams": []}
    assert "No live stream right now" in client.get("/console/live").text
    # One answer a second, set from the console (the stream reads it while running).
    live_form = {
        "csrf_token": csrf, "enabled": "on", "mode": "auto", "max_chars": "160",
        "fan_rate_count": "6", "fan_rate_per_s": "60", "channel_rate_count": "120",
        "channel_rate_per_s": "60", "delay_min_s": "0", "delay_max_s": "0",
        "live_cadence_s": "1",
    }  # fmt: skip
    assert client.post("/console/settings/channels/live", data=live_form).status_code == 200
    token = new_api_token(client.app.state.services, DEMO_CREATOR_ID)
    question = "what is your favourite lemon tart recipe?"
    frame = [
        {"kind": "chat", "id": str(i), "user": f"viewer{i}", "name": f"Viewer {i}", "text": text}
        for i, text in enumerate(
            [
                question,
                question,
                "What is your favourite lemon tart recipe??",
                "lol",
                "buy followers at http://spam.example",
            ]
        )
    ]
    with client.websocket_connect(f"/ws/live/{DEMO_CREATOR_ID}/sunday-live/in?token={token}") as ws:
        ws.send_text(json.dumps(frame))
        ack = ws.receive_json()
        assert ack["received"] == 5
        data = live_data_until(client, lambda d: d["streams"] and d["streams"][0]["answers"])
    stream = data["streams"][0]
    assert stream["stream_id"] == "sunday-live" and stream["received"] == 5
    assert stream["top_questions"][0]["count"] == 3  # one cluster for the three askings
    assert "lemon tart" in stream["top_questions"][0]["question"]
    assert "lemon tart" in stream["answers"][0]["question"]
    assert "thanks for writing" in stream["answers"][0]["text"]
    skipped = {s["reason"]: s["count"] for s in stream["skipped"]}
    assert skipped == {"chatter": 1, "spam": 1}
    fragment = client.get("/console/live/fragment").text
    assert "sunday-live" in fragment and "What it skipped" in fragment


def test_the_voice_score_and_its_history(client: TestClient, csrf: str) -> None:
    from datetime import timedelta

    from persona.store import VoiceEval

    assert "Not measured yet" in client.get("/console/voice").text
    now = datetime.now(UTC)
    with client.app.state.services.db.session() as session:
        for days, score in ((2, 0.41), (1, 0.62)):
            session.add(
                VoiceEval(
                    creator_id=DEMO_CREATOR_ID,
                    created_at=now - timedelta(days=days),
                    attribution=score,
                    real_attribution=0.8,
                    style_distance=0.31,
                    copy_rate=0.0,
                    details={"replies": 20, "judge_accuracy": 0.7, "chance": 0.5},
                )
            )
        session.add(
            VoiceEval(
                creator_id=OTHER, attribution=0.05, real_attribution=0.9,
                style_distance=0.9, copy_rate=0.5, details={},
            )
        )  # fmt: skip
    page = client.get("/console/voice").text
    score = page.split('id="score"')[1]
    assert '<span class="score-value">62%</span>' in score
    assert "your real posts: 80%, chance: 50%" in score
    assert score.count("<tr><td>") == 2 and "41%" in score and "5%" not in score


def test_the_no_answer_text_is_set_per_language_and_reaches_the_fan(
    client: TestClient, csrf: str
) -> None:
    # An older single text (French here) shows in its language's field and moves there.
    with client.app.state.services.db.session() as session:
        creator = session.get(Creator, DEMO_CREATOR_ID)
        creator.settings = {
            **(creator.settings or {}),
            "no_answer_message": "Ça, je le garde pour moi 🙏",
            "no_answer_messages": {"es": "Eso me lo guardo 🙏"},
        }
    page = client.get("/console/settings").text
    assert 'name="no_answer_message_en"' in page and 'name="no_answer_message_fr"' in page
    field_fr = page.split('id="no_answer_message_fr"')[1].split("</textarea>")[0]
    assert "Ça, je le garde pour moi" in field_fr
    field_en = page.split('id="no_answer_message_en"')[1].split("</textarea>")[0]
    assert "garde" not in field_en

    english, french = "Can't say, sorry! Ask me anything else 💛", "Ça, je ne peux pas le dire 💛"
    form = {
        "csrf_token": csrf,
        "no_answer_message_en": english,
        "no_answer_message_fr": f"  {french}  ",
        "strict_grounding": "on",
    }
    saved = client.post("/console/settings/boundaries", data=form, follow_redirects=False)
    assert saved.status_code == 303
    settings = creator_settings(client)
    assert settings["no_answer_messages"] == {
        "es": "Eso me lo guardo 🙏",
        "en": english,
        "fr": french,
    }
    assert "no_answer_message" not in settings  # the legacy key moved into "fr"
    page = client.get("/console/settings").text
    assert english.replace("'", "&#39;") in page and french in page

    # A French fan's unverifiable factual question gets the French text, an English fan's the
    # English one (the scripted model's answer is no verified fact).
    french_reply = client.post(
        "/console/voice", data={"csrf_token": csrf, "message": "tu fais quelle pointure ?"}
    ).text
    reply_text = french_reply.split('id="reply-text">')[1].split("</p>")[0]
    assert reply_text == french
    english_reply = client.post(
        "/console/voice", data={"csrf_token": csrf, "message": "what's your shoe size?"}
    ).text
    reply_text = english_reply.split('id="reply-text">')[1].split("</p>")[0]
    assert reply_text == english.replace("'", "&#39;")

    # Emptying a field falls back to the default in that language; too long is refused.
    form["no_answer_message_fr"] = ""
    client.post("/console/settings/boundaries", data=form, follow_redirects=False)
    assert creator_settings(client)["no_answer_messages"] == {
        "es": "Eso me lo guardo 🙏",
        "en": english,
    }
    too_long = client.post(
        "/console/settings/boundaries", data={**form, "no_answer_message_fr": "x" * 301}
    )
    assert too_long.status_code == 422
    assert 'id="err-no_answer_message_fr"' in too_long.text
    assert "x" * 301 in too_long.text  # the draft is shown back
    assert creator_settings(client)["no_answer_messages"]["en"] == english


def test_a_persona_card_seeds_a_new_account_from_the_console(client: TestClient) -> None:
    from channels.card_png import card_to_png
    from channels.cards import build_card

    card = build_card(client.app.state.services.db, DEMO_CREATOR_ID)
    card["data"]["first_mes"] = "Salut ! C'est le double de Bruno."
    csrf = sign_in(client, OTHER)
    assert "start from a persona card" in client.get("/console/import").text

    def send(name: str, body: bytes, token: str = csrf) -> httpx.Response:
        return client.post(
            "/console/import/card",
            files={"card": (name, body, "application/octet-stream")},
            data={"csrf_token": token},
            follow_redirects=False,
        )

    assert send("c.json", b"{}", token="wrong").status_code == 403
    broken = send("broken.json", b'{"spec": "chara_card_v3"}')
    assert broken.status_code == 400
    assert "spec: is &#39;chara_card_v3&#39;" in broken.text
    assert "Nothing was changed" in broken.text
    assert creator_settings(client, OTHER).get("greeting") is None
    done = send("camille.png", card_to_png(card))
    assert done.status_code == 303 and done.headers["location"].startswith("/console/profile")
    assert "Your persona card is imported" in client.get(done.headers["location"]).text
    assert creator_settings(client, OTHER)["greeting"] == "Salut ! C'est le double de Bruno."
    with client.app.state.services.db.session() as session:
        bruno = session.get(Creator, OTHER)
        assert bruno.display_name == "Bruno" and bruno.profile["post_count"] >= 1
    # Once the account has posts, a card would replace its greeting and boundaries: refused.
    again = send("camille.json", json.dumps(card).encode())
    assert again.status_code == 409 and "already has" in again.text
    assert "persona admin create-creator" in again.text
