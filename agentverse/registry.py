"""One small generic registry, keyed by concept (`ceo`, `decision_maker`, ...), never by model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

Item = TypeVar("Item")


class UnknownKeyError(KeyError):
    """An unknown registry key; the message lists the valid keys."""

    def __str__(self) -> str:
        return str(self.args[0])


class Registry(Generic[Item]):
    """Maps a short key from the config to a component (a class or a factory function)."""

    def __init__(self, concept: str) -> None:
        self.concept = concept
        self._items: dict[str, Item] = {}

    def register(self, key: str) -> Callable[[Item], Item]:
        def decorator(item: Item) -> Item:
            if key in self._items:
                raise ValueError(f"{self.concept} {key!r} is registered twice")
            self._items[key] = item
            return item

        return decorator

    def get(self, key: str) -> Item:
        try:
            return self._items[key]
        except KeyError:
            raise UnknownKeyError(
                f"unknown {self.concept} {key!r}; valid keys: {', '.join(sorted(self._items))}"
            ) from None

    def keys(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items
