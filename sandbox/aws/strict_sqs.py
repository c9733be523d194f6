"""SQS's own send rules in front of moto, which is more lenient (CONTRACT section 10).

moto accepts a ``MessageDeduplicationId`` on a standard queue, counts only the body toward the 1 MiB limit and
takes attribute names SQS refuses. This layer is a botocore event hook on every client of the process: before
``SendMessage`` or ``SendMessageBatch`` leaves, it applies SQS's rules (the SQS API reference for both
operations) and, when one is broken, answers as SQS does, with SQS's own error code, so the caller sees the
modeled exception (``client.exceptions.BatchRequestTooLong``...) or, in a batch, the entry in ``Failed``.

- per message: ``MessageGroupId`` required on a FIFO queue (``MissingParameter``), allowed on a standard one
  (a fair queue); ``MessageDeduplicationId`` refused on a standard queue; both at most 128 characters of
  alphanumerics and punctuation; ``DelaySeconds`` refused on a FIFO queue; at most 10 message attributes;
  attribute names of at most 256 of ``A-Za-z0-9_-.``, no leading, trailing or double period, no ``AWS.`` or
  ``Amazon.`` prefix; a data type of String, Number or Binary (a custom suffix allowed) and a value; at most
  1,048,576 bytes counted as SQS counts: body plus each attribute's name, data type and value
  (``InvalidParameterValue`` for all of these);
- per batch: 1 to 10 entries (``EmptyBatchRequest``, ``TooManyEntriesInBatchRequest``), distinct IDs of at
  most 80 of ``A-Za-z0-9_-`` (``BatchEntryIdsNotDistinct``, ``InvalidBatchEntryId``), at most 1,048,576 bytes
  in all (``BatchRequestTooLong``).

The rules are written here from SQS's documentation, never taken from the worker's own code
(``domain/dead_letter.py`` counts sizes too): a double of SQS that shared the worker's arithmetic would agree
with any mistake in it. A queue is FIFO when its URL ends in ``.fifo``.

``install()`` registers the hook for every botocore session made afterwards in the process (``import sandbox``
does it, so the sandbox, the soak, the worker's processes and every test run with it); a process the sandbox
starts that does not import it (the operator's command) gets it from ``child_environment``; ``CHECKED`` counts
what it held against the rules in this process.
"""

from __future__ import annotations

import os
import re
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.handlers import BUILTIN_HANDLERS

MAX_MESSAGE_BYTES: Final = 1_048_576
MAX_ATTRIBUTES: Final = 10
MAX_ENTRIES: Final = 10
MAX_ATTRIBUTE_NAME: Final = 256
MAX_GROUP_OR_DEDUPLICATION_ID: Final = 128
MAX_ENTRY_ID: Final = 80

_ATTRIBUTE_NAME: Final = re.compile(r"[A-Za-z0-9_\-.]+")
_RESERVED_PREFIX: Final = re.compile(r"(aws|amazon)\.", re.IGNORECASE)
_DATA_TYPE: Final = re.compile(r"(String|Number|Binary)(\.[^\s]+)?")
_GROUP_OR_DEDUPLICATION_ID: Final = re.compile(r"[A-Za-z0-9!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]+")
_ENTRY_ID: Final = re.compile(r"[A-Za-z0-9_\-]+")
_REFUSAL: Final = "strict_sqs_refusal"  # where the request context carries a refusal to the before-call hook
_ENTRY_FAILURES: Final = "strict_sqs_entry_failures"  # a batch's entries refused, to add to its answer
_ALL_REFUSED: Final = "strict_sqs_all_refused"  # every entry of the batch was refused: moto is not called

# What the layer held against SQS's rules in this process: calls, messages, and refusals by error code.
CHECKED: Counter[str] = Counter()
_lock = threading.Lock()


class Refused(Exception):
    """A send SQS would refuse: its error code and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def is_fifo(queue_url: str) -> bool:
    return queue_url.endswith(".fifo")


def _size(value: str | bytes) -> int:
    return len(value.encode("utf-8", "surrogatepass")) if isinstance(value, str) else len(value)


def message_size(message: Mapping[str, Any]) -> int:
    """The bytes SQS counts for a message: its body, and each attribute's name, data type and value."""
    size = _size(message.get("MessageBody", ""))
    for name, attribute in (message.get("MessageAttributes") or {}).items():
        value = attribute.get("StringValue", attribute.get("BinaryValue", b""))
        size += _size(name) + _size(attribute.get("DataType", "")) + _size(value)
    return size


def _invalid(message: str) -> Refused:
    return Refused("InvalidParameterValue", message)


def _check_id(name: str, value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise _invalid(f"Value for parameter {name} is invalid. Reason: must not be empty.")
    if len(value) > MAX_GROUP_OR_DEDUPLICATION_ID or not _GROUP_OR_DEDUPLICATION_ID.fullmatch(value):
        raise _invalid(f"Value for parameter {name} is invalid. Reason: at most 128 alphanumerics and punctuation.")


def _check_attribute(name: Any, attribute: Mapping[str, Any]) -> None:
    if (
        not isinstance(name, str)
        or not 0 < len(name) <= MAX_ATTRIBUTE_NAME
        or not _ATTRIBUTE_NAME.fullmatch(name)
        or name.startswith(".")
        or name.endswith(".")
        or ".." in name
        or _RESERVED_PREFIX.match(name)
    ):
        raise _invalid("Message attribute name is invalid.")
    data_type = attribute.get("DataType")
    if not isinstance(data_type, str) or len(data_type) > MAX_ATTRIBUTE_NAME or not _DATA_TYPE.fullmatch(data_type):
        raise _invalid(f"The type of message attribute '{name}' is invalid.")
    value_key = "BinaryValue" if data_type.startswith("Binary") else "StringValue"
    if not attribute.get(value_key):
        raise _invalid(f"Message attribute '{name}' must contain a non-empty value of type '{data_type}'.")


def check_message(queue_url: str, message: Mapping[str, Any]) -> None:
    """Raise ``Refused`` when SQS would refuse ``message`` (``SendMessage`` or one batch entry) on the queue."""
    body = message.get("MessageBody")
    if not isinstance(body, str) or not body:
        raise Refused("MissingParameter", "The request must contain the parameter MessageBody.")
    if is_fifo(queue_url):
        if "MessageGroupId" not in message:
            raise Refused("MissingParameter", "The request must contain the parameter MessageGroupId.")
        if "DelaySeconds" in message:
            raise _invalid("Value for parameter DelaySeconds is invalid. Reason: not valid for a FIFO queue.")
    elif "MessageDeduplicationId" in message:
        raise _invalid(
            "Value for parameter MessageDeduplicationId is invalid. "
            "Reason: The request includes a parameter that is not valid for this queue type."
        )
    for name in ("MessageGroupId", "MessageDeduplicationId"):
        if name in message:
            _check_id(name, message[name])
    attributes = message.get("MessageAttributes") or {}
    if len(attributes) > MAX_ATTRIBUTES:
        raise _invalid(f"Number of message attributes [{len(attributes)}] exceeds the allowed maximum [10].")
    for name, attribute in attributes.items():
        _check_attribute(name, attribute)
    if message_size(message) > MAX_MESSAGE_BYTES:
        raise _invalid(
            f"One or more parameters are invalid. Reason: Message must be shorter than {MAX_MESSAGE_BYTES} bytes."
        )


def check_batch(queue_url: str, entries: Sequence[Mapping[str, Any]]) -> dict[str, Refused]:
    """Raise ``Refused`` for a batch SQS refuses whole; else the entries it would fail, by entry ID."""
    if not entries:
        raise Refused("EmptyBatchRequest", "There should be at least one SendMessageBatchRequestEntry in the request.")
    if len(entries) > MAX_ENTRIES:
        raise Refused("TooManyEntriesInBatchRequest", f"Maximum number of entries per request are {MAX_ENTRIES}.")
    ids = [entry.get("Id") for entry in entries]
    for entry_id in ids:
        if not isinstance(entry_id, str) or len(entry_id) > MAX_ENTRY_ID or not _ENTRY_ID.fullmatch(entry_id):
            raise Refused("InvalidBatchEntryId", "A batch entry id can only contain alphanumerics, - and _.")
    if len(set(ids)) != len(ids):
        raise Refused("BatchEntryIdsNotDistinct", "Two or more batch entries in the request have the same Id.")
    if sum(message_size(entry) for entry in entries) > MAX_MESSAGE_BYTES:
        raise Refused("BatchRequestTooLong", f"Batch requests cannot be longer than {MAX_MESSAGE_BYTES} bytes in all.")
    failures: dict[str, Refused] = {}
    for entry in entries:
        try:
            check_message(queue_url, entry)
        except Refused as refused:
            failures[str(entry["Id"])] = refused
    return failures


# -- the botocore hooks ------------------------------------------------------------------------------------------


def _count(**counts: int) -> None:
    with _lock:
        CHECKED.update(counts)


def _check_send_message(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    _count(calls=1, messages=1)
    try:
        check_message(str(params.get("QueueUrl", "")), params)
    except Refused as refused:
        _count(**{f"refused {refused.code}": 1})
        context[_REFUSAL] = refused


def _check_send_message_batch(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    entries = list(params.get("Entries") or [])
    _count(calls=1, messages=len(entries))
    try:
        failures = check_batch(str(params.get("QueueUrl", "")), entries)
    except Refused as refused:
        _count(**{f"refused {refused.code}": 1})
        context[_REFUSAL] = refused
        return
    for failure in failures.values():
        _count(**{f"refused {failure.code}": 1})
    if failures:
        context[_ENTRY_FAILURES] = failures
        context[_ALL_REFUSED] = len(failures) == len(entries)
        params["Entries"] = [entry for entry in entries if entry["Id"] not in failures] or entries[:1]


def _failed_entries(failures: Mapping[str, Refused]) -> list[dict[str, Any]]:
    return [
        {"Id": entry_id, "SenderFault": True, "Code": refused.code, "Message": refused.message}
        for entry_id, refused in failures.items()
    ]


def _answer_instead(context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
    """SQS's answer to a refused send, in place of moto's; ``None`` lets the call go on."""
    refused: Refused | None = context.get(_REFUSAL)
    if refused is not None:
        error = {"Code": refused.code, "Message": refused.message, "Type": "Sender"}
        return AWSResponse("", 400, HTTPHeaders(), None), {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}
    failures: Mapping[str, Refused] | None = context.get(_ENTRY_FAILURES)
    if failures is not None and context.get(_ALL_REFUSED):
        return AWSResponse("", 200, HTTPHeaders(), None), {"Successful": [], "Failed": _failed_entries(failures)}
    return None


def _add_entry_failures(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    failures: Mapping[str, Refused] | None = context.get(_ENTRY_FAILURES)
    if failures and not context.get(_ALL_REFUSED):
        parsed.setdefault("Failed", []).extend(_failed_entries(failures))


_HOOKS: Final = (
    ("before-parameter-build.sqs.SendMessage", _check_send_message),
    ("before-parameter-build.sqs.SendMessageBatch", _check_send_message_batch),
    ("before-call.sqs.SendMessage", _answer_instead),
    ("before-call.sqs.SendMessageBatch", _answer_instead),
    ("after-call.sqs.SendMessageBatch", _add_entry_failures),
)


def install() -> None:
    """Apply the rules to every botocore session made from now on in this process (idempotent)."""
    for hook in _HOOKS:
        if hook not in BUILTIN_HANDLERS:
            BUILTIN_HANDLERS.append(hook)


def register(events: Any) -> None:
    """Apply the rules to one client's or session's event system (one made before ``install``)."""
    for name, handler in _HOOKS:
        events.register(name, handler, unique_id=f"strict-sqs-{name}-{handler.__name__}")


_SITE: Final = Path(__file__).with_name("strict_site")  # its sitecustomize.py imports the sandbox
_ROOT: Final = Path(__file__).resolve().parents[2]  # the folder that holds the sandbox package


def child_environment(environment: Mapping[str, str]) -> dict[str, str]:
    """``environment`` for a child Python process that must send through the rules too: ``strict_site`` (whose
    ``sitecustomize`` Python runs at start-up) and the sandbox's root first on ``PYTHONPATH``."""
    paths = [str(_SITE), str(_ROOT), environment.get("PYTHONPATH", "")]
    return {**environment, "PYTHONPATH": os.pathsep.join(path for path in paths if path)}
