"""Which model the platform's settings choose (PERSONA_LLM_*), and the files the embedded
backend gets from them."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import uuid
from pathlib import Path

import httpx
import pytest

from channels.services import embedded_model_files, llm_config
from channels.settings import Settings
from persona.llm.backends import EmbeddedBackend
from persona.llm.packaged_model import (
    DEFAULT_PACKAGED_MODEL,
    PACKAGED_MODELS,
    QWEN_CODER_05B_Q4,
    QWEN_CODER_15B_Q4_K_M,
    PackagedArtifact,
    PackagedPart,
    assemble_packaged_model,
)

# -- the registry ------------------------------------------------------------------------------


def test_registry_names_both_models_and_the_default() -> None:
    # The 1.5B by measurement (BENCHMARKS.md, "Fan experience"); the 0.5B stays a setting.
    assert DEFAULT_PACKAGED_MODEL == "qwen2.5-coder-1.5b"
    assert PACKAGED_MODELS["qwen2.5-coder-0.5b"] is QWEN_CODER_05B_Q4
    assert PACKAGED_MODELS["qwen2.5-coder-1.5b"] is QWEN_CODER_15B_Q4_K_M
    assert Settings(_env_file=None).packaged_model == DEFAULT_PACKAGED_MODEL
    assert Settings(_env_file=None).llm_model == "qwen2.5-coder-1.5b-instruct"
    small = Settings(_env_file=None, packaged_model="qwen2.5-coder-0.5b")  # type: ignore[call-arg]
    assert small.llm_model == "qwen2.5-coder-0.5b-instruct"


# -- the settings pick the model and the draft -------------------------------------------------


@pytest.fixture
def tiny_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, PackagedArtifact]:
    """Two registered tiny 'models' made of real importable chunk packages."""
    site = tmp_path / "site"
    monkeypatch.syspath_prepend(str(site))
    made = {}
    for label in ("big", "small"):
        prefix = f"tinymodel_{label}_{uuid.uuid4().hex[:8]}"
        chunks = [b"GGUF" + os.urandom(1000), os.urandom(700)]
        parts = []
        for n, chunk in enumerate(chunks, start=1):
            module = f"{prefix}_part{n}"
            (site / module / "data").mkdir(parents=True)
            (site / module / "__init__.py").write_text("")
            (site / module / "data" / f"part{n:02d}.bin").write_bytes(chunk)
            parts.append(PackagedPart(f"{prefix}-part{n}", module, f"data/part{n:02d}.bin"))
        whole = b"".join(chunks)
        artifact = PackagedArtifact(
            filename=f"{label}.gguf",
            size=len(whole),
            sha256=hashlib.sha256(whole).hexdigest(),
            version="1.0",
            parts=tuple(parts),
            name=f"tiny-{label}",
        )
        monkeypatch.setitem(PACKAGED_MODELS, artifact.name, artifact)
        made[label] = artifact
    return made


def _settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path / "data", **values)  # type: ignore[arg-type]


def test_the_environment_switches_the_model_and_the_draft(
    tiny_models: dict[str, PackagedArtifact], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERSONA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PERSONA_PACKAGED_MODEL", "tiny-big")
    monkeypatch.setenv("PERSONA_DRAFT_MODEL", "tiny-small")
    monkeypatch.setenv("PERSONA_DRAFT_MAX", "4")
    settings = Settings(_env_file=None)
    config = llm_config(settings)
    models = settings.models_dir
    assert config.model_path == models / "big.gguf"
    assert config.draft_model_path == models / "small.gguf"
    assert config.draft_max == 4
    assert hashlib.sha256(config.model_path.read_bytes()).hexdigest() == tiny_models["big"].sha256
    server = EmbeddedBackend(config).server_config()
    assert server.model_path == models / "big.gguf"
    assert server.draft_model_path == models / "small.gguf"
    assert (server.draft_max, server.draft_p_min) == (4, settings.draft_p_min)


def test_the_default_leaves_assembly_to_the_backend_and_has_no_draft(tmp_path: Path) -> None:
    config = llm_config(_settings(tmp_path))
    assert config.model_path is None
    assert config.draft_model_path is None


def test_an_explicit_model_path_wins_and_a_draft_may_be_a_gguf_path(
    tiny_models: dict[str, PackagedArtifact], tmp_path: Path
) -> None:
    own = tmp_path / "own.gguf"
    own.write_bytes(b"GGUF")
    draft = tmp_path / "draft.gguf"
    draft.write_bytes(b"GGUF")
    settings = _settings(
        tmp_path, llm_model_path=own, packaged_model="tiny-big", draft_model=str(draft)
    )
    assert embedded_model_files(settings) == (own, draft)


def test_other_backends_get_no_draft_and_assemble_nothing(
    tiny_models: dict[str, PackagedArtifact], tmp_path: Path
) -> None:
    settings = _settings(
        tmp_path,
        llm_backend="openai",
        llm_base_url="http://127.0.0.1:9/v1",
        packaged_model="tiny-big",
        draft_model="tiny-small",
    )
    assert embedded_model_files(settings) == (None, None)
    assert not settings.models_dir.exists()


def test_settings_reject_unknown_models_and_an_empty_draft_is_none(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="PERSONA_PACKAGED_MODEL='gpt-5'"):
        _settings(tmp_path, packaged_model="gpt-5")
    with pytest.raises(ValueError, match="PERSONA_DRAFT_MODEL='tiny'"):
        _settings(tmp_path, draft_model="tiny")
    assert _settings(tmp_path, draft_model="").draft_model is None


# -- the settings' draft reaches llama.cpp -----------------------------------------------------


@pytest.mark.slow
def test_real_1_5b_with_the_0_5b_draft_answers_and_accepts_drafted_tokens(
    tmp_path: Path, packaged_model: Path
) -> None:
    pytest.importorskip("xllamacpp")
    # Assembled once into conftest's persistent model cache, beside the 0.5B.
    big = assemble_packaged_model(packaged_model.parent, "qwen2.5-coder-1.5b")
    settings = _settings(tmp_path, llm_model_path=big, draft_model=str(packaged_model))
    config = dataclasses.replace(llm_config(settings), n_ctx=1024, parallel=1)
    backend = EmbeddedBackend(config)
    backend.start()
    try:
        response = httpx.post(
            f"{backend.base_url}/chat/completions",
            headers={"Authorization": f"Bearer {backend.api_key}"},
            json={
                "messages": [{"role": "user", "content": "Say hello to a fan in one sentence."}],
                "max_completion_tokens": 16,
                "temperature": 0,
            },
            timeout=120,
        )
        response.raise_for_status()
        body = response.json()
        assert body["choices"][0]["message"]["content"].strip()
        assert body["timings"]["draft_n"] > 0
        assert backend.server is not None
        metrics = backend.server.metrics()
        assert metrics["llamacpp:spec_decode_num_drafts_total"] > 0
    finally:
        backend.stop()
