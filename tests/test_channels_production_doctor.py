"""`persona doctor` on real services: all good when they are there, and a plain sentence with
the fix for each thing that is wrong."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from channels.doctor import FAIL, OK, SKIP, WARN, multi_worker_problems, run_checks
from tests.production_support import (
    ServiceURLs,
    free_port,
    fresh_database,
    make_production_settings,
    production_values,
    service_urls,
)


@pytest.fixture
def urls() -> ServiceURLs:
    return service_urls()


@pytest.fixture
def database_url(urls: ServiceURLs) -> Iterator[str]:
    with fresh_database(urls) as url:
        yield url


def _by_component(results):
    found: dict[str, list] = {}
    for check in results:
        found.setdefault(check.component, []).append(check)
    return found


def _settings(tmp_path: Path, urls: ServiceURLs, database_url: str, **overrides: object):
    values = production_values(
        tmp_path / "data", database_url, urls.redis_url, (urls.chroma_host, urls.chroma_port)
    )
    values.update(overrides)
    return make_production_settings(values)


def test_doctor_passes_on_a_migrated_production_setup(
    tmp_path: Path, urls: ServiceURLs, database_url: str
) -> None:
    from channels.services import Services

    settings = _settings(tmp_path, urls, database_url)
    Services.build(settings).close()  # migrates
    found = _by_component(run_checks(settings))
    assert [c.status for c in found["database"]] == [OK]
    assert "postgresql" in found["database"][0].detail
    assert found["migrations"][0].status == OK
    assert found["redis"][0].status == OK
    assert found["chroma"][0].status == OK and "Chroma server" in found["chroma"][0].detail
    assert found["model"][0].status == SKIP  # the scripted test double
    assert found["disk"][0].status in (OK, WARN)
    # No `persona jobs` worker runs in this test: the doctor says so and how to start one.
    assert found["job worker"][0].status == WARN
    assert "persona jobs" in found["job worker"][0].fix
    assert not [c for c in run_checks(settings) if c.status == FAIL]


def test_doctor_names_each_broken_component_and_its_fix(
    tmp_path: Path, urls: ServiceURLs, database_url: str
) -> None:
    closed = free_port()
    settings = _settings(
        tmp_path,
        urls,
        f"postgresql+psycopg://postgres@127.0.0.1:{closed}/persona",
        redis_url=f"redis://127.0.0.1:{free_port()}/0",
        chroma_port=free_port(),
        llm_backend="openai",
        llm_base_url=f"http://127.0.0.1:{free_port()}/v1",
    )
    found = _by_component(run_checks(settings))
    database = found["database"][0]
    assert database.status == FAIL
    assert f"127.0.0.1:{closed}" in database.detail and "PERSONA_DATABASE_URL" in database.fix
    assert found["redis"][0].status == FAIL and "redis-server" in found["redis"][0].fix
    assert found["chroma"][0].status == FAIL and "chroma run" in found["chroma"][0].fix
    model = found["model"][0]
    assert model.status == FAIL and "PERSONA_LLM_BASE_URL" in model.fix


def test_doctor_finds_a_database_that_was_never_migrated(
    tmp_path: Path, urls: ServiceURLs, database_url: str
) -> None:
    settings = _settings(tmp_path, urls, database_url)
    migrations = _by_component(run_checks(settings))["migrations"][0]
    assert migrations.status == FAIL
    assert "no tables" in migrations.detail and "persona serve" in migrations.fix


def test_doctor_checks_the_model_name_against_the_endpoint(
    tmp_path: Path, urls: ServiceURLs, database_url: str, real_llm
) -> None:
    """The real llama.cpp server speaks the same /v1/models as vLLM."""
    served = httpx.get(
        f"{real_llm.url}/models", headers={"Authorization": f"Bearer {real_llm.api_key}"}
    ).json()["data"][0]["id"]
    good = _settings(tmp_path, urls, database_url, **{**real_llm.overrides(), "llm_model": served})
    assert _by_component(run_checks(good))["model"][0].status == OK
    wrong = _settings(
        tmp_path, urls, database_url, **{**real_llm.overrides(), "llm_model": "no-such-model"}
    )
    model = _by_component(run_checks(wrong))["model"][0]
    assert model.status == FAIL and served in model.fix


def test_several_workers_need_the_shared_services(tmp_path: Path) -> None:
    from tests.conftest import make_settings

    single = make_settings(tmp_path)
    problems = " ".join(multi_worker_problems(single))
    for setting in (
        "PERSONA_REDIS_URL",
        "PERSONA_VECTOR_BACKEND=chroma-server",
        "PERSONA_DATABASE_URL",
    ):
        assert setting in problems


def test_doctor_command_exits_1_and_prints_the_fix(tmp_path: Path, monkeypatch) -> None:
    import typer
    from typer.testing import CliRunner

    from channels.doctor import doctor_command

    app = typer.Typer()
    app.command()(doctor_command)
    monkeypatch.setenv("PERSONA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PERSONA_LLM_BACKEND", "embedded")
    result = CliRunner().invoke(app, [], env={"COLUMNS": "200"})
    assert result.exit_code == 1
    assert "no database yet" in result.output and "persona serve" in result.output
    assert not (tmp_path / "data" / "persona.db").exists()  # the doctor changed nothing


def _persona(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The installed command line (`persona ...`), as an operator runs it."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("PERSONA_")}
    return subprocess.run(
        [sys.executable, "-m", "channels.cli", *args],
        env={**base, "COLUMNS": "200", **env},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[1],
    )


def test_serve_refuses_several_workers_on_single_process_settings(tmp_path: Path) -> None:
    done = _persona("serve", "--workers", "2", "--no-demo", env={"PERSONA_DATA_DIR": str(tmp_path)})
    assert done.returncode == 2, done.stderr
    said = " ".join(done.stderr.split())
    assert "cannot start 2 workers" in said
    for fix in ("PERSONA_REDIS_URL", "PERSONA_DATABASE_URL", "PERSONA_VECTOR_BACKEND"):
        assert fix in said
    assert not (tmp_path / "persona.db").exists()  # refused before touching anything


def test_cli_has_doctor_and_jobs(tmp_path: Path) -> None:
    doctor = _persona("doctor", env={"PERSONA_DATA_DIR": str(tmp_path)})
    assert doctor.returncode == 1 and "no database yet" in doctor.stdout
    jobs = _persona("jobs", "--burst", env={"PERSONA_DATA_DIR": str(tmp_path)})
    assert jobs.returncode == 2
    assert "PERSONA_REDIS_URL" in jobs.stderr + jobs.stdout
