"""What the request tests share: parsing a body as the worker does, and asserting the problems it names."""

from __future__ import annotations

import json
from typing import Any

import pytest

from domain.errors import PoisonCode, PoisonMessage
from domain.parsing import ManagerPolicy, parse_request
from domain.request import EffectiveRequest
from tests.support import EVENT_SOURCE, MANAGER_ARN, OTHER_MANAGER_ARN

MANAGERS = ManagerPolicy(MANAGER_ARN, frozenset({OTHER_MANAGER_ARN}))
VALID_TOKEN = "producer-token-0123456789abcdef0123456789"
SECRET = "zq7secret7qz"  # lowercase alphanumerics, so it fits inside any field, even an ARN

MALFORMED = PoisonCode.MALFORMED_JSON
INVALID = PoisonCode.INVALID_REQUEST


def parse(body: str | dict[str, Any], managers: ManagerPolicy = MANAGERS) -> EffectiveRequest:
    text = body if isinstance(body, str) else json.dumps(body)
    return parse_request(text, own_event_source=EVENT_SOURCE, managers=managers)


def poison(body: str | dict[str, Any], managers: ManagerPolicy = MANAGERS) -> PoisonMessage:
    with pytest.raises(PoisonMessage) as caught:
        parse(body, managers)
    return caught.value


def problems(error: PoisonMessage) -> set[tuple[str, str]]:
    return {(problem.path, problem.kind) for problem in error.problems}


def assert_problem(body: str | dict[str, Any], code: PoisonCode, path: str, kind: str | None = None) -> PoisonMessage:
    error = poison(body)
    assert error.code is code
    paths = {problem.path for problem in error.problems}
    assert path in paths, problems(error)
    if kind is not None:
        assert (path, kind) in problems(error)
    return error
