"""Published-event schemas: generated from the detail models, registered by the stack, met by the examples."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from pydantic import BaseModel

from domain.events import DETAIL_MODELS, DetailType
from scripts import schemas
from tests.support import ROOT

PUBLISHED = ROOT / "events" / "published"


def read_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def registered_schemas(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The stack's registry schemas by name, their Content parsed."""
    return {
        r["Properties"]["SchemaName"]: r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::EventSchemas::Schema"
    }


def test_the_committed_schemas_and_template_are_what_the_models_generate():
    # Given the detail models of domain.events
    # When the generator checks its outputs
    result = subprocess.run(
        [sys.executable, "scripts/schemas.py", "--check"], cwd=ROOT, capture_output=True, text=True, check=False
    )

    # Then nothing drifted (else: python scripts/schemas.py)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_change_to_a_detail_model_is_detected_as_drift(monkeypatch):
    # Given a detail model that gained a field the committed schema does not have
    class Changed(DETAIL_MODELS[DetailType.CREATED]):  # type: ignore[misc, valid-type]
        addedField: str

    monkeypatch.setitem(schemas.DETAIL_MODELS, DetailType.CREATED, Changed)  # type: ignore[index]

    # When the generator compares
    stale = schemas.stale_files()

    # Then both the schema file and the template's registry content are stale
    assert set(stale) == {schemas.schema_file(DetailType.CREATED), schemas.TEMPLATE}


def test_there_is_one_schema_file_per_detail_type_and_nothing_else():
    files = {path.name for path in schemas.SCHEMAS_DIR.glob("*.json")}
    assert files == {f"{detail_type}.json" for detail_type in DetailType}


@pytest.mark.parametrize("detail_type", list(DetailType), ids=str)
def test_each_schema_file_is_a_valid_draft_4_schema(detail_type):
    schema = read_json(schemas.schema_file(detail_type))
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"
    jsonschema.Draft4Validator.check_schema(schema)


def test_the_registry_holds_one_draft_4_schema_per_detail_type(resources):
    # Given the stack's schema registry
    (registry_name,) = [n for n, r in resources.items() if r["Type"] == "AWS::EventSchemas::Registry"]
    registered = registered_schemas(resources)

    # Then each detail type has its schema, named source@DetailType as EventBridge discovery does
    assert set(registered) == {f"{schemas.EVENT_SOURCE}@{detail_type}" for detail_type in DetailType}
    for properties in registered.values():
        assert properties["Type"] == "JSONSchemaDraft4"
        assert properties["RegistryName"] == {"Fn::GetAtt": [registry_name, "RegistryName"]}


@pytest.mark.parametrize("detail_type", list(DetailType), ids=str)
def test_the_registered_schema_is_the_whole_event_around_the_generated_detail_schema(resources, detail_type):
    # Given the registry's content for a detail type
    content = json.loads(registered_schemas(resources)[f"{schemas.EVENT_SOURCE}@{detail_type}"]["Content"])

    # Then it is a valid draft 4 schema of the EventBridge event, its detail the generated detail schema
    jsonschema.Draft4Validator.check_schema(content)
    assert content == schemas.event_schema(detail_type)
    assert content["properties"]["detail-type"] == {"enum": [str(detail_type)]}


@pytest.mark.parametrize("detail_type", list(DetailType), ids=str)
def test_the_published_example_validates_against_its_schemas_and_model(resources, detail_type):
    # Given the example event a subscriber receives for this detail type
    event = read_json(PUBLISHED / f"{detail_type}.json")
    registry_content = json.loads(registered_schemas(resources)[f"{schemas.EVENT_SOURCE}@{detail_type}"]["Content"])

    # Then the detail validates against the schema file, the whole event against the registry's schema,
    # and the detail against the pydantic model the worker builds it with
    assert event["detail-type"] == detail_type
    jsonschema.Draft4Validator(read_json(schemas.schema_file(detail_type))).validate(event["detail"])
    jsonschema.Draft4Validator(registry_content).validate(event)
    model: type[BaseModel] = DETAIL_MODELS[detail_type]
    model.model_validate(event["detail"])


def test_there_is_one_published_example_per_detail_type():
    assert {path.stem for path in PUBLISHED.glob("*.json")} == {str(detail_type) for detail_type in DetailType}


@pytest.mark.parametrize(
    ("detail_type", "mutation"),
    [
        (DetailType.CREATED, lambda d: d.pop("paymentSession")),
        (DetailType.CREATED, lambda d: d.update(schemaVersion="2.0")),
        (DetailType.FAILED, lambda d: d["error"].pop("retryable")),
        (DetailType.FAILED, lambda d: d["request"].update(limit={})),
    ],
    ids=["created-without-session", "unknown-schema-version", "failed-without-retryable", "unknown-request-field"],
)
def test_the_schemas_reject_a_detail_that_breaks_the_contract(detail_type, mutation):
    # Given a published example broken in one way
    detail = read_json(PUBLISHED / f"{detail_type}.json")["detail"]
    mutation(detail)

    # Then the schema rejects it
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(read_json(schemas.schema_file(detail_type))).validate(detail)
