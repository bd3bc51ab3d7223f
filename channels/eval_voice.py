"""`persona eval voice`: build an AI double from each creator's train split in a scratch
store, answer held-out fan messages, and score the replies (see persona.evaluation.voice)."""

from __future__ import annotations

import asyncio
import logging
import math
import tempfile
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select

from channels.migrate import upgrade
from channels.services import Services
from persona.engine import Channel, ReplyAction, ReplyRequest
from persona.engine.engine import EngineConfig, ReplyEngine
from persona.engine.safety_guard import SafetyGuard
from persona.evaluation.voice import (
    AttributionJudge,
    CreatorVoiceReport,
    Split,
    VoiceReport,
    copy_rate,
    fan_messages_for,
    split_posts,
)
from persona.retrieval.index import PostIndex, VectorStoreConfig
from persona.store import Creator, Database, DatabaseConfig, Post, VoiceEval
from persona.store.posts import load_post_records
from persona.style import build_profile, style_distance

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
MIN_POSTS = 30


def eligible_creators(services: Services) -> list[str]:
    with services.db.session() as session:
        rows = session.execute(
            select(Post.creator_id, func.count(Post.id)).group_by(Post.creator_id)
        ).all()
    return sorted(c for c, n in rows if n >= MIN_POSTS)


def run_voice_eval(
    services: Services,
    creators: list[str] | None = None,
    per_creator: int = 20,
    candidates: int | None = None,
    progress: Progress = lambda *_: None,
    save: bool = True,
) -> VoiceReport:
    chosen = creators or eligible_creators(services)
    if not chosen:
        raise LookupError(f"no creator has {MIN_POSTS}+ posts: ingest some first")
    splits = {c: split_posts(_texts(services, c)) for c in chosen}
    # The judge learns every eligible creator (more creators = a harder, fairer test).
    judged = sorted(set(chosen) | set(eligible_creators(services)))
    judge_splits = {c: splits.get(c) or split_posts(_texts(services, c)) for c in judged}
    judge, accuracy = _train_judge(judge_splits)
    with tempfile.TemporaryDirectory(prefix="persona-eval-") as scratch:
        engine, db = _scratch_engine(services, Path(scratch), splits, candidates, progress)

        async def evaluate_all() -> list[CreatorVoiceReport]:
            return [
                await _evaluate_creator(engine, c, splits[c], judge, per_creator, progress)
                for c in chosen
            ]

        try:
            # One event loop for every request: the model client's connections belong to it.
            reports = asyncio.run(evaluate_all())
        finally:
            db.dispose()
    report = VoiceReport(reports, accuracy, 1 / len(judged) if judged else 0.0)
    if save:
        _save(services, report)
    return report


def _texts(services: Services, creator: str) -> list:
    return [r for r in load_post_records(services.db, creator) if r.clean_text]


def _train_judge(splits: dict[str, Split]) -> tuple[AttributionJudge | None, float]:
    if len(splits) < 2:
        return None, math.nan
    texts = [r.clean_text for c in splits for r in splits[c].judge]
    labels = [c for c in splits for _ in splits[c].judge]
    judge = AttributionJudge().fit(texts, labels)
    test_texts = [r.clean_text for c in splits for r in splits[c].test]
    test_labels = [c for c in splits for _ in splits[c].test]
    predicted = judge.predict(test_texts)
    correct = sum(p == t for p, t in zip(predicted, test_labels, strict=True))
    return judge, correct / len(test_labels) if test_labels else math.nan


def _scratch_engine(
    services: Services,
    scratch: Path,
    splits: dict[str, Split],
    candidates: int | None,
    progress: Progress,
) -> tuple[ReplyEngine, Database]:
    """A second store holding only the train split, sharing the embeddings and the model."""
    from ingest.pipeline import Ingestor

    db = Database(DatabaseConfig(f"sqlite:///{scratch / 'eval.db'}"))
    upgrade(db.engine)
    index = PostIndex(VectorStoreConfig(path=scratch / "chroma"), services.embeddings)
    ingestor = Ingestor(db, index)
    with services.db.session() as session:
        names = {c: (session.get(Creator, c).display_name) for c in splits}
    for i, (creator, split) in enumerate(splits.items()):
        progress("index", i, len(splits))
        ingestor.ingest_records(split.train, source=f"eval-train:{creator}", display_names=names)
    progress("index", len(splits), len(splits))
    s = services.settings
    engine = ReplyEngine(
        db,
        index,
        services.embeddings,
        services.llm.chat_model(),
        SafetyGuard(),
        EngineConfig(
            candidates=candidates or s.reply_candidates,
            max_tokens=s.reply_max_tokens,
            retrieve_posts=s.retrieve_posts,
            retrieve_replies=s.retrieve_replies,
        ),
        model_name=s.llm_model,
    )
    return engine, db


async def _evaluate_creator(
    engine: ReplyEngine,
    creator: str,
    split: Split,
    judge: AttributionJudge | None,
    per_creator: int,
    progress: Progress,
) -> CreatorVoiceReport:
    profile = build_profile(creator, split.train)
    messages = fan_messages_for(split, list(profile.topic_words), per_creator)
    replies: list[str] = []
    samples: list[dict[str, str]] = []
    for i, message in enumerate(messages):
        progress(creator, i, len(messages))
        result = await engine.reply(ReplyRequest(creator, message, Channel.DM, record=False))
        samples.append({"fan": message, "reply": result.text, "action": str(result.action)})
        if result.action in (ReplyAction.SEND, ReplyAction.HOLD):
            replies.append(result.text)
    progress(creator, len(messages), len(messages))
    real_test = [r.clean_text for r in split.test]
    all_posts = [r.clean_text for r in split.train + split.judge + split.test]
    return CreatorVoiceReport(
        creator_id=creator,
        replies=len(replies),
        attribution=judge.share_attributed(replies, creator) if judge else math.nan,
        real_attribution=judge.share_attributed(real_test, creator) if judge else math.nan,
        style_distance=style_distance(replies, real_test) if replies else math.nan,
        real_style_distance=style_distance([r.clean_text for r in split.train], real_test),
        copy_rate=copy_rate(replies, all_posts),
        samples=samples,
    )


def _save(services: Services, report: VoiceReport) -> None:
    with services.db.session() as session:
        for c in report.creators:
            session.add(
                VoiceEval(
                    creator_id=c.creator_id,
                    attribution=_finite(c.attribution),
                    real_attribution=_finite(c.real_attribution),
                    style_distance=_finite(c.style_distance),
                    copy_rate=c.copy_rate,
                    details={
                        "judge_accuracy": _finite(report.judge_accuracy),
                        "chance": report.chance,
                        "replies": c.replies,
                        "real_style_distance": _finite(c.real_style_distance),
                        "samples": c.samples,
                    },
                )
            )


def _finite(value: float) -> float:
    return -1.0 if math.isnan(value) else round(value, 4)
