"""One Chroma collection per creator (filtered queries over a shared collection are 20-100x
slower). Embeddings come from our own `Embeddings`; ids are content hashes, so a retried or
repeated write is an idempotent upsert."""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings

from persona.registry import Registry
from persona.retrieval.exact import Rows, RowsCache

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
    # Rows (all creators together) kept in memory for exact search; 0: always ask Chroma.
    # 100k 384-d vectors are ~150 MB per process.
    exact_search_rows: int = 100_000


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
        self._exact = RowsCache(config.exact_search_rows)

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
        self._touch(creator_id, collection)

    def delete(self, creator_id: str, ids: Sequence[str]) -> None:
        if ids:
            collection = self.store(creator_id)._collection
            _retry_once("delete", lambda: collection.delete(ids=list(ids)))
            self._touch(creator_id, collection)

    def _touch(self, creator_id: str, collection: Any) -> None:
        """A new revision after each write, so that every process's in-memory copy reloads
        (the row count alone misses a delete plus an add)."""
        metadata = {"creator_id": creator_id, "revision": uuid.uuid4().hex}
        _retry_once("modify", lambda: collection.modify(metadata=metadata))

    def count(self, creator_id: str) -> int:
        return int(_retry_once("count", lambda: self.store(creator_id)._collection.count()))

    def search(
        self,
        creator_id: str,
        query_vector: Sequence[float],
        k: int,
        kind: str | None = None,
    ) -> list[Hit]:
        return self.search_kinds(creator_id, query_vector, {kind: k})[kind]

    def search_kinds(
        self, creator_id: str, query_vector: Sequence[float], wanted: Mapping[str | None, int]
    ) -> dict[str | None, list[Hit]]:
        """The k closest entries of each kind (None: any kind), best first, in one pass over
        the creator's in-memory rows when they fit, else one Chroma query per kind."""
        rows = self._rows(creator_id) if any(k > 0 for k in wanted.values()) else None
        if rows is None:
            return {
                kind: self._query(creator_id, query_vector, k, kind) for kind, k in wanted.items()
            }
        return {
            kind: [
                Hit(
                    rows.ids[i],
                    rows.texts[i],
                    str(rows.metadatas[i].get("kind", "")),
                    score,
                    dict(rows.metadatas[i]),
                )
                for i, score in found
            ]
            for kind, found in rows.top(query_vector, wanted).items()
        }

    def _rows(self, creator_id: str) -> Rows | None:
        if self.config.exact_search_rows <= 0:
            return None
        self.store(creator_id)  # creates the collection on first use
        try:
            collection, token = self._version(creator_id)
        except Exception:  # noqa: BLE001 - dropped meanwhile, or server hiccup: ask Chroma
            log.debug("no version token, searching in Chroma", extra={"creator": creator_id})
            return None
        if token[1] > self.config.exact_search_rows:
            return None
        return self._exact.get(creator_id, token, lambda: self._load(creator_id, collection, token))

    def _version(self, creator_id: str) -> tuple[Any, tuple[str, int, str]]:
        collection = self.client.get_collection(collection_name(creator_id))
        revision = str((collection.metadata or {}).get("revision", ""))
        return collection, (str(collection.id), int(collection.count()), revision)

    def _load(self, creator_id: str, collection: Any, token: tuple[str, int, str]) -> Rows | None:
        ids: list[str] = []
        texts: list[str] = []
        metadatas: list[dict[str, Any]] = []
        vectors: list[Any] = []
        page = 5000  # a get without limit over >32k rows fails (too many SQL variables)
        while True:
            got = collection.get(
                include=["embeddings", "documents", "metadatas"], limit=page, offset=len(ids)
            )
            ids += got["ids"]
            texts += [d or "" for d in got["documents"]]
            metadatas += [dict(m or {}) for m in got["metadatas"]]
            vectors += list(got["embeddings"] if got["embeddings"] is not None else [])
            if len(got["ids"]) < page:
                break
        # A write landed while paging: this copy may mix two versions, so do not keep it.
        if self._version(creator_id)[1] != token or len(ids) != token[1]:
            return None
        return Rows.build(token, ids, texts, metadatas, vectors)

    def _query(
        self, creator_id: str, query_vector: Sequence[float], k: int, kind: str | None
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
        self._exact.forget(creator_id)
        try:
            self.client.delete_collection(collection_name(creator_id))
        except Exception:  # noqa: BLE001 - absent collection is fine
            log.debug("no collection to drop", extra={"creator": creator_id})
