"""A creator's API token: issuing one, and the one check every channel makes of it.

The token itself is never stored: its SHA-256 lives in `creators.api_token_sha256` (a column
of its own, out of the settings the creator edits and a card exports). The HTTP API, the
inbox's replies websocket, the live websockets and the OpenAI-compatible `/v1` all call
`authenticate_creator`; each turns `TokenRejected` into its own status and message.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import TYPE_CHECKING, Literal

from persona.store import Creator, Database

if TYPE_CHECKING:
    from channels.services import Platform

# Compared against when the creator does not exist, so that an unknown creator and a wrong
# token take the same time.
_NO_HASH = "0" * 64


def hash_token(token: str) -> str:
    # API tokens are 256-bit random strings: a plain SHA-256 is enough (no dictionary risk).
    return hashlib.sha256(token.encode()).hexdigest()


def new_api_token(services: Platform, creator_id: str) -> str:
    """Issue a fresh API token for a creator (the old one stops working)."""
    token = "pk_" + secrets.token_urlsafe(32)
    with services.db.session() as session:
        creator = session.get(Creator, creator_id)
        if creator is None:
            raise LookupError(f"unknown creator {creator_id!r}")
        creator.api_token_sha256 = hash_token(token)
    return token


class TokenRejected(Exception):
    """The bearer is not that creator's API token. `reason` is "missing" (no token given) or
    "wrong" (not this creator's, or the creator has none, or does not exist); `creator` is
    the creator's row when it exists (detached: read its loaded columns only)."""

    def __init__(self, reason: Literal["missing", "wrong"], creator: Creator | None = None):
        super().__init__(reason)
        self.reason = reason
        self.creator = creator


def token_matches(expected_sha256: str | None, bearer: str) -> bool:
    """Whether `bearer` hashes to `expected_sha256`, in constant time."""
    ok = hmac.compare_digest(str(expected_sha256 or _NO_HASH), hash_token(bearer))
    return bool(expected_sha256) and ok


def authenticate_creator(db: Database, creator_id: str, bearer: str | None) -> Creator:
    """The creator `creator_id`, if `bearer` is their API token; raises `TokenRejected`
    otherwise (synchronous: it reads the database)."""
    if not bearer:
        raise TokenRejected("missing")
    with db.session() as session:
        creator = session.get(Creator, creator_id)
    expected = creator.api_token_sha256 if creator is not None else None
    if not token_matches(expected, bearer) or creator is None:
        raise TokenRejected("wrong", creator)
    return creator
