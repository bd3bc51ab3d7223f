"""Per-creator LoRA adapters on one served base model.

One model server answers for every creator: the base model plus each tuned creator's
adapter, chosen per request.

- vLLM (`--enable-lora --lora-modules NAME=PEFT_DIR`): the request's `model` names the
  adapter. By convention NAME is the creator id; `LoraAdapter.served_name` overrides it.
- embedded llama.cpp: every adapter is loaded at start as a GGUF file (PEFT folders are
  converted once, see `persona.tune.gguf_lora`), all at scale 0, and each request carries
  llama.cpp's `lora` list in the body, the creator's adapter at 1.0 and every other at 0.

Why every embedded request carries the complete list, the base's included: llama.cpp only
compares a slot's cached KV against the new request's adapters when the request has a
`lora` field; a request without one reuses KV computed under whatever adapter ran before.
The embedded server also runs with its RAM prompt cache off (`cache_ram_mib=0`) when
adapters are loaded: that cache restores KV by tokens alone, whatever adapter computed it
(llama.cpp issues #26207, #30129). Each slot still reuses its own prefix.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from persona.llm.errors import LLMBackendError, ModelFileNotFoundError

_GGUF_MAGIC = b"GGUF"
_CONVERSION_VERSION = b"gguf-lora-1"  # part of the cache key: bump when the converter changes


@dataclass(frozen=True, slots=True)
class LoraAdapter:
    """A creator's active adapter, as the serving side needs it.

    `path`: for the embedded backend, a GGUF LoRA file or a PEFT folder (converted to GGUF
    on start); the openai backend does not read it (vLLM loads adapters itself), but it
    documents what the server should load.
    `served_name`: the vLLM `--lora-modules` name; None means the creator id.
    """

    creator: str
    path: Path | None = None
    served_name: str | None = None

    @property
    def model_name(self) -> str:
        return self.served_name or self.creator


class AdapterRouting(Protocol):
    """What the reply engine needs to answer a creator with their adapter (every
    `LLMBackend` is one): request options to bind, and the model name to record."""

    def adapter_options(self, creator: str | None) -> dict[str, Any]: ...

    def model_for(self, creator: str | None) -> str: ...


class AdapterTable:
    """The adapters one server holds, in load order (llama.cpp's adapter id = position)."""

    def __init__(self, adapters: Iterable[LoraAdapter] = ()) -> None:
        self._adapters = tuple(adapters)
        self._index: dict[str, int] = {}
        for i, adapter in enumerate(self._adapters):
            if adapter.creator in self._index:
                raise LLMBackendError(
                    f"creator {adapter.creator!r} has two active adapters: activate one"
                )
            self._index[adapter.creator] = i

    def __len__(self) -> int:
        return len(self._adapters)

    def __iter__(self) -> Iterator[LoraAdapter]:
        return iter(self._adapters)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AdapterTable) and self._adapters == other._adapters

    __hash__ = None  # type: ignore[assignment]

    def get(self, creator: str | None) -> LoraAdapter | None:
        index = self._index.get(creator) if creator is not None else None
        return self._adapters[index] if index is not None else None

    def llama_selection(self, creator: str | None) -> list[dict[str, Any]]:
        """llama.cpp's per-request `lora` list: every adapter, `creator`'s at scale 1.

        A creator without an adapter (or None) gets the base: every scale 0.
        """
        chosen = self._index.get(creator) if creator is not None else None
        return [{"id": i, "scale": 1.0 if i == chosen else 0.0} for i in range(len(self._adapters))]


def gguf_adapter_files(
    adapters: AdapterTable, base_model: Path, cache_dir: Path | None
) -> tuple[Path, ...]:
    """The GGUF file of each adapter, in table order; PEFT folders are converted once.

    A converted file is named after the creator and a digest of the adapter's files and the
    base model, so a retrained adapter (or another base) gets a new file and a stale one is
    never loaded. `cache_dir` is only needed when a PEFT folder must be converted.
    """
    files = []
    for adapter in adapters:
        if adapter.path is None:
            raise LLMBackendError(
                f"the adapter of creator {adapter.creator!r} has no path: the embedded "
                "server loads adapters from files (a GGUF LoRA file or a PEFT folder)"
            )
        files.append(_gguf_file(adapter, base_model, cache_dir))
    return tuple(files)


def _gguf_file(adapter: LoraAdapter, base_model: Path, cache_dir: Path | None) -> Path:
    path = adapter.path
    assert path is not None
    if path.is_file():
        with path.open("rb") as fh:
            if fh.read(4) != _GGUF_MAGIC:
                raise ModelFileNotFoundError(
                    f"adapter {path} of creator {adapter.creator!r} is not a GGUF file: give "
                    "a GGUF LoRA file or the PEFT folder (adapter_config.json + "
                    "adapter_model.safetensors)"
                )
        return path
    if not path.is_dir():
        raise ModelFileNotFoundError(
            f"adapter {path} of creator {adapter.creator!r} not found: retrain it "
            "(persona tune) or deactivate it"
        )
    if cache_dir is None:
        raise LLMBackendError(
            f"the adapter of creator {adapter.creator!r} is a PEFT folder, which the embedded "
            "server converts to GGUF first: set adapter_cache_dir or models_dir for the "
            "converted files"
        )
    from persona.tune.gguf_lora import (
        ADAPTER_CONFIG,
        ADAPTER_WEIGHTS,
        GGUFLoraError,
        convert_peft_lora_to_gguf,
    )

    digest = hashlib.sha256(_CONVERSION_VERSION)
    for name in (ADAPTER_CONFIG, ADAPTER_WEIGHTS):
        member = path / name
        if member.is_file():
            digest.update(member.read_bytes())
    base = base_model.resolve()
    digest.update(f"{base}:{base.stat().st_size}:{base.stat().st_mtime_ns}".encode())
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", adapter.creator)[:64]
    out = cache_dir / f"{safe}-{digest.hexdigest()[:16]}.gguf"
    if out.is_file():
        return out
    try:
        return convert_peft_lora_to_gguf(path, out, base_model=base_model)
    except GGUFLoraError as exc:
        raise LLMBackendError(
            f"the adapter of creator {adapter.creator!r} cannot be served by llama.cpp: {exc}"
        ) from exc
