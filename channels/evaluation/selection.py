"""Choosing what to answer: labelled group chats, comment threads and live chats run through
the real selection code (the inbox worker on a throw-away SQLite database, the live intake
screen and queue), with an instant stub in place of the model.

The stub keeps the engine's own first step, the inbound guard (`SafetyGuard.inbound`: what
the engine blocks, answers with a ready reply, or lets the model write), so "answered" means
what a fan would see: a reply in the outbox, or a live answer published. Everything else, from
the share and the caps to rate limits and duplicate detection, is the production code.

Data: persona/evaluation/data/selection_threads.json (its guidelines say how it is labelled).
Figures per channel: precision and recall of "should the creator's double answer this", the
AI's share of each group chat, and whether the per-post cap went to replies that were sent.
"""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

DATA_FILE = "selection_threads.json"
CHANNELS = ("group", "comment", "live")
START = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)  # a Monday, inside any default active hours
PLATFORM = "evalgram"


def load_threads(path: Path | None = None) -> dict[str, Any]:
    if path is not None:
        return json.loads(path.read_text("utf-8"))
    text = resources.files("persona.evaluation").joinpath("data", DATA_FILE).read_text("utf-8")
    return json.loads(text)


# -- results -----------------------------------------------------------------------------------


@dataclass(slots=True)
class Outcome:
    thread: str
    channel: str
    lang: str
    index: int
    fan: str
    text: str
    should_answer: bool
    answered: bool
    reason: str
    limits: bool = False  # the thread is built to exceed the share or the cap
    withheld: bool = False  # skipped by the share or the cap only


@dataclass(slots=True)
class ChannelFigures:
    channel: str
    threads: int = 0
    messages: int = 0
    labelled_true: int = 0
    answered: int = 0
    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0
    withheld_by_limits: int = 0  # worth answering, held back by the share/cap of a limits thread

    @property
    def precision(self) -> float:
        return self.true_positives / self.answered if self.answered else 1.0

    @property
    def recall(self) -> float:
        wanted = self.true_positives + self.false_negatives
        return self.true_positives / wanted if wanted else 1.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
        }


@dataclass(slots=True)
class ShareCheck:
    thread: str
    max_share: float
    messages: int  # fans' and the AI's
    ai_messages: int
    worst_window_share: float  # the highest share over the policy's window, at any AI reply

    @property
    def share(self) -> float:
        return self.ai_messages / self.messages if self.messages else 0.0

    @property
    def held(self) -> bool:
        return self.worst_window_share <= self.max_share + 1e-9


@dataclass(slots=True)
class CapCheck:
    thread: str
    cap: int
    answered: int
    worth_answering: int
    answered_worth: int

    @property
    def held(self) -> bool:
        return self.answered <= self.cap

    @property
    def slots_to_sent_replies(self) -> bool:
        """Every slot the cap allows went to a worth-answering reply that was sent."""
        return self.answered_worth >= min(self.cap, self.worth_answering)


@dataclass(slots=True)
class SelectionReport:
    outcomes: list[Outcome]
    figures: dict[str, ChannelFigures]
    shares: list[ShareCheck] = field(default_factory=list)
    caps: list[CapCheck] = field(default_factory=list)
    seconds: float = 0.0

    def misses(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.answered != o.should_answer and not o.withheld]

    def to_dict(self) -> dict[str, Any]:
        return {
            "figures": {k: v.to_dict() for k, v in self.figures.items()},
            "shares": [asdict(s) | {"share": s.share, "held": s.held} for s in self.shares],
            "caps": [
                asdict(c) | {"held": c.held, "slots_to_sent_replies": c.slots_to_sent_replies}
                for c in self.caps
            ],
            "misses": [asdict(o) for o in self.misses()],
            "seconds": round(self.seconds, 2),
        }


def tally(outcomes: Iterable[Outcome]) -> dict[str, ChannelFigures]:
    figures: dict[str, ChannelFigures] = {}
    seen: dict[str, set[str]] = {}
    for o in outcomes:
        fig = figures.setdefault(o.channel, ChannelFigures(o.channel))
        seen.setdefault(o.channel, set()).add(o.thread)
        fig.messages += 1
        fig.labelled_true += o.should_answer
        fig.answered += o.answered
        if o.answered and o.should_answer:
            fig.true_positives += 1
        elif o.answered:
            fig.false_positives += 1
        elif o.should_answer and o.withheld:
            fig.withheld_by_limits += 1
        elif o.should_answer:
            fig.false_negatives += 1
    for channel, threads in seen.items():
        figures[channel].threads = len(threads)
    return figures


# -- the model step, instant -----------------------------------------------------------------


class StubEngine:
    """The reply engine with an instant model: its inbound guard decides (block, ready reply,
    or write), and a written reply is one fixed line."""

    def __init__(self, names: dict[str, str]) -> None:
        from persona.engine.safety_guard import SafetyGuard

        self.names = names
        self.guard = SafetyGuard()
        self.calls = 0

    def decide(self, creator_id: str, text: str, channel: str) -> Any:
        from persona.engine.guard import GuardContext
        from persona.engine.types import Channel, ReplyAction, ReplyResult

        self.calls += 1
        ctx = GuardContext(
            creator_id=creator_id,
            creator_name=self.names.get(creator_id, creator_id),
            channel=Channel(channel),
            settings={},
            system_prompt="",
            is_published=lambda _: False,
            message=text,
        )
        inbound = self.guard.inbound(text, ctx)
        if inbound.action in (ReplyAction.SEND, ReplyAction.HOLD):
            return ReplyResult(creator_id, "thanks for writing!", inbound.action, inbound.reason)
        reply = inbound.reply_text or ""
        action = ReplyAction.SAFE_REPLY if reply else ReplyAction.BLOCK
        return ReplyResult(creator_id, reply, action, inbound.reason, inbound.category)

    async def reply(self, request: Any) -> Any:
        return self.decide(request.creator_id, request.message, str(request.channel))


# -- group chats and comments: the inbox worker ------------------------------------------------


class _Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        return (self.now - START).total_seconds()


class _Hub:
    def publish(self, topic: str, message: Any) -> None:  # nothing listens in the evaluation
        return None


def _withheld(reason: str) -> bool:
    lowered = reason.casefold()
    return "share" in lowered or "cap:" in lowered or "cap " in lowered or "held back" in lowered


async def _drain(worker: Any) -> None:
    """Claim and finish every due event (the worker's own loop, stepped by hand)."""
    while True:
        started = await worker.claim_and_start()
        if not started and not worker._tasks:
            return
        await asyncio.gather(*list(worker._tasks), return_exceptions=True)


def _policy_settings(thread: dict[str, Any], creator: dict[str, Any]) -> dict[str, Any]:
    from persona.settings import CreatorSettings

    channel = thread["channel"]
    changes: dict[str, Any] = {"reply_delay": {"min_s": 0, "max_s": 0}}
    if channel == "group":
        changes["aliases"] = list(creator.get("aliases") or [])
    changes |= thread.get("policy") or {}
    current = CreatorSettings().policy(channel)
    policy = type(current).model_validate(current.model_dump() | changes)
    return CreatorSettings().with_policy(channel, policy).to_stored()


async def _run_inbox(data: dict[str, Any], engine: StubEngine) -> list[Outcome]:
    from sqlalchemy import select

    from channels.inbox import store
    from channels.inbox.config import InboxConfig
    from channels.inbox.models import InboxEvent, OutboxReply
    from channels.inbox.ratelimit import InProcessRateLimiter
    from channels.inbox.worker import InboxWorker
    from channels.migrate import upgrade
    from persona.store import Creator, Database, DatabaseConfig

    threads = [t for t in data["threads"] if t["thread"]["channel"] in ("group", "comment")]
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="persona-selection-") as tmp:
        db = Database(DatabaseConfig(f"sqlite:///{Path(tmp) / 'selection.db'}"))
        try:
            upgrade(db.engine)  # the production schema, every table the worker reads
            with db.session() as session:
                for cid, creator in data["creators"].items():
                    session.add(Creator(id=cid, display_name=creator["name"], settings={}))
            clock = _Clock(START)
            services = type("Services", (), {"db": db, "hub": _Hub(), "engine": engine})()
            worker = InboxWorker(
                services,
                InboxConfig(inbox_concurrency=1),
                InProcessRateLimiter(clock=clock.monotonic),
                clock,
            )
            for number, item in enumerate(threads):
                head, messages = item["thread"], item["messages"]
                cid = head["creator"]
                with db.session() as session:
                    row = session.get(Creator, cid)
                    assert row is not None
                    row.settings = _policy_settings(head, data["creators"][cid])
                # Threads are hours apart: no cap, share or rate limit carries over.
                base = START + timedelta(hours=3 * number)
                clock.now = base
                ids = await _feed(worker, store, db, clock, base, head, messages, number)
                with db.session() as session:
                    rows = {
                        e.id: e
                        for e in session.scalars(select(InboxEvent).where(InboxEvent.id.in_(ids)))
                    }
                    sent = set(
                        session.scalars(
                            select(OutboxReply.event_id).where(OutboxReply.event_id.in_(ids))
                        )
                    )
                for index, (event_id, message) in enumerate(zip(ids, messages, strict=True)):
                    event = rows[event_id]
                    answered = event_id in sent
                    outcomes.append(
                        Outcome(
                            thread=head["id"],
                            channel=head["channel"],
                            lang=head["lang"],
                            index=index,
                            fan=message["fan"],
                            text=message["text"],
                            should_answer=bool(message["should_answer"]),
                            answered=answered,
                            reason=event.reason or event.status,
                            limits=bool(head.get("limits")),
                            withheld=bool(head.get("limits"))
                            and not answered
                            and _withheld(event.reason or ""),
                        )
                    )
        finally:
            db.dispose()
    return outcomes


async def _feed(
    worker: Any,
    store: Any,
    db: Any,
    clock: _Clock,
    base: datetime,
    head: dict[str, Any],
    messages: list[dict[str, Any]],
    number: int,
) -> list[int]:
    """Deliver a thread's messages in time order, letting the worker decide as they come:
    a group message at a time (a chat), comments in the batches their times make."""
    from channels.inbox.policy import load_policy
    from channels.inbox.protocol import inbound_event

    channel = head["channel"]
    window = 0.0
    if channel == "comment":
        policy = load_policy({"channels": {"comment": head.get("policy") or {}}}, "comment")
        window = float(getattr(policy, "batch_window_s", 0.0))
    ids: list[int] = []
    message_ids: list[str] = []
    for index, message in enumerate(messages):
        # Group messages a minute apart; comments two minutes apart unless timed.
        at = float(message.get("t", index * (60 if channel == "group" else 120)))
        moment = base + timedelta(seconds=at)
        if moment > clock.now:
            # Whatever was due before this message is decided first.
            clock.now = moment
            await _drain(worker)
        message_id = f"{head['id']}-{index}"
        message_ids.append(message_id)
        fan = {"id": message["fan"], "handle": message["fan"], "name": message.get("name")}
        raw: dict[str, Any] = {
            "creator_id": head["creator"],
            "message_id": message_id,
            "fan": fan,
            "text": message["text"],
        }
        if channel == "group":
            raw |= {
                "type": "group_message",
                "group_id": f"group-{number}",
                "group_name": head.get("group_name"),
                "mentions": message.get("mentions") or [],
                "reply_to_creator": bool(message.get("reply_to_creator")),
            }
        else:
            raw |= {"type": "comment", "post": {"id": f"post-{number}", **head["post"]}}
            if (parent := message.get("reply_to")) is not None:
                raw["parent_comment_id"] = message_ids[parent]
        event = inbound_event.validate_python(raw)
        accepted = await asyncio.to_thread(store.accept_event, db, PLATFORM, event, None, clock())
        ids.append(accepted.event_id)
        if channel == "group":
            await _drain(worker)
    # Let the last comment batch's window close, then decide it.
    clock.now += timedelta(seconds=window + 1)
    await _drain(worker)
    return ids


# -- live chat: the intake screen and the queue ------------------------------------------------


def _run_live(data: dict[str, Any], engine: StubEngine) -> list[Outcome]:
    """Each live chat through the stream's intake (screen, cheap moderation, clustering) and
    its queue, answering one item per cadence like the answer loop; a taken question goes to
    the stub engine, which may block it (dropped as "moderation", as in the stream)."""
    from channels.live.config import LiveConfig
    from channels.live.moderation import cheap_moderation
    from channels.live.stream import LiveStream

    outcomes: list[Outcome] = []
    config = LiveConfig()
    for item in data["threads"]:
        head, messages = item["thread"], item["messages"]
        if head["channel"] != "live":
            continue
        stream = LiveStream(
            head["creator"], head["id"], config, None, lambda *_: None, cheap_moderation()
        )  # type: ignore[arg-type] - the answerer is stepped here, not by the stream
        answered_by: dict[tuple[str, str], int] = {}
        times = [float(m.get("t", i * 3)) for i, m in enumerate(messages)]
        step, tick, position = config.cadence_s, 0.0, 0
        last = times[-1] + config.queue.question_ttl_s
        while tick <= last:
            while position < len(messages) and times[position] <= tick:
                message = messages[position]
                frame = {
                    "kind": "chat",
                    "id": f"{head['id']}-{position}",
                    "user": message["fan"],
                    "name": message.get("name") or message["fan"],
                    "text": message["text"],
                }
                stream.intake_frame(json.dumps(frame), now=times[position])
                position += 1
            stream.queue.expire(tick)
            work = stream.queue.next_work(tick)
            if work is not None:
                reason = None
                if work.question is not None:
                    verdict = engine.decide(head["creator"], work.question.text, "live")
                    if not verdict.delivered_text:
                        reason = "moderation"
                    else:
                        key = (work.question.user, work.question.text)
                        answered_by[key] = answered_by.get(key, 0) + 1
                stream.queue.finish(work, tick, reason)
            elif position >= len(messages) and not stream.queue.open_questions:
                break
            tick += step
        claimed: set[tuple[str, str]] = set()
        for index, message in enumerate(messages):
            # A cluster's answer belongs to the message that opened it (first wording asked).
            key = (message["fan"], _live_text(message["text"]))
            answered = key in answered_by and key not in claimed
            if answered:
                claimed.add(key)
            outcomes.append(
                Outcome(
                    thread=head["id"],
                    channel="live",
                    lang=head["lang"],
                    index=index,
                    fan=message["fan"],
                    text=message["text"],
                    should_answer=bool(message["should_answer"]),
                    answered=answered,
                    reason="answered" if answered else "not answered on its own",
                )
            )
    return outcomes


def _live_text(text: str) -> str:
    from channels.live.stream import QUESTION_CHARS
    from channels.textsim import clean_text

    return clean_text(text, QUESTION_CHARS)


# -- share and cap checks ----------------------------------------------------------------------


def _share_checks(data: dict[str, Any], outcomes: list[Outcome]) -> list[ShareCheck]:
    """The AI's share of each group chat: overall, and the worst the policy promises to
    bound, taken at every AI reply over the trailing window (the last
    `share_window_messages` fan messages, counted as at least `share_min_messages`)."""
    from channels.inbox.groups import share_min_messages
    from channels.inbox.policy import GroupPolicy

    by_thread: dict[str, list[Outcome]] = {}
    for o in outcomes:
        if o.channel == "group":
            by_thread.setdefault(o.thread, []).append(o)
    heads = {t["thread"]["id"]: t["thread"] for t in data["threads"]}
    checks = []
    for thread, rows in by_thread.items():
        policy = GroupPolicy.model_validate(heads[thread].get("policy") or {})
        least = share_min_messages(policy.max_share, policy.share_min_messages)
        # The conversation as the group saw it: each AI reply right after its message.
        flags: list[bool] = []
        worst = 0.0
        for row in rows:
            flags.append(False)
            if not row.answered:
                continue
            flags.append(True)
            fans, start = 0, len(flags)
            while start > 0 and fans < policy.share_window_messages:
                start -= 1
                fans += not flags[start]
            window = flags[start:]
            worst = max(worst, sum(window) / max(len(window), least))
        checks.append(ShareCheck(thread, policy.max_share, len(flags), sum(flags), round(worst, 4)))
    return checks


def _cap_checks(data: dict[str, Any], outcomes: list[Outcome]) -> list[CapCheck]:
    from channels.inbox.policy import CommentPolicy

    checks = []
    for item in data["threads"]:
        head = item["thread"]
        if head["channel"] != "comment" or not head.get("limits"):
            continue
        cap = CommentPolicy.model_validate(head.get("policy") or {}).replies_per_post_per_hour
        rows = [o for o in outcomes if o.thread == head["id"]]
        checks.append(
            CapCheck(
                head["id"],
                cap,
                answered=sum(o.answered for o in rows),
                worth_answering=sum(o.should_answer for o in rows),
                answered_worth=sum(o.answered and o.should_answer for o in rows),
            )
        )
    return checks


# -- entry point -------------------------------------------------------------------------------


def run_selection(
    path: Path | None = None,
    channels: Iterable[str] = CHANNELS,
    progress: Callable[[str], None] | None = None,
    engine: StubEngine | None = None,
) -> SelectionReport:
    """Run every thread of the set through the real selection; figures per channel.
    `engine`: another stand-in for the reply engine (a test's, say)."""
    import time

    started = time.perf_counter()
    data = load_threads(path)
    wanted = set(channels)
    data = data | {"threads": [t for t in data["threads"] if t["thread"]["channel"] in wanted]}
    engine = engine or StubEngine({cid: c["name"] for cid, c in data["creators"].items()})
    safety = logging.getLogger("persona.safety")
    level = safety.level
    safety.setLevel(logging.ERROR)  # every blocked spam line would be a warning otherwise
    try:
        outcomes: list[Outcome] = []
        if wanted & {"group", "comment"}:
            if progress:
                progress("group chats and comments")
            outcomes += asyncio.run(_run_inbox(data, engine))
        if "live" in wanted:
            if progress:
                progress("live chats")
            outcomes += _run_live(data, engine)
    finally:
        safety.setLevel(level)
    return SelectionReport(
        outcomes,
        tally(outcomes),
        _share_checks(data, outcomes),
        _cap_checks(data, outcomes),
        time.perf_counter() - started,
    )


def summary_lines(report: SelectionReport) -> list[str]:
    """Plain-text figures (the CLI's table and BENCHMARKS.md use the same numbers)."""
    lines = []
    for channel in CHANNELS:
        fig = report.figures.get(channel)
        if fig is None:
            continue
        lines.append(
            f"{channel}: {fig.threads} threads, {fig.messages} messages, precision "
            f"{fig.precision:.3f} ({fig.true_positives}/{fig.answered}), recall "
            f"{fig.recall:.3f} ({fig.true_positives}/{fig.true_positives + fig.false_negatives})"
            f", withheld by limits {fig.withheld_by_limits}"
        )
    for s in report.shares:
        lines.append(
            f"share {s.thread}: {s.ai_messages}/{s.messages} = {s.share:.1%} (limit "
            f"{s.max_share:g}; worst over the policy's window {s.worst_window_share:.1%}) "
            f"{'held' if s.held else 'EXCEEDED'}"
        )
    for c in report.caps:
        lines.append(
            f"cap {c.thread}: {c.answered} replies (cap {c.cap}; {c.answered_worth} of "
            f"{c.worth_answering} worth answering) {'held' if c.held else 'EXCEEDED'}, "
            f"{'every slot to a sent reply' if c.slots_to_sent_replies else 'SLOTS LOST'}"
        )
    return lines
