"""Alembic environment: the engine comes from the caller (channels.migrate), not from an ini."""

from __future__ import annotations

import importlib
import importlib.util

from alembic import context

from persona.store.models import Base

# Modules whose tables join a metadata when imported; a missing module is skipped, an error
# inside one is not hidden.
_TABLE_MODULES = (
    "channels.inbox.models",
    "channels.live.models",
    "channels.console.models",
    "channels.takeover_state",
    "avatar.store",
)


def _target_metadata() -> list:
    metadata = [Base.metadata]
    for name in _TABLE_MODULES:
        if importlib.util.find_spec(name.rsplit(".", 1)[0]) is None:
            continue
        if importlib.util.find_spec(name) is None:
            continue
        module = importlib.import_module(name)
        own = getattr(module, "AvatarBase", None)
        if own is not None:
            metadata.append(own.metadata)
    return metadata


def run_migrations_online() -> None:
    connectable = context.config.attributes["connection"]
    context.configure(
        connection=connectable,
        target_metadata=_target_metadata(),
        render_as_batch=connectable.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
