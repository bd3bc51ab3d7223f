"""Convert a PEFT LoRA adapter folder into a llama.cpp GGUF LoRA adapter.

llama.cpp's server applies LoRA adapters given as GGUF files (`--lora FILE`). A PEFT folder
(`adapter_config.json` + `adapter_model.safetensors`) holds, per adapted linear layer, the
pair `lora_A` (rank x in) and `lora_B` (out x rank); the delta is
`scaling * B @ A` with `scaling = lora_alpha / r` (`/ sqrt(r)` with rsLoRA).

The GGUF adapter carries the same matrices under llama.cpp's tensor names
(`blk.{i}.attn_q.weight.lora_a` / `.lora_b`), unchanged in layout: GGUF lists dimensions
innermost first, so the row-major (r, in) array is the `[in, r]` tensor llama.cpp expects,
and (out, r) is `[r, out]`. llama.cpp scales by `alpha / rank` with rank read from the
tensor, so `adapter.lora.alpha` is PEFT's `lora_alpha` (times `sqrt(r)` for rsLoRA).

Only what llama.cpp applies the way PEFT does is accepted; anything else is refused with the
reason and the fix, never converted into an adapter that silently behaves differently.
Reading needs no torch: safetensors and GGUF headers are parsed here with numpy.
"""

from __future__ import annotations

import json
import math
import mmap
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"

# Architectures whose GGUF tensor names follow the HF module names below (llama family).
SUPPORTED_ARCHITECTURES = ("llama", "qwen2", "qwen3")

# HF module name -> llama.cpp tensor name inside `blk.{i}.`
MODULE_TO_GGUF = {
    "q_proj": "attn_q",
    "k_proj": "attn_k",
    "v_proj": "attn_v",
    "o_proj": "attn_output",
    "gate_proj": "ffn_gate",
    "up_proj": "ffn_up",
    "down_proj": "ffn_down",
}

# PEFT initialisations that rewrite the base weights: the saved adapter is only correct on
# that modified base unless it was saved with `path_initial_model_for_weight_conversion`.
_BASE_REWRITING_INITS = ("pissa", "olora", "corda", "loftq")

_LORA_KEY = re.compile(
    r"^(?:base_model\.model\.)?model\.layers\.(?P<layer>\d+)\."
    r"(?:self_attn|mlp)\.(?P<module>\w+)\.lora_(?P<ab>[AB])(?:\.default)?\.weight$"
)

OutType = Literal["f16", "f32"]


class GGUFLoraError(ValueError):
    """The adapter cannot be converted faithfully. The message names the reason and the fix."""


@dataclass(frozen=True, slots=True)
class LoraPair:
    """One adapted linear layer: `lora_a` is (rank, in), `lora_b` is (out, rank)."""

    layer: int
    module: str
    lora_a: np.ndarray
    lora_b: np.ndarray

    @property
    def gguf_base_name(self) -> str:
        return f"blk.{self.layer}.{MODULE_TO_GGUF[self.module]}.weight"

    @property
    def rank(self) -> int:
        return int(self.lora_a.shape[0])


@dataclass(frozen=True, slots=True)
class PeftLora:
    """A validated PEFT LoRA adapter read from its folder."""

    path: Path
    rank: int
    alpha: float  # llama.cpp's adapter.lora.alpha (rsLoRA already folded in)
    base_model_name: str
    pairs: tuple[LoraPair, ...]

    @property
    def modules(self) -> tuple[str, ...]:
        return tuple(sorted({p.module for p in self.pairs}))


@dataclass(frozen=True, slots=True)
class GGUFModelInfo:
    """What the converter needs from a base GGUF: its architecture and tensor shapes."""

    architecture: str
    tensor_shapes: dict[str, tuple[int, ...]]  # GGUF order: innermost dimension first


# -- public API --------------------------------------------------------------------------------


def convert_peft_lora_to_gguf(
    adapter_dir: Path,
    out_path: Path,
    *,
    base_model: Path | None = None,
    architecture: str | None = None,
    outtype: OutType = "f16",
) -> Path:
    """Write `adapter_dir`'s LoRA as a llama.cpp GGUF adapter at `out_path` and return it.

    Give `base_model` (the GGUF the adapter will be applied to) whenever possible: the
    architecture is read from it and every LoRA matrix is checked against the base tensor
    it modifies, so an adapter trained for another model size is refused here rather than
    by the server at start. Without it, `architecture` must be named.
    The file is written to a temporary name and renamed, so a reader never sees half of it.
    """
    import gguf  # 0.3 s import: only when converting

    if outtype not in ("f16", "f32"):
        raise GGUFLoraError(f"outtype {outtype!r} is not supported: use 'f16' or 'f32'")
    info: GGUFModelInfo | None = None
    if base_model is not None:
        info = read_gguf_model_info(base_model)
        if architecture is not None and architecture != info.architecture:
            raise GGUFLoraError(
                f"architecture {architecture!r} does not match the base model {base_model} "
                f"({info.architecture!r}): leave `architecture` unset to take the base's"
            )
        architecture = info.architecture
    elif architecture is None:
        raise GGUFLoraError(
            "name the base model: pass base_model (its GGUF, preferred: shapes are checked) "
            "or architecture (e.g. 'qwen2')"
        )
    if architecture not in SUPPORTED_ARCHITECTURES:
        raise GGUFLoraError(
            f"base architecture {architecture!r} is not supported for LoRA conversion "
            f"(supported: {', '.join(SUPPORTED_ARCHITECTURES)}): serve this adapter with "
            "vLLM (--enable-lora) instead"
        )
    adapter = read_peft_lora(adapter_dir)
    if info is not None and base_model is not None:
        _check_against_base(adapter, info, base_model)
    dtype = np.float16 if outtype == "f16" else np.float32

    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.{os.getpid()}.tmp")
    writer = gguf.GGUFWriter(tmp, architecture)
    try:
        writer.add_type(gguf.GGUFType.ADAPTER)
        writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
        writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, adapter.alpha)
        if adapter.base_model_name:
            writer.add_name(f"LoRA for {adapter.base_model_name}")
        for pair in adapter.pairs:
            for suffix, matrix in (("lora_a", pair.lora_a), ("lora_b", pair.lora_b)):
                converted = np.ascontiguousarray(matrix, dtype=dtype)
                if not np.isfinite(converted).all():
                    raise GGUFLoraError(
                        f"{pair.gguf_base_name}.{suffix} has values that do not fit {outtype} "
                        "(inf/nan): convert with outtype='f32', or check the training run"
                    )
                writer.add_tensor(f"{pair.gguf_base_name}.{suffix}", converted)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(tmp, out_path)
    except BaseException:
        writer.close()
        tmp.unlink(missing_ok=True)
        raise
    return out_path


def read_peft_lora(adapter_dir: Path) -> PeftLora:
    """Read and validate a PEFT LoRA folder. Raises GGUFLoraError naming the fix."""
    adapter_dir = Path(adapter_dir)
    config_path = adapter_dir / ADAPTER_CONFIG
    weights_path = adapter_dir / ADAPTER_WEIGHTS
    if not config_path.is_file():
        raise GGUFLoraError(
            f"{adapter_dir} is not a PEFT adapter folder ({ADAPTER_CONFIG} missing): point at "
            "the folder written by `model.save_pretrained(...)` of a peft LoRA model"
        )
    if not weights_path.is_file():
        hint = (
            " (found adapter_model.bin: save with safe_serialization=True)"
            if (adapter_dir / "adapter_model.bin").is_file()
            else ""
        )
        raise GGUFLoraError(f"{weights_path} missing{hint}: only safetensors adapters convert")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise GGUFLoraError(f"{config_path} is not valid JSON: {exc}") from exc
    rank, alpha = _validate_config(config, config_path)
    pairs = _pair_tensors(read_safetensors(weights_path), weights_path)
    ranks = {p.rank for p in pairs}
    if config.get("use_rslora") and len(ranks) > 1:
        raise GGUFLoraError(
            f"{config_path}: rsLoRA with per-module ranks ({sorted(ranks)}) cannot be "
            "expressed with llama.cpp's single alpha: train with one rank"
        )
    if config.get("use_rslora"):
        # PEFT scales by alpha / sqrt(r); llama.cpp by alpha' / r: alpha' = alpha * sqrt(r).
        alpha = alpha * math.sqrt(next(iter(ranks)))
    return PeftLora(
        path=adapter_dir,
        rank=rank,
        alpha=float(alpha),
        base_model_name=str(config.get("base_model_name_or_path") or ""),
        pairs=pairs,
    )


def read_gguf_model_info(path: Path) -> GGUFModelInfo:
    """Architecture and tensor shapes from a GGUF header (no tensor data is read).

    gguf's GGUFReader decodes every metadata value (150k-token vocabularies) and takes ~9 s
    on the packaged Qwen; skipping values without decoding them takes a fraction of that.
    """
    path = Path(path)
    try:
        with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            return _parse_gguf_header(buf, path)
    except (OSError, ValueError, struct.error) as exc:
        if isinstance(exc, GGUFLoraError):
            raise
        raise GGUFLoraError(
            f"cannot read the base model {path} as GGUF ({exc}): pass the GGUF file the "
            "server loads"
        ) from exc


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Read a safetensors file into float32 numpy arrays (F32, F16 and BF16 tensors)."""
    data = Path(path).read_bytes()
    if len(data) < 8:
        raise GGUFLoraError(f"{path} is not a safetensors file (too short)")
    (header_len,) = struct.unpack_from("<Q", data, 0)
    try:
        header: dict[str, Any] = json.loads(data[8 : 8 + header_len])
    except ValueError as exc:
        raise GGUFLoraError(f"{path} is not a safetensors file (bad header)") from exc
    body = memoryview(data)[8 + header_len :]
    tensors: dict[str, np.ndarray] = {}
    for name, spec in header.items():
        if name == "__metadata__":
            continue
        start, end = spec["data_offsets"]
        raw = body[start:end]
        dtype = spec["dtype"]
        if dtype == "F32":
            array = np.frombuffer(raw, dtype="<f4")
        elif dtype == "F16":
            array = np.frombuffer(raw, dtype="<f2").astype(np.float32)
        elif dtype == "BF16":  # bfloat16 is the top half of a float32
            array = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            raise GGUFLoraError(
                f"{path}: tensor {name} has dtype {dtype}; LoRA weights must be F32, F16 or "
                "BF16 (a quantised adapter cannot be converted: save it unquantised)"
            )
        tensors[name] = array.reshape(spec["shape"]).astype(np.float32, copy=False)
    return tensors


# -- validation --------------------------------------------------------------------------------


def _validate_config(config: dict[str, Any], where: Path) -> tuple[int, float]:
    peft_type = str(config.get("peft_type", "")).upper()
    if peft_type != "LORA":
        raise GGUFLoraError(
            f"{where}: peft_type is {config.get('peft_type')!r}; only LoRA adapters convert to "
            "llama.cpp (train with peft.LoraConfig)"
        )
    refusals = {
        "use_dora": "DoRA adapters rescale weights in a way llama.cpp does not apply: "
        "train with use_dora=False",
        "modules_to_save": "modules_to_save stores whole layers, which a llama.cpp LoRA "
        "adapter cannot carry: train without modules_to_save",
        "layer_replication": "layer_replication changes the base model's layers: train without it",
        "lora_bias": "lora_bias adds a bias to lora_B, which llama.cpp adapters cannot "
        "carry: train with lora_bias=False",
        "fan_in_fan_out": "fan_in_fan_out (GPT-2 Conv1D layout) is not a llama-family "
        "layout: train on a llama-family base",
    }
    for key, reason in refusals.items():
        if config.get(key):
            raise GGUFLoraError(f"{where}: {reason}")
    if str(config.get("bias", "none")) != "none":
        raise GGUFLoraError(
            f"{where}: bias={config.get('bias')!r} trains bias vectors that llama.cpp adapters "
            "cannot carry: train with bias='none'"
        )
    init = config.get("init_lora_weights")
    if isinstance(init, str) and init.lower().startswith(_BASE_REWRITING_INITS):
        raise GGUFLoraError(
            f"{where}: init_lora_weights={init!r} rewrites the base weights, so this adapter "
            "is only correct on that rewritten base: save it with "
            "path_initial_model_for_weight_conversion, or train with the default init"
        )
    rank = config.get("r")
    alpha = config.get("lora_alpha")
    if not isinstance(rank, int) or rank <= 0:
        raise GGUFLoraError(f"{where}: r={rank!r} must be a positive integer")
    if not isinstance(alpha, (int, float)) or isinstance(alpha, bool) or alpha <= 0:
        raise GGUFLoraError(f"{where}: lora_alpha={alpha!r} must be a positive number")
    alpha_pattern = config.get("alpha_pattern") or {}
    if any(float(v) != float(alpha) for v in alpha_pattern.values()):
        raise GGUFLoraError(
            f"{where}: alpha_pattern gives modules their own alpha, but a llama.cpp adapter "
            "has one: train with a single lora_alpha"
        )
    return rank, float(alpha)


def _pair_tensors(tensors: dict[str, np.ndarray], where: Path) -> tuple[LoraPair, ...]:
    halves: dict[tuple[int, str], dict[str, np.ndarray]] = {}
    for name, array in tensors.items():
        match = _LORA_KEY.match(name)
        if match is None:
            raise GGUFLoraError(
                f"{where}: tensor {name!r} is not a LoRA matrix of a decoder layer "
                "(embeddings, lm_head and norms cannot be adapted here): target only "
                f"{', '.join(MODULE_TO_GGUF)}"
            )
        module = match["module"]
        if module not in MODULE_TO_GGUF:
            raise GGUFLoraError(
                f"{where}: LoRA on module {module!r} is not supported: target only "
                f"{', '.join(MODULE_TO_GGUF)}"
            )
        if array.ndim != 2:
            raise GGUFLoraError(f"{where}: tensor {name!r} has shape {array.shape}, not 2-D")
        halves.setdefault((int(match["layer"]), module), {})[match["ab"]] = array
    if not halves:
        raise GGUFLoraError(f"{where} holds no LoRA matrices: the adapter is empty")
    pairs = []
    for (layer, module), ab in sorted(halves.items()):
        if set(ab) != {"A", "B"}:
            missing = "lora_B" if "A" in ab else "lora_A"
            raise GGUFLoraError(f"{where}: layer {layer} {module} has no {missing}")
        a, b = ab["A"], ab["B"]
        if a.shape[0] != b.shape[1]:
            raise GGUFLoraError(
                f"{where}: layer {layer} {module}: lora_A {a.shape} and lora_B {b.shape} "
                "disagree on the rank"
            )
        pairs.append(LoraPair(layer, module, a, b))
    return tuple(pairs)


def _check_against_base(adapter: PeftLora, info: GGUFModelInfo, base_model: Path) -> None:
    for pair in adapter.pairs:
        shape = info.tensor_shapes.get(pair.gguf_base_name)
        if shape is None:
            raise GGUFLoraError(
                f"the base model {base_model} has no tensor {pair.gguf_base_name} (layer "
                f"{pair.layer} {pair.module}): the adapter was trained for another model"
            )
        n_in, n_out = shape[0], shape[1]
        a_in, b_out = pair.lora_a.shape[1], pair.lora_b.shape[0]
        if (a_in, b_out) != (n_in, n_out):
            raise GGUFLoraError(
                f"layer {pair.layer} {pair.module}: the adapter maps {a_in} -> {b_out} but "
                f"the base model {base_model} maps {n_in} -> {n_out}: the adapter was trained "
                f"for another model ({adapter.base_model_name or 'unknown base'})"
            )


# -- GGUF header parsing -----------------------------------------------------------------------

_SCALAR_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_STRING, _ARRAY = 8, 9


def _parse_gguf_header(buf: mmap.mmap, path: Path) -> GGUFModelInfo:
    if buf[:4] != b"GGUF":
        raise GGUFLoraError(f"{path} is not a GGUF file: pass the base model's .gguf")
    version, n_tensors, n_kv = struct.unpack_from("<IQQ", buf, 4)
    if version < 2:
        raise GGUFLoraError(f"{path} is GGUF version {version}; reconvert it with llama.cpp")
    pos = 24
    architecture = ""

    def read_string(at: int) -> tuple[str, int]:
        (length,) = struct.unpack_from("<Q", buf, at)
        return buf[at + 8 : at + 8 + length].decode("utf-8", "replace"), at + 8 + length

    def skip_value(kind: int, at: int) -> int:
        if kind in _SCALAR_SIZES:
            return at + _SCALAR_SIZES[kind]
        if kind == _STRING:
            (length,) = struct.unpack_from("<Q", buf, at)
            return at + 8 + length
        if kind == _ARRAY:
            item_kind, count = struct.unpack_from("<IQ", buf, at)
            at += 12
            if item_kind in _SCALAR_SIZES:
                return at + count * _SCALAR_SIZES[item_kind]
            for _ in range(count):
                at = skip_value(item_kind, at)
            return at
        raise GGUFLoraError(f"{path}: unknown GGUF value type {kind}")

    for _ in range(n_kv):
        key, pos = read_string(pos)
        (kind,) = struct.unpack_from("<I", buf, pos)
        pos += 4
        if key == "general.architecture" and kind == _STRING:
            architecture, pos = read_string(pos)
        else:
            pos = skip_value(kind, pos)
    shapes: dict[str, tuple[int, ...]] = {}
    for _ in range(n_tensors):
        name, pos = read_string(pos)
        (n_dims,) = struct.unpack_from("<I", buf, pos)
        dims = struct.unpack_from(f"<{n_dims}Q", buf, pos + 4)
        pos += 4 + 8 * n_dims + 4 + 8  # dims, then ggml type (u32) and data offset (u64)
        shapes[name] = tuple(int(d) for d in dims)
    if not architecture:
        raise GGUFLoraError(f"{path} names no general.architecture: not a model GGUF")
    return GGUFModelInfo(architecture=architecture, tensor_shapes=shapes)


def main(argv: list[str] | None = None) -> None:
    """`python -m persona.tune.gguf_lora ADAPTER_DIR OUT.gguf --base BASE.gguf`."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("adapter_dir", type=Path, help="PEFT LoRA folder")
    parser.add_argument("out", type=Path, help="GGUF adapter file to write")
    parser.add_argument("--base", type=Path, default=None, help="the base model's GGUF")
    parser.add_argument("--arch", default=None, help="architecture when --base is not given")
    parser.add_argument("--outtype", choices=("f16", "f32"), default="f16")
    args = parser.parse_args(argv)
    try:
        out = convert_peft_lora_to_gguf(
            args.adapter_dir,
            args.out,
            base_model=args.base,
            architecture=args.arch,
            outtype=args.outtype,
        )
    except GGUFLoraError as exc:
        raise SystemExit(f"error: {exc}") from None
    print(out)


if __name__ == "__main__":
    main()
