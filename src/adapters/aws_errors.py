"""botocore's errors as the domain reads them: one translation into ``domain.errors.ApiError`` for every adapter.

A ``ClientError`` is the service's answer: its error code, message, HTTP status, and the ``reason`` and
``fieldList`` the payments API adds. Anything else a call raises got no answer: a timeout (the deadline guard's
included), a network error, or another failure of the SDK, named by its kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    HTTPClientError,
    ReadTimeoutError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

from domain.errors import ApiError, Reach, WorkerErrorCode

# What an AWS call may raise instead of answering; ``api_error`` reads each.
CALL_FAILURES: Final = (ClientError, BotoCoreError, ApiError)


def _answered(error: ClientError) -> ApiError:
    response: Mapping[str, Any] = error.response
    details = response.get("Error", {})
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    reason = response.get("reason")
    field_list = response.get("fieldList")
    return ApiError(
        code=str(details.get("Code") or "Unknown"),
        message=str(details.get("Message") or ""),
        http_status=status if isinstance(status, int) else None,
        reason=reason if isinstance(reason, str) else None,
        field_list=(
            tuple({str(k): str(v) for k, v in item.items()} for item in field_list if isinstance(item, dict))
            if isinstance(field_list, list)
            else None
        ),
    )


def _unanswered_code(error: Exception) -> WorkerErrorCode:
    if isinstance(error, ReadTimeoutError | ConnectTimeoutError):
        return WorkerErrorCode.TIMEOUT
    if isinstance(error, BotoConnectionError | HTTPClientError):
        return WorkerErrorCode.NETWORK_ERROR
    return WorkerErrorCode.INTERNAL_ERROR


def api_error(error: Exception) -> ApiError:
    """``error`` as an ``ApiError``: the service's answer, or a call without one named by the failure's kind."""
    if isinstance(error, ApiError):
        return error
    if isinstance(error, ClientError):
        return _answered(error)
    return ApiError(_unanswered_code(error), type(error).__name__, reach=Reach.UNANSWERED)


def deadline_exceeded() -> ApiError:
    """What a call is told when no time is left for another of its attempts (``adapters.deadline``)."""
    return ApiError(WorkerErrorCode.TIMEOUT, "DeadlineExceeded", reach=Reach.UNANSWERED)
