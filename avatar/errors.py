"""Errors raised to callers. Every message names the problem and what the user can do about it."""

from __future__ import annotations

from datetime import datetime

from persona.registry import UnknownBackendError as _UnknownBackendError


class AvatarError(Exception):
    """Base class; `str(error)` is safe to show to the creator."""


class IntakeError(AvatarError):
    """The upload as a whole cannot be used (wrong number of photos, bad style choice...)."""


class TooManyPixelsError(IntakeError):
    """A photo declares more pixels than the limit: the upload is refused before any photo
    of it is decoded."""


class StyleError(AvatarError):
    """Unknown style or wrong number of styles."""


class DailyLimitError(AvatarError):
    def __init__(self, limit: int, next_allowed_at: datetime) -> None:
        self.limit = limit
        self.next_allowed_at = next_allowed_at
        plural = "job" if limit == 1 else "jobs"
        super().__init__(
            f"you can start {limit} avatar {plural} a day; "
            f"the next one is possible at {next_allowed_at:%Y-%m-%d %H:%M} UTC"
        )


class NotFoundError(AvatarError):
    """No such job, output or profile picture for this creator."""


class JobStateError(AvatarError):
    """The job is not in a state that allows the request (e.g. outputs of a running job)."""


class BackendUnavailableError(AvatarError):
    """A style backend cannot run here; the message says what it needs."""


class UnknownBackendError(AvatarError, _UnknownBackendError):
    """An unknown style backend name: an `AvatarError` for the studio's callers and the
    registries' `persona.registry.UnknownBackendError` (a `LookupError`)."""
