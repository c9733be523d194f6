"""Late replays past the payments API's token window (issue 25): second sessions without the worker's
idempotency record, none with it. The fake over HTTP, moto in process, the table as template.yaml declares it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.agentcore import PaymentsApiServer
from sandbox.demo.token_window import run_once


@pytest.fixture(scope="module")
def api() -> Iterator[PaymentsApiServer]:
    with PaymentsApiServer() as server:
        yield server


def test_with_the_record_late_replays_past_the_window_create_no_second_session(api) -> None:
    # Given a token window of 0.3 s and requests of which a quarter commit late, When all are replayed late
    figures = run_once(api, record=True, requests=20, window_seconds=0.3, late_share=0.25)
    # Then no second session; the created ones are announced again, the unknown ones dead-lettered unsent
    assert figures.second_sessions == 0
    assert figures.api_calls == figures.requests
    assert figures.outcomes == {"created": 15, "OutcomeUnknown": 5}


def test_without_the_record_every_late_replay_creates_a_second_session(api) -> None:
    figures = run_once(api, record=False, requests=20, window_seconds=0.3, late_share=0.25)
    assert figures.second_sessions == figures.requests == 20
