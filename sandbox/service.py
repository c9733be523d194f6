"""The one shape of every running part of the sandbox (moto, the fake API, the event source, the tap, the whole)."""

from __future__ import annotations

from types import TracebackType
from typing import Self, TypeVar

T = TypeVar("T")


class Service:
    """``start()`` returns ``self``, ``stop()`` is idempotent; ``with part:`` starts it and stops it."""

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


def started(part: T | None, what: str = "the sandbox") -> T:
    """``part``, or ``RuntimeError`` when it is ``None`` because ``what`` is not started."""
    if part is None:
        raise RuntimeError(f"{what} is not started")
    return part
