"""boto3 clients from one shared session, with explicit retry mode, attempts, timeouts and pool size."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import boto3
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
def shared_session() -> boto3.session.Session:
    """One botocore session for every client: the service models and credentials are loaded once."""
    return boto3.session.Session()


def make_client(service_name: str, settings: ClientSettings) -> Any:
    """A client of ``service_name``; endpoints and region come from the standard AWS variables."""
    return shared_session().client(service_name, config=settings.config())  # type: ignore[call-overload]
