"""OpenTelemetry spans around the worker's ports: one per payments API call, ``PutEvents`` and dead-letter send.

Imported only when tracing is on (``handlers.tracing``). Each span is a child of the Lambda invocation's trace
(``_X_AMZN_TRACE_ID``, read by the X-Ray Lambda propagator when the span starts, in whichever thread makes the
call), its IDs are X-Ray's (``AwsXRayIdGenerator``), and it links the trace of each record it serves when SQS
gave one (``AWSTraceHeader``). Attributes name the records (message IDs, client tokens), the outcome and the
error codes; never a body, a request field or a ``userId``. Spans end and leave at once (a simple processor:
Lambda freezes the process between invocations, so nothing waits in a buffer).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Final

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.propagators.aws import AwsXRayLambdaPropagator, AwsXRayPropagator
from opentelemetry.propagators.aws.aws_xray_propagator import TRACE_HEADER_KEY
from opentelemetry.sdk.extension.aws.trace import AwsXRayIdGenerator
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode

from domain.dead_letter import DeadLetter, LetterAttribute
from domain.errors import ApiError, Reach
from domain.events import EventEntry
from domain.ports import CREATE_PAYMENT_SESSION, GET_PAYMENT_SESSION, DeadLetterSender, EventPublisher, PaymentsApi
from handlers.observability import SERVICE
from service.record_scope import current_record

# The attributes every span may carry, and nothing else of a record.
MESSAGE_ID: Final = "messaging.message.id"
MESSAGE_IDS: Final = "payment_worker.message_ids"
CLIENT_TOKEN: Final = "payment_worker.client_token"
CLIENT_TOKENS: Final = "payment_worker.client_tokens"
OUTCOME: Final = "payment_worker.outcome"
ERROR_CODE: Final = "payment_worker.error_code"
ERROR_CODES: Final = "payment_worker.error_codes"
FAILURES: Final = "payment_worker.failure_reasons"
ENTRIES: Final = "messaging.batch.message_count"

# Span outcomes.
CREATED: Final = "created"
FOUND: Final = "found"  # GetPaymentSession answered with the session
API_ERROR: Final = "api_error"
UNAVAILABLE: Final = "unavailable"
SENT: Final = "sent"
FAILED: Final = "failed"


def _rpc(service: str, method: str) -> dict[str, str]:
    return {"rpc.system": "aws-api", "rpc.service": service, "rpc.method": method}


class PortSpans:
    """A tracer of our own (no global provider), the propagators, and the wrappers it puts around the ports."""

    def __init__(self, provider: TracerProvider) -> None:
        self._provider = provider
        self._tracer = provider.get_tracer(SERVICE)
        self._lambda = AwsXRayLambdaPropagator()
        self._xray = AwsXRayPropagator()

    @classmethod
    def exporting_to(cls, exporter: SpanExporter) -> PortSpans:
        provider = TracerProvider(
            id_generator=AwsXRayIdGenerator(),
            resource=Resource.create({"service.name": SERVICE, "cloud.provider": "aws"}),
        )
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        return cls(provider)

    def shutdown(self) -> None:
        self._provider.shutdown()

    def invocation(self) -> Context:
        """The Lambda invocation's trace context: ``_X_AMZN_TRACE_ID`` as it is now."""
        return self._lambda.extract({})

    def link(self, trace_header: str | None) -> Link | None:
        """A link to the trace of a record's ``AWSTraceHeader``, or ``None`` when it names none."""
        if not trace_header:
            return None
        context = trace.get_current_span(self._xray.extract({TRACE_HEADER_KEY: trace_header})).get_span_context()
        return Link(context) if context.is_valid else None

    @contextmanager
    def span(
        self, name: str, attributes: Mapping[str, Any], trace_headers: Sequence[str | None] = ()
    ) -> Iterator[Span]:
        """A client span under the invocation, linked to the given records' traces; ends when the block does."""
        links = [link for header in dict.fromkeys(trace_headers) if (link := self.link(header)) is not None]
        with self._tracer.start_as_current_span(
            name,
            context=self.invocation(),
            kind=SpanKind.CLIENT,
            attributes=dict(attributes),
            links=links,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            yield span

    def wrap_api(self, api: PaymentsApi) -> PaymentsApi:
        return TracedPaymentsApi(api, self)

    def wrap_publisher(self, publisher: EventPublisher) -> EventPublisher:
        return TracedPublisher(publisher, self)

    def wrap_dead_letters(self, sender: DeadLetterSender) -> DeadLetterSender:
        return TracedDeadLetters(sender, self)


def _batch_outcome(span: Span, answers: Sequence[str | None]) -> None:
    reasons = sorted({why for why in answers if why is not None})
    span.set_attribute(OUTCOME, FAILED if reasons else SENT)
    if reasons:
        span.set_attribute(FAILURES, reasons)
        span.set_status(Status(StatusCode.ERROR, f"{sum(why is not None for why in answers)} entries not taken"))


class TracedPaymentsApi:
    """Each payments call in a span: the record's message ID and trace, the token, outcome, error code."""

    def __init__(self, api: PaymentsApi, spans: PortSpans) -> None:
        self._api = api
        self._spans = spans

    def create_payment_session(self, params: Mapping[str, Any], *, deadline: float) -> Mapping[str, Any]:
        return self._traced(CREATE_PAYMENT_SESSION, self._api.create_payment_session, params, deadline, CREATED)

    def get_payment_session(self, params: Mapping[str, Any], *, deadline: float) -> Mapping[str, Any]:
        return self._traced(GET_PAYMENT_SESSION, self._api.get_payment_session, params, deadline, FOUND)

    def _traced(
        self,
        operation: str,
        call: Callable[..., Mapping[str, Any]],
        params: Mapping[str, Any],
        deadline: float,
        answered: str,
    ) -> Mapping[str, Any]:
        record = current_record()
        attributes: dict[str, Any] = {**_rpc("BedrockAgentCore", operation)}
        if isinstance(params.get("clientToken"), str):
            attributes[CLIENT_TOKEN] = params["clientToken"]
        if record is not None:
            attributes[MESSAGE_ID] = record.message_id
        headers = [record.trace_header] if record is not None else []
        with self._spans.span(f"BedrockAgentCore.{operation}", attributes, headers) as span:
            try:
                session = call(params, deadline=deadline)
            except ApiError as error:
                span.set_attribute(OUTCOME, API_ERROR if error.reach is Reach.ANSWERED else UNAVAILABLE)
                span.set_attribute(ERROR_CODE, str(error.code))
                span.set_status(Status(StatusCode.ERROR, str(error.code)))
                raise
            span.set_attribute(OUTCOME, answered)
            return session


class TracedPublisher:
    """``PutEvents`` in a span: the events' message IDs, tokens, error codes and records' traces; the outcome."""

    def __init__(self, publisher: EventPublisher, spans: PortSpans) -> None:
        self._publisher = publisher
        self._spans = spans

    def publish(self, entries: Sequence[EventEntry], *, deadline: float) -> list[str | None]:
        details = [entry.detail for entry in entries]
        attributes: dict[str, Any] = {
            **_rpc("EventBridge", "PutEvents"),
            ENTRIES: len(entries),
            MESSAGE_IDS: [str(detail.get("messageId", "")) for detail in details],
            CLIENT_TOKENS: [str(detail.get("clientToken", "")) for detail in details],
        }
        codes = sorted({str(detail["error"]["code"]) for detail in details if isinstance(detail.get("error"), dict)})
        if codes:
            attributes[ERROR_CODES] = codes
        with self._spans.span("EventBridge.PutEvents", attributes, [e.trace_header for e in entries]) as span:
            answers = self._publisher.publish(entries, deadline=deadline)
            _batch_outcome(span, answers)
            return answers


class TracedDeadLetters:
    """The dead-letter send in a span: the letters' source message IDs, tokens and error codes; the outcome."""

    def __init__(self, sender: DeadLetterSender, spans: PortSpans) -> None:
        self._sender = sender
        self._spans = spans

    @staticmethod
    def _attribute(letter: DeadLetter, name: LetterAttribute) -> str | None:
        value = letter.attributes.get(name, {}).get("StringValue")
        return value if isinstance(value, str) else None

    def send(self, letters: Sequence[DeadLetter], *, deadline: float) -> list[str | None]:
        attributes: dict[str, Any] = {
            **_rpc("SQS", "SendMessageBatch"),
            ENTRIES: len(letters),
            MESSAGE_IDS: [letter.message_id for letter in letters],
            CLIENT_TOKENS: [self._attribute(letter, LetterAttribute.CLIENT_TOKEN) or "" for letter in letters],
            ERROR_CODES: sorted({self._attribute(letter, LetterAttribute.ERROR_CODE) or "" for letter in letters}),
        }
        with self._spans.span("SQS.SendMessageBatch", attributes) as span:
            answers = self._sender.send(letters, deadline=deadline)
            _batch_outcome(span, answers)
            return answers
