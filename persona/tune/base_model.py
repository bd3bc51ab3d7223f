"""The base model adapters train on: a float32 Hugging Face folder made once from a GGUF.

peft trains on transformers models, and vLLM serves Hugging Face folders, while the product
ships a Q4 GGUF. transformers dequantises a GGUF on load (`gguf_file=`); dropping its
quantizer and quantization config lets `save_pretrained` write a plain safetensors folder.
A marker file records the source GGUF's sha256, which identifies the base in every adapter
manifest (an adapter only fits the exact base it was trained on).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

MARKER = "persona-base.json"


class BaseModelError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class BaseModelInfo:
    path: Path
    model_id: str  # a readable name (the folder's name)
    sha256: str  # of the source GGUF when built here, else of the weights file


def hf_base_dir(models_dir: Path, gguf_path: Path) -> Path:
    return models_dir / "hf" / gguf_path.stem


def ensure_hf_base(gguf_path: Path, models_dir: Path, gguf_sha256: str | None = None) -> Path:
    """The Hugging Face folder of `gguf_path` under `models_dir/hf/`, converted on first use
    (~1 minute, ~2.5 GB on disk for the 0.5B model)."""
    out = hf_base_dir(models_dir, gguf_path)
    marker = out / MARKER
    if marker.is_file() and (out / "config.json").is_file():
        return out
    if not gguf_path.is_file():
        raise BaseModelError(f"no GGUF at {gguf_path}: set PERSONA_LLM_MODEL_PATH or reinstall")
    sha = gguf_sha256 or _sha256(gguf_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    # Build in a sibling temp folder and rename: a crash never leaves a half-written base.
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        convert_gguf(gguf_path, tmp)
        (tmp / MARKER).write_text(
            json.dumps({"source": gguf_path.name, "sha256": sha, "format": "hf-float32"})
        )
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def convert_gguf(gguf_path: Path, out: Path) -> None:
    try:
        import gguf  # noqa: F401 - transformers needs it to read GGUF files
    except ImportError as exc:
        raise BaseModelError("converting a GGUF needs the gguf package: pip install gguf") from exc
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = gguf_path.parent, gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)


def describe_base(path: Path) -> BaseModelInfo:
    """Identity of a base folder: the marker's GGUF sha256, else a hash of the weights."""
    if not (path / "config.json").is_file():
        raise BaseModelError(
            f"{path} is not a Hugging Face model folder (no config.json): pass a folder made by "
            "save_pretrained, or leave --base out to use the packaged model"
        )
    marker = path / MARKER
    if marker.is_file():
        return BaseModelInfo(path, path.name, json.loads(marker.read_text())["sha256"])
    weights = sorted(path.glob("*.safetensors"))
    digest = hashlib.sha256()
    for file in weights:
        digest.update(_sha256(file).encode())
    return BaseModelInfo(path, path.name, digest.hexdigest())


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(8 << 20):
            digest.update(chunk)
    return digest.hexdigest()
