"""Fuzzing the real handler: valid, near-valid and hostile records, envelopes and attributes, under faults.

Every generated body carries what the generator knows of it: ``valid`` (the contract accepts it), ``poison``
(the contract rejects it) or ``unknown`` (mutated at random: either). The properties are those of CONTRACT
section 3: the handler never raises; each record ends in exactly one of handed back / dead-lettered /
deleted after its event; a record on its last receive is never handed back while the DLQ works; poison is
dead-lettered with its code and never reaches the API.
"""

from __future__ import annotations

import base64
import itertools
import json
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import MAX_ERROR_MESSAGE_CHARS, PoisonCode, PoisonMessage
from domain.parsing import MAX_ENVELOPES, ManagerPolicy, parse_request
from domain.request import EffectiveRequest
from domain.tokens import first_delivery_token, poison_token
from handlers.create_payment_session import lambda_handler
from sandbox.lambda_.context import LambdaContext
from sandbox.soak import NO_FAULTS, CallFaults
from tests.fuzz.conftest import FUZZ_SETTINGS, MAX_RECEIVE_COUNT, PARSER_SETTINGS, FuzzEnvironment
from tests.support import (
    EVENT_SOURCE,
    FOREIGN_MANAGER_ARN,
    MANAGER_ARN,
    OTHER_MANAGER_ARN,
    sqs_record,
)
from tests.support import eventbridge as eventbridge_envelope
from tests.support import sns as sns_envelope

POISON_CODES: Final = frozenset(code.value for code in PoisonCode)
MANAGERS: Final = ManagerPolicy(MANAGER_ARN, frozenset({OTHER_MANAGER_ARN}))
_unique = itertools.count()


class Kind(StrEnum):
    VALID = "valid"
    POISON = "poison"
    UNKNOWN = "unknown"


_NO_DOC: Final = object()


@dataclass(frozen=True)
class Payload:
    """A body as text, the JSON document it encodes (when it is one), what it is, and its body token."""

    text: str
    kind: Kind
    doc: Any = _NO_DOC
    body_token: str | None = None
    envelopes: int = 0


def _worst(a: Kind, b: Kind) -> Kind:
    if Kind.POISON in (a, b):
        return Kind.POISON
    return Kind.UNKNOWN if Kind.UNKNOWN in (a, b) else Kind.VALID


# -- text as SQS can carry it -------------------------------------------------------------------------------

# SQS bodies and attribute values: #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF.
sqs_chars = st.one_of(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E),
    st.sampled_from("\t\n\r"),
    st.characters(min_codepoint=0xA0, max_codepoint=0xD7FF),
    st.characters(min_codepoint=0xE000, max_codepoint=0xFFFD),
    st.characters(min_codepoint=0x10000),
)
sqs_text = st.text(sqs_chars, min_size=1, max_size=40)
# Header-safe: no control characters (Cc), no surrogates (Cs), no non-characters or unassigned (Cn).
header_chars = st.characters(exclude_categories=("Cc", "Cs", "Cn"))
plain_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)


def is_sqs_text(text: str) -> bool:
    return all(
        c in "\t\n\r" or 0x20 <= ord(c) <= 0xD7FF or 0xE000 <= ord(c) <= 0xFFFD or ord(c) >= 0x10000 for c in text
    )


def serialise(doc: Any, ascii_only: bool) -> str:
    """JSON text, raw or \\u-escaped; escaped whenever the raw text is not what SQS can carry."""
    if not ascii_only:
        text = json.dumps(doc, ensure_ascii=False)
        if is_sqs_text(text):
            return text
    return json.dumps(doc)


# -- tokens ----------------------------------------------------------------------------------------------------


def _hex() -> str:
    return f"{next(_unique):06x}{uuid.uuid4().hex}"  # unique in the run: no two records share a token


def valid_token(shape: str) -> str:
    suffix = _hex()  # 38 alphanumerics
    if shape == "long":
        return ("a" * 256)[: 256 - len(suffix)] + suffix
    if shape == "hyphens":
        return f"a---b-c--{suffix}"
    return suffix


def invalid_token(shape: str) -> str:
    suffix = _hex()
    return {
        "short": suffix[:32],
        "long": "a" * 250 + suffix,
        "leading-hyphen": f"-{suffix}",
        "trailing-hyphen": f"{suffix}-",
        "underscore": f"{suffix}_x",
        "space": f"{suffix} x",
        "unicode-digit": f"{suffix}\u0663",
        "accented": f"{suffix}\u00e9",
    }[shape]


valid_tokens = st.builds(valid_token, st.sampled_from(["plain", "long", "hyphens"]))
invalid_tokens = st.builds(
    invalid_token,
    st.sampled_from(
        ["short", "long", "leading-hyphen", "trailing-hyphen", "underscore", "space", "unicode-digit", "accented"]
    ),
)

# -- valid requests ----------------------------------------------------------------------------------------------


@st.composite
def amounts(draw: st.DrawFn) -> str:
    whole = draw(st.integers(0, 10**15))
    digits = draw(st.sampled_from([0, 1, 2]))
    fraction = draw(st.integers(1 if whole == 0 else 0, 10**digits - 1)) if digits else None
    if fraction is None and whole == 0:
        whole = 1
    return f"{whole}" if fraction is None else f"{whole}.{fraction:0{digits}d}"


limits = st.builds(lambda value: {"maxSpendAmount": {"value": value, "currency": "USD"}}, amounts())

valid_requests = st.fixed_dictionaries(
    {"expiryTimeInMinutes": st.integers(15, 480)},
    optional={
        "paymentManagerArn": st.sampled_from([MANAGER_ARN, OTHER_MANAGER_ARN]),
        "userId": st.text(header_chars, max_size=120).map(str.strip),  # HTTP would trim edge space: invalid
        "agentName": st.text(header_chars, max_size=256).map(str.strip),
        "limits": limits,
        "clientToken": valid_tokens,
        "correlationId": st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=128),
    },
)


@st.composite
def valid_payloads(draw: st.DrawFn) -> Payload:
    doc = draw(valid_requests)
    text = serialise(doc, draw(st.booleans()))
    if draw(st.booleans()):
        text = draw(st.sampled_from(["", " ", "\n", "\t\r\n "])) + text + draw(st.sampled_from(["", " ", "\n"]))
    return Payload(text, Kind.VALID, doc, doc.get("clientToken"))


# -- near-valid: one rule broken -------------------------------------------------------------------------------

_CONTROL: Final = [chr(c) for c in (*range(0x20), *range(0x7F, 0xA0))]

# Each mutation breaks exactly one rule of CONTRACT section 1 (the key, a strategy of the bad value).
_BAD_VALUES: Final[dict[str, st.SearchStrategy[Any]]] = {
    "expiryTimeInMinutes": st.one_of(
        st.sampled_from([14, 481, 0, -1, True, False, "60", 60.0, 10**20, [], {}]),
        st.integers(max_value=14),
        st.integers(min_value=481),
    ),
    "paymentManagerArn": st.sampled_from(
        [FOREIGN_MANAGER_ARN, MANAGER_ARN.upper(), MANAGER_ARN[:-1], MANAGER_ARN + " ", "arn:aws:s3:::bucket", 1]
    ),
    "userId": st.one_of(
        st.text(header_chars, min_size=121, max_size=130),
        st.builds(lambda a, c, b: a + c + b, plain_text, st.sampled_from(_CONTROL), plain_text),
        st.sampled_from([1, True, ["u"], {"id": "u"}, "  alice  ", "   ", " u", "u\u00a0"]),
    ),
    "agentName": st.one_of(
        st.text(header_chars, min_size=257, max_size=260),
        st.builds(lambda a, c: a + c, plain_text, st.sampled_from(_CONTROL)),
        st.sampled_from([" agent", "agent ", "\u2003agent"]),
    ),
    "limits": st.one_of(
        st.just({}),
        st.just({"maxSpendAmount": {"value": "10"}}),
        st.just({"maxSpendAmount": {"currency": "USD"}}),
        st.builds(
            lambda v: {"maxSpendAmount": {"value": v, "currency": "USD"}},
            st.sampled_from(
                [
                    *("0", "0.00", "-1", "+1", "1e3", " 1", "1 ", "1.234", "1.", ".5", "01", "NaN", "Infinity"),
                    *("1,00", "\uff12\uff15", "\u0661", "", 25, 25.5, None),
                    *("1000000000000000000", "9" * 41, "9" * 5001),  # beyond the model's AmountValue
                ]
            ),
        ),
        st.builds(
            lambda c: {"maxSpendAmount": {"value": "10", "currency": c}},
            st.sampled_from(["EUR", "usd", "", 840, None]),
        ),
        st.just({"maxSpendAmount": {"value": "10", "currency": "USD", "extra": 1}}),
        st.just({"maxSpendAmount": {"value": "10", "currency": "USD"}, "perDay": 1}),
        st.just({"maxSpendamount": {"value": "10", "currency": "USD"}}),
        st.just([]),
    ),
    "clientToken": st.one_of(invalid_tokens, st.sampled_from([1, True, ["t"]])),
    "correlationId": st.one_of(
        st.just(""), st.text(min_size=129, max_size=140), st.sampled_from([1, False, {"id": 1}])
    ),
}
_UNKNOWN_FIELDS: Final = ["limit", "clienttoken", "ExpiryTimeInMinutes", "user_id", "amount", "", " userId", "x"]


@st.composite
def near_valid_payloads(draw: st.DrawFn) -> Payload:
    doc = dict(draw(valid_requests))
    how = draw(st.sampled_from(["bad value", "null", "unknown field", "missing expiry", "lone surrogate"]))
    if how == "bad value":
        key = draw(st.sampled_from(sorted(_BAD_VALUES)))
        doc[key] = draw(_BAD_VALUES[key])
    elif how == "null":
        doc[draw(st.sampled_from(sorted(_BAD_VALUES)))] = None
    elif how == "unknown field":
        doc[draw(st.sampled_from(_UNKNOWN_FIELDS))] = draw(st.one_of(st.none(), st.integers(), sqs_text))
    elif how == "missing expiry":
        del doc["expiryTimeInMinutes"]
    else:
        doc[draw(st.sampled_from(["userId", "agentName", "correlationId"]))] = "a\ud800b"
    token = doc.get("clientToken")
    return Payload(json.dumps(doc), Kind.POISON, doc, token if isinstance(token, str) else None)


# -- hostile ------------------------------------------------------------------------------------------------------

_VALID_TEXT: Final = '{"expiryTimeInMinutes": 60}'


def _fixed_hostile() -> list[str]:
    deep = 100_000
    return [
        "null",
        "true",
        "[]",
        "{}",
        '"text"',
        "1",
        "\ufeff" + _VALID_TEXT,
        _VALID_TEXT + "x",
        _VALID_TEXT + _VALID_TEXT,
        "NaN",
        '{"expiryTimeInMinutes": NaN}',
        '{"expiryTimeInMinutes": Infinity}',
        '{"expiryTimeInMinutes": -Infinity}',
        '{"expiryTimeInMinutes": 60, "expiryTimeInMinutes": 60}',
        '{"expiryTimeInMinutes": 6e1}',
        '{"expiryTimeInMinutes": 60.0}',
        '{"expiryTimeInMinutes": 1' + "0" * 5000 + "}",
        '{"expiryTimeInMinutes": 1e999}',
        '{"expiryTimeInMinutes": "60"}',
        "{'expiryTimeInMinutes': 60}",
        '{"expiryTimeInMinutes": 60,}',
        '{"expiryTimeInMinutes": 60 /* c */}',
        '{"userId": "\\ud800", "expiryTimeInMinutes": 60}',
        '{"userId": "\\udfff\\ud800", "expiryTimeInMinutes": 60}',
        '{"userId": "\\u0000", "expiryTimeInMinutes": 60}',
        "[" * deep + "]" * deep,
        '{"a":' * deep + "1" + "}" * deep,
        '{"expiryTimeInMinutes": 60, "limits": ' + '{"a":' * 500 + "1" + "}" * 500 + "}",
        '{"expiryTimeInMinutes": 60, "limits": ' + '{"a":' * 2000 + "1" + "}" * 2000 + "}",
        '{"expiryTimeInMinutes": 60, "userId": "' + "x" * 200_000 + '"}',
        '{"expiryTimeInMinutes": 60, "blob": "' + "\U0001f4b8" * 50_000 + '"}',
        '{"expiryTimeInMinutes": 60, "limits": {"maxSpendAmount": {"value": "' + "9" * 100_000 + '.1"}}}',
        '{"Type": "Notification"}',
        '{"Type": "Notification", "Message": 5}',
        '{"Type": "Notification", "Message": "not json"}',
        '{"Type": "Notification", "Message": "{\\"expiryTimeInMinutes\\": \\"60\\"}"}',
        '{"detail-type": "x", "detail": "{}"}',
        '{"detail-type": "x", "detail": null}',
        '{"detail-type": "x", "detail": [' + _VALID_TEXT + "]}",
        json.dumps(
            {"source": EVENT_SOURCE, "detail-type": "PaymentSessionCreated", "detail": {"expiryTimeInMinutes": 60}}
        ),
    ]


FIXED_HOSTILE: Final = _fixed_hostile()

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | plain_text,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(plain_text, children, max_size=5),
    max_leaves=20,
)


def _looks_like_a_request_or_envelope(doc: Any) -> bool:
    return isinstance(doc, dict) and (
        "expiryTimeInMinutes" in doc or ("detail-type" in doc and "detail" in doc) or doc.get("Type") == "Notification"
    )


@st.composite
def hostile_payloads(draw: st.DrawFn) -> Payload:
    how = draw(st.sampled_from(["fixed", "text", "json", "mutated"]))
    if how == "fixed":
        return Payload(draw(st.sampled_from(FIXED_HOSTILE)), Kind.POISON)
    if how == "text":
        text = draw(st.text(sqs_chars, min_size=1, max_size=200))
        return Payload(text, Kind.POISON if "expiryTimeInMinutes" not in text else Kind.UNKNOWN)
    if how == "json":
        doc = draw(json_values)
        kind = Kind.UNKNOWN if _looks_like_a_request_or_envelope(doc) else Kind.POISON
        return Payload(json.dumps(doc), kind, doc)
    base_payload = draw(valid_payloads())
    base = base_payload.text
    at = draw(st.integers(0, len(base) - 1))
    mutation = draw(st.sampled_from(["delete", "insert", "replace", "truncate", "duplicate"]))
    if mutation == "delete":
        text = base[:at] + base[at + draw(st.integers(1, 5)) :]
    elif mutation == "insert":
        text = base[:at] + draw(sqs_text) + base[at:]
    elif mutation == "replace":
        text = base[:at] + draw(sqs_chars) + base[at + 1 :]
    elif mutation == "truncate":
        text = base[:at]
    else:
        text = base[:at] + base[at : at + draw(st.integers(1, 10))] + base[at:]
    return Payload(text or "{", Kind.UNKNOWN, body_token=base_payload.body_token)


# -- envelopes ---------------------------------------------------------------------------------------------------


def sns(inner: Payload, *, message_is_string: bool = True) -> Payload:
    message: Any = inner.text
    if not message_is_string:
        message = inner.doc if inner.doc is not _NO_DOC and not isinstance(inner.doc, str) else 5
    doc = sns_envelope(message, MessageId=str(uuid.uuid4()))
    kind = inner.kind if message_is_string else Kind.POISON
    return Payload(json.dumps(doc), _depth_kind(kind, inner.envelopes + 1), doc, inner.body_token, inner.envelopes + 1)


def eventbridge(inner: Payload, *, source: str) -> Payload:
    detail: Any = inner.doc if inner.doc is not _NO_DOC else inner.text
    doc = eventbridge_envelope(detail, source, str(uuid.uuid4()))
    kind = inner.kind if isinstance(detail, dict) else Kind.POISON
    if source == EVENT_SOURCE:
        kind = Kind.POISON
    return Payload(json.dumps(doc), _depth_kind(kind, inner.envelopes + 1), doc, inner.body_token, inner.envelopes + 1)


def _depth_kind(kind: Kind, depth: int) -> Kind:
    return Kind.POISON if depth > MAX_ENVELOPES else kind


@st.composite
def enveloped(draw: st.DrawFn, inner: st.SearchStrategy[Payload]) -> Payload:
    payload = draw(inner)
    for _ in range(draw(st.integers(1, MAX_ENVELOPES + 1))):
        if draw(st.booleans()):
            payload = sns(payload, message_is_string=draw(st.sampled_from([True] * 9 + [False])))
        else:
            source = draw(st.sampled_from(["orders.checkout"] * 9 + [EVENT_SOURCE]))
            payload = eventbridge(payload, source=source)
    return payload


bare = st.one_of(valid_payloads(), near_valid_payloads(), hostile_payloads())
payloads = st.one_of(valid_payloads(), near_valid_payloads(), hostile_payloads(), enveloped(bare))


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
        api.set_faults(throttle_rate=0.3, error_rate=0.2, seed=next(_unique))
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


def parse(text: str) -> EffectiveRequest | PoisonMessage:
    """The worker's reading of a body: the request, or the poison it is."""
    try:
        return parse_request(text, own_event_source=EVENT_SOURCE, managers=MANAGERS)
    except PoisonMessage as poison:
        return poison


@PARSER_SETTINGS
@given(payload=payloads)
def test_parsing_any_body_yields_a_request_or_poison_and_agrees_with_the_generator(payload: Payload) -> None:
    # Given any body the generator can make
    # When the worker parses it (anything but a request or PoisonMessage escapes and fails the test)
    parsed = parse(payload.text)

    # Then poison is described in at most 1024 characters, and the generator's knowledge holds
    if isinstance(parsed, PoisonMessage):
        assert len(str(parsed)) <= MAX_ERROR_MESSAGE_CHARS
        assert payload.kind is not Kind.VALID, f"a valid body was rejected: {parsed}"
    else:
        assert payload.kind is not Kind.POISON, "a poison body was accepted"
        if payload.kind is Kind.VALID:
            assert parsed.clientToken == payload.body_token


_MARKER: Final = "Zq7xMARKERx7qZ"


def _marked(value: Any) -> Any:
    if isinstance(value, str):
        return _MARKER + value
    if isinstance(value, dict):
        return {key: _marked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_marked(item) for item in value]
    return value


@PARSER_SETTINGS
@given(payload=st.one_of(near_valid_payloads(), valid_payloads()))
def test_a_poison_description_never_echoes_an_input_value(payload: Payload) -> None:
    # Given a request, valid or not, whose every string value carries a marker
    text = json.dumps(_marked(payload.doc))

    # When the worker parses it
    parsed = parse(text)

    # Then a rejection names fields and error kinds, never a value
    if isinstance(parsed, PoisonMessage):
        assert _MARKER not in str(parsed)
