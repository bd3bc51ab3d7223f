"""The live queue: grouping, priority order, welcome batches, overflow, and the accounting
that leaves no message unaccounted."""

from __future__ import annotations

import random

from channels.live.metrics import StreamMetrics
from channels.live.queue import LiveQueue, QueueLimits
from channels.textsim import features


def make_queue(**limits: object) -> tuple[LiveQueue, StreamMetrics]:
    metrics = StreamMetrics("creator", "stream")
    return LiveQueue(QueueLimits(**limits), metrics), metrics  # type: ignore[arg-type]


def ask(queue: LiveQueue, text: str, user: str = "u", now: float = 0.0) -> str | None:
    queue.metrics.received += 1
    feats, content = features(text)
    return queue.add_question(text, feats, content, user, user.title(), now)


def settled(metrics: StreamMetrics) -> int:
    return (
        metrics.answered
        + metrics.merged
        + sum(metrics.dropped.values())
        + metrics.queued
        + metrics.in_flight
    )


def test_near_duplicates_form_one_cluster_ranked_by_askers() -> None:
    queue, metrics = make_queue()
    ask(queue, "What's your favourite recipe?", "anna")
    ask(queue, "what is ur favorite recipe??", "tom")
    ask(queue, "favourite recipe?", "zoe")
    ask(queue, "Where do you live?", "max")
    top = queue.top_questions(5)
    assert [(t.question, t.count) for t in top] == [
        ("What's your favourite recipe?", 3),
        ("Where do you live?", 1),
    ]
    assert metrics.queued == 4 and queue.open_questions == 2

    work = queue.next_work(now=1.0)
    assert work is not None and work.kind == "question"
    assert work.question is not None and work.question.text == "What's your favourite recipe?"
    assert metrics.in_flight == 3 and metrics.queued == 1
    # A repeat while the answer is being written joins it.
    ask(queue, "whats your favourite recipe", "ben", now=1.5)
    queue.finish(work, now=2.0)
    assert (metrics.answered, metrics.merged, metrics.in_flight) == (1, 3, 0)
    # A repeat after the answer is covered by it at once.
    ask(queue, "favourite recipe???", "eve", now=3.0)
    assert metrics.merged == 4 and metrics.queued == 1
    assert settled(metrics) == metrics.received == 6


def test_priority_paid_by_amount_then_questions_then_welcome() -> None:
    queue, metrics = make_queue(greet_min_wait_s=5.0, greet_max_wait_s=60.0)
    queue.add_newcomer("Lea", now=0.0)
    ask(queue, "how do you make croissants?", "a")
    ask(queue, "where do you live?", "b")
    ask(queue, "where do you live??", "c")
    queue.add_paid("paid", "can you say hi to my mum?", "d", "Dan", 5.0, now=0.0)
    queue.add_paid("gift", "", "e", "Eve", 20.0, now=0.0)
    order = []
    while (work := queue.next_work(now=10.0)) is not None:
        label = work.kind
        if work.question is not None:
            label += ":" + work.question.text
        if work.paid is not None:
            label += f":{work.paid.amount:g}"
        order.append(label)
        queue.finish(work, now=10.0)
    assert order == [
        "gift:20",
        "paid:5",
        "question:where do you live?",
        "question:how do you make croissants?",
        "welcome",
    ]
    assert metrics.queued == metrics.in_flight == 0
    assert metrics.answered == 5 and metrics.merged == 1


def test_newcomers_wait_to_be_batched_and_cannot_starve() -> None:
    queue, metrics = make_queue(greet_min_wait_s=5.0, greet_max_wait_s=30.0, max_welcome_names=3)
    for i, name in enumerate(["Anna", "Tom", "", "Zoe", "Max"]):
        queue.add_newcomer(name, now=float(i))
    assert queue.next_work(now=4.0) is None  # still collecting
    ask(queue, "what camera do you use?", "q", now=4.0)
    work = queue.next_work(now=6.0)
    assert work is not None and work.kind == "question"
    queue.finish(work, now=6.0)
    ask(queue, "what lens do you use?", "r", now=6.0)
    # After greet_max_wait_s the welcome goes before waiting questions.
    work = queue.next_work(now=31.0)
    assert work is not None and work.kind == "welcome" and work.welcome is not None
    assert work.welcome.names == ["Anna", "Tom", "Zoe"] and work.welcome.count == 5
    queue.finish(work, now=31.0)
    assert metrics.answered == 2 and metrics.merged == 4 and queue.newcomers_waiting == 0


def test_gifts_of_one_viewer_merge_into_one_thank_you() -> None:
    queue, metrics = make_queue()
    for _ in range(4):
        assert queue.add_paid("gift", "", "anna", "Anna", 1.0, now=0.0) is None
    assert queue.paid_waiting == 1 and metrics.queued == 4
    work = queue.next_work(now=1.0)
    assert work is not None and work.paid is not None
    assert (work.paid.count, work.paid.amount) == (4, 4.0)
    queue.finish(work, now=1.0)
    assert (metrics.answered, metrics.merged) == (1, 3)


def test_question_overflow_evicts_the_oldest_unrepeated_question() -> None:
    queue, metrics = make_queue(max_questions=3)
    ask(queue, "where do you live?", "a", now=0.0)
    ask(queue, "where do you live??", "b", now=0.1)
    ask(queue, "what camera do you use?", "c", now=0.2)
    ask(queue, "do you have a dog?", "d", now=0.3)
    ask(queue, "when is the next video?", "e", now=0.4)
    texts = {t.question for t in queue.top_questions(10)}
    assert texts == {"where do you live?", "do you have a dog?", "when is the next video?"}
    assert metrics.dropped["overflow"] == 1 and queue.open_questions == 3
    # Only repeated questions left: a new one is dropped, not a repeated one.
    queue2, metrics2 = make_queue(max_questions=1)
    ask(queue2, "where do you live?", "a")
    ask(queue2, "where do you live??", "b")
    assert ask(queue2, "what camera do you use?", "c") == "overflow"
    assert metrics2.dropped["overflow"] == 1 and metrics2.queued == 2


def test_paid_overflow_keeps_the_largest_amounts() -> None:
    queue, metrics = make_queue(max_paid=2)
    queue.add_paid("paid", "one", "a", "A", 5.0, now=0.0)
    queue.add_paid("paid", "two", "b", "B", 10.0, now=0.0)
    assert queue.add_paid("paid", "three", "c", "C", 1.0, now=0.0) == "overflow"
    assert queue.add_paid("paid", "four", "d", "D", 50.0, now=0.0) is None
    amounts = []
    while (work := queue.next_work(now=1.0)) is not None:
        assert work.paid is not None
        amounts.append(work.paid.amount)
        queue.finish(work, now=1.0)
    assert amounts == [50.0, 10.0]
    assert metrics.dropped["overflow"] == 2


def test_stale_questions_expire_and_rejected_repeats_are_dropped() -> None:
    queue, metrics = make_queue(question_ttl_s=60.0, closed_ttl_s=100.0)
    ask(queue, "what camera do you use?", "a", now=0.0)
    ask(queue, "where do you live?", "b", now=50.0)
    assert queue.expire(now=70.0) == 1
    assert metrics.dropped["expired"] == 1
    work = queue.next_work(now=70.0)
    assert work is not None
    queue.finish(work, now=70.0, dropped_reason="moderation")
    assert ask(queue, "where do you live??", "c", now=71.0) == "moderation"
    assert metrics.dropped["moderation"] == 2
    # Closed clusters are forgotten after closed_ttl_s: the question may be asked afresh.
    queue.expire(now=200.0)
    assert ask(queue, "where do you live?", "d", now=200.0) is None
    assert metrics.queued == 1


def test_no_message_unaccounted_under_random_load() -> None:
    rng = random.Random(7)
    queue, metrics = make_queue(max_questions=20, max_paid=5, max_closed=10, question_ttl_s=30)
    words = [
        "camera",
        "dog",
        "video",
        "recipe",
        "croissant",
        "bread",
        "paris",
        "travel",
        "music",
        "book",
    ]
    now = 0.0
    in_flight = []
    for step in range(5000):
        now += 0.01
        roll = rng.random()
        metrics.received += 1
        if roll < 0.6:
            text = f"what {rng.choice(words)} {rng.choice(words)} do you like?"
            metrics.received -= 1
            ask(queue, text, f"u{step}", now)
        elif roll < 0.7:
            queue.add_paid(rng.choice(["paid", "gift"]), "", f"u{step % 9}", "X", rng.random(), now)
        elif roll < 0.85:
            queue.add_newcomer(f"N{step}", now)
        else:
            metrics.drop("chatter")
        if step % 50 == 0:
            queue.expire(now)
            if in_flight:
                queue.finish(in_flight.pop(), now, rng.choice([None, None, "moderation"]))
            work = queue.next_work(now)
            if work is not None:
                in_flight.append(work)
        assert settled(metrics) == metrics.received
        sizes = queue.sizes()
        assert sizes["open_questions"] <= 20 and sizes["paid"] <= 5
        assert sizes["clusters"] <= 20 + 10
    for work in in_flight:
        queue.finish(work, now)
    queue.drain("stream_ended")
    assert metrics.queued == metrics.in_flight == 0
    assert settled(metrics) == metrics.received == 5000
    assert metrics.answered > 0 and metrics.merged > 0 and metrics.dropped["overflow"] > 0
