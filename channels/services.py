"""The composition root: `build_platform(settings)` builds every part of the running platform
once, here, from the settings; the app's lifespan calls `await platform.start()` and
`await platform.stop()`. Nothing else builds a part or replaces one after the build.

The model backend and the reply engine are the one part started on first use (the embedded
model server takes seconds): under a lock, from a worker thread when an async caller needs
it (`await platform.replier()`), or in the background at start (`warm_up`)."""

from __future__ import annotations

import asyncio
import importlib
import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from channels.hub import Hub
from channels.settings import Settings
from persona.engine.engine import EngineConfig, ReplyEngine
from persona.engine.replier import Replier
from persona.retrieval.embeddings import EmbeddingsConfig, create_embeddings
from persona.retrieval.index import PostIndex, VectorStoreConfig
from persona.store import Creator, Database, DatabaseConfig

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

    from avatar import AvatarService
    from channels.connectors.manager import ConnectorManager
    from channels.inbox.worker import WorkerHandle
    from channels.jobs import AvatarJobFeed, JobQueue
    from channels.live.manager import LiveManager
    from channels.observability import Metrics
    from channels.openai_compat.serving import PersonaServing
    from channels.ratelimit import RateLimiter
    from channels.space.connection import SpaceRegistry

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


@dataclass(eq=False)
class Platform:
    """Every part of the running platform, built once by `build_platform`.

    The first fields are given to the constructor; the serving parts after them are built
    from those in `__post_init__` (they take the platform for what they use of it)."""

    settings: Settings
    db: Database
    index: PostIndex
    embeddings: Embeddings
    # Redis pub/sub between API workers when PERSONA_REDIS_URL is set, else in-process.
    hub: Hub
    avatar: AvatarService
    # Set when the platform serves the app: the engine is measured, and so are the hub's
    # and the limiter's troubles (`build_platform(serving=True)`).
    metrics: Metrics | None = None
    # False for a command or a script: no inbox worker (nor its webhook configuration's
    # checks, which the app makes when it builds one) and no connector manager.
    serving: bool = True

    limiter: RateLimiter = field(init=False)
    jobs: JobQueue = field(init=False)
    # With the arq queue: queues the avatar studio's jobs for the job workers.
    avatar_feed: AvatarJobFeed | None = field(init=False)
    live: LiveManager = field(init=False)
    # The chat-network connectors (Twitch, YouTube, Matrix); None when not serving.
    connectors: ConnectorManager | None = field(init=False)
    # The inbox worker and outbox deliverer (started by `start`); None when not serving.
    inbox: WorkerHandle | None = field(init=False)
    openai: PersonaServing = field(init=False)
    space: SpaceRegistry = field(init=False)

    _llm: Any = field(default=None, init=False, repr=False)
    _engine: Replier | None = field(default=None, init=False, repr=False)
    _llm_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _engine_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _started: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        from channels.jobs import AvatarJobFeed, build_job_queue
        from channels.live.manager import LiveManager
        from channels.openai_compat.serving import PersonaServing
        from channels.ratelimit import build_rate_limiter
        from channels.space.connection import SpaceLimits, SpaceRegistry

        s = self.settings
        metrics = self.metrics
        self.limiter = build_rate_limiter(
            s.redis_url,
            s.rate_limiter,
            on_fallback=(lambda what: metrics.dependency_error("redis", what))
            if metrics is not None
            else None,
        )
        self.jobs = build_job_queue(self, s.redis_url, s.job_queue)
        self.avatar_feed = AvatarJobFeed(self.avatar, self.jobs) if s.job_queue == "arq" else None
        self.live = LiveManager(self)
        self.connectors = None
        self.inbox = None
        if self.serving:
            # Imported here: the connectors' clients take a second to import, which a
            # command does not need.
            from channels.connectors.manager import ConnectorManager
            from channels.inbox.worker import build_worker

            self.connectors = ConnectorManager(self, self.live, metrics)
            self.inbox = build_worker(self, limiter=self.limiter)
        self.openai = PersonaServing(self)
        self.space = SpaceRegistry(SpaceLimits.from_settings(s))

    @classmethod
    def build(cls, settings: Settings, *, migrate: bool = True) -> Platform:
        """The platform for a command or a script (`build_platform(serving=False)`)."""
        return build_platform(settings, migrate=migrate, serving=False)

    # -- start and stop (the app's lifespan) ----------------------------------------------

    async def start(self, *, warm_up: bool = False) -> None:
        """Start the background parts on the running loop: the hub, the connectors, the inbox
        worker, the avatar studio (or its job feed); `warm_up` starts the model too."""
        from channels.redis_hub import RedisHub

        if isinstance(self.hub, RedisHub):
            await self.hub.start()  # connected before anyone subscribes or publishes
        else:
            self.hub.bind_loop(asyncio.get_running_loop())
        self._started = True
        if self.connectors is not None:
            self.connectors.start()
        if self.inbox is not None:
            self.inbox.start(self.hub)
        # Deletion deadlines hold after a restart too: sweep first. Avatars are then made by
        # this process's studio thread, or by the job workers (`persona jobs`) with arq.
        self.avatar.sweep()
        if self.avatar_feed is not None:
            self.avatar_feed.start()
        else:
            self.avatar.start()
        if warm_up:
            self.warm_up()

    async def stop(self) -> None:
        """Stop what `start` started, in reverse order, then close the platform."""
        from channels.redis_hub import RedisHub

        if self._started:
            self._started = False
            if self.avatar_feed is not None:
                await self.avatar_feed.stop()
            if self.inbox is not None:
                await self.inbox.stop()
            if self.connectors is not None:
                await self.connectors.stop()
            await self.live.stop()
            await self.jobs.close()
            close = getattr(self.limiter, "close", None)
            if close is not None:
                close()
            if isinstance(self.hub, RedisHub):
                await self.hub.stop()
        self.close()

    # -- the model and the engine ---------------------------------------------------------

    def ingestor(self) -> Any:
        from ingest.pipeline import Ingestor

        return Ingestor(self.db, self.index)

    @property
    def llm(self) -> Any:
        """The model backend, started once on first use (the embedded server takes ~2 s)."""
        if self._llm is None:
            with self._llm_lock:
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
        """The reply engine (with metrics around each reply when `metrics` is set), built once
        under a lock. It may start the model: from the event loop, use `await replier()`."""
        if self._engine is None:
            with self._engine_lock:
                if self._engine is None:
                    self._engine = self._build_engine()
        return self._engine  # type: ignore[return-value]

    async def replier(self) -> Replier:
        """The engine for a caller on the event loop: built in a worker thread the first
        time, so that starting the model never blocks the loop."""
        if self._engine is not None:
            return self._engine
        return await asyncio.to_thread(lambda: self.engine)

    def _build_engine(self) -> Replier:
        from channels.guard import guard_with_model
        from persona.engine.safety_guard import SafetyGuard

        s = self.settings
        engine: Replier = ReplyEngine(
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

            engine = InstrumentedEngine(engine, self.metrics)
        return engine

    def close(self) -> None:
        self.avatar.stop()
        if self._llm is not None:
            self._llm.stop()
            self._llm = None
        self.db.dispose()


# The name the platform had before it held every part; code and tests still use it.
Services = Platform


def build_platform(settings: Settings, *, migrate: bool = True, serving: bool = True) -> Platform:
    """Build every part of the platform from the settings: the database (migrated unless
    `migrate=False`), the embeddings and the index, the hub, the avatar studio, then the
    serving parts (rate limiter, job queue, live streams, connectors, inbox worker, the
    OpenAI-compatible API's serving, the space's connection registry).

    `serving=True` (the app): metrics around the engine, the hub the settings name (Redis
    between API workers), the inbox worker and the connectors. `serving=False` (a command, a
    script): no metrics, the in-process hub with nothing to connect to, no inbox worker and
    no connectors."""
    from avatar import AvatarService
    from channels.avatar_config import avatar_config

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
    metrics = None
    hub = Hub()
    if serving:
        from channels.observability import Metrics
        from channels.redis_hub import build_hub

        metrics = Metrics()
        hub = build_hub(settings.redis_url, metrics)
    return Platform(
        settings=settings,
        db=db,
        index=index,
        embeddings=embeddings,
        hub=hub,
        avatar=AvatarService(avatar_config(settings), db.engine),
        metrics=metrics,
        serving=serving,
    )
