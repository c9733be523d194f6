"""The idempotency record's part of the stack (issue 25): the table, its grant, its settings and its alarms."""

from __future__ import annotations

import pytest

from domain.token_record import ITEM_KEY, TTL_ATTRIBUTE
from handlers.observability import NAMESPACE, SERVICE

# The worker's own metrics of the record that raise an alarm (tests/infrastructure/test_alarms.py checks that
# every alarm pages and says what to do first).
METRIC_ALARMS = {
    "OutcomesUnknownAlarm": "OutcomesUnknown",
    "IdempotencyRecordFailuresAlarm": "IdempotencyRecordFailures",
}


def ref(name: str) -> dict[str, str]:
    return {"Ref": name}


def test_the_table_is_on_demand_keyed_by_token_expiring_by_ttl_encrypted_with_the_stack_key_and_recoverable(
    resources,
):
    # Given the table
    table = resources["IdempotencyTable"]
    properties = table["Properties"]

    # Then it is keyed and expires as the adapter writes its items, and is kept, encrypted and recoverable
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["KeySchema"] == [{"AttributeName": ITEM_KEY, "KeyType": "HASH"}]
    assert properties["AttributeDefinitions"] == [{"AttributeName": ITEM_KEY, "AttributeType": "S"}]
    assert properties["TimeToLiveSpecification"] == {"AttributeName": TTL_ATTRIBUTE, "Enabled": True}
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["SSESpecification"] == {
        "SSEEnabled": True,
        "SSEType": "KMS",
        "KMSMasterKeyId": {"Fn::GetAtt": ["Key", "Arn"]},
    }
    assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Retain", "Retain")


def test_the_function_is_told_the_table_and_the_window(environment, template):
    assert environment["IDEMPOTENCY_TABLE_NAME"] == ref("IdempotencyTable")
    assert environment["CLIENT_TOKEN_WINDOW_MINUTES"] == ref("ClientTokenWindowMinutes")
    window = template["Parameters"]["ClientTokenWindowMinutes"]
    assert (window["Type"], window["Default"]) == ("Number", 60)
    assert 0 < window["MinValue"] < 1  # fractions allowed


@pytest.mark.parametrize("alarm", sorted(METRIC_ALARMS))
def test_each_record_alarm_watches_the_worker_s_own_metric_and_fires_on_one(resources, alarm):
    properties = resources[alarm]["Properties"]
    assert (properties["Namespace"], properties["MetricName"]) == (NAMESPACE, METRIC_ALARMS[alarm])
    # Powertools' EMF metrics carry the service dimension
    assert properties["Dimensions"] == [{"Name": "service", "Value": SERVICE}]
    assert (properties["Statistic"], properties["Threshold"]) == ("Sum", 0)
    assert properties["ComparisonOperator"] == "GreaterThanThreshold"
    assert properties["TreatMissingData"] == "notBreaching"
