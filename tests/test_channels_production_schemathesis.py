"""Property-based tests of the HTTP API against its own OpenAPI schema (schemathesis), in
production mode (PostgreSQL, Redis hub and rate limits, the Chroma server): whatever a client
sends, the API answers without a 5xx and every response matches the schema it declares.

Requests carry the demo creator's token and name that creator in the path, so that they get
past authentication and reach the handlers (random creator ids would only test the 401s)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from tests.production_support import CREATOR, Deployment, deploy

MAX_EXAMPLES = 30


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """Two API workers behind one port, as in production."""
    # JSON logs keep the traceback of any 5xx (the console format prints one line).
    with deploy(tmp_path_factory.mktemp("schemathesis"), log_format="json") as running:
        yield running


def test_no_server_error_and_responses_match_the_schema(platform: Deployment) -> None:
    """Every operation of the schema, `MAX_EXAMPLES` generated requests each (schemathesis
    strategies driven by Hypothesis directly: its pytest plugin does not run on pytest 9)."""
    from hypothesis import given

    schema = schemathesis.openapi.from_url(f"{platform.workers.url}/openapi.json")
    headers = {"Authorization": f"Bearer {platform.token}"}
    checks = [not_a_server_error, response_schema_conformance, content_type_conformance]
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def run(case: Any) -> None:
            if "creator_id" in (case.path_parameters or {}):
                case.path_parameters["creator_id"] = CREATOR
            case.call_and_validate(headers=headers, checks=checks, timeout=60)

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - collect them all
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    assert operations >= 10
    assert not failures, "\n\n".join(failures)
