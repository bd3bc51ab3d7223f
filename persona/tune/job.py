"""One tuning job: a creator's posts -> dataset -> LoRA training -> a versioned adapter."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from persona.settings import CreatorSettings
from persona.store import Creator, Database
from persona.store.posts import load_post_records
from persona.style import VoiceProfile
from persona.tune.adapters import AdapterManifest, AdapterStatus, AdapterStore, AdapterVersion
from persona.tune.base_model import describe_base
from persona.tune.dataset import TuneDataset, build_dataset, creator_system_prompt
from persona.tune.trainer import ProgressFn, TrainConfig, TrainResult, train_lora

log = logging.getLogger(__name__)


class NothingToResume(LookupError):
    pass


@dataclass(slots=True)
class TuneOutcome:
    adapter: AdapterVersion
    result: TrainResult
    dataset: TuneDataset


def creator_dataset(
    db: Database,
    creator_id: str,
    max_examples: int | None = None,
    include_posts: bool = True,
    seed: int = 0,
) -> TuneDataset:
    with db.session() as session:
        creator = session.get(Creator, creator_id)
        if creator is None or not creator.profile:
            raise LookupError(
                f"unknown creator {creator_id!r}: ingest their posts first "
                f"(persona ingest FILE --creator {creator_id})"
            )
        name, profile = creator.display_name, creator.profile
        settings = CreatorSettings.from_stored(creator.settings)
    topics = settings.forbidden_topics
    # The same boundary line the reply engine adds, so the prompt prefix matches.
    boundaries = f"- Never discuss: {', '.join(topics)}." if topics else ""
    system = creator_system_prompt(name, VoiceProfile.from_dict(profile), boundaries)
    records = load_post_records(db, creator_id)
    return build_dataset(
        records, name, system, max_examples=max_examples, include_posts=include_posts, seed=seed
    )


def tune_creator(
    db: Database,
    data_dir: Path,
    creator_id: str,
    base_dir: Path,
    config: TrainConfig | None = None,
    *,
    max_examples: int | None = 400,
    include_posts: bool = True,
    resume: bool = False,
    progress: ProgressFn | None = None,
) -> TuneOutcome:
    """Train a new adapter version (or, with `resume`, continue the latest unfinished one)."""
    config = config or TrainConfig()
    store = AdapterStore(data_dir)
    dataset = creator_dataset(db, creator_id, max_examples, include_posts, config.seed)
    if len(dataset.train) < 8:
        raise LookupError(
            f"{creator_id} has only {dataset.size} usable posts outside the evaluation's "
            "held-out part: ingest more posts (30+) before tuning"
        )
    base = describe_base(base_dir)
    if resume:
        version = store.latest(creator_id, AdapterStatus.TRAINING)
        if version is None:
            raise NothingToResume(
                f"{creator_id} has no unfinished training to resume: run without --resume"
            )
        if version.manifest.base_sha256 != base.sha256:
            raise NothingToResume(
                f"{version.name} was trained on another base model ({version.manifest.base_model}):"
                " pass the same --base, or run without --resume"
            )
    else:
        version = store.new_version(
            AdapterManifest(
                creator=creator_id,
                version=0,
                status=AdapterStatus.TRAINING,
                base_model=base.model_id,
                base_sha256=base.sha256,
                base_path=str(base.path),
                config=_config_dict(config),
                dataset={
                    "max_examples": max_examples,
                    "include_posts": include_posts,
                    "skipped": dict(dataset.skipped),
                    "synthetic_prompts": sum(ex.synthetic_prompt for ex in dataset.train),
                },
            )
        )
    result = train_lora(
        base_dir, dataset, version.path, version.work_dir, config, progress, resume=resume
    )
    manifest = version.manifest
    manifest.train_examples = result.train_examples
    manifest.val_examples = result.val_examples
    manifest.steps = result.steps
    manifest.total_steps = result.total_steps
    manifest.best_step = result.best_step
    manifest.initial_val_loss = _finite(result.initial_val_loss)
    manifest.val_loss = _finite(result.best_val_loss)
    manifest.stopped_early = result.stopped_early
    manifest.seconds = round(manifest.seconds + result.seconds, 1)
    store.save(version)
    store.finish(version)
    log.info("adapter %s trained: val loss %s", version.name, manifest.val_loss)
    return TuneOutcome(version, result, dataset)


def _config_dict(config: TrainConfig) -> dict[str, Any]:
    from dataclasses import asdict

    data = asdict(config)
    data["target_modules"] = list(config.target_modules)
    return data


def _finite(value: float) -> float | None:
    import math

    return round(value, 4) if math.isfinite(value) else None
