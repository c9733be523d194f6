"""Records SQS itself would never deliver get a clear answer (CONTRACT sections 2 and 9), never a shared token."""

from __future__ import annotations

import dataclasses

from domain.outcomes import Outcome
from tests.fakes.harness import Harness, record


def test_records_without_a_message_id_are_poison_without_a_shared_token(harness: Harness) -> None:
    # Given two valid requests whose records have no messageId (not SQS's: it always names its messages)
    first = dataclasses.replace(record("a", body='{"expiryTimeInMinutes": 60}'), message_id="")
    second = dataclasses.replace(record("b", body='{"expiryTimeInMinutes": 61}'), message_id="")
    # When they are processed
    report = harness.run(first, second)
    # Then each is dead-lettered InvalidRequest naming messageId, the API is never called (no empty-ID token)
    assert [(r.outcome, r.error_code, r.client_token) for r in report.results] == [
        (Outcome.DEAD_LETTERED, "InvalidRequest", None)
    ] * 2
    assert all(r.error_message == "messageId: missing" for r in report.results)
    assert harness.api.calls == []
    # And their dead letters carry the body and the diagnosis, no empty attribute SQS would refuse
    letters = harness.dead_letters.received
    assert [letter.body for letter in letters] == [first.body, second.body]
    assert all("SourceMessageId" not in letter.attributes for letter in letters)
    assert all("ClientToken" not in letter.attributes for letter in letters)
    assert report.response() == {"batchItemFailures": []}
