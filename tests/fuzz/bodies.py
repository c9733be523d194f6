"""The bodies the fuzz tests generate: valid, near-valid (one rule broken) and hostile, bare or in envelopes.

Every body carries what the generator knows of it (:class:`Kind`): ``valid`` (the contract accepts it),
``poison`` (the contract rejects it) or ``unknown`` (mutated at random: either). Shared by the handler's fuzz
tests (``test_handler_fuzz.py``) and the parser's (``test_parser_fuzz.py``).
"""

from __future__ import annotations

import itertools
import json
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from hypothesis import strategies as st

from domain.parsing import MAX_ENVELOPES
from tests.support import EVENT_SOURCE, FOREIGN_MANAGER_ARN, MANAGER_ARN, OTHER_MANAGER_ARN
from tests.support import eventbridge as eventbridge_envelope
from tests.support import sns as sns_envelope

unique = itertools.count()  # tokens and fault seeds of the run never repeat


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
plain_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)


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
    return f"{next(unique):06x}{uuid.uuid4().hex}"  # unique in the run: no two records share a token


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

_REQUIRED: Final[dict[str, st.SearchStrategy[Any]]] = {"expiryTimeInMinutes": st.integers(15, 480)}
valid_requests: st.SearchStrategy[dict[str, Any]] = st.fixed_dictionaries(
    _REQUIRED,
    optional={
        "paymentManagerArn": st.sampled_from([MANAGER_ARN, OTHER_MANAGER_ARN]),
        "userId": st.text(header_chars, max_size=120).map(str.strip),  # HTTP would trim edge space: invalid
        "agentName": st.text(header_chars, max_size=256).map(str.strip),
        "limits": limits,
        "clientToken": valid_tokens,
        "correlationId": st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=128),
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
