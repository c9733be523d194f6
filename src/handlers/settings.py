"""Configuration (CONTRACT section 6): read once, validated, frozen; a bad variable names itself.

Plain Python rather than a pydantic-settings model: pydantic is kept off the cold path (see
``domain.requests``), and pydantic-settings alone (with the asyncio, argparse and dotenv it imports) was a
measurable share of the cold start for seven variables (issue 6, docs/PERFORMANCE.md). Variable names
are matched without regard to case, as they were.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, fields
from functools import lru_cache
from typing import Final

from domain.constraints import is_valid_payment_manager_arn
from domain.requests import ManagerPolicy

_BUS_NAME_RE: Final = re.compile(
    r"[/\.\-_A-Za-z0-9]{1,256}|arn:aws[\w-]*:events:[a-z0-9-]+:\d{12}:event-bus/[/\.\-_A-Za-z0-9]{1,256}"
)
_QUEUE_URL_RE: Final = re.compile(r"https?://\S+/\d{12}/[\w-]{1,80}(\.fifo)?")
_INTEGER_RE: Final = re.compile(r"\s*[+-]?[0-9]+\s*")
COUNT_MIN: Final = 1  # bounds of MAX_RECEIVE_COUNT and MAX_CONCURRENCY
COUNT_MAX: Final = 1000
EVENT_SOURCE_MAX: Final = 256
DEFAULT_EVENT_SOURCE: Final = "payment-session-worker"


class ConfigurationError(RuntimeError):
    """A required variable is missing or a variable is invalid: the deployment is broken."""


@dataclass(frozen=True, slots=True)
class Settings:
    """The worker's environment. Field names are the variables' names, lower-cased."""

    payment_manager_arn: str
    dead_letter_queue_url: str
    allowed_payment_manager_arns: str = ""
    event_bus_name: str = "default"
    event_source: str = DEFAULT_EVENT_SOURCE
    max_receive_count: int = 5
    max_concurrency: int = 10

    @property
    def managers(self) -> ManagerPolicy:
        return ManagerPolicy(self.payment_manager_arn, frozenset(_split(self.allowed_payment_manager_arns)))


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _payment_manager_arn(value: str) -> str:
    if not is_valid_payment_manager_arn(value):
        raise ValueError("not a payment manager ARN")
    return value


def _payment_manager_arns(value: str) -> str:
    for arn in _split(value):
        if not is_valid_payment_manager_arn(arn):
            raise ValueError("every comma-separated entry must be a payment manager ARN")
    return value


def _queue_url(value: str) -> str:
    if _QUEUE_URL_RE.fullmatch(value) is None:
        raise ValueError("not an SQS queue URL")
    return value


def _bus(value: str) -> str:
    if _BUS_NAME_RE.fullmatch(value) is None:
        raise ValueError("not an event bus name or ARN")
    return value


def _source(value: str) -> str:
    if not 1 <= len(value) <= EVENT_SOURCE_MAX:
        raise ValueError(f"from 1 to {EVENT_SOURCE_MAX} characters")
    if value.startswith("aws."):
        raise ValueError("sources starting with 'aws.' are reserved by AWS")
    return value


def _count(value: str) -> int:
    if _INTEGER_RE.fullmatch(value) is None or not COUNT_MIN <= int(value) <= COUNT_MAX:
        raise ValueError(f"an integer from {COUNT_MIN} to {COUNT_MAX}")
    return int(value)


_RULES: Final[Mapping[str, Callable[[str], object]]] = {
    "payment_manager_arn": _payment_manager_arn,
    "dead_letter_queue_url": _queue_url,
    "allowed_payment_manager_arns": _payment_manager_arns,
    "event_bus_name": _bus,
    "event_source": _source,
    "max_receive_count": _count,
    "max_concurrency": _count,
}
_REQUIRED: Final = frozenset(field.name for field in fields(Settings) if field.default is MISSING)
# The variables of CONTRACT section 6, as the environment names them.
VARIABLES: Final = tuple(name.upper() for name in _RULES)


def parse_settings(environ: Mapping[str, str]) -> Settings:
    """Validate ``environ``; ``ConfigurationError`` names each missing or bad variable."""
    given = {name.lower(): value for name, value in environ.items() if name.lower() in _RULES}
    values: dict[str, object] = {}
    problems: list[str] = []
    for name, rule in _RULES.items():
        if name not in given:
            if name in _REQUIRED:
                problems.append(f"{name.upper()}: required")
            continue
        try:
            values[name] = rule(given[name])
        except ValueError as error:
            problems.append(f"{name.upper()}: {error}")
    if problems:
        raise ConfigurationError(f"invalid configuration: {'; '.join(problems)}")
    return Settings(**values)  # type: ignore[arg-type]


def load_settings() -> Settings:
    """Read and validate the environment; ``ConfigurationError`` names each bad variable."""
    return parse_settings(os.environ)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings, read once per execution environment (cold start)."""
    return load_settings()
