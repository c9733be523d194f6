"""botocore clients from one shared session, with explicit retry mode, attempts, timeouts and pool size."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import botocore.session
from botocore.config import Config


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """Timeouts in seconds; ``total_max_attempts`` counts the first attempt (standard retry mode)."""

    connect_timeout: float = 2.0
    read_timeout: float = 5.0
    total_max_attempts: int = 3
    max_pool_connections: int = 10

    def config(self) -> Config:
        return Config(
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            retries={"mode": "standard", "total_max_attempts": self.total_max_attempts},
            max_pool_connections=self.max_pool_connections,
            tcp_keepalive=True,
        )


@lru_cache(maxsize=1)
def shared_session() -> botocore.session.Session:
    """One botocore session for every client: the service models and credentials are loaded once.

    botocore directly, not boto3: ``import boto3`` also loads s3transfer and multiprocessing, which no
    client here uses, at every cold start; the clients are the same botocore clients either way.
    """
    return botocore.session.get_session()


def make_client(service_name: str, settings: ClientSettings) -> Any:
    """A client of ``service_name``; endpoints and region come from the standard AWS variables."""
    return shared_session().create_client(service_name, config=settings.config())


class LazyClient:
    """Stands for a client that is made on first use, once, whichever thread gets there first.

    For a client the usual path never calls (the dead-letter queue's): its service model is not loaded at
    the cold start. Attribute access is forwarded, so callers use it as the client itself.
    """

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = factory
        self._client: Any = None
        self._lock = threading.Lock()

    def get(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._factory()
        return self._client

    def __getattr__(self, name: str) -> Any:
        return getattr(self.get(), name)
