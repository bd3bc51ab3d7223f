"""live channel: one settings key, `channels.live` (the policy every channel uses)

The live answerer read `settings["live"]` (cadence, pause) while the API's pause wrote the
policy: only the console kept the two in step. The cadence moves into the live policy, a
pause stored only in the old key becomes the policy's pause, and the old key goes.

Revision ID: 0009_live_policy_key
Revises: 0007_fan_identity
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0009_live_policy_key"
down_revision = "0007_fan_identity"
branch_labels = None
depends_on = None

creators = sa.table("creators", sa.column("id", sa.String), sa.column("settings", sa.JSON))

# channels.inbox.policy.LivePolicy.cadence_s
MIN_CADENCE_S, MAX_CADENCE_S = 0.1, 600.0


def merged(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings with the old `live` key folded into `channels.live`."""
    settings = dict(settings)
    old = settings.pop("live", None)
    if not isinstance(old, dict):
        return settings
    channels = dict(settings.get("channels") or {})
    live = dict(channels.get("live") or {})
    cadence = old.get("cadence_s")
    if "cadence_s" not in live and isinstance(cadence, int | float) and cadence > 0:
        live["cadence_s"] = min(MAX_CADENCE_S, max(MIN_CADENCE_S, float(cadence)))
    # A stream stopped through the old key stays stopped.
    if old.get("paused") and not live.get("paused") and live.get("enabled", True):
        live["paused"] = True
    channels["live"] = live
    settings["channels"] = channels
    return settings


def upgrade() -> None:
    bind = op.get_bind()
    for creator_id, settings in bind.execute(sa.select(creators.c.id, creators.c.settings)):
        if isinstance(settings, dict) and "live" in settings:
            bind.execute(
                creators.update()
                .where(creators.c.id == creator_id)
                .values(settings=merged(settings))
            )


def downgrade() -> None:
    # The old code reads `settings["live"]`, and its live policy forbids a cadence field.
    bind = op.get_bind()
    for creator_id, settings in bind.execute(sa.select(creators.c.id, creators.c.settings)):
        if not isinstance(settings, dict):
            continue
        channels = dict(settings.get("channels") or {})
        live = dict(channels.get("live") or {})
        cadence = live.pop("cadence_s", None)
        old: dict[str, Any] = {"paused": bool(live.get("paused") or live.get("enabled") is False)}
        if cadence is not None:
            old["cadence_s"] = cadence
        if "live" in channels:
            channels["live"] = live
        bind.execute(
            creators.update()
            .where(creators.c.id == creator_id)
            .values(settings={**settings, "channels": channels, "live": old})
        )
