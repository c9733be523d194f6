"""boto3 clients for the command, and the AWS error a failed call is named by.

The clients read the standard AWS SDK variables (``AWS_REGION``, ``AWS_ENDPOINT_URL``, ``AWS_ENDPOINT_URL_SQS``,
credentials, profiles), so one command serves AWS and the local sandbox.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_sqs import SQSClient

# A receive long-polls for at most RECEIVE_WAIT_SECONDS: the read timeout leaves room for it.
CONFIG: Final = Config(
    retries={"mode": "standard", "total_max_attempts": 3},
    connect_timeout=5,
    read_timeout=30,
)


def sqs_client() -> SQSClient:
    """An SQS client from the environment."""
    return boto3.session.Session().client("sqs", config=CONFIG)


def cloudformation_client() -> CloudFormationClient:
    """A CloudFormation client from the environment."""
    return boto3.session.Session().client("cloudformation", config=CONFIG)


def error_code(error: ClientError | BotoCoreError) -> str:
    """The AWS error code of a failed call (botocore's), or the SDK's exception name when AWS never answered."""
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return str(code or status or "Unknown")
    return type(error).__name__


def is_denied(error: ClientError) -> bool:
    """Whether AWS refused the caller (a missing permission or bad credentials), whatever the operation."""
    return error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 403
