"""FastAPI dependencies, as `Annotated` aliases (one place for auth and service lookup)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Path, Query, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from channels.auth_tokens import TokenRejected, authenticate_creator
from channels.auth_tokens import hash_token as hash_token  # re-exported: older imports
from channels.auth_tokens import new_api_token as new_api_token
from channels.services import Services

_bearer = HTTPBearer(auto_error=False)

CREATOR_ID_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"

# Row ids are 32-bit INTEGER columns on PostgreSQL and offsets go out as BIGINT: a bigger
# number is refused up front (422) rather than by the database (500).
DB_INT_MAX = 2**31 - 1
RowIdPath = Annotated[int, Path(ge=1, le=DB_INT_MAX)]
OffsetQuery = Annotated[int, Query(ge=0, le=DB_INT_MAX)]


# HTTPConnection, not Request: these dependencies serve websocket routes too (a `Request`
# parameter cannot be filled on a websocket, and the route would fail for everyone).
def get_services(connection: HTTPConnection) -> Services:
    return connection.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


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
