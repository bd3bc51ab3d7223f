"""Nothing lost, nothing answered twice: kill -9 the real server while signed webhooks flow
in and replies flow out, restart it on the same data dir, and check that every message that
got a 202 (or that the client retried after a reset connection) has exactly one reply."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from channels.inbox.models import EventStatus, ReplyStatus
from tests.inbox_support import (
    CallbackSink,
    ServerProcess,
    comment,
    dm,
    events,
    group_message,
    new_id,
    post_webhook,
    replies,
    set_policy,
    wait_until,
)

FAST = {"count": 10_000, "per_s": 60}


def _send_all(
    url_of: Any, messages: list[dict[str, Any]], workers: int, pause_s: float = 0.0
) -> dict[str, str]:
    """Post every message from a pool of threads (each pausing `pause_s` after a send, so
    that the flow lasts); returns message id -> accepted | failed."""
    outcome: dict[str, str] = {}
    lock = threading.Lock()

    def send(event: dict[str, Any]) -> None:
        try:
            with httpx.Client(timeout=20) as client:
                response = post_webhook(client, url_of(), event)
            result = "accepted" if response.status_code in (200, 202) else "failed"
        except httpx.HTTPError:  # reset or refused: the server was killed
            result = "failed"
        with lock:
            outcome[event["message_id"]] = result
        time.sleep(pause_s)

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(send, messages))
    return outcome


def _assert_each_answered_once(
    data_dir: Path, sink: CallbackSink, message_ids: set[str], allow_held: bool = False
) -> None:
    rows = [e for e in events(data_dir) if e.message_id in message_ids]
    assert Counter(e.message_id for e in rows) == Counter(message_ids), "lost or doubled events"
    assert {e.status for e in rows} == {EventStatus.DONE}
    by_event = Counter(r.event_id for r in replies(data_dir))
    assert all(by_event[e.id] == 1 for e in rows), "an event has no reply, or two"
    sent = {r.event_id: r for r in replies(data_dir)}
    for event in rows:
        reply = sent[event.id]
        if allow_held and reply.status == ReplyStatus.HELD:
            continue  # the real safety checks may hold one for the creator: still one reply
        assert reply.status == ReplyStatus.SENT
        # Delivery is at least once; the platform sees one reply id (its idempotency key).
        delivered = [r for r in sink.received if r["in_reply_to"] == event.message_id]
        assert delivered and {r["reply_id"] for r in delivered} == {reply.id}


def test_kill_9_under_load_loses_nothing_and_answers_once(demo_dir: Path, tmp_path: Path) -> None:
    set_policy(
        demo_dir,
        "dm",
        reply_delay={"min_s": 0.2, "max_s": 0.8},
        fan_rate=FAST,
        channel_rate=FAST,
    )
    sink = CallbackSink()
    fans = [f"fan{i:02d}" for i in range(20)]
    messages = [
        dm(f"message {n} from {fan}: tu as une recette de crêpes ?", fan=fan)
        for n in range(6)
        for fan in fans
    ]
    with sink.serving() as url:
        for event in messages:
            event["callback_url"] = url
        # Callbacks to the loopback sink need callback_allow_private.
        loopback = {"inbox_lease_s": 2, "callback_allow_private": True}
        server = ServerProcess(demo_dir, tmp_path / "server.log", **loopback).start()
        current = {"url": server.url}
        # One message first, so the model is warm and replies flow while messages arrive.
        warm = dm("bonjour !", fan="warm-up", callback_url=url)
        assert _send_all(lambda: current["url"], [warm], 1) == {warm["message_id"]: "accepted"}
        wait_until(lambda: sink.texts_for(warm["message_id"]), 120)
        outcome: dict[str, str] = {}
        sender = threading.Thread(
            target=lambda: outcome.update(_send_all(lambda: current["url"], messages, 8, 0.05))
        )
        sender.start()
        # Kill while messages are still arriving and replies are being written.
        wait_until(
            lambda: sum(e.status == EventStatus.DONE for e in events(demo_dir)) >= 12, 120, 0.02
        )
        server.kill()
        sender.join()
        at_kill = Counter(e.status for e in events(demo_dir))
        restarted = ServerProcess(demo_dir, tmp_path / "server2.log", **loopback).start()
        try:
            current["url"] = restarted.url
            failed = [m for m in messages if outcome[m["message_id"]] == "failed"]
            accepted = [m for m in messages if outcome[m["message_id"]] == "accepted"]
            # The platform retries what failed, and (to be sure) re-sends some that succeeded.
            retried = _send_all(lambda: current["url"], failed + accepted[:10], 4)
            assert set(retried.values()) <= {"accepted"}
            ids = {m["message_id"] for m in messages + [warm]}
            wait_until(lambda: len(sink.received) >= len(ids) and _all_sent(demo_dir), 240, 0.2)
            _assert_each_answered_once(demo_dir, sink, ids)
        finally:
            restarted.stop()
    # What the kill interrupted (for the log; the assertions above hold whatever it was).
    print(f"at kill: {dict(at_kill)}; failed sends retried: {len(failed)}")
    assert sink.bad_signatures == 0


def _all_sent(data_dir: Path, settled: tuple[str, ...] = (ReplyStatus.SENT,)) -> bool:
    rows = replies(data_dir)
    return bool(rows) and all(r.status in settled for r in rows)


@pytest.mark.slow
def test_kill_9_during_real_model_replies_on_every_channel(
    demo_dir: Path, tmp_path: Path, real_llm: Any
) -> None:
    """The real model is writing replies for a DM, a comment and a group message when the
    server dies; after the restart each of the three is answered exactly once."""
    for channel in ("dm", "comment", "group"):
        set_policy(demo_dir, channel, reply_delay={"min_s": 0, "max_s": 0})
    set_policy(demo_dir, "comment", batch_window_s=0)
    # One message in a new group: a share of 0.5 lets the AI answer it.
    set_policy(demo_dir, "group", max_share=0.5)
    sink = CallbackSink()
    with sink.serving() as url:
        post = {"id": new_id("post"), "caption": "ma tarte au citron du dimanche"}
        messages = [
            dm("coucou ! c'est quoi ton dessert préféré ?", fan="real-dm"),
            comment("elle a l'air trop bonne, c'est quelle pâte ?", post, fan="real-c"),
            group_message("@camille.cuisine tu fais quoi ce week-end ?", new_id("grp"), "g1"),
        ]
        for event in messages:
            event["callback_url"] = url
        overrides = real_llm.overrides() | {
            "inbox_lease_s": 2,
            "llm_timeout_s": 300,
            "callback_allow_private": True,  # the sink is on loopback
        }
        server = ServerProcess(demo_dir, tmp_path / "real.log", **overrides).start()
        outcome = _send_all(lambda: server.url, messages, 3)
        assert set(outcome.values()) == {"accepted"}
        # Kill while at least one reply is being generated.
        wait_until(
            lambda: any(e.status == EventStatus.PROCESSING for e in events(demo_dir)), 120, 0.02
        )
        server.kill()
        restarted = ServerProcess(demo_dir, tmp_path / "real2.log", **overrides).start()
        try:
            ids = {m["message_id"] for m in messages}
            settled = (ReplyStatus.SENT, ReplyStatus.HELD)
            wait_until(
                lambda: len(replies(demo_dir)) >= 3 and _all_sent(demo_dir, settled), 600, 0.5
            )
            _assert_each_answered_once(demo_dir, sink, ids, allow_held=True)
            for delivered in sink.received:
                assert delivered["text"].strip() and delivered["label"]
        finally:
            restarted.stop()
