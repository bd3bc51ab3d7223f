"""The composition root: every service is built once, here, from the settings."""

from __future__ import annotations

import importlib
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from channels.hub import Hub
from channels.settings import Settings
from persona.engine.engine import EngineConfig, ReplyEngine
from persona.retrieval.embeddings import EmbeddingsConfig, create_embeddings
from persona.retrieval.index import PostIndex, VectorStoreConfig
from persona.store import Creator, Database, DatabaseConfig

log = logging.getLogger(__name__)

# Creators whose reply path is built at start (their context, prompt and the shared models).
WARM_CREATORS = 50


def llm_config(settings: Settings, adapters: tuple[Any, ...] = ()) -> Any:
    from persona.llm import LLMConfig

    model_path, draft_path = embedded_model_files(settings)
    return LLMConfig(
        adapters=tuple(adapters),
        backend=settings.llm_backend,
        base_url=settings.llm_base_url,
        api_key=settings.llm_api_key,
        model=settings.llm_model,
        model_path=model_path,
        models_dir=settings.models_dir,
        draft_model_path=draft_path,
        draft_max=settings.draft_max,
        draft_p_min=settings.draft_p_min,
        threads=settings.llm_threads,
        n_ctx=settings.llm_context,
        port=settings.llm_port,
        timeout_s=settings.llm_timeout_s,
        parallel=settings.reply_candidates,
        max_tokens=settings.reply_max_tokens,
    )


def embedded_model_files(settings: Settings) -> tuple[Any, Any]:
    """The embedded backend's GGUF and draft GGUF (None: none), assembling packaged ones.

    PERSONA_LLM_MODEL_PATH wins; else PERSONA_PACKAGED_MODEL names the packaged model (None
    for the default: the backend assembles it itself). Other backends get neither."""
    if settings.llm_backend != "embedded":
        return settings.llm_model_path, None
    from persona.llm.packaged_model import (
        DEFAULT_PACKAGED_MODEL,
        assemble_packaged_model,
        resolve_model_file,
    )

    model_path = settings.llm_model_path
    if model_path is None and settings.packaged_model != DEFAULT_PACKAGED_MODEL:
        model_path = assemble_packaged_model(settings.models_dir, settings.packaged_model)
    draft_path = None
    if settings.draft_model is not None:
        draft_path = resolve_model_file(settings.draft_model, settings.models_dir)
    return model_path, draft_path


def load_plugins(settings: Settings) -> None:
    """Import the modules named in PERSONA_PLUGINS: they register backends through the same
    registries as the built-in ones (in every process, workers included)."""
    for module in settings.plugins:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ValueError(
                f"PERSONA_PLUGINS names {module!r}, which cannot be imported ({exc}); install "
                "it or remove it from the list"
            ) from exc


@dataclass
class Services:
    settings: Settings
    db: Database
    index: PostIndex
    embeddings: Any
    hub: Hub = field(default_factory=Hub)
    # channels.observability.Metrics when the app measures replies (create_app sets it).
    metrics: Any = None
    _llm: Any = None
    _avatar: Any = None
    _engine: ReplyEngine | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def build(cls, settings: Settings, *, migrate: bool = True) -> Services:
        load_plugins(settings)
        settings.ensure_dirs()
        db = Database(DatabaseConfig(settings.resolved_database_url))
        if migrate:
            from channels.migrate import upgrade

            upgrade(db.engine)
        embeddings = create_embeddings(
            EmbeddingsConfig(threads=settings.embed_threads, cache_dir=settings.models_dir)
        )
        index = PostIndex(
            VectorStoreConfig(
                backend=settings.vector_backend,
                path=settings.chroma_dir,
                host=settings.chroma_host,
                port=settings.chroma_port,
            ),
            embeddings,
        )
        return cls(settings=settings, db=db, index=index, embeddings=embeddings)

    def ingestor(self) -> Any:
        from ingest.pipeline import Ingestor

        return Ingestor(self.db, self.index)

    @property
    def llm(self) -> Any:
        """The model backend, started on first use (the embedded server takes ~2 s)."""
        if self._llm is None:
            with self._lock:
                if self._llm is None:
                    from persona.llm import open_backend

                    self._llm = open_backend(llm_config(self.settings, self.active_adapters()))
        return self._llm

    def active_adapters(self) -> tuple[Any, ...]:
        """Each creator's active voice adapter (`persona tune`, then activation by
        `persona eval voice --tuned`): the model server loads them all, requests pick one."""
        from persona.llm.lora import LoraAdapter
        from persona.tune.adapters import AdapterStore

        store = AdapterStore(self.settings.data_dir)
        found = []
        for creator in store.creators():
            version = store.active(creator)
            if version is not None:
                found.append(LoraAdapter(creator, path=version.path))
        return tuple(found)

    def reload_adapters(self) -> None:
        """Apply a new set of active adapters to the running model server."""
        if self._llm is not None:
            self._llm.set_adapters(self.active_adapters())

    @property
    def llm_ready(self) -> bool:
        return self._llm is not None

    def warm_up(self) -> None:
        """Start the model in the background so the first fan does not wait for it."""

        def run() -> None:
            try:
                engine = self.engine
            except Exception:  # noqa: BLE001 - readiness reports it; requests retry
                log.exception("model backend failed to start")
                return
            try:
                with self.db.session() as session:
                    ids = list(session.scalars(select(Creator.id).limit(WARM_CREATORS)))
                engine.warm_up(ids)
            except Exception:  # noqa: BLE001 - a cold first reply is slow, not wrong
                log.exception("reply path warm-up failed")

        threading.Thread(target=run, name="llm-warmup", daemon=True).start()

    @property
    def engine(self) -> ReplyEngine:
        """The reply engine (with metrics around each reply when `metrics` is set)."""
        if self._engine is None:
            from channels.guard import guard_with_model
            from persona.engine.safety_guard import SafetyGuard

            s = self.settings
            engine = ReplyEngine(
                self.db,
                self.index,
                self.embeddings,
                self.llm.chat_model(),
                guard_with_model(SafetyGuard(), s),
                EngineConfig(
                    candidates=s.reply_candidates,
                    max_tokens=s.reply_max_tokens,
                    retrieve_posts=s.retrieve_posts,
                    retrieve_replies=s.retrieve_replies,
                    prefill=self.llm.continues_assistant_prefix,
                ),
                model_name=s.llm_model,
                adapters=self.llm,
            )
            if self.metrics is not None:
                from channels.observability import InstrumentedEngine

                engine = InstrumentedEngine(engine, self.metrics)  # type: ignore[assignment]
            self._engine = engine
        return self._engine

    @property
    def avatar(self) -> Any:
        """The avatar studio (its worker thread starts with the app, see create_app)."""
        if self._avatar is None:
            with self._lock:
                if self._avatar is None:
                    from avatar import AvatarService
                    from channels.avatar_config import avatar_config

                    self._avatar = AvatarService(avatar_config(self.settings), self.db.engine)
        return self._avatar

    def close(self) -> None:
        if self._avatar is not None:
            self._avatar.stop()
            self._avatar = None
        if self._llm is not None:
            self._llm.stop()
            self._llm = None
        self.db.dispose()
