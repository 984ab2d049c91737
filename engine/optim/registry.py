"""A registry of frozen specs keyed by their ``id``, in display order, and the one error every
registry raises for an id it does not hold."""
from __future__ import annotations

from typing import Generic, Iterable, Iterator, Protocol, TypeVar


class UnknownId(KeyError, ValueError):
    """An id no registry entry has.  A KeyError (a failed lookup) and a ValueError (a bad
    argument), so callers that catch either keep working."""

    def __str__(self) -> str:
        # KeyError's str() quotes its argument; this one is a sentence.
        return str(self.args[0])


class _Spec(Protocol):
    @property
    def id(self) -> str: ...


S = TypeVar("S", bound=_Spec)


class Registry(Generic[S]):
    """Specs of one kind (``"optimizer"``, ``"surface"``, ...) by id, in the order given."""

    def __init__(self, kind: str, specs: Iterable[S]):
        self.kind = kind
        self._specs: dict[str, S] = {}
        for s in specs:
            if s.id in self._specs:
                raise ValueError(f"{kind} id {s.id!r} is registered twice")
            self._specs[s.id] = s

    def get(self, id: str) -> S:
        try:
            return self._specs[id]
        except (KeyError, TypeError):  # TypeError: an unhashable id, such as a list
            raise UnknownId(f"unknown {self.kind} {id!r}; known: {', '.join(self._specs)}") from None

    def ids(self) -> list[str]:
        """Ids in display order."""
        return list(self._specs)

    def __iter__(self) -> Iterator[S]:
        return iter(self._specs.values())
