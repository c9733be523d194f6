"""``dlq candidates``: the payment sessions that may answer an ``OutcomeUnknown`` letter (issue 25).

An ``OutcomeUnknown`` letter is a request whose first call had an unknown outcome and that came back after
the token window: a session may exist. For each one, ``ListPaymentSessions`` for the request's payment
manager and user (and agent, when it names one) lists the sessions created from a minute before its first
attempt (``FirstAttemptAt``) to ``after_minutes`` after it. The ``userId`` is sent, never printed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from domain.errors import PoisonMessage, WorkerErrorCode
from domain.parsing import ManagerPolicy, parse_request
from domain.ports import PAYMENTS_SERVICE
from operations.aws import CONFIG, error_code
from operations.letters import DEFAULT_VISIBILITY_SECONDS, Letter, Scan
from operations.queues import QueueProblem

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

BEFORE_MS: Final = 60_000  # the service's clock and the worker's may differ: a minute before the first attempt
# The body is read for its manager and user only; the worker's loop guard is not this command's concern.
NO_OWN_SOURCE: Final = "\x00"


def stack_managers(cloudformation: Any, stack: str) -> ManagerPolicy:
    """The stack's ``PaymentManagerArn`` and ``AllowedPaymentManagerArns`` parameters, as the worker has them."""
    try:
        stacks = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except (ClientError, BotoCoreError) as error:
        raise QueueProblem(f"stack {stack}", error_code(error)) from error
    values = {p.get("ParameterKey"): p.get("ParameterValue") or "" for p in stacks[0].get("Parameters", [])}
    if not values.get("PaymentManagerArn"):
        raise QueueProblem(f"stack {stack}", "MissingParameter", "no PaymentManagerArn")
    allowed = frozenset(arn for arn in values.get("AllowedPaymentManagerArns", "").split(",") if arn)
    return ManagerPolicy(values["PaymentManagerArn"], allowed)


def agentcore_client() -> Any:
    """A client of the payments API (``bedrock-agentcore``) from the environment."""
    import boto3

    return boto3.session.Session().client(PAYMENTS_SERVICE, config=CONFIG)


@dataclass(frozen=True, slots=True)
class Candidate:
    payment_session_id: str
    created_at: str  # ISO 8601, as the API answered it
    expiry_time_in_minutes: int | None


@dataclass(frozen=True, slots=True)
class Unknown:
    """One ``OutcomeUnknown`` letter and the sessions that may answer it (or why they could not be listed)."""

    message_id: str
    client_token: str | None
    first_attempt_at: int | None
    payment_manager_arn: str | None = None
    candidates: list[Candidate] = field(default_factory=list)
    problem: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "messageId": self.message_id,
            "clientToken": self.client_token,
            "firstAttemptAt": self.first_attempt_at,
            "paymentManagerArn": self.payment_manager_arn,
            "candidates": [
                {
                    "paymentSessionId": c.payment_session_id,
                    "createdAt": c.created_at,
                    "expiryTimeInMinutes": c.expiry_time_in_minutes,
                }
                for c in self.candidates
            ],
            "problem": self.problem,
        }


def _epoch_ms(value: Any) -> int | None:
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return int(moment.timestamp() * 1000)
    return None


def _sessions(agentcore: Any, params: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Every session ``ListPaymentSessions`` gives for ``params``, page after page."""
    token: str | None = None
    while True:
        page = agentcore.list_payment_sessions(**params, **({"nextToken": token} if token else {}))
        yield from page.get("paymentSessions", [])
        token = page.get("nextToken")
        if not token:
            return


def answer_candidates(letter: Letter, agentcore: Any, managers: ManagerPolicy, *, after_minutes: float) -> Unknown:
    """The sessions that may answer ``letter`` (an ``OutcomeUnknown`` one)."""
    first = letter.first_attempt_at
    if first is None:
        return Unknown(letter.message_id, letter.client_token, None, problem="no FirstAttemptAt")
    try:
        request = parse_request(letter.body, own_event_source=NO_OWN_SOURCE, managers=managers)
    except PoisonMessage as poison:
        return Unknown(letter.message_id, letter.client_token, first, problem=f"body not readable: {poison.code}")
    params: dict[str, Any] = {"paymentManagerArn": request.paymentManagerArn}
    if request.userId is not None:
        params["userId"] = request.userId
    if request.agentName is not None:
        params["agentName"] = request.agentName
    until = first + int(after_minutes * 60_000)
    try:
        found = [
            Candidate(str(s.get("paymentSessionId")), str(s.get("createdAt")), s.get("expiryTimeInMinutes"))
            for s in _sessions(agentcore, params)
            if (created := _epoch_ms(s.get("createdAt"))) is not None and first - BEFORE_MS <= created <= until
        ]
    except (ClientError, BotoCoreError) as error:
        return Unknown(
            letter.message_id, letter.client_token, first, request.paymentManagerArn, problem=error_code(error)
        )
    return Unknown(letter.message_id, letter.client_token, first, request.paymentManagerArn, found)


def candidates(
    sqs: SQSClient,
    agentcore: Any,
    dlq_url: str,
    managers: ManagerPolicy,
    *,
    after_minutes: float,
    visibility_timeout: int = DEFAULT_VISIBILITY_SECONDS,
) -> list[Unknown]:
    """Every ``OutcomeUnknown`` letter of the DLQ (read, not consumed) with the sessions that may answer it."""
    scan = Scan(sqs, dlq_url, visibility_timeout=visibility_timeout)
    try:
        return [
            answer_candidates(letter, agentcore, managers, after_minutes=after_minutes)
            for batch in scan.batches()
            for letter in batch
            if letter.code == WorkerErrorCode.OUTCOME_UNKNOWN
        ]
    except (ClientError, BotoCoreError) as error:
        raise QueueProblem(f"queue {dlq_url}", error_code(error)) from error
    finally:
        scan.release()
