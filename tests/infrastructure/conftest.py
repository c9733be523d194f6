"""Fixtures of the stack's tests: template.yaml as data, and the CloudFormation SAM turns it into."""

from __future__ import annotations

from typing import Any

import pytest

from scripts.transform import load, transform


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    """template.yaml with CloudFormation's short tags in their long form (``{"Ref": ...}``)."""
    return load()


@pytest.fixture(scope="session")
def transformed(template: dict[str, Any]) -> dict[str, Any]:
    """The plain CloudFormation of the stack, as samtranslator produces it for a deploy."""
    return transform(template)


@pytest.fixture(scope="session")
def resources(template: dict[str, Any]) -> dict[str, Any]:
    return dict(template["Resources"])


@pytest.fixture(scope="session")
def function(resources: dict[str, Any]) -> dict[str, Any]:
    """The worker's properties (the one AWS::Serverless::Function)."""
    (found,) = [r for r in resources.values() if r["Type"] == "AWS::Serverless::Function"]
    return dict(found["Properties"])


@pytest.fixture(scope="session")
def environment(function: dict[str, Any]) -> dict[str, Any]:
    return dict(function["Environment"]["Variables"])


@pytest.fixture(scope="session")
def sqs_event_source(function: dict[str, Any]) -> dict[str, Any]:
    (found,) = [e for e in function["Events"].values() if e["Type"] == "SQS"]
    return dict(found["Properties"])
