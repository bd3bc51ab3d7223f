"""The live channel's real server for tests: the demo creator with an API token and a quick
answering cadence, and the server's environment (the scripted model, one thread each)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from channels.deps import new_api_token
from channels.inbox.policy import LivePolicy, store_policy
from channels.services import Services
from ingest.demo import DEMO_CREATOR_ID
from persona.store import Creator
from tests.conftest import REPO, make_settings
from tests.live_server import ServerProcess, start_server


def prepare(data_dir: Path) -> str:
    """An API token for the demo creator, and a quick answering cadence for the test."""
    services = Services.build(make_settings(data_dir))
    try:
        token = new_api_token(services, DEMO_CREATOR_ID)
        with services.db.session() as session:
            creator = session.get(Creator, DEMO_CREATOR_ID)
            assert creator is not None
            creator.settings = store_policy(
                creator.settings or {}, "live", LivePolicy(cadence_s=0.2)
            )
    finally:
        services.close()
    return token


def server_env(data_dir: Path, **extra: str) -> dict[str, str]:
    return {
        "PERSONA_DATA_DIR": str(data_dir),
        "PERSONA_LLM_BACKEND": "scripted",
        "PERSONA_LOG_LEVEL": "WARNING",
        "PERSONA_EMBED_THREADS": "1",
        "PERSONA_LLM_THREADS": "1",
        "PERSONA_REPLY_CANDIDATES": "1",
        "OMP_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
        **extra,
    }


@contextmanager
def scripted_server(data_dir: Path, log: Path, **extra: str) -> Iterator[tuple[ServerProcess, str]]:
    """The platform with the scripted model on loopback, and the demo creator's token."""
    token = prepare(data_dir)
    server = start_server(server_env(data_dir, **extra), log, imports=["tests.doubles"], cwd=REPO)
    try:
        yield server, token
    finally:
        server.stop()
        print(server.log_tail())  # shown by pytest when the test failed
