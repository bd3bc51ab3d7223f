"""Each channel end to end against the real model (the packaged Qwen behind llama.cpp): a
signed webhook in, a reply in the creator's voice out to the callback, labelled as AI."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from channels.inbox.models import EventStatus
from persona.engine.types import CHANNEL_MAX_CHARS, Channel
from persona.store import Message
from tests.inbox_support import (
    CallbackSink,
    comment,
    database,
    dm,
    events,
    group_message,
    new_id,
    post_webhook,
    replies,
    running_server,
    set_policy,
    wait_until,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def real_server(
    demo_template: Path, real_llm: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Any, Path, CallbackSink, str]]:
    data_dir = tmp_path_factory.mktemp("inbox-real") / "data"
    shutil.copytree(demo_template, data_dir)
    for channel in ("dm", "comment", "group"):
        set_policy(data_dir, channel, reply_delay={"min_s": 0, "max_s": 0}, review_categories=[])
    set_policy(data_dir, "comment", batch_window_s=0)
    sink = CallbackSink()
    log = data_dir.parent / "server.log"
    with (
        sink.serving() as url,
        # The sink is on loopback: callbacks may reach it only with this setting.
        running_server(
            data_dir, log, callback_allow_private=True, **real_llm.overrides()
        ) as server,
    ):
        yield server, data_dir, sink, url


def _answer(real_server: Any, event: dict[str, Any]) -> tuple[Any, Any]:
    server, data_dir, sink, url = real_server
    event["callback_url"] = url
    with httpx.Client(timeout=30) as client:
        response = post_webhook(client, server.url, event)
    assert response.status_code == 202, response.text
    event_id = response.json()["event_id"]

    def decided() -> Any:
        row = next(e for e in events(data_dir) if e.id == event_id)
        return row if row.status not in (EventStatus.PENDING, EventStatus.PROCESSING) else None

    row = wait_until(decided, 600, 0.5)
    assert row.status == EventStatus.DONE, row.reason
    (reply,) = [r for r in replies(data_dir) if r.event_id == event_id]
    if reply.status != "held":
        wait_until(lambda: sink.texts_for(event["message_id"]), 60)
        assert sink.texts_for(event["message_id"]) == [reply.text]
    assert reply.text.strip() and reply.label
    return row, reply


def test_real_model_dm_remembers_the_thread(real_server: Any) -> None:
    _, data_dir, _, _ = real_server
    _, first = _answer(
        real_server, dm("salut ! moi c'est Inès, je fais ta tarte au citron", "ines")
    )
    _, second = _answer(real_server, dm("tu mets combien de citrons dedans ?", "ines"))
    assert len(first.text) <= CHANNEL_MAX_CHARS[Channel.DM]
    assert first.conversation_id == second.conversation_id
    db = database(data_dir)
    try:
        with db.session() as session:
            texts = [
                m.text
                for m in session.query(Message)
                .filter_by(conversation_id=first.conversation_id)
                .order_by(Message.id)
            ]
    finally:
        db.dispose()
    assert texts[0].startswith("salut ! moi c'est Inès") and len(texts) == 4


def test_real_model_comment_reply_is_short_and_grounded_in_the_post(real_server: Any) -> None:
    post = {
        "id": new_id("post"),
        "caption": "tarte au citron meringuée : pâte sablée, crème au citron, meringue italienne",
        "transcript": "la crème au citron, c'est quatre citrons, des œufs, du sucre et du beurre",
    }
    row, reply = _answer(real_server, comment("trop belle !! c'est quoi la meringue ?", post))
    assert len(reply.text) <= CHANNEL_MAX_CHARS[Channel.COMMENT]
    assert row.thread_key == post["id"]


def test_real_model_group_reply_when_addressed(real_server: Any) -> None:
    group = new_id("grp")
    server, data_dir, _, _ = real_server
    with httpx.Client(timeout=30) as client:
        for fan, text in (("lea", "qui a fait la galette ce week-end ?"), ("tom", "moi !")):
            response = post_webhook(client, server.url, group_message(text, group, fan))
            assert response.status_code == 202
    row, reply = _answer(
        real_server,
        group_message("@camille.cuisine ta galette préférée c'est laquelle ?", group, "zoe"),
    )
    assert len(reply.text) <= CHANNEL_MAX_CHARS[Channel.GROUP]
    skipped = [e for e in events(data_dir) if e.thread_key == group and e.id != row.id]
    assert {e.status for e in skipped} == {EventStatus.SKIPPED}
