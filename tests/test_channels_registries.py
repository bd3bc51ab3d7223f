"""Hubs and job queues are picked by name through registries, like the other parts."""

from __future__ import annotations

import pytest

from channels.hub import Hub
from channels.jobs import InlineJobQueue, build_job_queue, job_queues
from channels.redis_hub import build_hub, hubs
from persona.registry import UnknownBackendError


def test_hubs_and_job_queues_list_their_backends() -> None:
    assert hubs.names() == ["memory", "redis"]
    assert job_queues.names() == ["arq", "inline"]


def test_without_redis_the_parts_are_in_process() -> None:
    hub = build_hub(None)
    assert type(hub) is Hub
    assert isinstance(build_job_queue(object(), None), InlineJobQueue)


def test_a_wrong_choice_names_the_known_ones_and_the_missing_setting() -> None:
    with pytest.raises(UnknownBackendError, match="choose one of: arq, inline"):
        build_job_queue(object(), None, "celery")
    with pytest.raises(ValueError, match="PERSONA_REDIS_URL"):
        build_job_queue(object(), None, "arq")


def test_the_avatar_styles_use_the_same_registry_and_raise_an_avatar_error() -> None:
    from avatar.backends import style_backends
    from avatar.errors import AvatarError
    from persona.registry import Registry

    assert type(style_backends) is Registry
    with pytest.raises(AvatarError, match="unknown avatar style backend 'nope'; choose one of:"):
        style_backends.create("nope")
    with pytest.raises(UnknownBackendError):
        style_backends.create("nope")


def test_one_utc_column_type_for_every_table_family() -> None:
    import avatar.store
    import channels.console.models
    import channels.takeover_state
    from persona.store.types import UTCDateTime

    assert avatar.store.UTCDateTime is UTCDateTime
    assert channels.console.models.UTCDateTime is UTCDateTime
    assert channels.takeover_state.UTCDateTime is UTCDateTime
