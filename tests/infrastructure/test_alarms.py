"""The stack's alarms page someone (issue 26): each notifies a topic, watches its signal, says what to do first."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from domain.errors import WorkerErrorCode
from domain.outcomes import FINAL_API_ERRORS
from domain.time_policy import RetryDelay
from sandbox.aws.template_values import Evaluator, parameter_values

MANAGER = "arn:aws:bedrock-agentcore:us-east-1:123456789012:payment-manager/checkout-manager-a1b2c3d4e5"
ALARM_TOPIC = "arn:aws:sns:us-east-1:123456789012:on-call"


def alarms(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: r["Properties"] for name, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}


def metric_stats(properties: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A metric math alarm's metrics by Id: the MetricStat's metric, or the expression."""
    return {m["Id"]: m.get("MetricStat", {}).get("Metric", m) for m in properties["Metrics"]}


def evaluator(template: dict[str, Any], **parameters: str) -> Evaluator:
    return Evaluator(template, parameter_values(template, {"PaymentManagerArn": MANAGER, **parameters}))


def test_there_is_an_alarm_for_each_signal_of_the_runbook(resources):
    assert set(alarms(resources)) == {
        "DeadLetterQueueNotEmptyAlarm",
        "RecordsDeadLetteredAlarm",
        "DeadLetterQueueAgeAlarm",
        "RequestQueueBacklogAlarm",
        "SessionsFailedAlarm",
        "NoSessionsCreatedAlarm",
        "FunctionErrorsAlarm",
        "FunctionThrottlesAlarm",
        "DeadLetterSendFailuresAlarm",
        "EventPublishFailuresAlarm",
        "OutcomesUnknownAlarm",
        "IdempotencyRecordFailuresAlarm",
    }


def test_with_every_parameter_at_its_default_every_alarm_notifies_a_topic_of_the_stack(template, resources):
    # Given the defaults: no AlarmTopicArn
    values = evaluator(template)
    assert values.condition("CreateAlarmTopic")
    assert resources["AlarmTopic"]["Condition"] == "CreateAlarmTopic"

    # Then every alarm notifies on alarm and on recovery: the stack's topic, or the one AlarmTopicArn names
    action = [{"Fn::If": ["CreateAlarmTopic", {"Ref": "AlarmTopic"}, {"Ref": "AlarmTopicArn"}]}]
    for name, properties in alarms(resources).items():
        assert properties["AlarmActions"] == action, name
        assert properties["OKActions"] == action, name
    # And an existing topic, once named, replaces the stack's
    assert not evaluator(template, AlarmTopicArn=ALARM_TOPIC).condition("CreateAlarmTopic")


def test_the_alarm_topic_is_encrypted_and_an_email_is_subscribed_only_when_given(template, resources):
    assert resources["AlarmTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "Key"}
    assert resources["AlarmEmailSubscription"]["Condition"] == "HasAlarmEmail"
    assert not evaluator(template).condition("HasAlarmEmail")
    assert evaluator(template, AlarmEmail="on-call@example.com").condition("HasAlarmEmail")
    assert not evaluator(template, AlarmEmail="on-call@example.com", AlarmTopicArn=ALARM_TOPIC).condition(
        "HasAlarmEmail"
    )


def test_every_alarm_says_what_to_do_first(resources):
    for name, properties in alarms(resources).items():
        assert properties["AlarmDescription"].startswith("First: "), name


def test_the_failure_alarm_watches_every_failed_code_against_the_records_received(resources):
    # Given the SessionsFailed alarm's metrics
    metrics = metric_stats(resources["SessionsFailedAlarm"]["Properties"])

    # Then it sums SessionsFailed for each code CONTRACT section 3 fails a request with
    codes = {
        {d["Name"]: d["Value"] for d in m["Dimensions"]}["ErrorCode"]
        for m in metrics.values()
        if m.get("MetricName") == "SessionsFailed"
    }
    assert codes == set(FINAL_API_ERRORS) | {WorkerErrorCode.REQUEST_EXPIRED}
    # And divides by the records the request queue handed out, as a percentage over 10 for ten minutes
    assert metrics["received"]["MetricName"] == "NumberOfMessagesReceived"
    properties = resources["SessionsFailedAlarm"]["Properties"]
    assert "/ received" in metrics["failedPercent"]["Expression"]
    assert (properties["Threshold"], properties["EvaluationPeriods"], properties["DatapointsToAlarm"]) == (10, 2, 2)


@pytest.mark.parametrize(
    ("alarm", "queue", "share"),
    [("DeadLetterQueueAgeAlarm", "RequestDeadLetterQueue", 25), ("RequestQueueBacklogAlarm", "RequestQueue", 10)],
)
def test_the_queue_age_alarms_fire_at_a_share_of_the_request_age_limit(template, resources, alarm, queue, share):
    # Given an age alarm of a queue
    properties = resources[alarm]["Properties"]
    metrics = metric_stats(properties)

    # Then it watches that queue's oldest message, as a percentage of MaxRequestAgeMinutes (of the queues'
    # 14 days when the age check is off), and fires past its share
    assert metrics["age"]["MetricName"] == "ApproximateAgeOfOldestMessage"
    assert metrics["age"]["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}]
    assert properties["Threshold"] == share
    expression = metrics["shareOfAgeLimit"]["Expression"]
    assert evaluator(template).value(expression) == "100 * age / (60 * 1440)"
    assert evaluator(template, MaxRequestAgeMinutes="0").value(expression) == "100 * age / (60 * 20160)"


def test_a_request_still_within_its_retries_does_not_raise_the_backlog_alarm(template):
    # Given the template's defaults: the retry delay and the receives of a request
    parameters = template["Parameters"]
    delay = RetryDelay(parameters["RetryDelaySeconds"]["Default"], parameters["RetryDelayMaxSeconds"]["Default"])
    longest = sum(delay.jittered(n, 0.999999) for n in range(1, parameters["MaxReceiveCount"]["Default"]))

    # Then the backlog alarm's share of the age limit is past the longest span of those retries
    threshold_seconds = 0.10 * parameters["MaxRequestAgeMinutes"]["Default"] * 60
    assert longest < threshold_seconds


def test_newly_dead_lettered_records_page_even_while_the_dlq_holds_older_ones(resources):
    # Given the alarm on RecordsDeadLettered (all codes, one Metrics Insights query)
    properties = resources["RecordsDeadLetteredAlarm"]["Properties"]
    (query,) = properties["Metrics"]

    # Then it sums each 5 minutes' new dead letters, so it returns to OK after a wave and fires on the next
    assert re.search(
        r"SELECT SUM\(RecordsDeadLettered\) FROM SCHEMA\(PaymentSessionWorker, ErrorCode, service\)",
        query["Expression"],
    )
    assert (query["Period"], properties["Threshold"], properties["TreatMissingData"]) == (300, 0, "notBreaching")


def test_requests_arriving_without_a_session_created_for_15_minutes_page(resources):
    properties = resources["NoSessionsCreatedAlarm"]["Properties"]
    metrics = metric_stats(properties)
    assert metrics["sent"]["MetricName"] == "NumberOfMessagesSent"
    assert metrics["created"]["MetricName"] == "SessionsCreated"
    assert properties["EvaluationPeriods"] * metrics["sent"].get("Period", 300) >= 900
    # And stopping the worker on purpose pages no one
    assert properties["ActionsEnabled"] == {"Fn::If": ["ProcessingOn", True, False]}


def test_a_new_version_is_shifted_in_behind_the_errors_and_failure_alarms(function):
    # Given the function's deployment settings
    # Then the event source invokes a live alias, shifted by a canary that rolls back on these alarms
    assert function["AutoPublishAlias"] == "live"
    preference = function["DeploymentPreference"]
    assert preference["Type"].startswith(("Canary", "Linear"))
    assert preference["Alarms"] == [
        {"Ref": "FunctionErrorsAlarm"},
        {"Ref": "SessionsFailedAlarm"},
        {"Ref": "RecordsDeadLetteredAlarm"},
    ]


def test_the_incident_dashboard_shows_what_an_incident_needs(resources):
    # Given the dashboard's body, its placeholders filled
    body, names = resources["IncidentDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    dashboard = json.loads(re.sub(r"\$\{[^}]+\}", "x", body))
    text = json.dumps(dashboard)

    # Then it shows receives, outcomes by code, backlog age, DLQ depth and age, duration, concurrency, throttles
    for metric in (
        "NumberOfMessagesReceived",
        "SessionsCreated",
        "RecordsRetried",
        "SUM(SessionsFailed)",
        "SUM(RecordsDeadLettered)",
        "ApproximateAgeOfOldestMessage",
        "ApproximateNumberOfMessagesVisible",
        "Duration",
        "ConcurrentExecutions",
        "Throttles",
    ):
        assert metric in text, metric
    assert set(names) == {"Requests", "DeadLetters", "Function"}


def test_the_alarms_read_the_workers_metrics_where_the_function_writes_them(resources, environment):
    # Given the worker's namespace and service (Powertools adds the service as a dimension)
    namespace, service = environment["POWERTOOLS_METRICS_NAMESPACE"], environment["POWERTOOLS_SERVICE_NAME"]

    # Then every alarm metric of the worker names them, and every Metrics Insights query too
    for name, properties in alarms(resources).items():
        metrics = metric_stats(properties) if "Metrics" in properties else {"m": properties}
        for metric in metrics.values():
            if metric.get("Namespace") == namespace:
                assert {"Name": "service", "Value": service} in metric["Dimensions"], name
            expression = metric.get("Expression", "")
            if isinstance(expression, str) and expression.startswith("SELECT"):
                assert f"SCHEMA({namespace}," in expression and f"service = '{service}'" in expression, name
