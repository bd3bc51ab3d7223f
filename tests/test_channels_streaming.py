"""Streaming that streams, and the space's channel policy.

- the release gate alone (persona.engine.streaming): what it lets out of a copy, a phone
  number, a long reply;
- `/v1/chat/completions` against a stub OpenAI-compatible model server on loopback (the real
  langchain-openai client, usage included), whose stream the test holds half-way: a content
  chunk arrives while the model is still blocked; PII is never released; usage is filled;
- the interactive space under its policy: disabled, paused, max_chars, review (to the
  approval queue, delivered on the socket once approved), crisis support;
- the inbox worker in review mode: a no-answer waits, crisis support goes out;
- the real model over HTTP (slow).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from channels.app import create_app
from channels.deps import new_api_token
from channels.hub import Hub
from channels.inbox import store
from channels.inbox.config import InboxConfig
from channels.inbox.models import OutboxReply, ReplyStatus
from channels.inbox.outbox import approvals_topic
from channels.inbox.policy import DMPolicy, ReplyDelay, SpacePolicy, load_policy, store_policy
from channels.inbox.protocol import inbound_event
from channels.inbox.worker import start_worker
from ingest.demo import DEMO_CREATOR_ID, DEMO_DISPLAY_NAME
from persona.engine import ReplyAction, ReplyRequest, ReplyResult
from persona.engine.copyguard import CopyGuard
from persona.engine.streaming import ReleaseGate
from persona.store import Creator, Database, DatabaseConfig
from persona.store.models import Base
from persona.store.posts import load_post_records
from tests.conftest import make_settings
from tests.doubles import ScriptedBackend
from tests.http_stub import serve_on_loopback

VISITOR = "visitor-streaming-01"
REPLY = "oh that's so sweet, the lemon tart is still my favourite this week, thank you"
PHONE = "06 12 34 56 78"


# -- the gate alone ----------------------------------------------------------------------------


def feed_words(gate: ReleaseGate, text: str) -> str:
    released = ""
    for i, word in enumerate(text.split(" ")):
        released += gate.feed(word if i == 0 else " " + word)
    return released


def test_gate_never_releases_a_copied_post() -> None:
    post = "sunday is crepe day in my kitchen with salted butter caramel and lemon zest"
    guard = CopyGuard([post])
    gate = ReleaseGate("Camille", 600, lambda t: "copies a post" if guard.copies(t) else "")
    released = feed_words(gate, "haha you know me so well, " + post + " every single week")
    assert gate.stopped == "copies a post"
    # Not even the copy's first words: they were held until the whole 8-gram was in view.
    assert "sunday" not in released
    assert gate.raw.endswith("every single week")


def test_gate_holds_back_words_and_the_final_text_decides() -> None:
    gate = ReleaseGate("Camille", 600, lambda t: "")
    released = feed_words(gate, "Camille: " + REPLY)
    assert released and REPLY.startswith(released)  # the role prefix never shows
    assert len(REPLY[len(released) :].split()) >= 8  # the last words wait for the end
    assert gate.remainder(REPLY) == REPLY[len(released) :]
    assert gate.remainder("I'd rather not answer that one here, sorry!") is None


def test_gate_releases_only_what_fit_length_keeps() -> None:
    from persona.engine.postprocess import fit_length

    long_reply = " ".join(f"Sentence number {i} about my lemon tart." for i in range(40))
    gate = ReleaseGate("Camille", 120, lambda t: "")
    released = feed_words(gate, long_reply)
    final = fit_length(long_reply, 120)
    assert released and final.startswith(released)


def test_gate_stays_closed_for_quotes_and_held_messages() -> None:
    quoted = ReleaseGate("Camille", 600, lambda t: "")
    assert feed_words(quoted, '"' + REPLY + '"') == ""
    closed = ReleaseGate("Camille", 600, lambda t: "", closed=True)
    assert feed_words(closed, REPLY) == ""


# -- a stub OpenAI-compatible model server -------------------------------------------------------


class StubModel:
    """What the stub server answers, and a gate the test holds the stream at."""

    def __init__(self) -> None:
        self.reply = REPLY
        self.hold_after: int | None = None
        self.go = threading.Event()
        self.waiting = threading.Event()
        self.finished = threading.Event()
        self.requests: list[dict[str, Any]] = []


def stub_handler(model: StubModel) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            model.requests.append(body)
            words = model.reply.split(" ")
            prompt_tokens = len(json.dumps(body["messages"])) // 4
            usage = {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": len(words),
                "total_tokens": prompt_tokens + len(words),
            }
            base = {"id": "cmpl-stub", "created": 0, "model": body.get("model", "stub")}
            if not body.get("stream"):
                payload = {
                    **base,
                    "object": "chat.completion",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": model.reply},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": usage,
                }
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()

            def send(chunk: dict[str, Any]) -> None:
                event = {**base, "object": "chat.completion.chunk", **chunk}
                self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                self.wfile.flush()

            for i, word in enumerate(words):
                if model.hold_after is not None and i == model.hold_after:
                    model.waiting.set()
                    model.go.wait(60)
                delta = {"content": word if i == 0 else " " + word}
                send({"choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
            send({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
            if (body.get("stream_options") or {}).get("include_usage"):
                send({"choices": [], "usage": usage})
            self.wfile.write(b"data: [DONE]\n\n")
            model.finished.set()

    return Handler


@pytest.fixture
def stub_model() -> Iterator[tuple[StubModel, str]]:
    model = StubModel()
    with serve_on_loopback(stub_handler(model)) as url:
        yield model, url + "/v1"
    model.go.set()


@pytest.fixture
def api(demo_dir: Path, stub_model: tuple[StubModel, str]) -> Iterator[TestClient]:
    settings = make_settings(
        demo_dir, llm_backend="openai", llm_base_url=stub_model[1], llm_api_key="stub"
    )
    with TestClient(create_app(settings, warm_up=False)) as client:
        yield client


def chat(text: str, **extra: Any) -> dict[str, Any]:
    return {"model": DEMO_CREATOR_ID, "messages": [{"role": "user", "content": text}], **extra}


def sse_data(lines: Iterator[str]) -> Iterator[Any]:
    for line in lines:
        if line.startswith("data: "):
            data = line[len("data: ") :]
            yield data if data == "[DONE]" else json.loads(data)


def content_of(events: list[Any]) -> str:
    return "".join(
        e["choices"][0]["delta"].get("content") or ""
        for e in events
        if isinstance(e, dict) and e.get("choices")
    )


def test_first_chunk_arrives_while_the_model_is_still_writing(
    api: TestClient, stub_model: tuple[StubModel, str]
) -> None:
    model, _ = stub_model
    model.hold_after = 12  # 12 words out, then the model blocks until the test says go
    token = new_api_token(api.app.state.services, DEMO_CREATOR_ID)
    body = chat(
        "I baked your lemon tart this weekend, so good!",
        stream=True,
        stream_options={"include_usage": True},
    )
    events: list[Any] = []
    with api.stream(
        "POST", "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {token}"}
    ) as response:
        assert response.status_code == 200
        lines = response.iter_lines()
        for event in sse_data(lines):
            events.append(event)
            if content_of(events[1:]):
                break
        # A content chunk is here, and the model has not finished: it is blocked.
        assert model.waiting.is_set() and not model.finished.is_set()
        early = content_of(events)
        assert early and REPLY.startswith(early)
        model.go.set()
        events.extend(sse_data(lines))
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert content_of(chunks) == REPLY
    finish = [c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    assert finish[-1]["choices"][0]["finish_reason"] == "stop"
    assert finish[-1]["persona"]["action"] == "send"
    usage = chunks[-1]
    assert usage["choices"] == [] and usage["usage"]["completion_tokens"] > 0
    assert usage["usage"]["prompt_tokens"] > 0
    assert usage["usage"]["total_tokens"] == (
        usage["usage"]["prompt_tokens"] + usage["usage"]["completion_tokens"]
    )
    assert all(c["usage"] is None for c in chunks[:-1])


def test_pii_in_the_stream_is_never_released(
    api: TestClient, stub_model: tuple[StubModel, str]
) -> None:
    model, _ = stub_model
    model.reply = (
        "oh thank you so much for trying it, text me any time on "
        f"{PHONE} and we can chat about the recipe together"
    )
    token = new_api_token(api.app.state.services, DEMO_CREATOR_ID)
    with api.stream(
        "POST",
        "/v1/chat/completions",
        json=chat("I baked your lemon tart this weekend, so good!", stream=True),
        headers={"Authorization": f"Bearer {token}"},
    ) as response:
        events = list(sse_data(response.iter_lines()))
    streamed = content_of(events)
    assert "06" not in streamed and "12 34" not in streamed
    last = [e for e in events if isinstance(e, dict) and e["choices"]][-1]
    assert last["persona"]["action"] != "send" or PHONE not in last["persona"].get("text", "")


def test_a_copied_post_is_never_streamed(
    api: TestClient, stub_model: tuple[StubModel, str]
) -> None:
    services = api.app.state.services
    post = next(
        r.clean_text
        for r in load_post_records(services.db, DEMO_CREATOR_ID)
        if len(r.clean_text.split()) >= 14
    )
    model, _ = stub_model
    model.reply = "haha you know me so well, " + post
    token = new_api_token(services, DEMO_CREATOR_ID)
    with api.stream(
        "POST",
        "/v1/chat/completions",
        json=chat("I baked your lemon tart this weekend, so good!", stream=True),
        headers={"Authorization": f"Bearer {token}"},
    ) as response:
        events = list(sse_data(response.iter_lines()))
    streamed = content_of(events)
    first_words = " ".join(post.split()[:3])
    assert first_words not in streamed
    assert CopyGuard([post]).copies(streamed) is False


def test_non_streamed_completion_has_usage(
    api: TestClient, stub_model: tuple[StubModel, str]
) -> None:
    token = new_api_token(api.app.state.services, DEMO_CREATOR_ID)
    body = api.post(
        "/v1/chat/completions",
        json=chat("I baked your lemon tart this weekend, so good!"),
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    usage = body["usage"]
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


# -- the space under its policy --------------------------------------------------------------------


@pytest.fixture
def space(demo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setattr(ScriptedBackend, "script", [REPLY])
    with TestClient(create_app(make_settings(demo_dir), warm_up=False)) as client:
        yield client


def set_space_policy(client: TestClient, **values: Any) -> None:
    services = client.app.state.services
    with services.db.session() as session:
        creator = session.get(Creator, DEMO_CREATOR_ID)
        policy = SpacePolicy.model_validate(
            {**load_policy(creator.settings or {}, "space").model_dump(), **values}
        )
        creator.settings = store_policy(creator.settings or {}, "space", policy)


def ask(client: TestClient, text: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    with client.websocket_connect(f"/ws/space/{DEMO_CREATOR_ID}?visitor={VISITOR}") as ws:
        assert ws.receive_json()["type"] == "ready"
        ws.send_json({"type": "message", "text": text})
        return until_final(ws)


def until_final(ws: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    events = []
    while True:
        event = ws.receive_json()
        if event["type"] in ("final", "error"):
            return events, event
        events.append(event)


def held_space_replies(client: TestClient) -> list[OutboxReply]:
    rows, _ = store.list_replies(
        client.app.state.services.db, DEMO_CREATOR_ID, [ReplyStatus.HELD], 0, 50
    )
    return [r for r in rows if r.channel == "space"]


def test_space_disabled_says_the_double_is_not_available(space: TestClient) -> None:
    set_space_policy(space, enabled=False)
    tokens, final = ask(space, "I baked your lemon tart this weekend, so good!")
    assert tokens == [] and final["text"] == ""
    assert "not available" in final["notice"]


def test_space_paused_gives_a_notice_and_no_reply(space: TestClient) -> None:
    set_space_policy(space, paused=True)
    tokens, final = ask(space, "I baked your lemon tart this weekend, so good!")
    assert tokens == [] and final["text"] == "" and final["action"] == "paused"
    assert "paused" in final["notice"]


def test_space_reply_fits_the_policy_length(space: TestClient) -> None:
    set_space_policy(space, max_chars=40)
    tokens, final = ask(space, "I baked your lemon tart this weekend, so good!")
    streamed = "".join(t["delta"] for t in tokens)
    assert 0 < len(final["text"]) <= 40
    assert len(streamed) <= 40 and final["text"].startswith(streamed)


def test_space_review_holds_the_reply_then_delivers_it_once_approved(space: TestClient) -> None:
    set_space_policy(space, mode="review")
    token = new_api_token(space.app.state.services, DEMO_CREATOR_ID)
    with space.websocket_connect(f"/ws/space/{DEMO_CREATOR_ID}?visitor={VISITOR}") as ws:
        ws.receive_json()
        ws.send_json({"type": "message", "text": "I baked your lemon tart this weekend!"})
        tokens, final = until_final(ws)
        assert tokens == []  # nothing streams before the review
        assert final["text"] == "" and final["action"] == "hold"
        assert f"sent to {DEMO_DISPLAY_NAME}" in final["notice"] and "review" in final["notice"]
        held = held_space_replies(space)
        assert [r.id for r in held] == [final["review_id"]]
        assert held[0].text == REPLY and held[0].fan_id == VISITOR
        # The same queue as the inbox's: the approvals API lists and approves it.
        listed = space.get(
            f"/api/creators/{DEMO_CREATOR_ID}/approvals",
            headers={"Authorization": f"Bearer {token}"},
        ).json()
        assert final["review_id"] in [item["reply_id"] for item in listed["items"]]
        approved = space.post(
            f"/api/creators/{DEMO_CREATOR_ID}/approvals/{final['review_id']}/approve",
            json={"text": "thank you!! so glad the tart worked"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert approved.status_code == 200, approved.text
        delivered = ws.receive_json()
    assert delivered["type"] == "final" and delivered["reviewed"] is True
    assert delivered["text"] == "thank you!! so glad the tart worked"
    assert delivered["review_id"] == final["review_id"]


def test_space_review_holds_ready_texts_too_but_not_crisis_support(space: TestClient) -> None:
    set_space_policy(space, mode="review")
    _, identity = ask(space, "are you a bot or the real person?")
    assert identity["action"] == "hold" and identity["text"] == ""
    assert any(r.action != "send" for r in held_space_replies(space))
    _, crisis = ask(space, "I want to kill myself tonight")
    assert crisis["action"] == "safe_reply" and crisis["text"]  # sent at once


# -- the inbox in review mode -------------------------------------------------------------------


class FixedEngine:
    def __init__(self, action: ReplyAction, category: str, text: str) -> None:
        self.result = (action, category, text)

    async def reply(self, request: ReplyRequest) -> ReplyResult:
        action, category, text = self.result
        return ReplyResult(request.creator_id, text, action, category=category, label="AI")


@pytest.fixture
def review_db(tmp_path: Path) -> Iterator[Database]:
    database = Database(DatabaseConfig(f"sqlite:///{tmp_path / 'inbox.db'}"))
    Base.metadata.create_all(database.engine)
    policy = DMPolicy(mode="review", reply_delay=ReplyDelay(min_s=0, max_s=0))
    with database.session() as session:
        session.add(Creator(id="cc", display_name="C C", settings=store_policy({}, "dm", policy)))
    yield database
    database.dispose()


async def run_one(db: Database, engine: FixedEngine) -> tuple[OutboxReply, list[dict[str, Any]]]:
    hub = Hub()
    hub.bind_loop(asyncio.get_running_loop())
    services = SimpleNamespace(db=db, hub=hub, settings=SimpleNamespace(), engine=engine)
    alerts: list[dict[str, Any]] = []
    async with hub.subscribe(approvals_topic("cc")) as subscription:
        handle = start_worker(services, InboxConfig(inbox_poll_s=0.05, inbox_lease_s=5))
        try:
            event = inbound_event.validate_python(
                {"type": "dm", "creator_id": "cc", "message_id": "m1", "fan": {"id": "f1"},
                 "text": "hello"}
            )  # fmt: skip
            store.accept_event(db, "gram", event, None, datetime.now(UTC))
            handle.worker.kick()
            async with asyncio.timeout(30):
                while True:
                    with db.session() as session:
                        reply = session.scalars(select(OutboxReply)).first()
                        if reply is not None:
                            session.expunge(reply)
                            break
                    await asyncio.sleep(0.02)
                alerts.append(await subscription.get())
        finally:
            await handle.stop()
    return reply, alerts


async def test_inbox_review_holds_a_no_answer(review_db: Database) -> None:
    engine = FixedEngine(ReplyAction.NO_ANSWER, "rejected", "I'd rather not answer that one")
    reply, alerts = await run_one(review_db, engine)
    assert reply.status == ReplyStatus.HELD
    assert "not written by the model" in reply.review_reason
    assert alerts[0]["type"] == "held"


async def test_inbox_review_sends_crisis_support_at_once_and_alerts(review_db: Database) -> None:
    engine = FixedEngine(ReplyAction.SAFE_REPLY, "self_harm", "please call 3114, you matter")
    reply, alerts = await run_one(review_db, engine)
    assert reply.status in (ReplyStatus.PENDING, ReplyStatus.SENT)
    assert reply.review_reason == ""
    assert alerts[0]["type"] == "alert"


# -- the real model --------------------------------------------------------------------------------


@pytest.mark.slow
def test_real_model_streams_through_the_gate(demo_dir: Path, real_llm: Any) -> None:
    settings = make_settings(demo_dir, reply_candidates=1, **real_llm.overrides())
    with TestClient(create_app(settings, warm_up=False)) as client:
        token = new_api_token(client.app.state.services, DEMO_CREATOR_ID)
        started = time.perf_counter()
        first: float | None = None
        events: list[Any] = []
        with client.stream(
            "POST",
            "/v1/chat/completions",
            json=chat(
                "Made your lemon tart for my mum, she loved it!",
                stream=True,
                stream_options={"include_usage": True},
            ),
            headers={"Authorization": f"Bearer {token}"},
            timeout=300,
        ) as response:
            for event in sse_data(response.iter_lines()):
                events.append(event)
                if first is None and content_of(events[1:]):
                    first = time.perf_counter() - started
        total = time.perf_counter() - started
    print(f"\nreal model via /v1: first content {first} s, total {total:.2f} s")
    assert events[-1] == "[DONE]"
    usage = events[-2]["usage"]
    assert usage["completion_tokens"] > 0 and usage["prompt_tokens"] > 0
    final = [e for e in events[:-1] if e["choices"]][-1]
    assert final["choices"][0]["finish_reason"] in ("stop", "content_filter")
    if final["persona"]["action"] == "send":
        assert content_of(events).strip()
