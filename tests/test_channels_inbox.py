"""The platform integration through a real server on loopback (scripted model): signed
webhooks, idempotency, replies to a callback URL and to websocket subscribers, policies,
the approval queue, kill switches, comment selection, group chats, retries and dead letters.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from channels.inbox.models import EventStatus, ReplyStatus
from channels.inbox.signing import signed_headers
from persona.store import Message
from tests.inbox_support import (
    CREATOR,
    PLATFORM,
    SECRET,
    CallbackSink,
    comment,
    database,
    dm,
    events,
    group_message,
    issue_token,
    new_id,
    post_webhook,
    replies,
    running_server,
    wait_until,
)

QUIET = {"reply_delay": {"min_s": 0, "max_s": 0}}


@pytest.fixture(scope="module")
def data_dir(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("inbox") / "data"
    shutil.copytree(demo_template, target)
    return target


@pytest.fixture(scope="module")
def token(data_dir: Path) -> str:
    return issue_token(data_dir)


@pytest.fixture(scope="module")
def server(data_dir: Path, token: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    log = tmp_path_factory.mktemp("logs") / "server.log"
    # The callback sinks are on loopback, which callbacks may reach only with this setting.
    with running_server(
        data_dir, log, outbox_max_attempts=4, callback_allow_private=True
    ) as running:
        yield running


@pytest.fixture
def api(server: Any, token: str) -> Iterator[httpx.Client]:
    """An authenticated client; every channel starts from its defaults, without delay."""
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as client:
        for channel in ("dm", "comment", "group"):
            reset = client.put(f"/api/creators/{CREATOR}/channels/{channel}", json=QUIET)
            assert reset.status_code == 200, reset.text
        yield client


@pytest.fixture
def sink() -> Iterator[tuple[CallbackSink, str]]:
    receiver = CallbackSink()
    with receiver.serving() as url:
        yield receiver, url


def _event(data_dir: Path, event_id: int) -> Any:
    return next(e for e in events(data_dir) if e.id == event_id)


def _decided(data_dir: Path, event_id: int) -> Any:
    event = _event(data_dir, event_id)
    return event if event.status not in (EventStatus.PENDING, EventStatus.PROCESSING) else None


def _reply_for(data_dir: Path, event_id: int) -> list[Any]:
    return [r for r in replies(data_dir) if r.event_id == event_id]


def _send(api: httpx.Client, event: dict[str, Any]) -> int:
    response = post_webhook(api, str(api.base_url), event)
    assert response.status_code == 202, response.text
    return response.json()["event_id"]


# -- intake ----------------------------------------------------------------------------------


def test_webhook_refuses_what_is_not_signed_now_or_not_valid(
    api: httpx.Client, data_dir: Path
) -> None:
    before = len(events(data_dir))
    base = str(api.base_url)
    event = dm("hello there")
    body = json.dumps(event).encode()

    wrong = post_webhook(api, base, event, secret="another-secret-0123456789")
    assert wrong.status_code == 401 and "bad signature" in wrong.json()["detail"]
    stale = post_webhook(api, base, event, now=time.time() - 3600)
    assert stale.status_code == 401 and "window" in stale.json()["detail"]
    future = post_webhook(api, base, event, now=time.time() + 3600)
    assert future.status_code == 401
    unsigned = api.post(f"/webhooks/{PLATFORM}", content=body)
    assert unsigned.status_code == 401 and "missing" in unsigned.json()["detail"]
    unknown = post_webhook(api, base, event, platform="nowhere")
    assert unknown.status_code == 404 and "PERSONA_WEBHOOK_SECRETS" in unknown.json()["detail"]
    huge = post_webhook(api, base, dm("x" * 3000) | {"padding": "y" * 70_000})
    assert huge.status_code == 413
    invalid = post_webhook(api, base, {k: v for k, v in event.items() if k != "text"})
    assert invalid.status_code == 422
    assert any(e["loc"][-1] == "text" for e in invalid.json()["detail"])
    nobody = post_webhook(api, base, dm("hi") | {"creator_id": "no.such.creator"})
    assert nobody.status_code == 404
    not_json = api.post(
        f"/webhooks/{PLATFORM}", content=b"{nope", headers=signed_headers(SECRET, b"{nope")
    )
    assert not_json.status_code == 400
    assert len(events(data_dir)) == before  # nothing refused was stored


# -- DMs -------------------------------------------------------------------------------------


def test_dm_is_answered_once_to_the_callback_and_websocket(
    api: httpx.Client, data_dir: Path, token: str, sink: tuple[CallbackSink, str]
) -> None:
    receiver, url = sink
    ws_url = str(api.base_url).replace("http", "ws") + f"/ws/creators/{CREATOR}/replies"
    with connect(ws_url, open_timeout=30) as socket:
        socket.send(json.dumps({"type": "auth", "token": token}))
        assert json.loads(socket.recv(timeout=30))["type"] == "ready"

        event = dm("coucou camille, tu fais quoi ce soir ?", fan="dm-once", callback_url=url)
        first = post_webhook(api, str(api.base_url), event)
        assert first.status_code == 202 and first.json()["duplicate"] is False
        event_id = first.json()["event_id"]
        # The platform retries the same webhook: same id, no second reply.
        retry = post_webhook(api, str(api.base_url), event)
        assert retry.status_code == 200
        assert retry.json()["event_id"] == event_id and retry.json()["duplicate"] is True

        pushed = json.loads(socket.recv(timeout=60))
        assert pushed["type"] == "reply" and pushed["in_reply_to"] == event["message_id"]
        assert pushed["text"] and pushed["label"] and pushed["ai_generated"] is True

    wait_until(lambda: receiver.texts_for(event["message_id"]), 60)
    assert receiver.bad_signatures == 0
    assert receiver.texts_for(event["message_id"]) == [pushed["text"]]
    assert receiver.keys == [f"reply-{pushed['reply_id']}"]
    # The outbox marks the reply sent after the callback answered: wait for that commit.
    wait_until(lambda: _reply_for(data_dir, event_id)[0].status == ReplyStatus.SENT, 30)
    (reply,) = _reply_for(data_dir, event_id)
    assert reply.status == ReplyStatus.SENT and reply.text == pushed["text"]
    wait_until(lambda: _event(data_dir, event_id).status == EventStatus.DONE, 30)
    replay = post_webhook(api, str(api.base_url), event)  # one more replay, after the answer
    # Taken as a duplicate of the finished event, which stays finished: nothing is queued
    # that could make a second reply.
    assert replay.status_code == 200 and replay.json()["duplicate"] is True
    assert _event(data_dir, event_id).status == EventStatus.DONE
    assert len(_reply_for(data_dir, event_id)) == 1


def test_websocket_refuses_a_wrong_token(api: httpx.Client) -> None:
    ws_url = str(api.base_url).replace("http", "ws") + f"/ws/creators/{CREATOR}/replies"
    with (
        connect(f"{ws_url}?token=pk_wrong", open_timeout=30) as socket,
        pytest.raises(ConnectionClosed) as closed,
    ):
        socket.recv(timeout=30)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


def test_dm_thread_keeps_memory_of_the_fan(api: httpx.Client, data_dir: Path) -> None:
    first = _send(api, dm("je m'appelle Lou, j'adore tes tartes", fan="lou"))
    wait_until(lambda: _decided(data_dir, first), 60)
    second = _send(api, dm("tu te souviens de mon prénom ?", fan="lou"))
    wait_until(lambda: _decided(data_dir, second), 60)
    (a,) = _reply_for(data_dir, first)
    (b,) = _reply_for(data_dir, second)
    assert a.conversation_id is not None and a.conversation_id == b.conversation_id
    db = database(data_dir)
    try:
        with db.session() as session:
            rows = session.query(Message).filter_by(conversation_id=a.conversation_id).all()
    finally:
        db.dispose()
    assert [m.role for m in rows] == ["fan", "ai", "fan", "ai"]
    assert rows[0].text.startswith("je m'appelle Lou")


def test_fan_rate_limit_skips_and_says_why(api: httpx.Client, data_dir: Path) -> None:
    api.put(
        f"/api/creators/{CREATOR}/channels/dm",
        json=QUIET | {"fan_rate": {"count": 2, "per_s": 3600}},
    ).raise_for_status()
    ids = [_send(api, dm(f"message {i}", fan="chatty")) for i in range(3)]
    decided = [wait_until(lambda i=i: _decided(data_dir, i), 60) for i in ids]
    assert [e.status for e in decided] == [EventStatus.DONE, EventStatus.DONE, EventStatus.SKIPPED]
    assert "rate limit" in decided[2].reason
    listed = api.get(f"/api/creators/{CREATOR}/inbox", params={"status": "skipped"}).json()
    assert any(item["event_id"] == ids[2] for item in listed["items"])


def test_outside_active_hours_the_message_waits(api: httpx.Client, data_dir: Path) -> None:
    hour = time.gmtime().tm_hour
    closed = {"start": f"{(hour + 3) % 24:02d}:00", "end": f"{(hour + 4) % 24:02d}:00"}
    api.put(
        f"/api/creators/{CREATOR}/channels/dm", json=QUIET | {"active_hours": closed}
    ).raise_for_status()
    event_id = _send(api, dm("are you there?", fan="night-owl"))
    waiting = wait_until(
        lambda: (e := _event(data_dir, event_id)).reason == "outside active hours" and e, 60
    )
    assert waiting.status == EventStatus.PENDING
    assert _reply_for(data_dir, event_id) == []


def test_only_when_offline_waits_for_the_creator_to_leave(
    api: httpx.Client, data_dir: Path
) -> None:
    api.put(
        f"/api/creators/{CREATOR}/channels/dm", json=QUIET | {"only_when_offline": True}
    ).raise_for_status()
    online = api.post(f"/api/creators/{CREATOR}/presence", json={"online": True, "ttl_s": 600})
    assert online.json()["online"] is True
    event_id = _send(api, dm("hello!", fan="patient"))
    wait_until(lambda: _event(data_dir, event_id).reason == "the creator is online", 60)
    assert _reply_for(data_dir, event_id) == []
    api.post(f"/api/creators/{CREATOR}/presence", json={"online": False}).raise_for_status()
    assert wait_until(lambda: _decided(data_dir, event_id), 60).status == EventStatus.DONE


# -- approvals and kill switches -------------------------------------------------------------


def test_review_mode_holds_replies_for_approval_edit_or_rejection(
    api: httpx.Client, data_dir: Path, sink: tuple[CallbackSink, str]
) -> None:
    receiver, url = sink
    api.put(
        f"/api/creators/{CREATOR}/channels/dm", json=QUIET | {"mode": "review"}
    ).raise_for_status()
    kept = dm("will you post the galette recipe?", fan="rev1", callback_url=url)
    dropped = dm("what is your favourite cheese?", fan="rev2", callback_url=url)
    kept_id, dropped_id = _send(api, kept), _send(api, dropped)
    for event_id in (kept_id, dropped_id):
        wait_until(lambda e=event_id: _decided(data_dir, e), 60)

    queue = api.get(f"/api/creators/{CREATOR}/approvals", params={"limit": 200}).json()
    held = {item["event_id"]: item for item in queue["items"]}
    assert {kept_id, dropped_id} <= set(held)
    assert held[kept_id]["status"] == "held" and "review" in held[kept_id]["review_reason"]
    assert receiver.received == []  # nothing leaves before the creator decides

    # Rejected first: the approved reply's delivery below then proves the dispatcher ran
    # after the rejection.
    rejected = api.post(
        f"/api/creators/{CREATOR}/approvals/{held[dropped_id]['reply_id']}/reject",
        json={"reason": "off topic"},
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    edited = "oui ! dimanche, promis 🥐"
    approved = api.post(
        f"/api/creators/{CREATOR}/approvals/{held[kept_id]['reply_id']}/approve",
        json={"text": edited},
    )
    assert approved.status_code == 200 and approved.json()["text"] == edited
    assert approved.json()["original_text"] == held[kept_id]["text"]
    again = api.post(f"/api/creators/{CREATOR}/approvals/{held[kept_id]['reply_id']}/approve")
    assert again.status_code == 409

    wait_until(lambda: receiver.texts_for(kept["message_id"]), 60)
    assert receiver.texts_for(kept["message_id"]) == [edited]
    # The dispatcher claims due replies oldest first and counts each claim: had it taken the
    # rejected reply (older than the approved one), it would have done so by now.
    (dropped_reply,) = _reply_for(data_dir, dropped_id)
    assert dropped_reply.status == ReplyStatus.REJECTED and dropped_reply.attempts == 0
    assert receiver.texts_for(dropped["message_id"]) == []
    # The conversation remembers what the fan was really sent.
    db = database(data_dir)
    try:
        with db.session() as session:
            (kept_reply,) = _reply_for(data_dir, kept_id)
            (dropped_reply,) = _reply_for(data_dir, dropped_id)
            assert session.get(Message, kept_reply.message_id).text == edited
            assert session.get(Message, dropped_reply.message_id) is None
    finally:
        db.dispose()


def test_channel_kill_switch_acts_at_once(
    api: httpx.Client, data_dir: Path, sink: tuple[CallbackSink, str]
) -> None:
    receiver, url = sink
    slow = {"reply_delay": {"min_s": 600, "max_s": 600}}
    api.put(f"/api/creators/{CREATOR}/channels/dm", json=slow).raise_for_status()
    waiting = dm("j'adore ta tarte au citron", fan="killer1", callback_url=url)
    waiting_id = _send(api, waiting)
    wait_until(lambda: _decided(data_dir, waiting_id), 60)
    assert _reply_for(data_dir, waiting_id)[0].status == ReplyStatus.PENDING  # in its delay

    paused = api.post(f"/api/creators/{CREATOR}/channels/dm/pause").json()
    assert paused["paused"] is True and paused["cancelled_replies"] >= 1
    assert _reply_for(data_dir, waiting_id)[0].status == ReplyStatus.CANCELLED
    skipped_id = _send(api, dm("hello?", fan="killer2", callback_url=url))
    skipped = wait_until(lambda: _decided(data_dir, skipped_id), 60)
    assert skipped.status == EventStatus.SKIPPED and "paused" in skipped.reason
    assert api.get(f"/api/creators/{CREATOR}/channels/dm").json()["paused"] is True

    api.post(f"/api/creators/{CREATOR}/channels/dm/resume").raise_for_status()
    api.put(f"/api/creators/{CREATOR}/channels/dm", json=QUIET).raise_for_status()
    back = dm("et maintenant ?", fan="killer3", callback_url=url)
    _send(api, back)
    wait_until(lambda: receiver.texts_for(back["message_id"]), 60)
    assert receiver.texts_for(waiting["message_id"]) == []


def test_creator_api_needs_the_creators_token(server: Any) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as anonymous:
        assert anonymous.get(f"/api/creators/{CREATOR}/approvals").status_code == 401
        forged = {"Authorization": "Bearer pk_forged"}
        assert (
            anonymous.post(f"/api/creators/{CREATOR}/channels/dm/pause", headers=forged)
        ).status_code == 403


def test_policy_api_validates(api: httpx.Client) -> None:
    bad = api.put(f"/api/creators/{CREATOR}/channels/group", json={"max_share": 3})
    assert bad.status_code == 422
    assert api.get(f"/api/creators/{CREATOR}/channels/nowhere").status_code == 422
    every = api.get(f"/api/creators/{CREATOR}/channels").json()
    assert set(every) == {"dm", "comment", "group", "live", "space"}
    assert every["comment"]["replies_per_post_per_hour"] == 20


# -- comments --------------------------------------------------------------------------------


def test_comments_are_chosen_best_first_within_the_hourly_cap(
    api: httpx.Client, data_dir: Path
) -> None:
    post = {
        "id": new_id("post"),
        "caption": "tarte au citron meringuée, ma recette du dimanche",
        "transcript": "aujourd'hui on fait une tarte au citron, pâte sablée maison",
    }
    api.put(
        f"/api/creators/{CREATOR}/channels/comment",
        json=QUIET
        | {"replies_per_post_per_hour": 2, "batch_window_s": 0, "only_when_offline": True},
    ).raise_for_status()
    # The creator is online: the comments gather, then are ranked as one batch.
    api.post(f"/api/creators/{CREATOR}/presence", json={"online": True}).raise_for_status()
    texts = {
        "plain": ("made it with limes instead", "c1"),
        "spam": ("follow for follow!! check my profile", "c2"),
        "question": ("combien de temps pour la meringue ?", "c3"),
        "abuse": ("t'es qu'une connasse", "c4"),
        "warm": ("j'adore cette recette, merci !", "c5"),
        "repeat": ("combien de temps pour la meringue ?", "c3"),
        "question2": ("which lemons do you use?", "c6"),
    }
    ids = {name: _send(api, comment(text, post, fan=fan)) for name, (text, fan) in texts.items()}
    for event_id in ids.values():
        wait_until(lambda e=event_id: _event(data_dir, e).reason == "the creator is online", 60)
    api.post(f"/api/creators/{CREATOR}/presence", json={"online": False}).raise_for_status()
    decided = {name: wait_until(lambda e=e: _decided(data_dir, e), 60) for name, e in ids.items()}

    answered = {name for name, e in decided.items() if e.status == EventStatus.DONE}
    assert answered == {"question", "question2"}
    assert "spam" in decided["spam"].reason and "abuse" in decided["abuse"].reason
    assert "duplicate" in decided["repeat"].reason
    assert "cap" in decided["warm"].reason and "cap" in decided["plain"].reason
    # The cap holds for the rest of the hour.
    late = _send(api, comment("is it okay with gluten-free flour?", post, fan="c7"))
    late_event = wait_until(lambda: _decided(data_dir, late), 60)
    assert late_event.status == EventStatus.SKIPPED and "cap" in late_event.reason


# -- groups ----------------------------------------------------------------------------------


def test_group_answers_when_addressed_within_its_share(api: httpx.Client, data_dir: Path) -> None:
    group = new_id("grp")
    api.put(
        f"/api/creators/{CREATOR}/channels/group", json=QUIET | {"max_share": 0.3}
    ).raise_for_status()
    script = [
        ("ana", "salut tout le monde !", {}),
        ("ben", "quelqu'un a testé la galette ?", {}),
        ("chloe", "@camille.cuisine quel fromage pour la tartiflette ?", {}),
        ("ana", "Camille, et quel vin avec ?", {}),
        ("ben", "moi je mets du comté", {}),
        ("dan", "so true", {"mentions": ["@camille.cuisine"]}),
        ("chloe", "@camille.cuisine et pour le dessert ?", {}),
    ]
    ids = []
    for fan, text, extra in script:
        ids.append(_send(api, group_message(text, group, fan, **extra)))
        wait_until(lambda e=ids[-1]: _decided(data_dir, e), 60)  # one at a time, like a chat
    decided = [_event(data_dir, e) for e in ids]
    statuses = [e.status for e in decided]
    # A new group counts as 10 messages for the share (share_min_messages): its first
    # addresses are answered, then the share holds the double back.
    assert statuses == ["skipped", "skipped", "done", "done", "skipped", "done", "skipped"]
    assert "not addressed" in decided[0].reason and "not addressed" in decided[4].reason
    assert "share" in decided[6].reason
    ai = sum(s == "done" for s in statuses)
    assert ai <= 0.3 * max(len(script) + ai, 10)


# -- delivery --------------------------------------------------------------------------------


def test_delivery_retries_with_backoff_then_dead_letters(api: httpx.Client, data_dir: Path) -> None:
    flaky, broken = CallbackSink(fail_first=2), CallbackSink(fail_first=1000)
    refusing = CallbackSink(fail_first=1000, fail_status=400)
    with (
        flaky.serving() as flaky_url,
        broken.serving() as broken_url,
        refusing.serving() as refusing_url,
    ):
        ok = dm("retry me", fan="retry1", callback_url=flaky_url)
        dead = dm("never", fan="retry2", callback_url=broken_url)
        bad = dm("bad request", fan="retry3", callback_url=refusing_url)
        ok_id, dead_id, bad_id = _send(api, ok), _send(api, dead), _send(api, bad)
        wait_until(lambda: flaky.texts_for(ok["message_id"]), 60)
        wait_until(lambda: _reply_for(data_dir, dead_id)[0].status == "dead", 60)
        wait_until(lambda: _reply_for(data_dir, bad_id)[0].status == "dead", 60)

    (delivered,) = _reply_for(data_dir, ok_id)
    assert delivered.status == "sent" and delivered.attempts == 3
    assert flaky.tries(f"reply-{delivered.id}") == 3
    (gave_up,) = _reply_for(data_dir, dead_id)
    assert gave_up.attempts == 4 and "gave up after 4 attempts" in gave_up.last_error
    (refused,) = _reply_for(data_dir, bad_id)
    # The cause (HTTP 400) is in the server log only: last_error is no port scanner.
    assert refused.attempts == 1 and refused.last_error == "callback failed"

    letters = api.get(f"/api/creators/{CREATOR}/outbox", params={"status": "dead"}).json()
    assert {gave_up.id, refused.id} <= {item["reply_id"] for item in letters["items"]}
    retried = api.post(f"/api/creators/{CREATOR}/outbox/{gave_up.id}/retry")
    assert retried.status_code == 200 and retried.json()["status"] == "pending"
    assert api.post(f"/api/creators/{CREATOR}/outbox/{delivered.id}/retry").status_code == 409
