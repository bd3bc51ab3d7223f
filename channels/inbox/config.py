"""Settings of the inbox, the worker and the outbox, as one validated object.

The field names are those of the `Settings` fields they come from (PERSONA_WEBHOOK_SECRETS,
PERSONA_INBOX_LEASE_S, ...); a field `Settings` does not declare yet takes its default here.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator

from channels.outbound import CallbackPolicy, CallbackRefused, parse_host_entry
from persona.engine.types import FAN_SOURCE, RESERVED_FAN_SOURCES


class InboxConfig(BaseModel):
    # platform name -> shared secret for webhook signatures (both ways).
    webhook_secrets: dict[str, str] = Field(default_factory=dict)
    # Timestamps further than this from our clock are refused (replay window).
    webhook_window_s: int = Field(default=300, ge=1, le=86_400)
    webhook_max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=10 * 1024 * 1024)
    # platform name -> callback URL used when an event carries none.
    webhook_callback_urls: dict[str, str] = Field(default_factory=dict)
    # Callbacks (channels/outbound.py): platform -> the hosts its callbacks may go to
    # (host, host:port, *.domain); a platform without a list may use any public host.
    callback_allowed_hosts: dict[str, list[str]] = Field(default_factory=dict)
    # Loopback and private addresses too: tests and a development machine only.
    callback_allow_private: bool = False

    # Worker: how many events are processed at once, and how long a claim lasts without a
    # heartbeat (a crashed worker's events are taken over after this).
    inbox_concurrency: int = Field(default=4, ge=1, le=256)
    inbox_lease_s: float = Field(default=30.0, ge=0.5, le=3600)
    inbox_poll_s: float = Field(default=1.0, gt=0, le=60)
    inbox_max_attempts: int = Field(default=5, ge=1, le=100)
    # Backoff after an error while answering (seconds, doubled per attempt).
    inbox_retry_base_s: float = Field(default=2.0, ge=0, le=3600)

    outbox_concurrency: int = Field(default=8, ge=1, le=256)
    outbox_max_attempts: int = Field(default=8, ge=1, le=100)
    outbox_backoff_base_s: float = Field(default=1.0, ge=0, le=3600)
    outbox_backoff_max_s: float = Field(default=300.0, ge=0, le=86_400)
    outbox_timeout_s: float = Field(default=10.0, gt=0, le=300)
    rate_limiter: str = "memory"

    @field_validator("webhook_secrets")
    @classmethod
    def _strong_secrets(cls, secrets: dict[str, str]) -> dict[str, str]:
        for platform, secret in secrets.items():
            if len(secret) < 16:
                raise ValueError(
                    f"the webhook secret of {platform!r} is shorter than 16 characters: "
                    "use a long random string (python -c 'import secrets; "
                    "print(secrets.token_hex(32))')"
                )
        return secrets

    @field_validator("callback_allowed_hosts")
    @classmethod
    def _host_entries(cls, by_platform: dict[str, list[str]]) -> dict[str, list[str]]:
        for entries in by_platform.values():
            for entry in entries:
                parse_host_entry(entry)
        return by_platform

    @model_validator(mode="after")
    def _callback_urls_allowed(self) -> InboxConfig:
        # The platforms' default callback URLs obey the same policy as the events' own.
        policy = self.callback_policy()
        for platform, url in self.webhook_callback_urls.items():
            try:
                policy.check_url(url, platform)
            except CallbackRefused as exc:
                raise ValueError(f"the callback URL of {platform!r} is refused: {exc}") from None
        return self

    @field_validator("webhook_secrets", "webhook_callback_urls", "callback_allowed_hosts")
    @classmethod
    def _platform_names(cls, by_platform: dict[str, Any]) -> dict[str, Any]:
        # A platform name is the source half of its fans' keys (persona.engine.fan_key): it
        # must be a valid source, and not one of the platform's own surfaces, whose fans it
        # would otherwise share keys with.
        for platform in by_platform:
            if not FAN_SOURCE.match(platform):
                raise ValueError(
                    f"platform name {platform!r}: 1-32 of a-z, 0-9, '_' or '-', starting "
                    "with a letter or digit"
                )
            if platform in RESERVED_FAN_SOURCES:
                raise ValueError(
                    f"platform name {platform!r} is reserved for the platform's own fans "
                    f"({', '.join(sorted(RESERVED_FAN_SOURCES))}): name the platform otherwise"
                )
        return by_platform

    @classmethod
    def from_settings(cls, settings: Any) -> InboxConfig:
        values = {
            name: getattr(settings, name) for name in cls.model_fields if hasattr(settings, name)
        }
        return cls.model_validate(values)

    def secret_for(self, platform: str) -> str | None:
        return self.webhook_secrets.get(platform)

    def callback_for(self, platform: str, event_url: str | None) -> str | None:
        return event_url or self.webhook_callback_urls.get(platform)

    def callback_policy(self) -> CallbackPolicy:
        return CallbackPolicy.of(self.callback_allow_private, self.callback_allowed_hosts)
