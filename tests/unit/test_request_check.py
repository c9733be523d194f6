"""The plain request check agrees with the pydantic model, and keeps pydantic off the path of valid messages.

``domain.requests.is_certainly_valid`` lets a valid message through without importing pydantic (issue 6:
cold start); every other message goes to ``RequestMessage``, which stays the authority. So the check must
never accept what the model rejects (soundness, or a bad request would reach the API), and should accept
what the model accepts (or valid messages would pay for pydantic after all).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from domain import constraints as c
from domain.requests import RequestMessage, is_certainly_valid
from tests.support import MANAGER_ARN, OTHER_MANAGER_ARN, ROOT, valid_request

SURROGATES = st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=2)
CONTROL = st.sampled_from(["\x00", "\t", "\n", "\x1f", "\x7f", "\x85", "\x9f"])
ODD = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.decimals(allow_nan=False, allow_infinity=False, places=2),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def text_near(low: int, high: int) -> st.SearchStrategy[str]:
    """Strings around the bounds, now and then with a control character or a lone surrogate."""
    plain = st.text(min_size=max(0, low - 2), max_size=high + 2)
    spoiled = st.tuples(st.text(max_size=high), st.one_of(CONTROL, SURROGATES), st.text(max_size=3)).map("".join)
    return st.one_of(plain, plain, spoiled)


def near(valid: st.SearchStrategy[Any], low: int = 0, high: int = 10) -> st.SearchStrategy[Any]:
    return st.one_of(valid, valid, text_near(low, high), ODD)


TOKENS = st.from_regex(r"[a-zA-Z0-9](-?[a-zA-Z0-9]){30,40}", fullmatch=True)
HEADER_SAFE = st.characters(exclude_categories=("Cs", "Cc"))
AMOUNTS = st.one_of(
    st.from_regex(r"-?[0-9]{0,4}(\.[0-9]{0,3})?", fullmatch=True),
    st.sampled_from(["0", "0.00", "00.5", "1e3", " 1", "NaN", "\u0661"]),
)
AMOUNT = st.fixed_dictionaries(
    {
        "value": st.one_of(st.from_regex(r"[1-9][0-9]{0,3}(\.[0-9]{1,2})?", fullmatch=True), near(AMOUNTS)),
        "currency": st.one_of(st.just("USD"), near(st.sampled_from(["usd", "EUR"]))),
    },
    optional={"extra": st.integers()},
)


def field(valid: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly valid, so that whole documents are valid often enough to test both verdicts."""
    return st.one_of(valid, valid, valid, odd)


DOCUMENTS = st.fixed_dictionaries(
    {},
    optional={
        "expiryTimeInMinutes": field(
            st.integers(c.EXPIRY_MIN, c.EXPIRY_MAX),
            st.one_of(st.integers(c.EXPIRY_MIN - 2, c.EXPIRY_MAX + 2), ODD, st.just("60")),
        ),
        "paymentManagerArn": field(
            st.sampled_from([MANAGER_ARN, OTHER_MANAGER_ARN]),
            near(st.just(MANAGER_ARN.replace("payment-manager", "payment-mgr")), 60, 70),
        ),
        "userId": field(st.text(HEADER_SAFE, max_size=c.USER_ID_MAX), text_near(c.USER_ID_MIN, c.USER_ID_MAX)),
        "agentName": field(st.text(HEADER_SAFE, max_size=20), near(text_near(c.AGENT_NAME_MIN, 20))),
        "limits": field(
            st.fixed_dictionaries({"maxSpendAmount": AMOUNT}),
            st.one_of(st.fixed_dictionaries({"maxSpendAmount": ODD}, optional={"x": st.integers()}), st.just({}), ODD),
        ),
        "clientToken": field(TOKENS, near(TOKENS, c.CLIENT_TOKEN_MIN - 2, c.CLIENT_TOKEN_MIN + 2)),
        "correlationId": field(st.text(min_size=1, max_size=c.CORRELATION_ID_MAX), text_near(0, 3)),
    },
).flatmap(lambda doc: st.one_of(st.just(doc), st.just(doc), st.just({**doc, "limit": 1})))


def model_verdict(document: dict[str, Any]) -> dict[str, Any] | None:
    """What the model makes of ``document``: its fields as the worker reads them, or ``None`` when invalid."""
    try:
        return RequestMessage.model_validate(document).model_dump(exclude_none=True)
    except ValidationError:
        return None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=DOCUMENTS)
def test_the_check_accepts_exactly_what_the_model_accepts_and_reads_it_the_same(document):
    # Given any document near the contract's shape, valid or not
    # When both judge it
    verdict = model_verdict(document)

    # Then the check accepts it if and only if the model does, and the model reads it unchanged
    if is_certainly_valid(document):
        assert verdict == document
    else:
        assert verdict is None


def test_the_contracts_sample_requests_pass_the_check():
    # Given valid requests with every optional field, and with none
    full = valid_request(paymentManagerArn=OTHER_MANAGER_ARN, clientToken="t" * c.CLIENT_TOKEN_MIN)
    minimal = {"expiryTimeInMinutes": c.EXPIRY_MIN}

    # Then the plain check accepts them: the model is never asked
    assert is_certainly_valid(json.loads(json.dumps(full)))
    assert is_certainly_valid(minimal)
    assert not is_certainly_valid({**minimal, "limits": {"maxSpendAmount": {"value": Decimal(1), "currency": "USD"}}})


def test_a_valid_batch_through_the_real_handler_never_imports_pydantic():
    # Given a fresh interpreter that imports the handler and parses a valid request, as a cold start does
    body = json.dumps(valid_request())
    code = (
        "import sys\n"
        "import handlers.create_payment_session\n"
        "from domain.requests import ManagerPolicy, parse_request\n"
        f"parse_request({body!r}, own_event_source='x', managers=ManagerPolicy({MANAGER_ARN!r}))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0].startswith('pydantic')))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}

    # When it runs
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, timeout=60)

    # Then pydantic was never imported
    assert done.stdout.strip() == "[]"
