"""The fan's space remembers them (server-side history on every connection), greets them,
suggests first questions from the creator's topics, and goes quiet when the creator takes the
conversation over; the creator's own reply reaches the fan marked as theirs, not AI."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from channels.app import create_app
from channels.inbox.outbox import WAKE_OUTBOX
from channels.space.fan_cookie import FAN_COOKIE, MAX_AGE_S
from channels.space.starters import greeting, suggested_questions
from channels.takeover import hand_back, reply_by_hand, take_over
from ingest.demo import DEMO_CREATOR_ID
from persona.store import Conversation
from tests.conftest import make_settings
from tests.doubles import ScriptedBackend

VISITOR = "visitor-history-0001"
REPLY = "oh that's so sweet, the lemon tart is still my favourite this week"


@pytest.fixture
def client(demo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setattr(ScriptedBackend, "script", [REPLY])
    with TestClient(create_app(make_settings(demo_dir), warm_up=False)) as test_client:
        yield test_client


def chat(client: TestClient, text: str, visitor: str = VISITOR) -> dict[str, Any]:
    with client.websocket_connect(f"/ws/space/{DEMO_CREATOR_ID}?visitor={visitor}") as ws:
        assert ws.receive_json()["type"] == "ready"
        ws.send_json({"type": "message", "text": text})
        while (event := ws.receive_json())["type"] not in ("final", "error"):
            pass
        return event


def ready(client: TestClient, visitor: str = VISITOR) -> dict[str, Any]:
    with client.websocket_connect(f"/ws/space/{DEMO_CREATOR_ID}?visitor={visitor}") as ws:
        return ws.receive_json()


def test_a_returning_fan_gets_their_history_and_only_theirs(client: TestClient) -> None:
    assert ready(client)["history"] == []
    final = chat(client, "I baked your lemon tart this weekend!")
    assert final["text"]
    history = ready(client)["history"]
    assert [m["role"] for m in history] == ["fan", "ai"]
    assert history[0]["text"] == "I baked your lemon tart this weekend!"
    assert history[1]["text"] == final["text"]
    assert ready(client, "someone-else-0002")["history"] == []


def test_the_page_greets_and_suggests_questions_from_the_topics(client: TestClient) -> None:
    html = client.get(f"/space/{DEMO_CREATOR_ID}").text
    assert 'id="greeting"' in html and "AI double" in html
    assert html.count('class="suggestion"') == 3
    profile = {"topics": [["merci", 9.0], ["sunday", 8.0], ["brioche", 7.0], ["lemon", 6.0]]}
    assert suggested_questions(profile) == [
        "Any tips on brioche?",
        "What do you love about lemon?",
    ]
    assert greeting("Mia", {"greeting": "Hey it's Mia's AI!"}, profile) == "Hey it's Mia's AI!"


def test_a_conversation_taken_over_gets_the_creators_reply_not_the_ais(
    client: TestClient,
) -> None:
    services = client.app.state.services
    chat(client, "first message")
    with services.db.session() as session:
        conversation_id = session.scalar(
            select(Conversation.id).where(Conversation.external_id == f"space:{VISITOR}")
        )
    assert take_over(services.db, DEMO_CREATOR_ID, conversation_id, datetime.now(UTC))
    assert not take_over(services.db, "someone-else", conversation_id, datetime.now(UTC))
    final = chat(client, "are you there in person?")
    assert final["text"] == "" and "in person" in final["notice"]
    with client.websocket_connect(f"/ws/space/{DEMO_CREATOR_ID}?visitor={VISITOR}") as ws:
        history = ws.receive_json()["history"]
        assert history[-1] == {"role": "fan", "text": "are you there in person?"}
        reply_by_hand(services.db, DEMO_CREATOR_ID, conversation_id, "yes, it's me!", _now())
        # What the console does after writing the reply: wake the outbox deliverer.
        client.portal.call(_wake, services.hub)
        event = ws.receive_json()
        assert event["type"] == "final" and event["text"] == "yes, it's me!"
        assert event["by_creator"] is True and "Camille" in event["label"]
    history = ready(client)["history"]
    assert history[-1] == {"role": "creator", "text": "yes, it's me!"}
    assert hand_back(services.db, DEMO_CREATOR_ID, conversation_id)
    assert chat(client, "and now?")["text"]  # the double answers again


def _now() -> datetime:
    return datetime.now(UTC)


async def _wake(hub: Any) -> None:
    hub.publish(WAKE_OUTBOX, {})
    await asyncio.sleep(0)


# -- the fan's signed cookie -----------------------------------------------------------------


def cookie_ready(client: TestClient, **headers: str) -> dict[str, Any]:
    with client.websocket_connect(f"/ws/space/{DEMO_CREATOR_ID}", headers=headers) as ws:
        return ws.receive_json()


def test_the_page_keys_the_fan_by_a_signed_httponly_cookie(client: TestClient) -> None:
    page = client.get(f"/space/{DEMO_CREATOR_ID}")
    set_cookie = page.headers["set-cookie"]
    assert set_cookie.startswith(f"{FAN_COOKIE}=v1.")
    lowered = set_cookie.lower()
    assert "httponly" in lowered and "samesite=lax" in lowered and "path=/" in lowered
    assert f"max-age={MAX_AGE_S}" in lowered and "secure" not in lowered  # plain http here
    assert 'data-new-fan="true"' in page.text
    visitor = client.app.state.fan_cookies.read(client.cookies[FAN_COOKIE])
    assert visitor is not None
    # The page's socket carries the cookie: the fan chats, reloads, finds the chat.
    with client.websocket_connect(f"/ws/space/{DEMO_CREATOR_ID}") as ws:
        assert ws.receive_json()["history"] == []
        ws.send_json({"type": "message", "text": "I baked your lemon tart this weekend!"})
        while ws.receive_json()["type"] != "final":
            pass
    again = client.get(f"/space/{DEMO_CREATOR_ID}")
    assert 'data-new-fan="false"' in again.text
    assert client.app.state.fan_cookies.read(client.cookies[FAN_COOKIE]) == visitor
    history = cookie_ready(client, origin="http://testserver")["history"]
    assert [m["role"] for m in history] == ["fan", "ai"]
    # Another browser (no cookie) is another fan; a page of another site gets nothing.
    assert cookie_ready(client, origin="https://evil.example")["code"] == "bad_visitor"
    signed = client.cookies[FAN_COOKIE]
    client.cookies.clear()
    client.get(f"/space/{DEMO_CREATOR_ID}")
    assert cookie_ready(client)["history"] == []
    # A cookie whose id was changed is not this server's: refused, never someone's history.
    forged = signed.replace(f".{visitor}.", ".someone-elses-id-01.")
    client.cookies.clear()
    assert "reload the page" in cookie_ready(client, cookie=f"{FAN_COOKIE}={forged}")["detail"]


def test_fan_cookies_expire_and_survive_a_restart(tmp_path: Path) -> None:
    from channels.space.fan_cookie import KEY_FILE, FanCookies, _key_from_file

    key = _key_from_file(tmp_path / KEY_FILE)
    assert len(key) == 32 and _key_from_file(tmp_path / KEY_FILE) == key
    assert (tmp_path / KEY_FILE).stat().st_mode & 0o077 == 0
    cookies = FanCookies(key)
    value = cookies.value("visitor-0001", now=1_000_000)
    assert cookies.read(value, now=1_000_000 + MAX_AGE_S) == "visitor-0001"
    assert cookies.read(value, now=1_000_001 + MAX_AGE_S) is None
    assert FanCookies(b"another key" * 3).read(value, now=1_000_000) is None
    for junk in ("", "v1.x.1.y", "v2.visitor-0001.1000000.abc", "a" * 500):
        assert cookies.read(junk) is None


def test_a_fan_from_before_the_cookie_keeps_their_chats(client: TestClient) -> None:
    legacy = "3be97b30-0b7e-4c1e-9f1a-legacy000001"
    chat(client, "I baked your lemon tart this weekend!", visitor=legacy)
    client.get(f"/space/{DEMO_CREATOR_ID}")
    url = f"/space/{DEMO_CREATOR_ID}/fan"
    same_site = {"origin": "http://testserver"}
    assert client.post(url, json={"visitor": legacy}).status_code == 403  # no Origin
    other = client.post(url, json={"visitor": legacy}, headers={"origin": "https://evil.example"})
    assert other.status_code == 403
    unknown = client.post(url, json={"visitor": "never-chatted-01"}, headers=same_site)
    assert unknown.json() == {"adopted": False}
    assert client.post(url, json={"visitor": "x"}, headers=same_site).status_code == 422
    adopted = client.post(url, json={"visitor": legacy}, headers=same_site)
    assert adopted.json() == {"adopted": True}
    assert client.app.state.fan_cookies.read(client.cookies[FAN_COOKIE]) == legacy
    history = cookie_ready(client)["history"]
    assert history[0]["text"] == "I baked your lemon tart this weekend!"


def test_the_space_shows_the_avatar_studios_profile_picture(
    client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PIL import Image

    from avatar.errors import NotFoundError
    from avatar.records import ProfilePicture

    page = client.get(f"/space/{DEMO_CREATOR_ID}").text
    assert "avatar-initial" in page  # no picture yet: the initial
    assert client.get(f"/space/{DEMO_CREATOR_ID}/picture").status_code == 404
    picture = tmp_path / "profile.jpg"
    Image.new("RGB", (64, 64), (200, 120, 40)).save(picture, "JPEG")
    studio = client.app.state.services.avatar

    def chosen(creator_id: str) -> ProfilePicture:
        if creator_id != DEMO_CREATOR_ID:
            raise NotFoundError("no profile picture yet")
        return ProfilePicture(creator_id, "out-1", picture, datetime.now(UTC))

    monkeypatch.setattr(studio, "profile_picture", chosen)
    page = client.get(f"/space/{DEMO_CREATOR_ID}").text
    assert "avatar-initial" not in page
    src = re.search(r'<img class="avatar" src="([^"]+)"', page).group(1)
    assert src.startswith(f"/space/{DEMO_CREATOR_ID}/picture?v=")
    image = client.get(src)
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    assert image.content == picture.read_bytes()
    assert client.get("/space/nobody-here/picture").status_code == 404
