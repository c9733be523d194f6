"""botocore clients from one shared session, with explicit retry mode, attempts, timeouts and pool size."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Final

import botocore.session
import botocore.utils
from botocore.config import Config

# The ISO 8601 forms that datetime.fromisoformat and botocore's dateutil parse identically.
_ISO_TIMESTAMP: Final = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})?")


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


def parse_timestamp(value: Any) -> datetime:
    """A response timestamp as botocore's default parser reads it, without dateutil for plain ISO 8601.

    ``CreatePaymentSession`` answers ``createdAt`` and ``updatedAt`` as ISO 8601 strings, which botocore
    parses with ``dateutil``: a tenth of the CPU of a warm call. ``datetime.fromisoformat`` gives the
    same datetime for the forms ``_ISO_TIMESTAMP`` admits; anything else goes to botocore's own parser.
    """
    if isinstance(value, str) and _ISO_TIMESTAMP.fullmatch(value):
        return datetime.fromisoformat(value)
    parsed: datetime = botocore.utils.parse_timestamp(value)
    return parsed


@lru_cache(maxsize=1)
def shared_session() -> botocore.session.Session:
    """One botocore session for every client: the service models and credentials are loaded once.

    botocore directly, not boto3: ``import boto3`` also loads s3transfer and multiprocessing, which no
    client here uses, at every cold start; the clients are the same botocore clients either way.
    Responses' timestamps go through :func:`parse_timestamp`.
    """
    session = botocore.session.get_session()
    session.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=parse_timestamp)
    return session


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
