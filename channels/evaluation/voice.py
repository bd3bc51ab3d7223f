"""`persona eval voice`: build an AI double from each creator's train split in a scratch
store, answer held-out fan messages, and score the replies (see persona.evaluation.voice)."""

from __future__ import annotations

import asyncio
import logging
import math
import random
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from channels.migrate import upgrade
from channels.services import Platform
from persona.engine import Channel, ReplyAction, ReplyRequest
from persona.engine.engine import EngineConfig, ReplyEngine
from persona.engine.safety_guard import SafetyGuard
from persona.evaluation.voice import (
    CreatorVoiceReport,
    Split,
    VoiceReport,
    copy_rate,
    fan_messages_for,
    split_posts,
)
from persona.evaluation.voice_judge import StyleJudge
from persona.retrieval.index import PostIndex, VectorStoreConfig
from persona.store import Creator, Database, DatabaseConfig, Post, VoiceEval
from persona.store.posts import load_post_records
from persona.style import build_profile, style_distance

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
MIN_POSTS = 30


def eligible_creators(services: Platform) -> list[str]:
    with services.db.session() as session:
        rows = session.execute(
            select(Post.creator_id, func.count(Post.id)).group_by(Post.creator_id)
        ).all()
    return sorted(c for c, n in rows if n >= MIN_POSTS)


def run_voice_eval(
    services: Platform,
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


def _texts(services: Platform, creator: str) -> list:
    return [r for r in load_post_records(services.db, creator) if r.clean_text]


def _train_judge(splits: dict[str, Split]) -> tuple[StyleJudge | None, float]:
    if len(splits) < 2:
        return None, math.nan
    texts = [r.clean_text for c in splits for r in splits[c].judge]
    labels = [c for c in splits for _ in splits[c].judge]
    # Function words + compression: not the draft ranker's char n-grams (issue 16).
    judge = StyleJudge().fit(texts, labels)
    test_texts = [r.clean_text for c in splits for r in splits[c].test]
    test_labels = [c for c in splits for _ in splits[c].test]
    predicted = judge.predict(test_texts)
    correct = sum(p == t for p, t in zip(predicted, test_labels, strict=True))
    return judge, correct / len(test_labels) if test_labels else math.nan


def _scratch_engine(
    services: Platform,
    scratch: Path,
    splits: dict[str, Split],
    candidates: int | None,
    progress: Progress,
    adapters: object | None = None,
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
        adapters=adapters,  # type: ignore[arg-type]
    )
    return engine, db


async def _evaluate_creator(
    engine: ReplyEngine,
    creator: str,
    split: Split,
    judge: StyleJudge | None,
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
        real_style_distance=matched_distance(
            [r.clean_text for r in split.train], real_test, len(replies)
        ),
        copy_rate=copy_rate(replies, all_posts),
        samples=samples,
    )


def matched_distance(
    real: list[str], test: list[str], size: int, draws: int = 5, seed: int = 0
) -> float:
    """The reference distance at the replies' own sample size: ~600 real posts against the
    test posts would look closer than any ~10 replies could (a large sample is smoother)."""
    if not size or not real or not test:
        return math.nan
    rng = random.Random(seed)
    values = [style_distance(rng.sample(real, min(size, len(real))), test) for _ in range(draws)]
    return sum(values) / len(values)


def _save(services: Platform, report: VoiceReport) -> None:
    with services.db.session() as session:
        for c in report.creators:
            session.add(_eval_row(c, report.judge_accuracy, chance=report.chance))


def _eval_row(c: CreatorVoiceReport, judge_accuracy: float, **details: object) -> VoiceEval:
    """One stored voice evaluation of a creator; `details` adds run-specific fields."""
    return VoiceEval(
        creator_id=c.creator_id,
        attribution=_finite(c.attribution),
        real_attribution=_finite(c.real_attribution),
        style_distance=_finite(c.style_distance),
        copy_rate=c.copy_rate,
        details={
            **details,
            "judge_accuracy": _finite(judge_accuracy),
            "replies": c.replies,
            "real_style_distance": _finite(c.real_style_distance),
            "samples": c.samples,
        },
    )


def _finite(value: float) -> float:
    return -1.0 if math.isnan(value) else round(value, 4)


# -- base vs tuned: the loop that decides whether a voice adapter is served --------------------


@dataclass(slots=True)
class TunedComparison:
    creator_id: str
    adapter: str  # "<creator>-v<N>"
    base: CreatorVoiceReport
    tuned: CreatorVoiceReport
    decision: str  # "activated", "rejected" or "not applied" (--no-activate)
    reason: str

    def to_dict(self) -> dict:
        return {
            "creator_id": self.creator_id,
            "adapter": self.adapter,
            "decision": self.decision,
            "reason": self.reason,
            "base": self.base.to_dict(),
            "tuned": self.tuned.to_dict(),
        }


def tuned_wins(base: CreatorVoiceReport, tuned: CreatorVoiceReport) -> tuple[bool, str]:
    """An adapter is served only if the judge attributes more of its replies to the creator
    than the base pipeline's, on the same held-out fan messages, and it copies no post."""
    if tuned.copy_rate > 0:
        return False, f"copies posts ({tuned.copy_rate:.0%} of replies)"
    if not tuned.replies:
        return False, "no reply was sent"
    if math.isnan(tuned.attribution) or math.isnan(base.attribution):
        return False, "no attribution judge (needs 2+ creators with 30+ posts)"
    if tuned.attribution <= base.attribution:
        return False, f"attribution {tuned.attribution:.0%} <= base {base.attribution:.0%}"
    return True, f"attribution {tuned.attribution:.0%} > base {base.attribution:.0%}, copy rate 0"


def run_tuned_comparison(
    services: Platform,
    creators: list[str] | None = None,
    per_creator: int = 20,
    candidates: int | None = None,
    progress: Progress = lambda *_: None,
    activate: bool = True,
) -> tuple[list[TunedComparison], float]:
    """For each creator's newest candidate adapter (`persona tune`): answer the same held-out
    fan messages with the base pipeline and with the adapter, score both with one judge, and
    activate the adapter only if it wins (else mark it rejected). Returns the comparisons and
    the judge's accuracy on real held-out posts."""
    from persona.llm.lora import LoraAdapter
    from persona.tune.adapters import AdapterStatus, AdapterStore

    store = AdapterStore(services.settings.data_dir)
    wanted = creators or store.creators()
    trial = {c: v for c in wanted if (v := store.latest(c, AdapterStatus.CANDIDATE)) is not None}
    if not trial:
        raise LookupError(
            "no candidate adapter to compare: train one with `persona tune CREATOR` first"
        )
    eligible = set(eligible_creators(services))
    missing = sorted(set(trial) - eligible)
    if missing:
        raise LookupError(f"{', '.join(missing)}: not in the store or fewer than {MIN_POSTS} posts")
    splits = {c: split_posts(_texts(services, c)) for c in trial}
    judge_splits = {c: splits.get(c) or split_posts(_texts(services, c)) for c in sorted(eligible)}
    judge, accuracy = _train_judge(judge_splits)
    llm = services.llm
    served = {a.creator: a for a in services.active_adapters()}
    served.update({c: LoraAdapter(c, path=v.path) for c, v in trial.items()})
    # The candidates are loaded beside the active adapters; requests pick them per creator.
    llm.set_adapters(tuple(served.values()))
    try:
        pairs = _compare(services, splits, judge, per_creator, candidates, progress)
    finally:
        llm.set_adapters(services.active_adapters())
    comparisons: list[TunedComparison] = []
    for (c, version), (base, tuned) in zip(trial.items(), pairs, strict=True):
        wins, reason = tuned_wins(base, tuned)
        if not activate:
            decision = "not applied"
        elif wins:
            store.activate(c, version.version)
            decision = "activated"
        else:
            store.reject(c, version.version, notes=f"persona eval voice: {reason}")
            decision = "rejected"
        log.info("voice adapter %s", decision, extra={"adapter": version.name, "reason": reason})
        comparisons.append(TunedComparison(c, version.name, base, tuned, decision, reason))
    # Serve what was activated (the embedded server restarts with the new set).
    if any(comp.decision == "activated" for comp in comparisons):
        llm.set_adapters(services.active_adapters())
    _save_comparisons(services, comparisons, accuracy)
    return comparisons, accuracy


def _compare(
    services: Platform,
    splits: dict[str, Split],
    judge: StyleJudge | None,
    per_creator: int,
    candidates: int | None,
    progress: Progress,
) -> list[tuple[CreatorVoiceReport, CreatorVoiceReport]]:
    """The same fan messages through the base pipeline and with each creator's adapter
    (one scratch store with the train splits; two engines, the same model server)."""
    with tempfile.TemporaryDirectory(prefix="persona-eval-") as scratch:
        tuned_engine, db = _scratch_engine(
            services, Path(scratch), splits, candidates, progress, adapters=services.llm
        )
        base_engine = ReplyEngine(
            tuned_engine.db,
            tuned_engine.index,
            tuned_engine.embeddings,
            tuned_engine.chat_model,
            tuned_engine.guard,
            tuned_engine.config,
            model_name=tuned_engine.model_name,
        )

        async def compare_all() -> list[tuple[CreatorVoiceReport, CreatorVoiceReport]]:
            pairs = []
            for c, split in splits.items():
                base = await _evaluate_creator(base_engine, c, split, judge, per_creator, progress)
                tuned = await _evaluate_creator(
                    tuned_engine, c, split, judge, per_creator, progress
                )
                pairs.append((base, tuned))
            return pairs

        try:
            return asyncio.run(compare_all())
        finally:
            db.dispose()


def _save_comparisons(
    services: Platform, comparisons: list[TunedComparison], accuracy: float
) -> None:
    with services.db.session() as session:
        for comp in comparisons:
            for variant, c in (("base", comp.base), ("tuned", comp.tuned)):
                session.add(
                    _eval_row(
                        c,
                        accuracy,
                        variant=variant,
                        adapter=comp.adapter if variant == "tuned" else None,
                        decision=comp.decision,
                        reason=comp.reason,
                    )
                )
