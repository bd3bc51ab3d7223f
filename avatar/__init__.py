"""Avatar studio: from 3-10 selfies to up to 30 checked, labelled avatars in chosen styles.

A library: no web framework, no environment reading. The caller builds an `AvatarConfig`
and an SQLAlchemy engine and talks to `AvatarService`. Heavy models load on first use.
"""

from avatar.config import AvatarConfig, CheckThresholds, IntakeLimits
from avatar.errors import (
    AvatarError,
    BackendUnavailableError,
    DailyLimitError,
    IntakeError,
    JobStateError,
    NotFoundError,
    StyleError,
)
from avatar.intake import Reason, Upload
from avatar.records import JobStatus, OutputInfo, ProfilePicture, Quota, StyleInfo, Submission
from avatar.service import AvatarService
from avatar.store import AvatarBase, JobState

__all__ = [
    "AvatarBase",
    "AvatarConfig",
    "AvatarError",
    "AvatarService",
    "BackendUnavailableError",
    "CheckThresholds",
    "DailyLimitError",
    "IntakeError",
    "IntakeLimits",
    "JobState",
    "JobStateError",
    "JobStatus",
    "NotFoundError",
    "OutputInfo",
    "ProfilePicture",
    "Quota",
    "Reason",
    "StyleError",
    "StyleInfo",
    "Submission",
    "Upload",
]
