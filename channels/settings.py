"""The one place that reads the environment (PERSONA_* variables, or a .env file).

Validated hard at start-up and injected everywhere else; never read at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from platformdirs import user_data_dir
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    return Path(user_data_dir("persona-platform", appauthor=False))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PERSONA_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="The one directory where the platform stores everything.",
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default SQLite file in data_dir."
    )
    log_level: str = "INFO"
    log_format: Literal["json", "console"] = "console"

    # Model backend: 'embedded' starts llama.cpp's server; 'openai' is any compatible URL (vLLM).
    llm_backend: str = "embedded"
    llm_model_path: Path | None = Field(
        default=None, description="GGUF for the embedded backend; default: the packaged Qwen."
    )
    llm_base_url: str | None = None
    llm_api_key: str = "none"
    # The served model's name; empty: the packaged model's (e.g. "qwen2.5-coder-1.5b-instruct").
    llm_model: str = ""
    llm_threads: int = Field(default=1, ge=1, le=64)
    llm_context: int = Field(default=4096, ge=512)
    llm_port: int = Field(default=0, ge=0, le=65535, description="0 picks a free port.")
    llm_timeout_s: float = Field(default=120.0, gt=0)
    # A guard model (persona.safety.guard_model) on any OpenAI-compatible URL, e.g. Llama Guard
    # 3 served by vLLM: asked where the cheap inbound layers are unsure and on every outbound
    # draft. Empty URL: off, the engine works on its code checks alone.
    guard_url: str | None = None
    guard_model: str = ""
    guard_api_key: str = "none"
    guard_timeout_s: float = Field(default=10.0, gt=0)
    guard_style: Literal["instruct", "llama_guard"] = "instruct"
    # Which packaged GGUF the embedded backend assembles when PERSONA_LLM_MODEL_PATH is unset
    # (persona.llm.packaged_model.PACKAGED_MODELS): the 1.5B by default, the 0.5B is faster
    # and much weaker (BENCHMARKS.md, "Fan experience"). PERSONA_DRAFT_MODEL (a packaged
    # name or a GGUF path) turns on llama.cpp's speculative decoding with that model as
    # draft, e.g. the 0.5B for the 1.5B.
    packaged_model: str = "qwen2.5-coder-1.5b"
    draft_model: str | None = None
    draft_max: int = Field(default=8, ge=1, le=64, description="Tokens drafted per step.")
    draft_p_min: float = Field(
        default=0.5, ge=0.0, le=1.0, description="Stop drafting below this draft probability."
    )

    embed_threads: int = Field(default=1, ge=1, le=64)
    vector_backend: Literal["chroma-embedded", "chroma-server"] = "chroma-embedded"
    chroma_host: str = "127.0.0.1"
    chroma_port: int = 8001

    # Reply engine.
    reply_candidates: int = Field(default=3, ge=1, le=8)
    reply_max_tokens: int = Field(default=120, ge=8, le=2048)
    retrieve_posts: int = Field(default=6, ge=0, le=50)
    retrieve_replies: int = Field(default=6, ge=0, le=50)

    # Platform webhooks, inbound worker and outbox (channels/inbox).
    webhook_secrets: dict[str, str] = Field(
        default_factory=dict, description="platform -> HMAC secret (16+ characters)"
    )
    webhook_window_s: float = Field(default=300.0, gt=0, le=3600)
    webhook_max_body_bytes: int = Field(default=65536, ge=1024, le=10 * 1024 * 1024)
    webhook_callback_urls: dict[str, str] = Field(default_factory=dict)
    # Where callbacks may go (channels/outbound.py): never to loopback, private, link-local,
    # multicast or reserved addresses unless PERSONA_CALLBACK_ALLOW_PRIVATE (tests, a
    # development machine); optionally only to a platform's own hosts.
    callback_allowed_hosts: dict[str, list[str]] = Field(
        default_factory=dict,
        description='platform -> hosts its callbacks may reach: "hooks.example.com", '
        '"*.example.com", "hooks.example.com:8443"',
    )
    callback_allow_private: bool = Field(
        default=False,
        description="Deliver callbacks to loopback and private addresses too (tests and "
        "development only: it lets a callback reach this machine's services).",
    )
    inbox_concurrency: int = Field(default=4, ge=1, le=64)
    inbox_lease_s: float = Field(default=30.0, gt=0)
    inbox_poll_s: float = Field(default=1.0, gt=0)
    inbox_max_attempts: int = Field(default=5, ge=1)
    inbox_retry_base_s: float = Field(default=2.0, gt=0)
    outbox_concurrency: int = Field(default=8, ge=1, le=64)
    outbox_max_attempts: int = Field(default=8, ge=1)
    outbox_backoff_base_s: float = Field(default=1.0, gt=0)
    outbox_backoff_max_s: float = Field(default=300.0, gt=0)
    outbox_timeout_s: float = Field(default=10.0, gt=0)

    # Long-lived public sockets, per worker (None keeps the defaults of channels.space
    # SpaceLimits and channels.live LiveConfig): caps per creator and per client address
    # (what uvicorn sees, X-Forwarded-For behind a trusted proxy), and idle timeouts.
    space_max_connections_per_creator: int | None = Field(default=None, ge=1, le=100_000)
    space_max_connections_per_client: int | None = Field(default=None, ge=1, le=10_000)
    space_idle_timeout_s: float | None = Field(default=None, gt=0, le=86_400)
    live_max_streams: int | None = Field(default=None, ge=1, le=10_000)
    live_max_streams_per_creator: int | None = Field(default=None, ge=1, le=10_000)
    live_max_viewers_per_creator: int | None = Field(default=None, ge=1, le=1_000_000)
    live_max_viewers_per_client: int | None = Field(default=None, ge=1, le=10_000)
    live_viewer_idle_timeout_s: float | None = Field(default=None, gt=0, le=86_400)

    # Chat-protocol connectors (channels/connectors, `persona connect`). Bot credentials by
    # account, like the other secrets: in the environment, never stored nor logged.
    twitch_tokens: dict[str, SecretStr] = Field(
        default_factory=dict, description='bot login -> OAuth token ("oauth:...")'
    )
    matrix_tokens: dict[str, SecretStr] = Field(
        default_factory=dict, description="bot user id (@bot:server) -> access token"
    )
    youtube_tokens: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="account name (default: the creator id) -> YouTube OAuth access token",
    )
    # YouTube Data API units a day for every YouTube connector of this server (Google's
    # default allocation: 10,000, reset at midnight Pacific time); answers stop, not reading.
    youtube_daily_quota_units: int = Field(default=10_000, ge=0, le=100_000_000)
    # Twitch locks a bot out of chat for 30 min over its limit: 20 messages per 30 s for an
    # ordinary account, 100 when the bot is a moderator of the channel.
    twitch_messages_per_window: int = Field(default=20, ge=1, le=1000)
    twitch_window_s: float = Field(default=30.0, gt=0, le=3600)
    connector_poll_s: float = Field(default=5.0, gt=0, le=3600)
    connector_backoff_base_s: float = Field(default=1.0, gt=0, le=600)
    connector_backoff_max_s: float = Field(default=60.0, gt=0, le=3600)
    connector_keepalive_s: float = Field(default=60.0, gt=0, le=3600)

    # Production mode: setting these switches the same code to shared services.
    redis_url: str | None = Field(
        default=None,
        description="redis://HOST:6379/0. Shares live updates (pub/sub between API workers), "
        "rate limits and the job queue; needed for `persona serve --workers N` with N > 1.",
    )
    rate_limiter: str | None = Field(
        default=None,
        description="Where rate-limit buckets live: 'memory' (one process) or 'redis' (shared "
        "by every worker). Default: 'redis' when PERSONA_REDIS_URL is set, else 'memory'.",
    )
    job_queue: Literal["inline", "arq"] | None = Field(
        default=None,
        description="Where background jobs (post imports, avatars) run: 'inline' (in the API "
        "process) or 'arq' (a Redis queue served by `persona jobs` workers). Default: 'arq' "
        "when PERSONA_REDIS_URL is set, else 'inline'.",
    )
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="API worker processes of `persona serve` (--workers overrides it); more "
        "than one needs PostgreSQL, Redis, the Chroma server and an OpenAI-compatible model.",
    )
    probe_interval_s: float = Field(
        default=5.0,
        gt=0,
        le=300,
        description="How often each worker samples queue depths and probes its dependencies "
        "for /metrics (persona_dependency_up).",
    )
    plugins: list[str] = Field(
        default_factory=list,
        description="Python modules imported at start-up, in every worker, that register "
        "extra backends (chat models, rate limiters, ...) through the registries.",
    )

    # Avatar studio (None keeps the library default; see avatar/config.py).
    avatar_backend: str | None = Field(default=None, description="art (CPU) or diffusers")
    avatar_daily_limit: int | None = Field(default=None, ge=0)
    avatar_upload_ttl_s: float | None = Field(default=None, gt=0, le=300)
    avatar_output_retention_s: float | None = Field(default=None, gt=0)
    avatar_max_outputs: int | None = Field(default=None, ge=1, le=30)
    avatar_threads: int | None = Field(default=None, ge=1)
    avatar_workers: int | None = Field(default=None, ge=1)
    avatar_visible_mark: bool | None = None
    avatar_diffusers_model_dir: Path | None = None
    avatar_diffusers_device: str | None = None
    avatar_diffusers_steps: int | None = Field(default=None, ge=1, le=100)
    avatar_c2pa_cert_chain: Path | None = None
    avatar_c2pa_private_key: Path | None = None
    avatar_max_pixels: int | None = Field(
        default=None,
        ge=1_000_000,
        le=200_000_000,
        description="Largest photo (width x height) the avatar studio decodes; default 40 MP.",
    )

    # Request bodies (channels/api/bodylimit.py): refused with 413 before they are read.
    max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=16 * 1024,
        le=64 * 1024 * 1024,
        description="Largest request body of every route but the uploads (forms, JSON).",
    )
    max_upload_body_bytes: int | None = Field(
        default=None,
        ge=1024 * 1024,
        description="Largest body of the upload routes (avatar photos, post imports); "
        "default: sized from their per-file limits (avatar: max photos x bytes per photo).",
    )

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # Behind a TLS-terminating proxy (channels/api/https.py).
    public_url: str | None = Field(
        default=None,
        description="The address people use, e.g. https://fans.example.com: with https, the "
        "console's cookies are Secure and every response sends HSTS, whatever the hop from "
        "the proxy to this server.",
    )
    trusted_proxies: list[str] | None = Field(
        default=None,
        description="Addresses (or networks) of the reverse proxies whose X-Forwarded-Proto "
        "and X-Forwarded-For are believed; default: uvicorn's (FORWARDED_ALLOW_IPS, else "
        "127.0.0.1 and ::1). Use the proxy's address; '*' trusts every client.",
    )
    # Signs the space's fan cookie (channels/space/fan_cookie.py); unset: a random key kept in
    # data_dir/secrets. Set it when several machines serve the space.
    fan_cookie_secret: SecretStr | None = Field(
        default=None, description="Key signing the space's fan cookie (32+ random characters)."
    )

    @model_validator(mode="after")
    def _check(self) -> Settings:
        from persona.llm.packaged_model import PACKAGED_MODELS

        if self.packaged_model not in PACKAGED_MODELS:
            raise ValueError(
                f"PERSONA_PACKAGED_MODEL={self.packaged_model!r}: choose one of "
                f"{', '.join(PACKAGED_MODELS)} (or set PERSONA_LLM_MODEL_PATH to a GGUF)"
            )
        if not self.llm_model.strip():
            self.llm_model = f"{self.packaged_model}-instruct"
        if self.draft_model is not None and not self.draft_model.strip():
            self.draft_model = None  # PERSONA_DRAFT_MODEL= (empty) turns the draft off
        if (
            self.draft_model is not None
            and self.draft_model not in PACKAGED_MODELS
            and not self.draft_model.endswith(".gguf")
        ):
            raise ValueError(
                f"PERSONA_DRAFT_MODEL={self.draft_model!r}: a packaged model "
                f"({', '.join(PACKAGED_MODELS)}) or the path of a .gguf file"
            )
        if self.llm_backend == "openai" and not self.llm_base_url:
            raise ValueError(
                "PERSONA_LLM_BACKEND=openai needs PERSONA_LLM_BASE_URL "
                "(for vLLM: http://HOST:8000/v1)"
            )
        if self.guard_url and not self.guard_model:
            raise ValueError(
                "PERSONA_GUARD_URL needs PERSONA_GUARD_MODEL, the served guard's name "
                "(e.g. meta-llama/Llama-Guard-3-1B)"
            )
        if self.public_url is not None:
            scheme = self.public_url.split("://", 1)[0].lower() if "://" in self.public_url else ""
            if scheme not in ("http", "https"):
                raise ValueError(
                    f"PERSONA_PUBLIC_URL={self.public_url!r}: an http(s) URL, "
                    "e.g. https://fans.example.com"
                )
        if self.rate_limiter is None:
            self.rate_limiter = "redis" if self.redis_url else "memory"
        if self.job_queue is None:
            self.job_queue = "arq" if self.redis_url else "inline"
        if not self.redis_url and (self.rate_limiter == "redis" or self.job_queue == "arq"):
            raise ValueError(
                "PERSONA_RATE_LIMITER=redis and PERSONA_JOB_QUEUE=arq need PERSONA_REDIS_URL "
                "(redis://HOST:6379/0)"
            )
        return self

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'persona.db'}"

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    def ensure_dirs(self) -> None:
        for path in (self.data_dir, self.chroma_dir, self.models_dir):
            path.mkdir(parents=True, exist_ok=True)
