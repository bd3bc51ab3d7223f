"""Connector specs live in the creator's settings (`settings["connectors"]`, a list): what
`persona connect`, the API and the console write, and what the running server connects.
Credentials are never stored here: they come from the settings (PERSONA_TWITCH_TOKENS,
PERSONA_MATRIX_TOKENS, PERSONA_YOUTUBE_TOKENS)."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError

import channels.connectors.matrix  # noqa: F401 - registers the built-in kinds
import channels.connectors.twitch  # noqa: F401 - registers the built-in kinds
import channels.connectors.youtube  # noqa: F401 - registers the built-in kinds
from channels.connectors.base import ConnectorSpec
from channels.connectors.registry import CONNECTORS
from persona.registry import UnknownBackendError
from persona.settings import CreatorSettings
from persona.store import Creator

log = logging.getLogger(__name__)
KEY = "connectors"


def specs_of(settings: CreatorSettings | dict[str, Any] | None) -> list[ConnectorSpec]:
    """The valid specs of one creator (an invalid stored one is logged and skipped)."""
    if not isinstance(settings, CreatorSettings):
        settings = CreatorSettings.from_stored(settings, lenient=True)
    specs = []
    for raw in settings.connectors:
        try:
            specs.append(CONNECTORS.spec(raw))
        except (ValidationError, UnknownBackendError, AttributeError):
            log.warning("skipping an invalid stored connector", extra={"kind": str(raw)[:40]})
    return specs


def all_specs(db: Any) -> dict[tuple[str, str], ConnectorSpec]:
    """Every creator's connectors, keyed (creator id, connector id)."""
    found: dict[tuple[str, str], ConnectorSpec] = {}
    with db.session() as session:
        for creator_id, settings in session.query(Creator.id, Creator.settings):
            for spec in specs_of(settings):
                found[(creator_id, spec.id)] = spec
    return found


def creator_specs(db: Any, creator_id: str) -> list[ConnectorSpec]:
    with db.session() as session:
        creator = session.get(Creator, creator_id)
        if creator is None:
            raise LookupError(f"no creator {creator_id!r}")
        return specs_of(creator.settings)


def save(db: Any, creator_id: str, spec: ConnectorSpec) -> None:
    """Add, or replace the connector with the same id."""
    _update(db, creator_id, lambda specs: [s for s in specs if s.id != spec.id] + [spec])


def remove(db: Any, creator_id: str, connector_id: str) -> bool:
    removed = False

    def without(specs: list[ConnectorSpec]) -> list[ConnectorSpec]:
        nonlocal removed
        kept = [s for s in specs if s.id != connector_id]
        removed = len(kept) != len(specs)
        return kept

    _update(db, creator_id, without)
    return removed


def _update(db: Any, creator_id: str, change: Any) -> None:
    with db.session() as session:
        creator = session.get(Creator, creator_id)
        if creator is None:
            raise LookupError(f"no creator {creator_id!r}")
        settings = CreatorSettings.from_stored(creator.settings, lenient=True)
        specs = change(specs_of(settings))
        changed = settings.with_changes(connectors=[s.model_dump(mode="json") for s in specs])
        creator.settings = changed.to_stored()  # a new dict: the JSON column sees the change
