"""The reply engine: check -> retrieve -> prompt -> generate -> check -> record."""

from persona.engine.replier import Replier
from persona.engine.types import (
    Channel,
    ReplyAction,
    ReplyRequest,
    ReplyResult,
    SourceRef,
    fan_key,
)

__all__ = [
    "Channel",
    "Replier",
    "ReplyAction",
    "ReplyRequest",
    "ReplyResult",
    "SourceRef",
    "fan_key",
]
