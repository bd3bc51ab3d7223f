"""FastAPI dependencies, as `Annotated` aliases (one place for auth and for the parts of the
platform that `channels.services.build_platform` built: `PlatformDep`, or the narrower
`ReplierDep`, `LiveDep`, `HubDep`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Path, Query, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from channels.auth_tokens import TokenRejected, authenticate_creator
from channels.auth_tokens import hash_token as hash_token  # re-exported: older imports
from channels.auth_tokens import new_api_token as new_api_token
from channels.hub import Hub
from channels.live.manager import LiveManager
from channels.services import Platform
from persona.engine.replier import Replier

_bearer = HTTPBearer(auto_error=False)

CREATOR_ID_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"

# Row ids are 32-bit INTEGER columns on PostgreSQL and offsets go out as BIGINT: a bigger
# number is refused up front (422) rather than by the database (500).
DB_INT_MAX = 2**31 - 1
RowIdPath = Annotated[int, Path(ge=1, le=DB_INT_MAX)]
OffsetQuery = Annotated[int, Query(ge=0, le=DB_INT_MAX)]


# HTTPConnection, not Request: these dependencies serve websocket routes too (a `Request`
# parameter cannot be filled on a websocket, and the route would fail for everyone).
async def get_platform(connection: HTTPConnection) -> Platform:
    """The app's platform (async: no thread-pool hop to look it up)."""
    return connection.app.state.services


PlatformDep = Annotated[Platform, Depends(get_platform)]
# The name routers used before the platform held every part.
get_services = get_platform
ServicesDep = PlatformDep


async def get_replier(platform: PlatformDep) -> Replier:
    """The reply engine; the first caller waits for the model in a worker thread, never on
    the event loop."""
    return await platform.replier()


ReplierDep = Annotated[Replier, Depends(get_replier)]


async def get_live(platform: PlatformDep) -> LiveManager:
    return platform.live


LiveDep = Annotated[LiveManager, Depends(get_live)]


async def get_hub(platform: PlatformDep) -> Hub:
    return platform.hub


HubDep = Annotated[Hub, Depends(get_hub)]


def authenticated_creator(
    services: ServicesDep,
    creator_id: Annotated[str, Path(pattern=CREATOR_ID_PATTERN)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    connection: HTTPConnection,
) -> str:
    """The creator named in the path, if the caller proves to be them: a Bearer API token, or
    the console's signed-in session (set by the console's middleware in request.state)."""
    session_creator = getattr(connection.state, "creator_id", None)
    if session_creator is not None:
        if session_creator != creator_id:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "this is another creator's data")
        return creator_id
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing API token: send 'Authorization: Bearer <token>' "
            "(create one with `persona token CREATOR`)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        authenticate_creator(services.db, creator_id, credentials.credentials)
    except TokenRejected:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "this token does not belong to that creator"
        ) from None
    return creator_id


CreatorDep = Annotated[str, Depends(authenticated_creator)]
