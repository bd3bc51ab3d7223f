"""The diffusers backend through its real loading and generation code, on a tiny random
Stable Diffusion pipeline built in the test session (no weights can be downloaded here)."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import create_engine

from avatar import (
    AvatarBase,
    AvatarConfig,
    AvatarService,
    BackendUnavailableError,
    JobState,
    testing,
)
from avatar.backends import style_backends
from avatar.backends.diffusion import DiffusersBackend

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return testing.build_tiny_sd_pipeline(tmp_path_factory.mktemp("sd") / "tiny-sd")


def tiny_config(tmp_path, model_dir, **extra) -> AvatarConfig:
    extra.setdefault("max_outputs", 2)
    return AvatarConfig(
        data_dir=tmp_path,
        backend="diffusers",
        diffusers_model_dir=model_dir,
        diffusers_steps=2,
        diffusers_device="cpu",
        output_size=64,
        **extra,
    )


def test_without_a_model_folder_it_says_what_it_needs(tmp_path) -> None:
    backend = style_backends.create("diffusers", AvatarConfig(data_dir=tmp_path))
    assert isinstance(backend, DiffusersBackend)
    reason = backend.unavailable_reason()
    assert reason is not None and "diffusers_model_dir" in reason and "'art'" in reason
    empty = DiffusersBackend(AvatarConfig(data_dir=tmp_path, diffusers_model_dir=tmp_path))
    assert "model_index.json is missing" in empty.unavailable_reason()
    # The catalog is still there to show; making avatars is refused with the reason.
    assert len(backend.catalog()) == 10
    with pytest.raises(BackendUnavailableError, match="diffusers_model_dir"):
        backend.render(testing.astronaut().resize((64, 64)), "anime", 0, 0)


def test_service_refuses_jobs_when_the_backend_is_unavailable(tmp_path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    AvatarBase.metadata.create_all(engine)
    service = AvatarService(AvatarConfig(data_dir=tmp_path, backend="diffusers"), engine)
    assert "diffusers_model_dir" in service.availability()
    with pytest.raises(BackendUnavailableError):
        service.submit("ana", testing.selfie_uploads(3), ["anime", "pop-art"])
    assert service.quota("ana").used == 0
    engine.dispose()


def test_generates_from_the_model_folder_deterministically(tmp_path, model_dir) -> None:
    backend = DiffusersBackend(tiny_config(tmp_path, model_dir))
    assert backend.unavailable_reason() is None
    portrait = testing.astronaut().resize((64, 64))
    first = backend.render(portrait, "anime", 0, seed=7)
    assert first.size == (64, 64) and first.mode == "RGB"
    again = backend.render(portrait, "anime", 0, seed=7)
    other = backend.render(portrait, "anime", 0, seed=8)
    assert np.array_equal(testing.as_array(first), testing.as_array(again))
    assert np.abs(testing.as_array(first) - testing.as_array(other)).mean() > 0.5
    # The stock safety checker is off: our own checks run on every output instead.
    assert backend._pipeline().safety_checker is None
    backend.close()
    assert backend._pipe is None


def test_job_runs_our_checks_on_every_output_and_drops_unlike_ones(tmp_path, model_dir) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    AvatarBase.metadata.create_all(engine)
    service = AvatarService(tiny_config(tmp_path, model_dir), engine)
    assert [s.id for s in service.styles()][:3] == ["oil-portrait", "watercolor", "anime"]
    submission = service.submit("ana", testing.selfie_uploads(3), ["anime", "pop-art"])
    assert submission.job is not None and submission.job.backend == "diffusers"
    service.run_pending()
    status = service.status("ana", submission.job.id)
    # Random weights paint noise: no face, so every take is dropped and nothing is kept.
    assert status.state is JobState.FAILED
    assert "looked enough like you" in status.message
    assert status.images_done == 0 and status.images_dropped == 4
    assert service.outputs("ana", submission.job.id) == []
    assert status.uploads_deleted
    # A job that produced nothing does not use up the day.
    assert service.quota("ana").used == 0
    service.stop()
    engine.dispose()


@pytest.fixture(scope="module")
def ip_adapter_dir(tmp_path_factory, model_dir):
    return testing.build_tiny_ip_adapter(tmp_path_factory.mktemp("ip") / "ip-adapter", model_dir)


def test_identity_prompt_loads_the_ip_adapter_and_follows_the_face(
    tmp_path, model_dir, ip_adapter_dir
) -> None:
    missing = DiffusersBackend(
        tiny_config(tmp_path, model_dir, diffusers_ip_adapter_dir=tmp_path / "nowhere")
    )
    assert "IP-Adapter weights" in missing.unavailable_reason()
    backend = DiffusersBackend(
        tiny_config(
            tmp_path,
            model_dir,
            diffusers_ip_adapter_dir=ip_adapter_dir,
            diffusers_ip_adapter_weight="ip-adapter_tiny.safetensors",
            diffusers_ip_adapter_scale=1.0,
        )
    )
    assert backend.unavailable_reason() is None and backend.identity_prompt
    portrait = testing.astronaut().resize((64, 64))
    face = testing.astronaut().crop((160, 30, 300, 170))
    other = testing.cameraman_closeup(140)
    first = backend.render_with_identity(portrait, "anime", 0, 7, face)
    again = backend.render_with_identity(portrait, "anime", 0, 7, face)
    another = backend.render_with_identity(portrait, "anime", 0, 7, other)
    assert first.size == (64, 64)
    assert np.array_equal(testing.as_array(first), testing.as_array(again))
    # Same seed and prompt, another face as the image prompt: another picture.
    assert np.abs(testing.as_array(first) - testing.as_array(another)).mean() > 0.5
    pipe = backend._pipeline()
    assert pipe.image_encoder is not None
    kinds = {type(p).__name__ for p in pipe.unet.attn_processors.values()}
    assert any(k.startswith("IPAdapterAttnProcessor") for k in kinds)
    # Without a face, the picture itself is the image prompt (the adapter needs one).
    assert backend.render(portrait, "anime", 0, 7).size == (64, 64)
    backend.close()
