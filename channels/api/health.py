"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from sqlalchemy import text

from channels.deps import PlatformDep
from channels.observability import readiness_checks

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(services: PlatformDep, response: Response) -> dict[str, object]:
    checks: dict[str, str] = {}
    try:
        with services.db.session() as session:
            session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - report, don't crash the probe
        checks["database"] = f"error: {type(exc).__name__}"
    checks["model"] = "ok" if services.llm_ready else "starting"
    # Production mode: the Redis hub's connection as this worker last saw it.
    checks.update(readiness_checks(services))
    ready = all(v == "ok" for v in checks.values())
    if not ready:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return {"ready": ready, "checks": checks}
