"""Configuration (CONTRACT section 6): read once, validated, frozen; a bad variable names itself.

One pydantic model: each variable's rule sits on its field. Variable names are matched without regard to
case. pydantic-settings is not used: pydantic alone serves its few variables, without the dotenv, argparse and
asyncio imports it would add to every cold start.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Annotated, Final

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from domain.parsing import ManagerPolicy
from domain.request import is_valid_payment_manager_arn
from domain.time_policy import SQS_MAX_VISIBILITY_SECONDS, SQS_RETENTION_MAX_MINUTES, AgeLimit, RecordPolicy, RetryDelay

COUNT_MIN: Final = 1  # bounds of MAX_RECEIVE_COUNT and MAX_CONCURRENCY
COUNT_MAX: Final = 1000
# SQS keeps a message 14 days at the most: an age limit beyond that could never be reached.
AGE_MAX_MINUTES: Final = SQS_RETENTION_MAX_MINUTES
EVENT_SOURCE_MAX: Final = 256
DEFAULT_EVENT_SOURCE: Final = "payment-session-worker"


class ConfigurationError(RuntimeError):
    """A required variable is missing or a variable is invalid: the deployment is broken."""


def _matching(pattern: str, what: str) -> AfterValidator:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if compiled.fullmatch(value) is None:
            raise ValueError(f"not {what}")
        return value

    return AfterValidator(check)


def _payment_manager_arn(value: str) -> str:
    if not is_valid_payment_manager_arn(value):
        raise ValueError("not a payment manager ARN")
    return value


def _comma_separated(value: object) -> object:
    if isinstance(value, str):
        return frozenset(part.strip() for part in value.split(",") if part.strip())
    return value


def _payment_manager_arns(value: frozenset[str]) -> frozenset[str]:
    if not all(is_valid_payment_manager_arn(arn) for arn in value):
        raise ValueError("every comma-separated entry must be a payment manager ARN")
    return value


def _not_reserved(value: str) -> str:
    if value.startswith("aws."):
        raise ValueError("sources starting with 'aws.' are reserved by AWS")
    return value


def _integer_text(value: object) -> object:
    """Environment values are text: an integer is digits with an optional sign, spaces around allowed."""
    if isinstance(value, str):
        if re.fullmatch(r"\s*[+-]?[0-9]+\s*", value) is None:
            raise ValueError("not an integer")
        return int(value)
    return value


def _table_name(value: str | None) -> str | None:
    if value is not None and re.fullmatch(r"[A-Za-z0-9_.-]{3,255}", value) is None:
        raise ValueError("not a DynamoDB table name")
    return value


def _unset_when_empty(value: object) -> object:
    """The template passes an empty value for a setting it leaves unset."""
    return None if isinstance(value, str) and not value.strip() else value


Count = Annotated[int, BeforeValidator(_integer_text), Field(ge=COUNT_MIN, le=COUNT_MAX)]
Seconds = Annotated[int, BeforeValidator(_integer_text), Field(ge=0, le=SQS_MAX_VISIBILITY_SECONDS)]


class Settings(BaseModel):
    """The worker's environment. Field names are the variables' names, lower-cased."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    payment_manager_arn: Annotated[str, AfterValidator(_payment_manager_arn)]
    dead_letter_queue_url: Annotated[str, _matching(r"https?://\S+/\d{12}/[\w-]{1,80}(\.fifo)?", "an SQS queue URL")]
    allowed_payment_manager_arns: Annotated[
        frozenset[str], BeforeValidator(_comma_separated), AfterValidator(_payment_manager_arns)
    ] = frozenset()
    event_bus_name: Annotated[
        str,
        _matching(
            r"[/\.\-_A-Za-z0-9]{1,256}|arn:aws[\w-]*:events:[a-z0-9-]+:\d{12}:event-bus/[/\.\-_A-Za-z0-9]{1,256}",
            "an event bus name or ARN",
        ),
    ] = "default"
    event_source: Annotated[str, Field(min_length=1, max_length=EVENT_SOURCE_MAX), AfterValidator(_not_reserved)] = (
        DEFAULT_EVENT_SOURCE
    )
    max_receive_count: Count = 5
    max_request_age_minutes: Annotated[int, BeforeValidator(_integer_text), Field(ge=0, le=AGE_MAX_MINUTES)] = 1440
    max_concurrency: Count = 10
    # Extensions, not in CONTRACT section 6 (README "Retry delay"): unset, a retried record comes back after the
    # queue's visibility timeout, as the contract says; the stack sets both.
    retry_delay_seconds: Seconds = 0
    retry_delay_max_seconds: Seconds = 3600
    # The idempotency record (issue 25): the DynamoDB table's name (unset: off), and how long after a token's
    # first attempt the worker relies on the payments API to deduplicate it (minutes, fractions allowed).
    idempotency_table_name: Annotated[str | None, BeforeValidator(_unset_when_empty), AfterValidator(_table_name)] = (
        None
    )
    client_token_window_minutes: Annotated[float, Field(gt=0, le=AGE_MAX_MINUTES, allow_inf_nan=False)] = 60.0

    @property
    def managers(self) -> ManagerPolicy:
        return ManagerPolicy(self.payment_manager_arn, self.allowed_payment_manager_arns)

    @property
    def age_limit(self) -> AgeLimit:
        return AgeLimit(self.max_request_age_minutes)

    @property
    def retry_delay(self) -> RetryDelay:
        return RetryDelay(self.retry_delay_seconds, self.retry_delay_max_seconds)

    @property
    def record_policy(self) -> RecordPolicy:
        return RecordPolicy(self.client_token_window_minutes, self.age_limit)


# The variables beyond CONTRACT section 6, documented in README and docs/DEPLOY.md as extensions: the retry delay
# (unset: off) and the idempotency record (unset: off). Unset, the worker behaves as the contract says.
EXTENSION_VARIABLES: Final = (
    "RETRY_DELAY_SECONDS",
    "RETRY_DELAY_MAX_SECONDS",
    "IDEMPOTENCY_TABLE_NAME",
    "CLIENT_TOKEN_WINDOW_MINUTES",
)
# The variables of CONTRACT section 6, as the environment names them.
VARIABLES: Final = tuple(name.upper() for name in Settings.model_fields if name.upper() not in EXTENSION_VARIABLES)


def parse_settings(environ: Mapping[str, str]) -> Settings:
    """Validate ``environ``; ``ConfigurationError`` names each missing or bad variable."""
    given = {name.lower(): value for name, value in environ.items() if name.lower() in Settings.model_fields}
    try:
        return Settings.model_validate(given)
    except ValidationError as error:
        problems = [
            f"{str(item['loc'][0]).upper()}: {'required' if item['type'] == 'missing' else item['msg']}"
            for item in error.errors(include_url=False, include_input=False)
        ]
        raise ConfigurationError(f"invalid configuration: {'; '.join(problems)}") from None


def load_settings() -> Settings:
    """Read and validate the environment; ``ConfigurationError`` names each bad variable."""
    return parse_settings(os.environ)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings, read once per execution environment (cold start)."""
    return load_settings()
