"""An in-memory copy of each creator's collection for exact cosine search.

One matrix product over a creator's ~1-10k vectors takes well under a millisecond, against
~5 ms per Chroma query (and the reply path needs one per kind). Chroma stays the source of
truth: every search first reads the collection's version token (its id, its row count and a
revision that `PostIndex` writes after each change, ~0.5 ms) and reloads the copy when it
moved, so writes from other processes (Chroma server) are seen on the next search.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True, slots=True)
class Rows:
    """One creator's entries: row i of `matrix` is the unit vector of ids[i]."""

    token: Hashable
    ids: list[str]
    texts: list[str]
    metadatas: list[dict[str, Any]]
    matrix: np.ndarray
    by_kind: dict[str, np.ndarray]

    @classmethod
    def build(
        cls,
        token: Hashable,
        ids: list[str],
        texts: list[str],
        metadatas: list[dict[str, Any]],
        vectors: Any,
    ) -> Rows:
        matrix = np.asarray(vectors, dtype=np.float32)
        matrix = _unit(matrix.reshape(len(ids), -1)) if len(ids) else matrix.reshape(0, 0)
        kinds = np.array([str(m.get("kind", "")) for m in metadatas], dtype=object)
        by_kind = {str(k): np.flatnonzero(kinds == k) for k in set(kinds.tolist())}
        return cls(token, ids, texts, metadatas, matrix, by_kind)

    def __len__(self) -> int:
        return len(self.ids)

    def top(
        self, query: Sequence[float], wanted: Mapping[str | None, int]
    ) -> dict[str | None, list[tuple[int, float]]]:
        """For each kind (None: any kind), the k best (row, cosine similarity), best first."""
        if len(self) == 0:
            return {kind: [] for kind in wanted}
        q = _unit(np.asarray(query, dtype=np.float32).reshape(1, -1))[0]
        scores = self.matrix @ q
        found: dict[str | None, list[tuple[int, float]]] = {}
        for kind, k in wanted.items():
            rows = np.arange(len(self)) if kind is None else self.by_kind.get(kind)
            if rows is None or k <= 0 or len(rows) == 0:
                found[kind] = []
                continue
            sub = scores[rows]
            part = np.argpartition(-sub, k - 1)[:k] if k < len(sub) else np.arange(len(sub))
            # Stable order on ties: the earlier row first.
            order = part[np.lexsort((rows[part], -sub[part]))]
            found[kind] = [(int(rows[i]), float(sub[i])) for i in order]
        return found


class RowsCache:
    """Creators' `Rows`, least recently used first out past `max_rows` rows in all."""

    def __init__(self, max_rows: int) -> None:
        self.max_rows = max_rows
        self._rows: OrderedDict[str, Rows] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}

    def get(self, key: str, token: Hashable, load: Callable[[], Rows | None]) -> Rows | None:
        """The rows for `token`, loaded when missing or stale; None when too big to keep."""
        rows = self._current(key, token)
        if rows is not None:
            return rows
        with self._lock:
            loading = self._loading.setdefault(key, threading.Lock())
        with loading:  # one load per creator at a time; the others wait for it
            rows = self._current(key, token)
            if rows is not None:
                return rows
            rows = load()
            if rows is None or rows.token != token or len(rows) > self.max_rows:
                return rows if rows is not None and rows.token == token else None
            with self._lock:
                self._rows[key] = rows
                self._rows.move_to_end(key)
                total = sum(len(r) for r in self._rows.values())
                while total > self.max_rows and len(self._rows) > 1:
                    _, dropped = self._rows.popitem(last=False)
                    total -= len(dropped)
            return rows

    def forget(self, key: str) -> None:
        with self._lock:
            self._rows.pop(key, None)

    def _current(self, key: str, token: Hashable) -> Rows | None:
        with self._lock:
            rows = self._rows.get(key)
            if rows is None or rows.token != token:
                return None
            self._rows.move_to_end(key)
            return rows


def _unit(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1, as Chroma's cosine space does before comparing."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.clip(norms, 1e-12, None)
