"""Per-creator LoRA adapters on the embedded llama.cpp server.

Adapters are made here with random weights in the PEFT folder layout, at the exact shapes
of the packaged base (Qwen2.5-0.5B, taken from a `Qwen2Config`), so no model weights are
needed to make them. The fast tests check the GGUF conversion and its refusals; the slow
ones start the real server on the packaged model with two adapters and check that the
base is untouched at scale 0, that an adapter changes the answer, and that each request
gets the adapter of the creator it names.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from persona.llm import EmbeddedBackend, LLMBackendError, LLMConfig, open_backend
from persona.llm.embedded_server import EmbeddedLlamaServer, EmbeddedServerConfig
from persona.llm.errors import EmbeddedServerError, ModelFileNotFoundError
from persona.llm.lora import AdapterTable, LoraAdapter, gguf_adapter_files
from persona.tune.gguf_lora import (
    MODULE_TO_GGUF,
    GGUFLoraError,
    convert_peft_lora_to_gguf,
    read_gguf_model_info,
    read_peft_lora,
    read_safetensors,
)

ATTENTION = ("q_proj", "k_proj", "v_proj", "o_proj")


def qwen25_05b_shapes() -> tuple[int, dict[str, tuple[int, int]]]:
    """Layers and (in, out) of every LoRA-able linear of Qwen2.5-0.5B, from its config."""
    from transformers import Qwen2Config

    cfg = Qwen2Config(
        vocab_size=151936,
        hidden_size=896,
        intermediate_size=4864,
        num_hidden_layers=24,
        num_attention_heads=14,
        num_key_value_heads=2,
        tie_word_embeddings=True,
    )
    head_dim = cfg.hidden_size // cfg.num_attention_heads
    kv = cfg.num_key_value_heads * head_dim
    h, i = cfg.hidden_size, cfg.intermediate_size
    return cfg.num_hidden_layers, {
        "q_proj": (h, h),
        "k_proj": (h, kv),
        "v_proj": (h, kv),
        "o_proj": (h, h),
        "gate_proj": (h, i),
        "up_proj": (h, i),
        "down_proj": (i, h),
    }


@pytest.fixture(scope="module")
def qwen_shapes() -> tuple[int, dict[str, tuple[int, int]]]:
    return qwen25_05b_shapes()


def write_peft_adapter(
    folder: Path,
    layers: int,
    shapes: dict[str, tuple[int, int]],
    *,
    seed: int,
    rank: int = 8,
    alpha: float = 16,
    b_std: float = 0.02,
    config: dict[str, Any] | None = None,
    extra_tensors: dict[str, np.ndarray] | None = None,
) -> Path:
    """A PEFT LoRA folder as `peft_model.save_pretrained` writes it, with non-zero B."""
    from safetensors.numpy import save_file

    rng = np.random.default_rng(seed)
    tensors: dict[str, np.ndarray] = {}
    for layer in range(layers):
        for module, (n_in, n_out) in shapes.items():
            part = "self_attn" if module in ATTENTION else "mlp"
            key = f"base_model.model.model.layers.{layer}.{part}.{module}"
            a = rng.standard_normal((rank, n_in)) / math.sqrt(n_in)
            tensors[f"{key}.lora_A.weight"] = a.astype(np.float32)
            tensors[f"{key}.lora_B.weight"] = (rng.standard_normal((n_out, rank)) * b_std).astype(
                np.float32
            )
    tensors.update(extra_tensors or {})
    folder.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(folder / "adapter_model.safetensors"))
    adapter_config = {
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "base_model_name_or_path": "Qwen/Qwen2.5-Coder-0.5B-Instruct",
        "r": rank,
        "lora_alpha": alpha,
        "lora_dropout": 0.0,
        "target_modules": sorted(shapes),
        "bias": "none",
        "use_dora": False,
        "use_rslora": False,
        "modules_to_save": None,
        "init_lora_weights": True,
        "rank_pattern": {},
        "alpha_pattern": {},
    }
    adapter_config.update(config or {})
    (folder / "adapter_config.json").write_text(json.dumps(adapter_config))
    return folder


def small_shapes() -> dict[str, tuple[int, int]]:
    return {"q_proj": (32, 32), "k_proj": (32, 8), "down_proj": (48, 32)}


# -- conversion (fast) -------------------------------------------------------------------------


def test_real_shaped_adapter_converts_with_llama_cpp_names_layout_and_alpha(
    tmp_path: Path, qwen_shapes: tuple[int, dict[str, tuple[int, int]]]
) -> None:
    import gguf

    layers, shapes = qwen_shapes
    folder = write_peft_adapter(tmp_path / "peft", layers, shapes, seed=1, rank=8, alpha=16)
    out = convert_peft_lora_to_gguf(folder, tmp_path / "a.gguf", architecture="qwen2")

    reader = gguf.GGUFReader(out)
    assert reader.fields["general.architecture"].contents() == "qwen2"
    assert reader.fields["general.type"].contents() == "adapter"
    assert reader.fields["adapter.type"].contents() == "lora"
    assert reader.fields["adapter.lora.alpha"].contents() == pytest.approx(16.0)
    tensors = {t.name: t for t in reader.tensors}
    assert len(tensors) == layers * len(shapes) * 2
    source = read_safetensors(folder / "adapter_model.safetensors")
    for module, (n_in, n_out) in shapes.items():
        part = "self_attn" if module in ATTENTION else "mlp"
        key = f"base_model.model.model.layers.23.{part}.{module}"
        name = f"blk.23.{MODULE_TO_GGUF[module]}.weight"
        a, b = tensors[f"{name}.lora_a"], tensors[f"{name}.lora_b"]
        # GGUF lists the innermost dimension first: llama.cpp wants a=[in, r], b=[r, out].
        assert [int(d) for d in a.shape] == [n_in, 8]
        assert [int(d) for d in b.shape] == [8, n_out]
        assert a.tensor_type == gguf.GGMLQuantizationType.F16
        np.testing.assert_array_equal(
            np.asarray(b.data), source[f"{key}.lora_B.weight"].astype(np.float16)
        )
    assert not (tmp_path / ".a.gguf.tmp").exists()


def test_rslora_alpha_is_folded_into_llama_cpp_alpha_and_f32_keeps_values(
    tmp_path: Path,
) -> None:
    import gguf

    folder = write_peft_adapter(
        tmp_path / "peft", 2, small_shapes(), seed=3, rank=4, alpha=8, config={"use_rslora": True}
    )
    adapter = read_peft_lora(folder)
    # PEFT scales by 8 / sqrt(4) = 4; llama.cpp by alpha / 4, so alpha must be 16.
    assert adapter.alpha == pytest.approx(16.0)
    out = convert_peft_lora_to_gguf(
        folder, tmp_path / "a.gguf", architecture="llama", outtype="f32"
    )
    reader = gguf.GGUFReader(out)
    a = next(t for t in reader.tensors if t.name == "blk.1.ffn_down.weight.lora_a")
    source = read_safetensors(folder / "adapter_model.safetensors")
    np.testing.assert_array_equal(
        np.asarray(a.data), source["base_model.model.model.layers.1.mlp.down_proj.lora_A.weight"]
    )


def test_bf16_and_f16_safetensors_are_read_exactly(tmp_path: Path) -> None:
    values = np.array([[1.0, -2.5, 0.15625], [3.0e-3, 65504.0, -0.0]], dtype=np.float32)
    bf16 = (values.view(np.uint32) >> 16).astype("<u2")  # these values are exact in bf16
    f16 = values.astype("<f2")
    header = {
        "a": {"dtype": "BF16", "shape": [2, 3], "data_offsets": [0, 12]},
        "b": {"dtype": "F16", "shape": [2, 3], "data_offsets": [12, 24]},
    }
    raw = json.dumps(header).encode()
    path = tmp_path / "t.safetensors"
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + bf16.tobytes() + f16.tobytes())
    tensors = read_safetensors(path)
    np.testing.assert_array_equal(tensors["a"], (bf16.astype(np.uint32) << 16).view(np.float32))
    np.testing.assert_array_equal(tensors["b"], f16.astype(np.float32))
    assert tensors["a"][0, 1] == -2.5


@pytest.mark.parametrize(
    ("config", "extra", "message"),
    [
        ({"use_dora": True}, None, "DoRA"),
        ({"modules_to_save": ["lm_head"]}, None, "modules_to_save"),
        ({"peft_type": "IA3"}, None, "only LoRA"),
        ({"bias": "lora_only"}, None, "bias='none'"),
        ({"init_lora_weights": "pissa_niter_4"}, None, "rewrites the base weights"),
        ({"alpha_pattern": {"q_proj": 32}}, None, "single lora_alpha"),
        ({"r": 0}, None, "positive integer"),
        (
            None,
            {"base_model.model.lm_head.lora_A.weight": np.zeros((4, 32), np.float32)},
            "not a LoRA matrix of a decoder layer",
        ),
        (
            None,
            {
                "base_model.model.model.layers.0.mlp.fc1.lora_A.weight": np.zeros(
                    (4, 32), np.float32
                )
            },
            "module 'fc1' is not supported",
        ),
        (
            None,
            {
                "base_model.model.model.layers.5.mlp.up_proj.lora_A.weight": np.zeros(
                    (4, 32), np.float32
                )
            },
            "has no lora_B",
        ),
    ],
)
def test_adapters_llama_cpp_cannot_apply_faithfully_are_refused(
    tmp_path: Path, config: dict[str, Any] | None, extra: dict[str, np.ndarray] | None, message: str
) -> None:
    folder = write_peft_adapter(
        tmp_path / "peft", 2, small_shapes(), seed=0, rank=4, config=config, extra_tensors=extra
    )
    with pytest.raises(GGUFLoraError, match=message):
        convert_peft_lora_to_gguf(folder, tmp_path / "a.gguf", architecture="qwen2")
    assert not (tmp_path / "a.gguf").exists()


def test_missing_files_architecture_and_rank_mismatch_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(GGUFLoraError, match="not a PEFT adapter folder"):
        read_peft_lora(tmp_path)
    folder = write_peft_adapter(tmp_path / "peft", 1, small_shapes(), seed=0, rank=4)
    with pytest.raises(GGUFLoraError, match="name the base model"):
        convert_peft_lora_to_gguf(folder, tmp_path / "a.gguf")
    with pytest.raises(GGUFLoraError, match="'gpt2' is not supported.*vLLM"):
        convert_peft_lora_to_gguf(folder, tmp_path / "a.gguf", architecture="gpt2")
    weights = folder / "adapter_model.safetensors"
    weights.rename(folder / "adapter_model.bin")
    with pytest.raises(GGUFLoraError, match="safe_serialization=True"):
        read_peft_lora(folder)
    bad = write_peft_adapter(
        tmp_path / "bad",
        1,
        {"q_proj": (32, 32)},
        seed=0,
        rank=4,
        extra_tensors={
            "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight": np.zeros(
                (32, 6), np.float32
            )
        },
    )
    with pytest.raises(GGUFLoraError, match="disagree on the rank"):
        read_peft_lora(bad)


def _tiny_base_gguf(path: Path, arch: str, shapes: dict[str, tuple[int, int]]) -> Path:
    """A base GGUF with the named weights (n_in, n_out) and a vocabulary-sized array."""
    import gguf

    writer = gguf.GGUFWriter(path, arch)
    writer.add_token_list([f"tok{i}" for i in range(2000)])  # skipped by the header reader
    for module, (n_in, n_out) in shapes.items():
        name = f"blk.0.{MODULE_TO_GGUF[module]}.weight"
        writer.add_tensor(name, np.zeros((n_out, n_in), np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_shapes_and_architecture_are_checked_against_the_base_gguf(tmp_path: Path) -> None:
    shapes = small_shapes()
    base = _tiny_base_gguf(tmp_path / "base.gguf", "qwen2", shapes)
    info = read_gguf_model_info(base)
    assert info.architecture == "qwen2"
    assert info.tensor_shapes["blk.0.ffn_down.weight"] == (48, 32)

    good = write_peft_adapter(tmp_path / "good", 1, shapes, seed=0, rank=4)
    assert convert_peft_lora_to_gguf(good, tmp_path / "good.gguf", base_model=base).is_file()
    with pytest.raises(GGUFLoraError, match="does not match the base model"):
        convert_peft_lora_to_gguf(good, tmp_path / "x.gguf", base_model=base, architecture="llama")

    wider = write_peft_adapter(tmp_path / "wider", 1, {"q_proj": (64, 64)}, seed=0, rank=4)
    with pytest.raises(GGUFLoraError, match="maps 64 -> 64 but the base model .* maps 32 -> 32"):
        convert_peft_lora_to_gguf(wider, tmp_path / "x.gguf", base_model=base)
    deeper = write_peft_adapter(tmp_path / "deeper", 2, shapes, seed=0, rank=4)
    with pytest.raises(
        GGUFLoraError, match=r"no tensor blk\.1\.ffn_down\.weight \(layer 1 down_proj\)"
    ):
        convert_peft_lora_to_gguf(deeper, tmp_path / "x.gguf", base_model=base)
    with pytest.raises(GGUFLoraError, match="not a GGUF file"):
        convert_peft_lora_to_gguf(
            good, tmp_path / "x.gguf", base_model=good / "adapter_config.json"
        )


def test_peft_folders_are_converted_once_and_reconverted_when_retrained(tmp_path: Path) -> None:
    shapes = small_shapes()
    base = _tiny_base_gguf(tmp_path / "base.gguf", "qwen2", shapes)
    folder = write_peft_adapter(tmp_path / "ann", 1, shapes, seed=0, rank=4)
    table = AdapterTable([LoraAdapter("ann", folder), LoraAdapter("bob", tmp_path / "good.gguf")])
    convert_peft_lora_to_gguf(folder, tmp_path / "good.gguf", base_model=base)
    cache = tmp_path / "cache"

    first = gguf_adapter_files(table, base, cache)
    assert first[1] == tmp_path / "good.gguf"  # GGUF files are used as they are
    assert first[0].parent == cache and first[0].name.startswith("ann-")
    mtime = first[0].stat().st_mtime_ns
    assert gguf_adapter_files(table, base, cache) == first
    assert first[0].stat().st_mtime_ns == mtime  # not converted again

    write_peft_adapter(folder, 1, shapes, seed=1, rank=4)  # retrained in place
    retrained = gguf_adapter_files(table, base, cache)
    assert retrained[0] != first[0] and retrained[0].is_file()

    with pytest.raises(LLMBackendError, match="set adapter_cache_dir or models_dir"):
        gguf_adapter_files(table, base, None)
    broken = AdapterTable([LoraAdapter("cid", tmp_path / "missing")])
    with pytest.raises(ModelFileNotFoundError, match="'cid' not found"):
        gguf_adapter_files(broken, base, cache)
    dora = write_peft_adapter(tmp_path / "dora", 1, shapes, seed=0, config={"use_dora": True})
    with pytest.raises(LLMBackendError, match="creator 'dee' cannot be served.*DoRA"):
        gguf_adapter_files(AdapterTable([LoraAdapter("dee", dora)]), base, cache)


# -- request routing (fast) --------------------------------------------------------------------


def test_each_creator_request_lists_every_adapter_with_only_theirs_on() -> None:
    table = AdapterTable([LoraAdapter("ann"), LoraAdapter("bob", served_name="bob-v3")])
    assert table.llama_selection("bob") == [{"id": 0, "scale": 0.0}, {"id": 1, "scale": 1.0}]
    base = [{"id": 0, "scale": 0.0}, {"id": 1, "scale": 0.0}]
    assert table.llama_selection(None) == base
    assert table.llama_selection("carl") == base  # no adapter: the base model
    with pytest.raises(LLMBackendError, match="two active adapters"):
        AdapterTable([LoraAdapter("ann"), LoraAdapter("ann")])

    adapters = tuple(table)
    embedded = EmbeddedBackend(LLMConfig(model_path=Path("/x.gguf"), adapters=adapters))
    assert embedded.adapter_options("ann") == {
        "extra_body": {"lora": [{"id": 0, "scale": 1.0}, {"id": 1, "scale": 0.0}]}
    }
    assert embedded.model_for("bob") == "bob-v3"
    assert embedded.model_for("carl") == embedded.config.model
    plain = EmbeddedBackend(LLMConfig(model_path=Path("/x.gguf")))
    assert plain.adapter_options("ann") == {}  # no adapters: requests stay as they were


def test_the_embedded_server_refuses_missing_or_non_gguf_adapters(tmp_path: Path) -> None:
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF" + bytes(64))
    with pytest.raises(ModelFileNotFoundError, match="nope.gguf not found.*persona.tune.gguf_lora"):
        EmbeddedLlamaServer(
            EmbeddedServerConfig(model_path=model, lora_adapters=(tmp_path / "nope.gguf",))
        ).start()
    text = tmp_path / "adapter.gguf"
    text.write_text("not gguf")
    with pytest.raises(ModelFileNotFoundError, match="is not a GGUF file"):
        EmbeddedLlamaServer(EmbeddedServerConfig(model_path=model, lora_adapters=(text,))).start()
    with pytest.raises(EmbeddedServerError, match="exclude each other"):
        EmbeddedLlamaServer(
            EmbeddedServerConfig(model_path=model, lora_path=model, lora_adapters=(model,))
        ).start()


@pytest.mark.slow
def test_a_real_peft_save_pretrained_folder_converts(tmp_path: Path) -> None:
    """Key names and config exactly as peft writes them (tiny random Qwen2)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=128,
        hidden_size=64,
        intermediate_size=96,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
    )
    lora = LoraConfig(
        r=4,
        lora_alpha=8,
        target_modules=list(MODULE_TO_GGUF),
        layers_to_transform=[1],  # as persona.tune trains: the top layers only
        layers_pattern="layers",
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(Qwen2ForCausalLM(config), lora)
    model.save_pretrained(tmp_path / "peft")
    adapter = read_peft_lora(tmp_path / "peft")
    assert adapter.rank == 4 and adapter.alpha == 8.0
    assert {p.layer for p in adapter.pairs} == {1}
    assert adapter.modules == tuple(sorted(MODULE_TO_GGUF))
    k = next(p for p in adapter.pairs if p.module == "k_proj")
    assert k.lora_a.shape == (4, 64) and k.lora_b.shape == (32, 4)
    out = convert_peft_lora_to_gguf(tmp_path / "peft", tmp_path / "a.gguf", architecture="qwen2")
    assert out.stat().st_size > 0


# -- the real server with real adapters (slow) -------------------------------------------------

PROMPTS = ("Write one sentence about the sea.", "Name a colour and say why you like it.")


@pytest.fixture(scope="module")
def adapter_dirs(
    tmp_path_factory: pytest.TempPathFactory, qwen_shapes: tuple[int, dict[str, tuple[int, int]]]
) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("adapters")
    layers, shapes = qwen_shapes
    return {
        name: write_peft_adapter(root / name, layers, shapes, seed=seed, rank=8, alpha=16)
        for name, seed in (("ann", 1), ("bob", 2))
    }


def _ask(backend: EmbeddedBackend, creator: str | None, prompt: str) -> str:
    """One greedy reply, the way the reply engine asks: options bound per request."""
    model = backend.chat_model().bind(seed=0, **backend.adapter_options(creator))
    return str(model.invoke(prompt).content)


def _config(model: Path, **kwargs: Any) -> LLMConfig:
    return LLMConfig(
        model_path=model, n_ctx=1024, threads=1, temperature=0.0, max_tokens=12, **kwargs
    )


@pytest.fixture(scope="module")
def base_answers(packaged_model: Path) -> dict[str, str]:
    backend = open_backend(_config(packaged_model))
    assert isinstance(backend, EmbeddedBackend)
    try:
        return {prompt: _ask(backend, None, prompt) for prompt in PROMPTS}
    finally:
        backend.stop()


@pytest.fixture(scope="module")
def tuned(
    packaged_model: Path, adapter_dirs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EmbeddedBackend]:
    adapters = tuple(LoraAdapter(name, path) for name, path in adapter_dirs.items())
    cache = tmp_path_factory.mktemp("lora-cache")
    backend = open_backend(_config(packaged_model, adapters=adapters, adapter_cache_dir=cache))
    assert isinstance(backend, EmbeddedBackend)
    try:
        yield backend
    finally:
        backend.stop()


@pytest.mark.slow
def test_one_server_serves_the_base_and_each_creators_adapter(
    tuned: EmbeddedBackend, base_answers: dict[str, str]
) -> None:
    assert tuned.server is not None
    loaded = tuned.server.loaded_adapters()
    assert [a["id"] for a in loaded] == [0, 1]
    assert all(a["scale"] == 0.0 for a in loaded)  # nothing applies unless a request asks
    assert tuned.describe()["adapters"] == "ann, bob"

    sea, colour = PROMPTS
    ann = _ask(tuned, "ann", sea)
    bob = _ask(tuned, "bob", sea)
    # Scale 0 everywhere is exactly the base model, also for creators without an adapter.
    assert _ask(tuned, None, sea) == base_answers[sea]
    assert _ask(tuned, "carl", colour) == base_answers[colour]
    assert str(tuned.chat_model(seed=0).invoke(sea).content) == base_answers[sea]  # unbound
    # Scale 1 changes the answer, and each adapter its own way.
    assert ann != base_answers[sea] and bob != base_answers[sea] and ann != bob
    # Switching back and forth gives each creator their own answer every time.
    assert [_ask(tuned, c, sea) for c in ("ann", "bob", None, "ann")] == [
        ann,
        bob,
        base_answers[sea],
        ann,
    ]


@pytest.mark.slow
def test_cached_prompts_are_not_reused_across_adapters(tuned: EmbeddedBackend) -> None:
    # A, B, A: a prompt's KV computed under ann's adapter must not answer bob's request
    # once another prompt has taken the slot (llama.cpp's RAM prompt cache is off for this).
    sea, colour = PROMPTS
    bob_fresh = _ask(tuned, "bob", sea)
    _ask(tuned, "ann", sea)
    _ask(tuned, "bob", colour)
    assert _ask(tuned, "bob", sea) == bob_fresh


@pytest.mark.slow
def test_set_adapters_restarts_on_the_same_url_and_routes_by_creator(
    tuned: EmbeddedBackend, adapter_dirs: dict[str, Path]
) -> None:
    sea = PROMPTS[0]
    before = {c: _ask(tuned, c, sea) for c in ("ann", "bob")}
    url, key, chat = tuned.base_url, tuned.api_key, tuned.chat_model(seed=0)
    tuned.set_adapters(
        (LoraAdapter("bob", adapter_dirs["bob"]), LoraAdapter("ann", adapter_dirs["ann"]))
    )
    assert (tuned.base_url, tuned.api_key) == (url, key)
    assert tuned.server is not None
    assert [Path(str(a["path"])).name.split("-")[0] for a in tuned.server.loaded_adapters()] == [
        "bob",
        "ann",
    ]
    # Ids moved; each creator still gets their own adapter.
    assert {c: _ask(tuned, c, sea) for c in ("ann", "bob")} == before
    # A chat model made before the restart still reaches the server.
    assert str(chat.bind(**tuned.adapter_options("ann")).invoke(sea).content) == before["ann"]
