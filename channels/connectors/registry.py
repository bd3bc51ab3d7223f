"""Connector kinds by name (a kind registers its class; tests' doubles would too)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from channels.connectors.base import Connector, ConnectorSpec
from persona.registry import UnknownBackendError


class ConnectorRegistry:
    def __init__(self) -> None:
        self._kinds: dict[str, type[Connector]] = {}

    def add(self, cls: type[Connector]) -> type[Connector]:
        self._kinds[cls.kind] = cls
        return cls

    def names(self) -> list[str]:
        return sorted(self._kinds)

    def get(self, kind: str) -> type[Connector]:
        try:
            return self._kinds[kind]
        except KeyError:
            known = ", ".join(self.names()) or "none"
            raise UnknownBackendError(
                f"unknown connector {kind!r}; choose one of: {known}"
            ) from None

    def spec(self, raw: Mapping[str, Any]) -> ConnectorSpec:
        """Validate a stored or submitted spec by its kind (pydantic errors name the field)."""
        return self.get(str(raw.get("kind", ""))).spec_model.model_validate(dict(raw))


CONNECTORS = ConnectorRegistry()
