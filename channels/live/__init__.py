"""Live streams: the chat feed in over a websocket, answers and top questions out.

Intake is cheap and bounded (validation, duplicate ids, per-viewer rate, spam, near-duplicate
grouping); an answering loop per stream takes the highest-priority item every `cadence_s` and
asks the reply engine, which runs the full moderation on it.

Paid messages and gifts are durable (committed to the inbox before the ack, answered once
even if the worker dies: channels.live.paid); chatter, questions and welcomes are
best-effort, in the memory of the worker that holds the feed."""

from channels.live.config import LiveConfig
from channels.live.manager import LiveCapacityError, LiveManager, get_live_manager

__all__ = ["LiveCapacityError", "LiveConfig", "LiveManager", "get_live_manager"]
