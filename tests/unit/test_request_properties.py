"""Properties of the request model, drawn from the model's own constraints (CONTRACT section 1)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain import constraints as c
from domain.errors import MAX_ERROR_MESSAGE_CHARS, PoisonCode, PoisonMessage
from domain.request import EffectiveRequest
from tests.support import MANAGER_ARN, OTHER_MANAGER_ARN
from tests.unit.request_checks import parse

# -- properties --------------------------------------------------------------------------------------------------------


# Valid values drawn from the model's own constraints (domain.constraints, which test_model_agreement.py proves
# are botocore's figures): header fields without control characters or edge space (HTTP would trim it).
def header_text(maximum: int) -> st.SearchStrategy[str]:
    characters = st.characters(blacklist_categories=["Cc", "Cs"], blacklist_characters=["\x85"])
    return st.text(characters, max_size=maximum).map(str.strip)


valid_requests = st.fixed_dictionaries(
    {"expiryTimeInMinutes": st.integers(c.EXPIRY_MIN, c.EXPIRY_MAX)},
    optional={
        "paymentManagerArn": st.sampled_from([MANAGER_ARN, OTHER_MANAGER_ARN]),
        "userId": header_text(c.USER_ID_MAX),
        "agentName": header_text(c.AGENT_NAME_MAX),
        "limits": st.builds(
            lambda whole, cents, currency: {"maxSpendAmount": {"value": f"{whole}{cents}", "currency": currency}},
            st.integers(1, 10**18 - 1).map(str),  # at most the model's 18 integer digits
            st.sampled_from(["", ".5", ".05", ".50", ".99"]),
            st.sampled_from(c.CURRENCIES),
        ),
        "clientToken": st.tuples(
            st.from_regex(c.CLIENT_TOKEN_PATTERN, fullmatch=True),
            st.from_regex(f"[a-zA-Z0-9]{{{c.CLIENT_TOKEN_MIN}}}", fullmatch=True),
        ).map(lambda parts: "".join(parts)[-c.CLIENT_TOKEN_MAX :].lstrip("-")),  # the pattern, within its length
        "correlationId": st.text(
            st.characters(blacklist_categories=["Cs"]), min_size=c.CORRELATION_ID_MIN, max_size=c.CORRELATION_ID_MAX
        ),
    },
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_requests)
def test_every_valid_request_is_accepted_and_kept_field_for_field(document: dict[str, Any]) -> None:
    request = parse(document)
    assert request.paymentManagerArn == document.get("paymentManagerArn", MANAGER_ARN)
    assert request.expiryTimeInMinutes == document["expiryTimeInMinutes"]
    assert request.userId == document.get("userId")
    assert request.agentName == document.get("agentName")
    assert request.clientToken == document.get("clientToken")
    assert request.correlationId == document.get("correlationId")
    given_limits = document.get("limits")
    assert (request.limits.model_dump() if request.limits else None) == given_limits


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=15,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.text(max_size=60),
        json_values.map(json.dumps),
        st.dictionaries(
            st.sampled_from(
                [
                    "expiryTimeInMinutes",
                    "userId",
                    "limits",
                    "Type",
                    "Message",
                    "detail",
                    "detail-type",
                    "source",
                    "clientToken",
                ]
            ),
            json_values,
        ).map(json.dumps),
    )
)
def test_any_body_is_either_a_request_or_poison_with_a_bounded_message(body: str) -> None:
    outcome = outcome_of(body)
    if isinstance(outcome, PoisonMessage):
        assert outcome.code in set(PoisonCode)
        assert len(str(outcome)) <= MAX_ERROR_MESSAGE_CHARS
    else:
        assert isinstance(outcome, EffectiveRequest)


def outcome_of(body: str) -> EffectiveRequest | PoisonMessage:
    try:
        return parse(body)
    except PoisonMessage as error:
        return error
