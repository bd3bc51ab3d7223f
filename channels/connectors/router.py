"""Connectors API (creator token or console session):

- `GET /api/creators/{id}/connectors`: each stored connector with its health;
- `PUT /api/creators/{id}/connectors`: connect (a spec: `{"kind": "twitch", "channel":
  "#name", "nick": "bot", "stream_id": "main"}`), replacing the one with the same id;
- `DELETE /api/creators/{id}/connectors/{connector_id}`: disconnect.

The running server connects within a second (the API wakes the manager); credentials are
not part of a spec: they come from the server's settings (PERSONA_TWITCH_TOKENS,
PERSONA_MATRIX_TOKENS, PERSONA_YOUTUBE_TOKENS)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, status
from pydantic import ValidationError

from channels.connectors import store
from channels.connectors.manager import ConnectorManager
from channels.connectors.registry import CONNECTORS
from channels.deps import CreatorDep, PlatformDep
from channels.services import Platform
from persona.registry import UnknownBackendError

router = APIRouter(prefix="/api/creators/{creator_id}/connectors", tags=["connectors"])


def _manager(services: Platform) -> ConnectorManager:
    """The platform's connector manager, once the app's lifespan started it."""
    manager = services.connectors
    if manager is None or not manager.started:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "connectors are not running")
    return manager


@router.get("")
async def list_connectors(creator_id: CreatorDep, services: PlatformDep) -> dict[str, Any]:
    manager = _manager(services)
    found = await asyncio.to_thread(manager.status, creator_id)
    return {
        "connectors": [h.model_dump(mode="json") for h in found],
        "kinds": CONNECTORS.names(),
    }


@router.put("")
async def connect(
    creator_id: CreatorDep,
    services: PlatformDep,
    body: Annotated[dict[str, Any], Body()],
) -> dict[str, Any]:
    try:
        spec = CONNECTORS.spec(body)
    except UnknownBackendError as exc:
        # The 422 body has the validation-error shape the OpenAPI schema promises.
        detail = [{"loc": ["body", "kind"], "msg": str(exc), "type": "unknown_connector"}]
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail) from None
    except ValidationError as exc:
        detail = [
            {"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]}
            for e in exc.errors(include_url=False, include_input=False)
        ]
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail) from None
    await asyncio.to_thread(store.save, services.db, creator_id, spec)
    _manager(services).reconcile_soon()
    return {"id": spec.id, "stored": spec.model_dump(mode="json")}


@router.delete("/{connector_id}")
async def disconnect(
    creator_id: CreatorDep, connector_id: str, services: PlatformDep
) -> dict[str, Any]:
    removed = await asyncio.to_thread(store.remove, services.db, creator_id, connector_id)
    if not removed:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no connector {connector_id!r}")
    _manager(services).reconcile_soon()
    return {"id": connector_id, "removed": True}
