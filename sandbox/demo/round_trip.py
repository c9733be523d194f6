"""The demo's last part: the dead-letter round trip (CONTRACT sections 2, 3 and 8).

During the main run one request has its ``PutEvents`` refused on every receive (:func:`refuse_events_of`: a
:class:`~sandbox.aws.refusals.RefusingPublisher` around the worker's own publisher): the API creates its session on
the first receive, each later receive gets the same session back (same ``clientToken``), and the last one
dead-letters it with ``PaymentSessionId`` and announces no failure. After the run the faults are lifted and the
operator's command, ``payment-session-worker dlq redrive``, runs in a subprocess against the sandbox's endpoint,
as an operator would run it; :func:`redrive_round_trip` then waits for the redriven requests and compares, for
each, the ``clientToken`` and ``paymentSessionId`` of its dead letter with those of the event after the
redrive, and the sessions the fake API holds for the token.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import IO, Any, Final

from sandbox.aws.refusals import RefusingPublisher
from sandbox.aws.server import client
from sandbox.aws.sqs import QueueMessage
from sandbox.demo.tables import print_table
from sandbox.local_cloud import Sandbox
from sandbox.operator_command import printed_command, run_command
from sandbox.worker_code import (
    EventEntry,
    EventPublisher,
    aws_ports,
    build_dependencies,
    load_settings,
    use_dependencies,
)

REFUSED: Final = "PutEvents entry refused (scripted by the demo)"
COMMAND_TIMEOUT_SECONDS: Final = 120.0


def _correlation_id(entry: EventEntry) -> str | None:
    correlation_id = entry.detail.get("correlationId")
    return correlation_id if isinstance(correlation_id, str) else None


def refusing_events_of(inner: EventPublisher, correlation_ids: Collection[str]) -> RefusingPublisher:
    """``inner``, refusing the events of the requests of ``correlation_ids`` (by ``correlationId``) until its
    refusals are lifted."""
    publisher = RefusingPublisher(inner, _correlation_id, refusal=REFUSED)
    for correlation_id in correlation_ids:
        publisher.refusals.script(correlation_id, None)
    return publisher


def refuse_events_of(correlation_ids: Collection[str]) -> RefusingPublisher:
    """Wire the worker with its publisher in :func:`refusing_events_of` (call once the event source has started)."""
    settings = load_settings()
    aws = aws_ports(settings)
    publisher = refusing_events_of(aws.publisher, correlation_ids)
    use_dependencies(build_dependencies(settings, replace(aws, publisher=publisher)))
    return publisher


# ---------------------------------------------------------------------------------------------------------
# The operator's command
# ---------------------------------------------------------------------------------------------------------


def redrive_arguments(dlq_url: str, queue_url: str, error_codes: Sequence[str]) -> list[str]:
    codes = [part for code in error_codes for part in ("--error-code", code)]
    return ["dlq", "redrive", "--dlq-url", dlq_url, "--queue-url", queue_url, *codes]


# ---------------------------------------------------------------------------------------------------------
# The round trip
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RoundTrip:
    """One redriven request: its dead letter, and the event after the redrive (``None``: none came)."""

    name: str
    error_code: str
    message_id_before: str  # the request's message ID (the dead letter's SourceMessageId)
    token_before: str | None  # the dead letter's ClientToken
    session_before: str | None  # the dead letter's PaymentSessionId (the API created the session)
    message_id_after: str | None = None
    token_after: str | None = None
    session_after: str | None = None
    sessions_for_token: int = 0  # sessions the fake API holds for the token, after the redrive

    @property
    def same_token(self) -> bool:
        return self.token_before is not None and self.token_before == self.token_after

    @property
    def same_session(self) -> bool:
        """The event's session is the dead letter's (when it named one) and the only one for the token."""
        known = self.session_before is None or self.session_before == self.session_after
        return self.session_after is not None and known and self.sessions_for_token == 1

    @property
    def ok(self) -> bool:
        return self.same_token and self.same_session


def _sessions_by_token(snapshot: Mapping[str, Any]) -> dict[str, list[str]]:
    sessions: dict[str, list[str]] = {}
    for session in snapshot["sessions"]:
        sessions.setdefault(str(session["client_token"]), []).append(str(session["payment_session_id"]))
    return sessions


def _queue_url(sandbox: Sandbox, name: str) -> str:
    """The URL moto answers ``GetQueueUrl`` with (what an operator copies from the console or the CLI)."""
    sqs = client("sqs", sandbox.aws_endpoint, sandbox.stack.region)
    url: str = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    return url


def redrive_round_trip(
    sandbox: Sandbox,
    *,
    error_codes: Sequence[str],
    names: Mapping[str, str],
    timeout: float,
    out: IO[str],
) -> list[RoundTrip]:
    """Redrive the DLQ's letters of ``error_codes`` with the operator's command; wait for them; print the table.

    Call it with the faults lifted and the DLQ's letters visible (``sandbox.dead_letters.release()``).
    """
    letters = [m for m in sandbox.dead_letters.messages if m.error_code in error_codes]
    before_api = sandbox.payments_api.snapshot()
    trips = {
        letter.message_attributes.get("ClientToken") or letter.message_id: _before(letter, names) for letter in letters
    }
    sandbox.tap.read()
    seen_events = len(sandbox.tap.events)

    stack = sandbox.stack
    arguments = redrive_arguments(
        _queue_url(sandbox, stack.dead_letter_queue.name), _queue_url(sandbox, stack.request_queue.name), error_codes
    )
    out.write(f"\n$ {printed_command(arguments, endpoint_url=sandbox.aws_endpoint, region=stack.region)}\n")
    out.flush()
    done = run_command(
        arguments, endpoint_url=sandbox.aws_endpoint, region=stack.region, timeout=COMMAND_TIMEOUT_SECONDS
    )
    for line in (done.stdout + done.stderr).splitlines():
        out.write(f"  | {line}\n".rstrip() + "\n")
    out.write(f"  (exit status {done.returncode})\n")

    after = _await_events(sandbox, set(trips), seen_events, timeout)
    sessions = _sessions_by_token(sandbox.payments_api.snapshot())
    results = []
    for token, trip in trips.items():
        event = after.get(token)
        detail: Mapping[str, Any] = (event or {}).get("detail") or {}
        results.append(
            replace(
                trip,
                message_id_after=detail.get("messageId"),
                token_after=detail.get("clientToken"),
                session_after=(detail.get("paymentSession") or {}).get("paymentSessionId"),
                sessions_for_token=len(sessions.get(token, [])),
            )
        )
    _print(results, _sessions_by_token(before_api), out)
    return results


def _before(letter: QueueMessage, names: Mapping[str, str]) -> RoundTrip:
    source = letter.source_message_id
    return RoundTrip(
        name=names.get(source, source),
        error_code=letter.error_code or "(none)",
        message_id_before=source,
        token_before=letter.message_attributes.get("ClientToken"),
        session_before=letter.message_attributes.get("PaymentSessionId"),
    )


def _await_events(sandbox: Sandbox, tokens: set[str], seen_events: int, timeout: float) -> dict[str, Mapping[str, Any]]:
    """The first ``PaymentSessionCreated`` after the redrive for each token (polled until all came or ``timeout``)."""
    deadline = time.monotonic() + timeout
    found: dict[str, Mapping[str, Any]] = {}
    while True:
        sandbox.tap.read()
        for event in sandbox.tap.events[seen_events:]:
            token = (event.get("detail") or {}).get("clientToken")
            if event.get("detail-type") == "PaymentSessionCreated" and token in tokens:
                found.setdefault(token, event)
        if set(found) >= tokens or time.monotonic() >= deadline:
            return found
        time.sleep(0.2)


def _print(results: Sequence[RoundTrip], sessions_before: Mapping[str, Sequence[str]], out: IO[str]) -> None:
    rows: list[list[str]] = []
    for trip in results:
        token = trip.token_before or "-"
        rows.append(
            [
                trip.name,
                trip.error_code,
                "dead letter",
                trip.message_id_before,
                token,
                trip.session_before or "-",
                str(len(sessions_before.get(token, []))),
                "",
            ]
        )
        verdict = f"{'yes' if trip.same_token else 'NO'} / {'yes' if trip.same_session else 'NO'}"
        rows.append(
            [
                "",
                "",
                "redriven",
                trip.message_id_after or "(no event)",
                trip.token_after or "-",
                trip.session_after or "-",
                str(trip.sessions_for_token),
                verdict,
            ]
        )
    headers = [
        "request",
        "ErrorCode",
        "",
        "messageId",
        "clientToken",
        "paymentSessionId",
        "API sessions",
        "same token / session",
    ]
    print_table(out, headers, rows, title=f"Round trip: {len(results)} redriven requests, before and after")
