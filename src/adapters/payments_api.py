"""The Amazon Bedrock AgentCore payments API (``create_payment_session``, ``get_payment_session``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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

from adapters.clients import ClientSettings, make_client
from adapters.deadline import DeadlineExceeded, DeadlineGuard
from domain.errors import ApiError, TransientError, WorkerErrorCode


def api_error_from(error: ClientError) -> ApiError:
    """The API's answer as the domain reads it: error code, message, status, ``reason``, ``fieldList``."""
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


def transient_error_from(error: Exception) -> TransientError:
    """A failure without an answer: a timeout (the deadline's included) or a network error."""
    if isinstance(error, ReadTimeoutError | ConnectTimeoutError | DeadlineExceeded):
        return TransientError(WorkerErrorCode.TIMEOUT, type(error).__name__)
    if isinstance(error, BotoConnectionError | HTTPClientError):
        return TransientError(WorkerErrorCode.NETWORK_ERROR, type(error).__name__)
    return TransientError(WorkerErrorCode.INTERNAL_ERROR, type(error).__name__)


class PaymentsApiClient:
    """Implements the domain's ``PaymentsApi`` port over a ``bedrock-agentcore`` client."""

    def __init__(self, client: Any, guard: DeadlineGuard) -> None:
        self._client = client
        self._guard = guard

    @classmethod
    def create(cls, settings: ClientSettings) -> PaymentsApiClient:
        client = make_client("bedrock-agentcore", settings)
        guard = DeadlineGuard(settings.read_timeout)
        guard.install(client)
        return cls(client, guard)

    def create_payment_session(self, params: Mapping[str, Any], *, deadline: float) -> Mapping[str, Any]:
        return self._session(self._client.create_payment_session, params, deadline)

    def get_payment_session(self, params: Mapping[str, Any], *, deadline: float) -> Mapping[str, Any]:
        return self._session(self._client.get_payment_session, params, deadline)

    def _session(self, operation: Any, params: Mapping[str, Any], deadline: float) -> Mapping[str, Any]:
        """One call of ``operation``, its errors as the domain reads them; the answer's ``paymentSession``."""
        with self._guard.bounded_by(deadline):
            try:
                response = operation(**params)
            except ClientError as error:
                raise api_error_from(error) from error
            except (BotoCoreError, DeadlineExceeded) as error:
                raise transient_error_from(error) from error
        session: Mapping[str, Any] = response["paymentSession"]
        return session
