"""Name -> factory registry for style backends (the same pattern as persona.registry).

Real backends and test doubles register through the same path, so a test exercises the
same lookup code the product uses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from avatar.errors import UnknownBackendError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._factories: dict[str, Callable[..., T]] = {}

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        def decorator(factory: Callable[..., T]) -> Callable[..., T]:
            self._factories[name] = factory
            return factory

        return decorator

    def add(self, name: str, factory: Callable[..., T]) -> None:
        self._factories[name] = factory

    def remove(self, name: str) -> None:
        self._factories.pop(name, None)

    def names(self) -> list[str]:
        return sorted(self._factories)

    def create(self, name: str, *args: object, **kwargs: object) -> T:
        try:
            factory = self._factories[name]
        except KeyError:
            known = ", ".join(self.names()) or "none"
            raise UnknownBackendError(
                f"unknown {self.kind} backend {name!r}; choose one of: {known}"
            ) from None
        return factory(*args, **kwargs)
