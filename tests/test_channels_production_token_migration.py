"""Migration 0014 (the API token's hash out of the settings JSON, into its own column) on
PostgreSQL, from .ci/services; the same check as on SQLite in test_channels_auth_tokens."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from tests.production_support import fresh_database, service_urls
from tests.test_channels_auth_tokens import check_token_migration


@pytest.fixture
def database_url() -> Iterator[str]:
    with fresh_database(service_urls()) as url:
        yield url


def test_the_token_migration_on_postgresql(database_url: str) -> None:
    engine = sa.create_engine(database_url)
    try:
        check_token_migration(engine)
    finally:
        engine.dispose()
