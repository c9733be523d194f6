"""docs/DEPLOY.md's subscriber patterns match the published examples as the page says."""

from __future__ import annotations

import json
import re

import pytest
from moto.events.models import EventPattern

from tests.support import ROOT

DOC = (ROOT / "docs" / "DEPLOY.md").read_text(encoding="utf-8")
PUBLISHED = ROOT / "events" / "published"


def matches(pattern: str, example: str) -> bool:
    """What ``aws events test-event-pattern`` answers, by moto's implementation of EventBridge's matching
    (the one that routes events to rules; moto's TestEventPattern API itself is a stub)."""
    event = json.loads((PUBLISHED / example).read_text(encoding="utf-8"))
    return EventPattern.load(pattern).matches_event(event)


def test_the_every_outcome_pattern_matches_both_published_events():
    # Given the first pattern of the page's "See the event" section
    every_outcome, _ = re.findall(r"```json\n(.*?)```", DOC, re.DOTALL)

    # Then it matches each published event
    assert matches(every_outcome, "PaymentSessionCreated.json")
    assert matches(every_outcome, "PaymentSessionCreationFailed.json")


@pytest.mark.parametrize(
    ("example", "expected"), [("PaymentSessionCreationFailed.json", True), ("PaymentSessionCreated.json", False)]
)
def test_the_final_failure_pattern_answers_what_the_page_shows(example, expected):
    # Given the page's test-event-pattern commands and the results it prints
    commands = re.findall(
        r"--event-pattern '(\{.*?\})' \\\n  --event file://events/published/(\S+)\n# (\{.*?\})", DOC, re.DOTALL
    )
    answers = {file: (pattern, json.loads(result)["Result"]) for pattern, file, result in commands}

    # When the pattern is tested against the example
    pattern, shown = answers[example]

    # Then the page shows what EventBridge answers
    assert shown is expected
    assert matches(pattern, example) is expected
