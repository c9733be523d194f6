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


def test_the_parameter_table_lists_every_parameter_of_the_template_with_its_default(template):
    # Given the page's table of parameters
    rows = dict(re.findall(r"^\| `(\w+)` \| ([^|]+) \|", DOC, re.MULTILINE))

    # Then it names each parameter of template.yaml, with its default (or "required", or "empty")
    for name, parameter in template["Parameters"].items():
        default = str(parameter.get("Default", "")).strip()
        shown = rows[name].strip()
        if "Default" not in parameter:
            assert shown == "required", name
        elif default == "":
            assert shown == "empty", name
        else:
            assert shown == f"`{default}`", name


def test_a_producer_attaches_the_stacks_producer_policy_and_a_subscriber_puts_its_rule_on_the_bus():
    # Given the page's commands
    # Then the producer policy is read from the outputs and attached to a role, and a subscriber's rule is put
    # on the stack's bus with a pattern that matches the failure it is for
    assert "PRODUCER_POLICY=$(out ProducerPolicyArn)" in DOC
    assert re.search(r'aws iam attach-role-policy --role-name \S+ --policy-arn "\$PRODUCER_POLICY"', DOC)
    (pattern,) = re.findall(
        r'aws events put-rule --name checkout\S* --event-bus-name "\$BUS" \\\n  --event-pattern \'(\{.*?\})\' \\\n', DOC
    )
    assert matches(pattern, "PaymentSessionCreationFailed.json")
    assert not matches(pattern, "PaymentSessionCreated.json")


def test_producers_topics_and_rules_are_named_through_parameters_never_by_editing_the_queue_policy(template):
    # Given the page's commands
    # Then a producer role, and an SNS topic or a rule, are named with sam deploy's parameter overrides, by the
    # template's parameters, and the stack's queue policy is never set by hand (the next deploy would undo it)
    overrides = re.findall(r"sam deploy --parameter-overrides \"?(\w+)=", DOC)
    assert {"ProducerPrincipalArns", "ProducerSourceArns", "ProcessingEnabled"} <= set(overrides)
    assert set(overrides) <= set(template["Parameters"])
    assert 'aws sns subscribe --topic-arn "$TOPIC_ARN" --protocol sqs --notification-endpoint "$QUEUE_ARN"' in DOC
    assert not re.search(r'set-queue-attributes --queue-url "\$(QUEUE|DLQ)_URL"', DOC)
