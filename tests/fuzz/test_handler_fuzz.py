"""Fuzzing the real handler: valid, near-valid and hostile records, envelopes and attributes, under faults.

Every generated body carries what the generator knows of it (``tests/fuzz/bodies.py``). The properties are
those of CONTRACT section 3: the handler never raises; each record ends in exactly one of handed back /
dead-lettered / deleted after its event; a record on its last receive is never handed back while the DLQ
works; poison is dead-lettered with its code and never reaches the API.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Final

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import MAX_ERROR_MESSAGE_CHARS, PoisonCode
from domain.tokens import first_delivery_token, poison_token
from handlers.create_payment_session import lambda_handler
from sandbox.lambda_.context import LambdaContext
from sandbox.soak import NO_FAULTS, CallFaults
from tests.fuzz.bodies import Kind, Payload, invalid_tokens, is_sqs_text, payloads, sqs_text, unique, valid_tokens
from tests.fuzz.conftest import FUZZ_SETTINGS, MAX_RECEIVE_COUNT, FuzzEnvironment
from tests.support import sqs_record

POISON_CODES: Final = frozenset(code.value for code in PoisonCode)


# -- records -----------------------------------------------------------------------------------------------------


def _string_attribute(value: str, data_type: str = "String") -> dict[str, Any]:
    return {"stringValue": value, "stringListValues": [], "binaryListValues": [], "dataType": data_type}


def _binary_attribute(value: bytes) -> dict[str, Any]:
    return {
        "binaryValue": base64.b64encode(value).decode(),
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "Binary",
    }


attribute_values = st.one_of(
    st.builds(_string_attribute, sqs_text),
    st.builds(lambda n: _string_attribute(str(n), "Number"), st.integers(-(10**20), 10**20)),
    st.builds(_binary_attribute, st.binary(min_size=1, max_size=40)),
    st.builds(lambda v: _string_attribute(v, "String.custom"), sqs_text),
)
attribute_names = st.one_of(
    st.from_regex(r"[A-Za-z0-9_-]{1,24}", fullmatch=True).filter(lambda n: n != "ClientToken"),
    st.sampled_from(["ErrorCode", "ErrorMessage", "SourceMessageId", "SourceQueueArn", "traceparent"]),
)


@dataclass(frozen=True)
class Token:
    """The ``ClientToken`` message attribute of a record: absent, valid, invalid, or binary (ignored)."""

    how: str
    value: str | None = None

    def attribute(self) -> dict[str, Any] | None:
        if self.how == "binary":
            return _binary_attribute(b"not a string attribute")
        return None if self.value is None else _string_attribute(self.value)


token_attributes = st.one_of(
    st.just(Token("absent")),
    st.builds(lambda t: Token("valid", t), valid_tokens),
    st.builds(lambda t: Token("invalid", t), invalid_tokens),
    st.just(Token("binary")),
)


@dataclass
class Case:
    """One generated record and what the generator knows of it."""

    record: dict[str, Any]
    payload: Payload
    token_attribute: Token
    kind: Kind = field(init=False)
    expected_token: str | None = field(init=False)  # the token the API call carries (None if unknown)
    fallback_token: str = field(init=False)  # the token a call without a body token carries
    letter_token: str | None = field(init=False)  # the token a poison record's DLQ copy carries (as written)

    def __post_init__(self) -> None:
        message_id = self.message_id
        attribute = self.token_attribute
        self.fallback_token = (
            attribute.value
            if attribute.how == "valid" and attribute.value
            else first_delivery_token(self.payload.text, message_id).value
        )
        written = attribute.value if attribute.how in ("valid", "invalid") else None
        self.letter_token = poison_token(self.payload.text, written, message_id)
        self.kind = self.payload.kind
        self.expected_token = None
        if self.kind is Kind.VALID:
            if self.payload.body_token is not None:
                self.expected_token = self.payload.body_token
            elif attribute.how == "invalid":
                self.kind = Kind.POISON  # a malformed ClientToken attribute is never replaced
            else:
                self.expected_token = self.fallback_token

    @property
    def message_id(self) -> str:
        return str(self.record["messageId"])

    @property
    def receive_count(self) -> int:
        return int(self.record["attributes"]["ApproximateReceiveCount"])

    def candidate_tokens(self) -> set[str]:
        """Every token this record's API call could carry."""
        found = {self.fallback_token}
        if self.payload.body_token is not None:
            found.add(self.payload.body_token)
        return found


# SQS takes at most 1 MiB per message, body and attributes together, and the worker's DLQ copy adds up to
# ~1.5 kB of attributes: a body closer to the limit cannot be copied (docs/RELIABILITY.md), nor generated here.
MAX_BODY_BYTES: Final = 1_000_000


def _fits_in_sqs(payload: Payload) -> bool:
    return len(payload.text.encode("utf-8", "surrogatepass")) <= MAX_BODY_BYTES


@st.composite
def cases(draw: st.DrawFn) -> Case:
    payload = draw(payloads.filter(_fits_in_sqs))
    token = draw(token_attributes)
    extra = draw(st.dictionaries(attribute_names, attribute_values, max_size=12))
    attributes = dict(extra)
    if (own := token.attribute()) is not None:
        attributes["ClientToken"] = own
    record = sqs_record(
        payload.text,
        message_id=str(uuid.uuid4()),
        receive_count=draw(st.integers(1, MAX_RECEIVE_COUNT + 2)),
        message_attributes=attributes,
        trace_header=draw(st.sampled_from([None, "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"])),
    )
    return Case(record, payload, token)


batches = st.lists(cases(), min_size=1, max_size=10)

# -- faults --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Faults:
    api: str = "healthy"
    publisher: CallFaults = NO_FAULTS
    dead_letters: CallFaults = NO_FAULTS

    @property
    def dead_letter_queue_works(self) -> bool:
        return self.dead_letters == NO_FAULTS

    @property
    def publisher_works(self) -> bool:
        return self.publisher == NO_FAULTS


API_ERRORS: Final = {"throttled": "ThrottlingException", "5xx": "InternalServerException", "final": "ConflictException"}

faults = st.builds(
    Faults,
    api=st.sampled_from(["healthy"] * 4 + ["throttled", "5xx", "final", "random"]),
    publisher=st.sampled_from(
        [NO_FAULTS] * 4 + [CallFaults(fail_call=1.0), CallFaults(fail_entry=0.5), CallFaults(lose_answer=1.0)]
    ),
    dead_letters=st.sampled_from([NO_FAULTS] * 4 + [CallFaults(fail_call=1.0), CallFaults(fail_entry=0.5)]),
)


def inject(environment: FuzzEnvironment, chosen: Faults) -> None:
    api = environment.api
    if chosen.api == "throttled":
        api.set_faults(throttle_rate=1.0)
    elif chosen.api == "5xx":
        api.set_faults(error_rate=1.0)
    elif chosen.api == "final":
        api.fail_next("ConflictException", times=100)
    elif chosen.api == "random":
        api.set_faults(throttle_rate=0.3, error_rate=0.2, seed=next(unique))
    environment.wiring.publisher.injector.faults = chosen.publisher
    environment.wiring.dead_letters.injector.faults = chosen.dead_letters


# -- what happened ---------------------------------------------------------------------------------------------------


@dataclass
class Observed:
    handed_back: list[str]
    dead_letters: dict[str, list[dict[str, Any]]]  # by SourceMessageId
    events: dict[str, list[dict[str, Any]]]  # by detail.messageId
    calls_by_token: dict[str, int]
    sessions_by_token: dict[str, list[dict[str, Any]]]

    def final_events(self, message_id: str) -> list[dict[str, Any]]:
        return [
            e
            for e in self.events.get(message_id, [])
            if e["detail-type"] == "PaymentSessionCreated" or e["detail"]["error"]["retryable"] is False
        ]


def run(environment: FuzzEnvironment, batch: list[Case], chosen: Faults) -> Observed:
    environment.fresh()
    inject(environment, chosen)
    response = lambda_handler({"Records": [case.record for case in batch]}, LambdaContext(timeout_seconds=30))
    stats = environment.api.snapshot()
    dead: dict[str, list[dict[str, Any]]] = {}
    for message in environment.dead_letters():
        dead.setdefault(message["MessageAttributes"]["SourceMessageId"]["StringValue"], []).append(message)
    events: dict[str, list[dict[str, Any]]] = {}
    for event in environment.published():
        events.setdefault(event["detail"]["messageId"], []).append(event)
    sessions: dict[str, list[dict[str, Any]]] = {}
    for session in stats["sessions"]:
        sessions.setdefault(session["client_token"], []).append(session)
    assert set(response) == {"batchItemFailures"}
    handed_back = [item["itemIdentifier"] for item in response["batchItemFailures"]]
    return Observed(handed_back, dead, events, stats["calls_by_client_token"], sessions)


# -- properties --------------------------------------------------------------------------------------------------------


@FUZZ_SETTINGS
@given(batch=batches, chosen=faults)
def test_every_record_ends_in_exactly_one_outcome_and_poison_never_reaches_the_api(
    fuzz_environment: FuzzEnvironment, batch: list[Case], chosen: Faults
) -> None:
    # Given a batch of valid, near-valid and hostile records, and faults at the API, EventBridge and the DLQ
    # When the real handler processes it (it must not raise)
    seen = run(fuzz_environment, batch, chosen)

    # Then each record is handed back, dead-lettered, or deleted after its final event: exactly one of them
    ids = [case.message_id for case in batch]
    assert len(seen.handed_back) == len(set(seen.handed_back))
    assert set(seen.handed_back) <= set(ids)
    assert set(seen.dead_letters) <= set(ids)
    for case in batch:
        handed_back = case.message_id in seen.handed_back
        letters = seen.dead_letters.get(case.message_id, [])
        assert not (handed_back and letters), "handed back and dead-lettered"
        assert len(letters) <= 1, "dead-lettered twice"
        if not handed_back and not letters:
            assert seen.final_events(case.message_id), "deleted without its event"
        if letters:
            _check_dead_letter(case, letters[0])
        # ... a record on its last receive is never handed back while the DLQ works
        if case.receive_count >= MAX_RECEIVE_COUNT and chosen.dead_letter_queue_works:
            assert not handed_back, "handed back on its last receive"
        # ... poison is dead-lettered (or, while the DLQ fails, handed back), never deleted
        if case.kind is Kind.POISON:
            assert handed_back or letters
            if letters:
                assert letters[0]["MessageAttributes"]["ErrorCode"]["StringValue"] in POISON_CODES
            elif chosen.dead_letter_queue_works:
                pytest.fail("poison handed back while the DLQ works")
        _check_valid(case, chosen, seen, handed_back=handed_back, dead_lettered=bool(letters))

    # ... and poison never reached the API, which saw at most one call per record that is not poison
    poison_tokens = set().union(*(c.candidate_tokens() for c in batch if c.kind is Kind.POISON))
    assert not poison_tokens & set(seen.calls_by_token), "poison reached the API"
    assert sum(seen.calls_by_token.values()) <= sum(1 for c in batch if c.kind is not Kind.POISON)
    assert all(len(sessions) == 1 for sessions in seen.sessions_by_token.values())


def _check_dead_letter(case: Case, letter: dict[str, Any]) -> None:
    attributes = letter["MessageAttributes"]
    assert letter["Body"] == case.payload.text, "the DLQ copy is not the original body"
    assert len(attributes) <= 10
    # moto takes any text; SQS refuses an attribute value with a character outside its set
    assert all(is_sqs_text(value.get("StringValue", "")) for value in attributes.values())
    assert len(attributes["ErrorMessage"]["StringValue"]) <= MAX_ERROR_MESSAGE_CHARS
    token = attributes.get("ClientToken", {}).get("StringValue")
    if case.kind is Kind.POISON:
        assert token == case.letter_token
    elif case.expected_token is not None:
        assert token == case.expected_token


def _check_valid(case: Case, chosen: Faults, seen: Observed, *, handed_back: bool, dead_lettered: bool) -> None:
    """What a valid record must become under the chosen faults."""
    if case.kind is not Kind.VALID:
        return
    token = case.expected_token
    assert token is not None
    last = case.receive_count >= MAX_RECEIVE_COUNT
    code: str | None = None
    if dead_lettered:
        code = seen.dead_letters[case.message_id][0]["MessageAttributes"]["ErrorCode"]["StringValue"]
        assert code not in POISON_CODES, "a valid record was taken for poison"
    healthy = chosen.publisher_works and chosen.dead_letter_queue_works
    if chosen.api == "healthy":
        # What the worker accepts, the API accepts: one session, under the expected token
        assert len(seen.sessions_by_token.get(token, [])) == 1, "a valid request did not create its session"
        if healthy:
            (event,) = seen.final_events(case.message_id)
            assert event["detail-type"] == "PaymentSessionCreated"
            assert event["detail"]["clientToken"] == token
            session = seen.sessions_by_token[token][0]
            assert event["detail"]["paymentSession"]["paymentSessionId"] == session["payment_session_id"]
    elif chosen.api in ("throttled", "5xx"):
        assert token not in seen.sessions_by_token
        if healthy:
            assert (handed_back, dead_lettered) == (not last, last)
            if last:
                assert code == API_ERRORS[chosen.api]
                (event,) = seen.events[case.message_id]  # the best-effort announcement of a dead-lettered cause
                assert event["detail"]["error"] == {
                    "code": code,
                    "message": event["detail"]["error"]["message"],
                    "retryable": True,
                }
    elif chosen.api == "final" and healthy:
        (event,) = seen.final_events(case.message_id)
        assert event["detail"]["error"]["code"] == "ConflictException"
        assert not handed_back and not dead_lettered


@pytest.mark.parametrize(
    "body",
    [
        {"expiryTimeInMinutes": 60, "a\u0000b": 1},
        {"expiryTimeInMinutes": 60, "\u001b[31m": 1},
        {"expiryTimeInMinutes": 60, "\uffff": 1},
        {"expiryTimeInMinutes": 60, "limits": {"maxSpendAmount": {"value": "1", "currency": "USD"}, "x\ufffe": 1}},
    ],
    ids=["nul", "escape", "non-character", "nested non-character"],
)
def test_a_field_name_sqs_cannot_carry_is_escaped_in_the_dead_letter_error_message(
    fuzz_environment: FuzzEnvironment, body: dict[str, Any]
) -> None:
    # Given a request with an unknown field whose name holds a character SQS refuses in an attribute value
    # (the body itself is fine: JSON escapes it)
    fuzz_environment.fresh()
    record = sqs_record(json.dumps(body))

    # When the worker processes it
    response = lambda_handler({"Records": [record]}, LambdaContext(timeout_seconds=30))

    # Then it is dead-lettered on this first receive, and its ErrorMessage is text SQS accepts naming the field
    assert response == {"batchItemFailures": []}
    (letter,) = fuzz_environment.dead_letters()
    message = letter["MessageAttributes"]["ErrorMessage"]["StringValue"]
    assert is_sqs_text(message)
    assert "extra_forbidden" in message
    assert letter["Body"] == record["body"]
