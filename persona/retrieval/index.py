"""One Chroma collection per creator (filtered queries over a shared collection are 20-100x
slower). Embeddings come from our own `Embeddings`; ids are content hashes, so a retried or
repeated write is an idempotent upsert."""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings

from persona.registry import Registry

log = logging.getLogger(__name__)

# What an index entry is: a creator's broadcast post, a creator's reply, or the fan message a
# reply answered (searching those finds "how did I answer something like this before").
KINDS = ("post", "reply", "fan_msg")


@dataclass(frozen=True, slots=True)
class VectorStoreConfig:
    backend: str = "chroma-embedded"
    path: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8000


@dataclass(frozen=True, slots=True)
class IndexEntry:
    id: str
    text: str
    kind: str
    metadata: dict[str, str | int | float | bool] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Hit:
    id: str
    text: str
    kind: str
    score: float  # cosine similarity, 1.0 = same meaning
    metadata: dict[str, Any]


chroma_clients: Registry[Any] = Registry("vector store")


@chroma_clients.register("chroma-embedded")
def _embedded_client(config: VectorStoreConfig) -> Any:
    import chromadb

    if config.path is None:
        raise ValueError("the embedded Chroma store needs a directory (VectorStoreConfig.path)")
    config.path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(
        path=str(config.path), settings=chromadb.Settings(anonymized_telemetry=False)
    )


@chroma_clients.register("chroma-server")
def _server_client(config: VectorStoreConfig) -> Any:
    import chromadb

    return chromadb.HttpClient(
        host=config.host,
        port=config.port,
        settings=chromadb.Settings(anonymized_telemetry=False),
    )


def collection_name(creator_id: str) -> str:
    """Chroma names allow [a-zA-Z0-9._-], 3-512 chars, alphanumeric at both ends."""
    safe = re.sub(r"[^a-zA-Z0-9_-]+", "-", creator_id).strip("-_")[:40] or "creator"
    digest = hashlib.sha1(creator_id.encode()).hexdigest()[:8]
    return f"c-{safe}-{digest}"


def _retry_once(what: str, call: Callable[[], Any]) -> Any:
    """Chroma can raise InternalError on first use after a hard kill; a retry succeeds."""
    try:
        return call()
    except Exception as exc:  # noqa: BLE001 - chromadb raises several unrelated types
        if "InternalError" not in type(exc).__name__ and "hnsw" not in str(exc):
            raise
        log.warning("chroma %s failed once, retrying", what, extra={"error": type(exc).__name__})
        return call()


class PostIndex:
    def __init__(self, config: VectorStoreConfig, embeddings: Embeddings) -> None:
        self.config = config
        self.embeddings = embeddings
        self._client: Any = None
        self._stores: dict[str, Any] = {}
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = chroma_clients.create(self.config.backend, self.config)
        return self._client

    def store(self, creator_id: str) -> Any:
        """LangChain `VectorStore` for one creator's collection (created on first use)."""
        store = self._stores.get(creator_id)
        if store is None:
            from langchain_chroma import Chroma

            store = Chroma(
                client=self.client,
                collection_name=collection_name(creator_id),
                embedding_function=self.embeddings,
                collection_metadata={"hnsw:space": "cosine", "creator_id": creator_id},
            )
            self._stores[creator_id] = store
        return store

    def upsert(
        self,
        creator_id: str,
        entries: Sequence[IndexEntry],
        vectors: Sequence[Sequence[float]] | None = None,
    ) -> None:
        if not entries:
            return
        if vectors is None:
            vectors = self.embeddings.embed_documents([e.text for e in entries])
        collection = self.store(creator_id)._collection
        ids = [e.id for e in entries]
        metadatas = [{"kind": e.kind, **e.metadata} for e in entries]
        documents = [e.text for e in entries]
        # Chroma caps a single write; stay well under it.
        step = 2000
        for start in range(0, len(ids), step):
            end = start + step
            _retry_once(
                "upsert",
                lambda s=start, e=end: collection.upsert(
                    ids=ids[s:e],
                    embeddings=[list(v) for v in vectors[s:e]],
                    documents=documents[s:e],
                    metadatas=metadatas[s:e],
                ),
            )

    def delete(self, creator_id: str, ids: Sequence[str]) -> None:
        if ids:
            _retry_once("delete", lambda: self.store(creator_id)._collection.delete(ids=list(ids)))

    def count(self, creator_id: str) -> int:
        return int(_retry_once("count", lambda: self.store(creator_id)._collection.count()))

    def search(
        self,
        creator_id: str,
        query_vector: Sequence[float],
        k: int,
        kind: str | None = None,
    ) -> list[Hit]:
        if k <= 0:
            return []
        collection = self.store(creator_id)._collection
        result = _retry_once(
            "query",
            lambda: collection.query(
                query_embeddings=[list(query_vector)],
                n_results=k,
                where={"kind": kind} if kind else None,
                include=["documents", "metadatas", "distances"],
            ),
        )
        hits = []
        for id_, doc, meta, dist in zip(
            result["ids"][0],
            result["documents"][0],
            result["metadatas"][0],
            result["distances"][0],
            strict=True,
        ):
            meta = dict(meta or {})
            hits.append(Hit(id_, doc or "", str(meta.get("kind", "")), 1.0 - float(dist), meta))
        return hits

    def drop(self, creator_id: str) -> None:
        self._stores.pop(creator_id, None)
        try:
            self.client.delete_collection(collection_name(creator_id))
        except Exception:  # noqa: BLE001 - absent collection is fine
            log.debug("no collection to drop", extra={"creator": creator_id})
