"""The request samples under ``events/``, and what became of each request the demo sent (its fate)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from sandbox.aws.sqs import OutgoingMessage, QueueMessage, messages_from_event
from sandbox.aws.stack import ROOT
from sandbox.lambda_.event_source import Invocation

EVENTS_DIR: Final = ROOT / "events"
NOT_SAMPLES: Final = frozenset({"env.json"})


@dataclass(frozen=True, slots=True)
class Sample:
    """One record of a sample event under ``events/``."""

    file: str
    index: int
    message: OutgoingMessage
    label: str
    client_token: str | None

    @property
    def name(self) -> str:
        return f"{self.file} #{self.index + 1}"


def _request_of(body: str) -> Any:
    """The request inside a body, through the SNS and EventBridge envelopes; None when not JSON."""
    try:
        document = json.loads(body)
    except ValueError:
        return None
    if (
        isinstance(document, dict)
        and document.get("Type") == "Notification"
        and isinstance(document.get("Message"), str)
    ):
        return _request_of(document["Message"])
    if isinstance(document, dict) and "detail" in document and "detail-type" in document:
        return document["detail"]
    return document


def _label(body: str) -> tuple[str, str | None]:
    request = _request_of(body)
    if request is None:
        return "body is not JSON", None
    if not isinstance(request, dict):
        return "body is not an object", None
    token = request.get("clientToken") if isinstance(request.get("clientToken"), str) else None
    unknown = sorted(
        set(request)
        - {"expiryTimeInMinutes", "paymentManagerArn", "userId", "agentName", "limits", "clientToken", "correlationId"}
    )
    if unknown:
        return f"unknown field {', '.join(unknown)}", token
    correlation = request.get("correlationId")
    return (f"correlationId {correlation}" if correlation else "no correlationId"), token


def load_samples(events_dir: Path = EVENTS_DIR) -> list[Sample]:
    """Every record of every Lambda SQS event under ``events_dir`` (``env.json`` is not one)."""
    samples: list[Sample] = []
    for path in sorted(events_dir.glob("*.json")):
        if path.name in NOT_SAMPLES:
            continue
        document = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(document, dict) or not isinstance(document.get("Records"), list):
            continue
        for index, message in enumerate(messages_from_event(document)):
            label, token = _label(message.body)
            samples.append(Sample(path.name, index, message, label, token))
    return samples


@dataclass(slots=True)
class Fate:
    """What became of one request, from what subscribers, the DLQ and the event source saw."""

    message_id: str
    receives: int = 0
    handed_back: int = 0
    outcome: str | None = None  # created | failed | dead-lettered
    error_code: str | None = None
    session_id: str | None = None
    retryable_failure_announced: bool = False

    @property
    def path(self) -> str:
        """``created``, ``retried x2 -> created``, ``dead-lettered``, or ``in flight``."""
        final = self.outcome or "in flight"
        return f"retried x{self.handed_back} -> {final}" if self.handed_back else final


def account(
    message_ids: Iterable[str],
    invocations: Iterable[Invocation],
    events: Iterable[Mapping[str, Any]],
    dead_letters: Iterable[QueueMessage],
) -> dict[str, Fate]:
    """Each request's fate: receives and hand-backs from the event source, outcome from events and the DLQ."""
    fates = {message_id: Fate(message_id) for message_id in message_ids}
    for invocation in invocations:
        handed_back = set(invocation.handed_back)
        for message_id, count in zip(invocation.message_ids, invocation.receive_counts, strict=True):
            fate = fates.get(message_id)
            if fate is None:
                continue
            fate.receives = max(fate.receives, count)
            fate.handed_back += message_id in handed_back
    for event in events:
        detail = event.get("detail") or {}
        fate = fates.get(str(detail.get("messageId")))
        if fate is None:
            continue
        if event.get("detail-type") == "PaymentSessionCreated":
            fate.outcome, fate.error_code = "created", None
            fate.session_id = (detail.get("paymentSession") or {}).get("paymentSessionId")
        elif (detail.get("error") or {}).get("retryable"):
            fate.retryable_failure_announced = True
        elif fate.outcome is None:
            fate.outcome, fate.error_code = "failed", (detail.get("error") or {}).get("code")
    for letter in dead_letters:
        fate = fates.get(letter.source_message_id)
        if fate is not None:
            fate.outcome = "dead-lettered"
            fate.error_code = letter.error_code or "(moved by the redrive policy)"
    return fates
