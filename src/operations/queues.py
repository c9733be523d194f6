"""Which queues the command works on, and the checks made before anything moves.

Every problem here is a :class:`QueueProblem`: one line naming the queue (or stack) and the AWS error code;
the command exits 2 and has moved nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from botocore.exceptions import BotoCoreError, ClientError

from operations.aws import error_code

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_sqs import SQSClient

# The outputs of template.yaml that name the queues.
REQUEST_QUEUE_OUTPUT: Final = "RequestQueueUrl"
DEAD_LETTER_QUEUE_OUTPUT: Final = "DeadLetterQueueUrl"


class QueueProblem(Exception):
    """A queue or stack the command cannot work with; ``code`` is AWS's error code, or the check's own name."""

    def __init__(self, subject: str, code: str, detail: str = "") -> None:
        self.subject = subject
        self.code = code
        self.detail = detail
        super().__init__(self.line())

    def line(self) -> str:
        """The one line the operator reads."""
        return f"{self.subject}: {self.code}" + (f" ({self.detail})" if self.detail else "")


@dataclass(frozen=True, slots=True)
class QueueInfo:
    """A queue as ``GetQueueAttributes`` describes it."""

    url: str
    arn: str
    fifo: bool
    visible: int  # ApproximateNumberOfMessages
    in_flight: int  # ApproximateNumberOfMessagesNotVisible
    dead_letter_target_arn: str | None  # from its RedrivePolicy


@dataclass(frozen=True, slots=True)
class QueuePair:
    """The DLQ and the request queue whose redrive policy names it.

    ``sole_source``: SQS lists the request queue as the only queue whose redrive policy names the DLQ, so a
    letter that names no queue (no ``SourceQueueArn``, no ``DeadLetterQueueSourceArn``) can only be its.
    """

    dead_letters: QueueInfo
    requests: QueueInfo
    sole_source: bool = False


def describe_queue(sqs: SQSClient, url: str) -> QueueInfo:
    """The queue at ``url``; a :class:`QueueProblem` when it cannot be read (missing, denied, unreachable)."""
    try:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    except (ClientError, BotoCoreError) as error:
        raise QueueProblem(f"queue {url}", error_code(error)) from error
    target: str | None = None
    policy = attributes.get("RedrivePolicy")
    if policy:
        try:
            target = str(json.loads(policy)["deadLetterTargetArn"])
        except (ValueError, KeyError, TypeError) as error:
            raise QueueProblem(f"queue {url}", "InvalidRedrivePolicy", "not JSON with deadLetterTargetArn") from error
    return QueueInfo(
        url=url,
        arn=attributes.get("QueueArn", ""),
        fifo=attributes.get("FifoQueue", "false").lower() == "true",
        visible=int(attributes.get("ApproximateNumberOfMessages", "0")),
        in_flight=int(attributes.get("ApproximateNumberOfMessagesNotVisible", "0")),
        dead_letter_target_arn=target,
    )


def check_pair(sqs: SQSClient, *, dlq_url: str, queue_url: str) -> QueuePair:
    """Both queues readable, both FIFO or both standard, and the request queue's redrive policy naming this DLQ."""
    dead_letters = describe_queue(sqs, dlq_url)
    requests = describe_queue(sqs, queue_url)
    if dead_letters.fifo != requests.fifo:
        kind = {True: "FIFO", False: "standard"}
        raise QueueProblem(
            f"queue {queue_url}",
            "FifoMismatch",
            f"a {kind[dead_letters.fifo]} DLQ cannot be redriven to a {kind[requests.fifo]} queue",
        )
    if requests.dead_letter_target_arn != dead_letters.arn:
        named = requests.dead_letter_target_arn or "no DLQ"
        raise QueueProblem(
            f"queue {queue_url}", "NotThisDeadLetterQueue", f"its RedrivePolicy names {named}, not {dead_letters.arn}"
        )
    return QueuePair(dead_letters=dead_letters, requests=requests, sole_source=_sole_source(sqs, dlq_url, queue_url))


def _queue_path(url: str) -> list[str]:
    """``[account, name]`` of a queue URL: its identity whatever the host's spelling (legacy or regional)."""
    return url.rstrip("/").rsplit("/", 2)[-2:]


def _sole_source(sqs: SQSClient, dlq_url: str, queue_url: str) -> bool:
    """Whether ``queue_url`` is the only queue SQS lists for the DLQ (``ListDeadLetterSourceQueues``).

    When the list cannot be read (no ``sqs:ListDeadLetterSourceQueues``), no: a letter naming no queue stays.
    """
    try:
        answer = sqs.list_dead_letter_source_queues(QueueUrl=dlq_url, MaxResults=2)
    except (ClientError, BotoCoreError):
        return False
    sources = answer.get("queueUrls", [])
    return len(sources) == 1 and "NextToken" not in answer and _queue_path(sources[0]) == _queue_path(queue_url)


def stack_queue_urls(cloudformation: CloudFormationClient, stack: str) -> tuple[str, str]:
    """``(dlq_url, queue_url)`` from the stack's outputs (``DeadLetterQueueUrl``, ``RequestQueueUrl``)."""
    try:
        stacks = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except (ClientError, BotoCoreError) as error:
        raise QueueProblem(f"stack {stack}", error_code(error)) from error
    outputs = {output.get("OutputKey"): output.get("OutputValue") for output in stacks[0].get("Outputs", [])}
    urls = []
    for key in (DEAD_LETTER_QUEUE_OUTPUT, REQUEST_QUEUE_OUTPUT):
        value = outputs.get(key)
        if not value:
            raise QueueProblem(f"stack {stack}", "MissingOutput", f"no output {key}")
        urls.append(value)
    return urls[0], urls[1]
