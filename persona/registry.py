"""Name -> factory registries for every swappable part (chat model, embeddings, stores,
avatar style backends...).

Real backends and test doubles register through the same path, so a test exercises the
same lookup code the product uses. The one generic class of the project: `avatar/` uses it
too (with its own error class), so it depends on nothing but the standard library.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class UnknownBackendError(LookupError):
    """Raised with the list of known names, so the message says how to fix the setting."""


class Registry(Generic[T]):
    """Factories by name. `error` is the exception `create` raises for an unknown name (a
    subclass of `UnknownBackendError`, so a library can raise its own error family)."""

    def __init__(
        self, kind: str, *, error: type[UnknownBackendError] = UnknownBackendError
    ) -> None:
        self.kind = kind
        self._error = error
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
            raise self._error(
                f"unknown {self.kind} backend {name!r}; choose one of: {known}"
            ) from None
        return factory(*args, **kwargs)
