"""Slots for long-lived sockets (the space's chats, live viewers): a cap per creator, so one
creator's crowd cannot take the whole server, and a cap per client address, so one client
cannot take a creator's whole share with idle sockets. One instance per process (the caps
are per worker), used from the event loop only."""

from __future__ import annotations

from collections import defaultdict
from enum import StrEnum

from starlette.requests import HTTPConnection


class Refusal(StrEnum):
    CREATOR_FULL = "creator_full"
    CLIENT_FULL = "client_full"


def client_address(connection: HTTPConnection) -> str:
    """The peer's address as the server sees it (behind a proxy, the one the server trusts
    in X-Forwarded-For: uvicorn --proxy-headers / --forwarded-allow-ips)."""
    return connection.client.host if connection.client else "unknown"


class SocketSlots:
    def __init__(self, per_creator: int, per_client: int) -> None:
        if per_creator < 1 or per_client < 1:
            raise ValueError("socket caps must be at least 1")
        self.per_creator = per_creator
        self.per_client = per_client
        self._creators: dict[str, int] = defaultdict(int)
        self._clients: dict[str, int] = defaultdict(int)

    def take(self, creator_id: str, client: str) -> Refusal | None:
        """A slot for one socket (None), or why not; give it back with `give_back`."""
        if self._creators[creator_id] >= self.per_creator:
            self._drop_empty(creator_id, client)
            return Refusal.CREATOR_FULL
        if self._clients[client] >= self.per_client:
            self._drop_empty(creator_id, client)
            return Refusal.CLIENT_FULL
        self._creators[creator_id] += 1
        self._clients[client] += 1
        return None

    def give_back(self, creator_id: str, client: str) -> None:
        self._creators[creator_id] -= 1
        self._clients[client] -= 1
        self._drop_empty(creator_id, client)

    def _drop_empty(self, creator_id: str, client: str) -> None:
        # Counts that reach zero are removed: the maps hold only who is connected now.
        if self._creators.get(creator_id, 0) <= 0:
            self._creators.pop(creator_id, None)
        if self._clients.get(client, 0) <= 0:
            self._clients.pop(client, None)

    def creator(self, creator_id: str) -> int:
        return self._creators.get(creator_id, 0)

    def client(self, client: str) -> int:
        return self._clients.get(client, 0)
