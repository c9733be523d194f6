"""Configuration (CONTRACT section 6): read once, validated, frozen; a bad variable names itself."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Annotated, Final

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.constraints import is_valid_payment_manager_arn
from domain.requests import ManagerPolicy

_BUS_NAME_RE: Final = re.compile(
    r"[/\.\-_A-Za-z0-9]{1,256}|arn:aws[\w-]*:events:[a-z0-9-]+:\d{12}:event-bus/[/\.\-_A-Za-z0-9]{1,256}"
)
_QUEUE_URL_RE: Final = re.compile(r"https?://\S+/\d{12}/[\w-]{1,80}(\.fifo)?")


class ConfigurationError(RuntimeError):
    """A required variable is missing or a variable is invalid: the deployment is broken."""


class Settings(BaseSettings):
    """The worker's environment. Field names are the variables' names, lower-cased."""

    model_config = SettingsConfigDict(frozen=True, case_sensitive=False, extra="ignore")

    payment_manager_arn: str
    allowed_payment_manager_arns: str = ""
    dead_letter_queue_url: str
    event_bus_name: str = "default"
    event_source: Annotated[str, Field(min_length=1, max_length=256)] = "payment-session-worker"
    max_receive_count: Annotated[int, Field(ge=1, le=1000)] = 5
    max_concurrency: Annotated[int, Field(ge=1, le=1000)] = 10

    @field_validator("payment_manager_arn")
    @classmethod
    def _arn(cls, value: str) -> str:
        if not is_valid_payment_manager_arn(value):
            raise ValueError("not a payment manager ARN")
        return value

    @field_validator("allowed_payment_manager_arns")
    @classmethod
    def _arns(cls, value: str) -> str:
        for arn in _split(value):
            if not is_valid_payment_manager_arn(arn):
                raise ValueError("every comma-separated entry must be a payment manager ARN")
        return value

    @field_validator("dead_letter_queue_url")
    @classmethod
    def _queue_url(cls, value: str) -> str:
        if _QUEUE_URL_RE.fullmatch(value) is None:
            raise ValueError("not an SQS queue URL")
        return value

    @field_validator("event_bus_name")
    @classmethod
    def _bus(cls, value: str) -> str:
        if _BUS_NAME_RE.fullmatch(value) is None:
            raise ValueError("not an event bus name or ARN")
        return value

    @field_validator("event_source")
    @classmethod
    def _source(cls, value: str) -> str:
        if value.startswith("aws."):
            raise ValueError("sources starting with 'aws.' are reserved by AWS")
        return value

    @property
    def managers(self) -> ManagerPolicy:
        return ManagerPolicy(self.payment_manager_arn, frozenset(_split(self.allowed_payment_manager_arns)))


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def load_settings() -> Settings:
    """Read and validate the environment; ``ConfigurationError`` names each bad variable."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']).upper()}: {error['msg']}"
            for error in exc.errors(include_url=False, include_input=False)
        )
        raise ConfigurationError(f"invalid configuration: {problems}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings, read once per execution environment (cold start)."""
    return load_settings()
