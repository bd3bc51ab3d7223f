"""Versioned voice adapters in the data directory.

    <data_dir>/adapters/<creator>/v<N>/
        adapter_config.json         } a standard peft folder (PeftModel.save_pretrained)
        adapter_model.safetensors   }
        manifest.json               what it is: base model, data, training figures, status
        work/                       checkpoints while training (removed when it finishes)

Status: `training` (unfinished or interrupted: `persona tune --resume` continues it),
`candidate` (trained, not serving), `active` (at most one per creator: the one served),
`rejected` (did not beat the base on the voice evaluation, or turned down by hand).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

ADAPTERS_DIR = "adapters"
MANIFEST = "manifest.json"
WORK_DIR = "work"
PEFT_FILES = ("adapter_config.json", "adapter_model.safetensors")
_VERSION_RE = re.compile(r"^v(\d+)$")
_SAFE_ID_RE = re.compile(r"^[\w][\w.-]{0,99}$")


class AdapterStatus(StrEnum):
    TRAINING = "training"
    CANDIDATE = "candidate"
    ACTIVE = "active"
    REJECTED = "rejected"


class AdapterNotFound(LookupError):
    pass


@dataclass(slots=True)
class AdapterManifest:
    creator: str
    version: int
    status: AdapterStatus
    base_model: str  # readable name of the base (its folder name)
    base_sha256: str  # identity of the exact base weights (see persona.tune.base_model)
    base_path: str = ""  # where the base was when the adapter was trained
    format: str = "peft-lora"
    created: str = ""
    finished: str | None = None
    train_examples: int = 0
    val_examples: int = 0
    steps: int = 0
    total_steps: int = 0
    best_step: int = 0
    initial_val_loss: float | None = None  # the base model, before training
    val_loss: float | None = None  # the kept adapter
    stopped_early: bool = False
    seconds: float = 0.0
    config: dict[str, Any] = field(default_factory=dict)
    dataset: dict[str, Any] = field(default_factory=dict)
    notes: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = str(self.status)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AdapterManifest:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["status"] = AdapterStatus(known["status"])
        return cls(**known)


@dataclass(frozen=True, slots=True)
class AdapterVersion:
    path: Path  # the peft folder (pass it to PeftModel.from_pretrained or a converter)
    manifest: AdapterManifest

    @property
    def version(self) -> int:
        return self.manifest.version

    @property
    def name(self) -> str:
        """A stable served-model name: `<creator>-v<N>` (vLLM's --lora-modules NAME=PATH)."""
        return f"{self.manifest.creator}-v{self.manifest.version}"

    @property
    def work_dir(self) -> Path:
        return self.path / WORK_DIR

    def has_weights(self) -> bool:
        return all((self.path / name).is_file() for name in PEFT_FILES)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class AdapterStore:
    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / ADAPTERS_DIR

    def creator_dir(self, creator: str) -> Path:
        if not _SAFE_ID_RE.match(creator):
            raise ValueError(f"creator id {creator!r} cannot name a folder")
        return self.root / creator

    def creators(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and self.list(p.name))

    def list(self, creator: str) -> list[AdapterVersion]:
        folder = self.creator_dir(creator)
        if not folder.is_dir():
            return []
        versions = []
        for path in folder.iterdir():
            if _VERSION_RE.match(path.name) and (path / MANIFEST).is_file():
                manifest = AdapterManifest.from_dict(json.loads((path / MANIFEST).read_text()))
                versions.append(AdapterVersion(path, manifest))
        return sorted(versions, key=lambda v: v.version)

    def get(self, creator: str, version: int) -> AdapterVersion:
        for found in self.list(creator):
            if found.version == version:
                return found
        raise AdapterNotFound(
            f"{creator} has no adapter v{version}: `persona tune {creator}` trains one"
        )

    def latest(self, creator: str, status: AdapterStatus | None = None) -> AdapterVersion | None:
        versions = [v for v in self.list(creator) if status is None or v.manifest.status == status]
        return versions[-1] if versions else None

    def active(self, creator: str) -> AdapterVersion | None:
        return self.latest(creator, AdapterStatus.ACTIVE)

    def new_version(self, manifest: AdapterManifest) -> AdapterVersion:
        """A new `v<N+1>` folder with status `training`."""
        folder = self.creator_dir(manifest.creator)
        folder.mkdir(parents=True, exist_ok=True)
        taken = [int(m.group(1)) for p in folder.iterdir() if (m := _VERSION_RE.match(p.name))]
        manifest.version = max(taken, default=0) + 1
        manifest.status = AdapterStatus.TRAINING
        manifest.created = manifest.created or _now()
        path = folder / f"v{manifest.version}"
        path.mkdir()
        return self.save(AdapterVersion(path, manifest))

    def save(self, version: AdapterVersion) -> AdapterVersion:
        tmp = version.path / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps(version.manifest.to_dict(), indent=2, ensure_ascii=False))
        os.replace(tmp, version.path / MANIFEST)
        return version

    def finish(self, version: AdapterVersion) -> AdapterVersion:
        """Mark a trained adapter `candidate` and drop its checkpoints."""
        if not version.has_weights():
            raise AdapterNotFound(f"{version.path} has no adapter weights yet")
        version.manifest.status = AdapterStatus.CANDIDATE
        version.manifest.finished = _now()
        shutil.rmtree(version.work_dir, ignore_errors=True)
        return self.save(version)

    def activate(self, creator: str, version: int) -> AdapterVersion:
        """Serve this version; the previously active one goes back to `candidate`."""
        chosen = self.get(creator, version)
        if chosen.manifest.status == AdapterStatus.TRAINING or not chosen.has_weights():
            raise ValueError(
                f"{chosen.name} has not finished training: run `persona tune {creator} --resume`"
            )
        for other in self.list(creator):
            if other.manifest.status == AdapterStatus.ACTIVE and other.version != version:
                other.manifest.status = AdapterStatus.CANDIDATE
                self.save(other)
        chosen.manifest.status = AdapterStatus.ACTIVE
        return self.save(chosen)

    def reject(self, creator: str, version: int, notes: str = "") -> AdapterVersion:
        chosen = self.get(creator, version)
        chosen.manifest.status = AdapterStatus.REJECTED
        if notes:
            chosen.manifest.notes = notes
        return self.save(chosen)
