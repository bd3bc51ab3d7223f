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
