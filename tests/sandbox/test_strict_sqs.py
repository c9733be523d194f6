"""The strict SQS layer (``sandbox/aws/strict_sqs.py``): each of SQS's send rules, one over refused, at the limit taken.

Every test runs with the layer (importing the sandbox installs it); these prove it refuses with SQS's own error
code exactly where SQS does, through an ordinary boto3 client in front of moto.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from sandbox.aws.strict_sqs import MAX_MESSAGE_BYTES, message_size

LIMIT = MAX_MESSAGE_BYTES
assert LIMIT == 1_048_576  # SQS's documented maximum message size


@pytest.fixture
def sqs() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("sqs", region_name="us-east-1")


@pytest.fixture
def standard(sqs: Any) -> str:
    return str(sqs.create_queue(QueueName="standard")["QueueUrl"])


@pytest.fixture
def fifo(sqs: Any) -> str:
    attributes = {"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    return str(sqs.create_queue(QueueName="ordered.fifo", Attributes=attributes)["QueueUrl"])


def string(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": value}


def refused_code(send: Any, **params: Any) -> str | None:
    """The error code SQS (the layer) answers, or ``None`` when the send was taken."""
    try:
        send(**params)
    except ClientError as error:
        return str(error.response["Error"]["Code"])
    return None


# -- one message --------------------------------------------------------------------------------------------------


def test_size_counts_body_and_every_attributes_name_type_and_value(sqs: Any, standard: str) -> None:
    # Given an attribute of 4 + 6 + 10 bytes and a body filling the rest of 1 MiB exactly
    attributes = {"Name": string("v" * 10)}
    body = "b" * (LIMIT - 20)
    assert message_size({"MessageBody": body, "MessageAttributes": attributes}) == LIMIT
    # Then exactly at the limit is taken, and one byte more (a body moto alone would take) is refused
    assert refused_code(sqs.send_message, QueueUrl=standard, MessageBody=body, MessageAttributes=attributes) is None
    over = {"QueueUrl": standard, "MessageBody": body + "b", "MessageAttributes": attributes}
    assert refused_code(sqs.send_message, **over) == "InvalidParameterValue"


def test_size_counts_utf8_bytes_not_characters(sqs: Any, standard: str) -> None:
    body = "é" * (LIMIT // 2)  # two bytes each
    assert refused_code(sqs.send_message, QueueUrl=standard, MessageBody=body) is None
    assert refused_code(sqs.send_message, QueueUrl=standard, MessageBody=body + "x") == "InvalidParameterValue"


def test_at_most_ten_message_attributes(sqs: Any, standard: str) -> None:
    ten = {f"A{index}": string("v") for index in range(10)}
    assert refused_code(sqs.send_message, QueueUrl=standard, MessageBody="x", MessageAttributes=ten) is None
    eleven = {**ten, "A10": string("v")}
    code = refused_code(sqs.send_message, QueueUrl=standard, MessageBody="x", MessageAttributes=eleven)
    assert code == "InvalidParameterValue"


@pytest.mark.parametrize(
    ("name", "taken"),
    [
        ("a" * 256, True),
        ("a" * 257, False),
        ("Tenant.Id-1_x", True),
        (".leading", False),
        ("trailing.", False),
        ("double..period", False),
        ("AWS.Reserved", False),
        ("amazon.reserved", False),
        ("AWSTraceLike", True),  # the prefix is reserved only with its period
        ("with space", False),
        ("ü", False),
    ],
)
def test_attribute_names_follow_sqs_rules(sqs: Any, standard: str, name: str, taken: bool) -> None:
    code = refused_code(sqs.send_message, QueueUrl=standard, MessageBody="x", MessageAttributes={name: string("v")})
    assert code == (None if taken else "InvalidParameterValue")


@pytest.mark.parametrize(
    ("attribute", "taken"),
    [
        ({"DataType": "String.tenant", "StringValue": "v"}, True),
        ({"DataType": "Number", "StringValue": "1"}, True),
        ({"DataType": "Binary", "BinaryValue": b"\x00"}, True),
        ({"DataType": "Text", "StringValue": "v"}, False),
        ({"DataType": "String", "StringValue": ""}, False),
        ({"DataType": "Binary", "StringValue": "v"}, False),
    ],
)
def test_attributes_need_a_known_type_and_a_value(sqs: Any, standard: str, attribute: Any, taken: bool) -> None:
    code = refused_code(sqs.send_message, QueueUrl=standard, MessageBody="x", MessageAttributes={"A": attribute})
    assert code == (None if taken else "InvalidParameterValue")


def test_an_empty_body_is_refused(sqs: Any, standard: str) -> None:
    assert refused_code(sqs.send_message, QueueUrl=standard, MessageBody="") == "MissingParameter"


def test_a_standard_queue_takes_a_group_a_fair_queue_but_never_a_deduplication_id(sqs: Any, standard: str) -> None:
    assert refused_code(sqs.send_message, QueueUrl=standard, MessageBody="x", MessageGroupId="tenant-a") is None
    code = refused_code(sqs.send_message, QueueUrl=standard, MessageBody="x", MessageDeduplicationId="d")
    assert code == "InvalidParameterValue"


def test_a_fifo_queue_needs_a_group_and_refuses_a_per_message_delay(sqs: Any, fifo: str) -> None:
    assert refused_code(sqs.send_message, QueueUrl=fifo, MessageBody="x") == "MissingParameter"
    assert refused_code(sqs.send_message, QueueUrl=fifo, MessageBody="x", MessageGroupId="g") is None
    delayed = {"QueueUrl": fifo, "MessageBody": "x", "MessageGroupId": "g", "DelaySeconds": 1}
    assert refused_code(sqs.send_message, **delayed) == "InvalidParameterValue"


@pytest.mark.parametrize("name", ["MessageGroupId", "MessageDeduplicationId"])
def test_group_and_deduplication_ids_take_at_most_128_of_alphanumerics_and_punctuation(
    sqs: Any, fifo: str, name: str
) -> None:
    base = {"QueueUrl": fifo, "MessageBody": "x", "MessageGroupId": "g"}
    assert refused_code(sqs.send_message, **{**base, name: "a" * 127 + "~"}) is None
    assert refused_code(sqs.send_message, **{**base, name: "a" * 129}) == "InvalidParameterValue"
    assert refused_code(sqs.send_message, **{**base, name: "a b"}) == "InvalidParameterValue"


# -- batches ------------------------------------------------------------------------------------------------------


def entries(count: int, body: str = "x") -> list[dict[str, Any]]:
    return [{"Id": f"e{index}", "MessageBody": body} for index in range(count)]


def test_a_batch_takes_one_to_ten_entries(sqs: Any, standard: str) -> None:
    assert refused_code(sqs.send_message_batch, QueueUrl=standard, Entries=entries(10)) is None
    assert (
        refused_code(sqs.send_message_batch, QueueUrl=standard, Entries=entries(11)) == "TooManyEntriesInBatchRequest"
    )
    assert refused_code(sqs.send_message_batch, QueueUrl=standard, Entries=[]) == "EmptyBatchRequest"


def test_batch_entry_ids_are_distinct_and_at_most_80_of_alphanumerics_dash_and_underscore(
    sqs: Any, standard: str
) -> None:
    same = [{"Id": "e", "MessageBody": "x"}, {"Id": "e", "MessageBody": "y"}]
    assert refused_code(sqs.send_message_batch, QueueUrl=standard, Entries=same) == "BatchEntryIdsNotDistinct"
    longest = [{"Id": "a-_" + "b" * 77, "MessageBody": "x"}]
    assert refused_code(sqs.send_message_batch, QueueUrl=standard, Entries=longest) is None
    for bad in ("b" * 81, "a.b"):
        code = refused_code(sqs.send_message_batch, QueueUrl=standard, Entries=[{"Id": bad, "MessageBody": "x"}])
        assert code == "InvalidBatchEntryId"


def test_a_batch_takes_one_mib_in_all_counted_as_sqs_counts(sqs: Any, standard: str) -> None:
    # Given two entries whose bodies and attributes together are exactly 1 MiB
    attributes = {"Name": string("v" * 10)}  # 20 bytes
    half = LIMIT // 2
    exact = [
        {"Id": "a", "MessageBody": "x" * (half - 20), "MessageAttributes": attributes},
        {"Id": "b", "MessageBody": "y" * half},
    ]
    assert refused_code(sqs.send_message_batch, QueueUrl=standard, Entries=exact) is None
    exact[1]["MessageBody"] += "y"
    assert refused_code(sqs.send_message_batch, QueueUrl=standard, Entries=exact) == "BatchRequestTooLong"


def test_an_entry_sqs_refuses_fails_alone_with_its_code_and_the_others_are_taken(sqs: Any, standard: str) -> None:
    batch = [*entries(2), {"Id": "dedup", "MessageBody": "x", "MessageDeduplicationId": "d"}]
    answer = sqs.send_message_batch(QueueUrl=standard, Entries=batch)
    assert sorted(ok["Id"] for ok in answer["Successful"]) == ["e0", "e1"]
    assert [(f["Id"], f["Code"], f["SenderFault"]) for f in answer["Failed"]] == [
        ("dedup", "InvalidParameterValue", True)
    ]


def test_a_batch_of_only_refused_entries_is_answered_without_reaching_moto(sqs: Any, fifo: str) -> None:
    answer = sqs.send_message_batch(QueueUrl=fifo, Entries=entries(2))
    assert answer["Successful"] == []
    assert [(f["Id"], f["Code"]) for f in answer["Failed"]] == [("e0", "MissingParameter"), ("e1", "MissingParameter")]
    assert sqs.get_queue_attributes(QueueUrl=fifo, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"] == {
        "ApproximateNumberOfMessages": "0"
    }


def test_a_refusal_is_the_modeled_exception_and_is_never_retried(sqs: Any, standard: str) -> None:
    with pytest.raises(sqs.exceptions.TooManyEntriesInBatchRequest) as raised:
        sqs.send_message_batch(QueueUrl=standard, Entries=entries(11))
    assert raised.value.response["ResponseMetadata"].get("RetryAttempts", 0) == 0


def test_the_operators_command_process_sends_through_the_rules_too() -> None:
    # Given the environment the sandbox runs the operator's command with
    import subprocess
    import sys

    from sandbox.operator_command import operator_environment

    hooks = "('before-parameter-build.sqs', 'before-call.sqs')"
    probe = f"import botocore.handlers as h; print(sum(e[0].startswith({hooks}) for e in h.BUILTIN_HANDLERS))"
    # When a Python process starts with it, importing nothing of the sandboxes
    child = subprocess.run(
        [sys.executable, "-c", probe],
        env=operator_environment("http://127.0.0.1:1"),
        capture_output=True,
        text=True,
        check=True,
        cwd="/",
    )
    # Then the strict layer's hooks are in every botocore session it makes
    assert child.stdout.strip() == "4"
