"""``dlq candidates`` (issue 25): the sessions that may answer each OutcomeUnknown letter.

moto's SQS over HTTP; ``ListPaymentSessions`` answered by botocore's Stubber on a real ``bedrock-agentcore``
client (the fake payments API serves ``CreatePaymentSession`` only), which also checks each request against
botocore's model.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.stub import Stubber

from domain.dead_letter import LetterAttribute
from domain.parsing import ManagerPolicy
from operations.candidates import candidates
from tests.operations.test_redrive import TOKEN, worker_letter

MANAGER = "arn:aws:bedrock-agentcore:us-east-1:123456789012:payment-manager/demo-manager-a1b2c3d4e5"
FIRST_ATTEMPT = 1_795_000_000_000  # 2026-11-18T...
USER = "user-with-a-secret-name"


def at(offset_ms: int) -> datetime:
    return datetime.fromtimestamp((FIRST_ATTEMPT + offset_ms) / 1000, tz=UTC)


def session(session_id: str, offset_ms: int) -> dict[str, Any]:
    created = at(offset_ms)
    return {
        "paymentSessionId": session_id,
        "paymentManagerArn": MANAGER,
        "userId": USER,
        "expiryTimeInMinutes": 60,
        "createdAt": created,
        "updatedAt": created,
    }


def test_each_outcome_unknown_letter_gets_the_sessions_created_near_its_first_attempt(queues, moto) -> None:
    # Given an OutcomeUnknown letter of a user's request, and another letter
    body = json.dumps({"expiryTimeInMinutes": 60, "userId": USER, "agentName": "checkout"})
    worker_letter(queues, body=body, code="OutcomeUnknown", **{LetterAttribute.FIRST_ATTEMPT_AT: str(FIRST_ATTEMPT)})
    worker_letter(queues)
    agentcore = boto3.client("bedrock-agentcore", region_name="us-east-1")
    expected = {"paymentManagerArn": MANAGER, "userId": USER, "agentName": "checkout"}

    # And the user's sessions over two pages: one long before, one just after the attempt, one two hours later
    with Stubber(agentcore) as stub:
        stub.add_response(
            "list_payment_sessions",
            {"paymentSessions": [session("payment-session-old000000000000", -3_600_000)], "nextToken": "p2"},
            expected,
        )
        stub.add_response(
            "list_payment_sessions",
            {
                "paymentSessions": [
                    session("payment-session-near00000000000", 2_000),
                    session("payment-session-late00000000000", 7_200_000),
                ]
            },
            {**expected, "nextToken": "p2"},
        )

        # When the candidates are listed (an hour after the first attempt)
        found = candidates(queues.sqs, agentcore, queues.dlq_url, ManagerPolicy(MANAGER), after_minutes=60)
        stub.assert_no_pending_responses()

    # Then only the OutcomeUnknown letter is answered, with the session created near its first attempt
    (unknown,) = found
    assert unknown.client_token == TOKEN
    assert unknown.first_attempt_at == FIRST_ATTEMPT
    assert [c.payment_session_id for c in unknown.candidates] == ["payment-session-near00000000000"]
    assert USER not in json.dumps(unknown.as_json())
    # And the letters are still in the DLQ
    assert len(queues.ids(queues.dlq_url)) == 2


def test_candidates_needs_the_manager(queues, run) -> None:
    ran = run("dlq", "candidates", "--dlq-url", queues.dlq_url)
    assert ran.status == 2
    assert "--payment-manager-arn" in ran.err
