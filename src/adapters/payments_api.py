"""The Amazon Bedrock AgentCore payments API (``create_payment_session``, ``get_payment_session``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from adapters.aws_errors import api_error
from adapters.clients import ClientSettings, make_client
from adapters.deadline import DeadlineGuard


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
        """One call of ``operation``, its errors as ``ApiError``; the answer's ``paymentSession``."""
        with self._guard.bounded_by(deadline):
            try:
                response = operation(**params)
            except (ClientError, BotoCoreError) as error:
                raise api_error(error) from error
        session: Mapping[str, Any] = response["paymentSession"]
        return session
