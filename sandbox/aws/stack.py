"""``template.yaml`` itself, transformed offline and deployed into moto's CloudFormation.

The local queues, redrive policy, bus and function settings are therefore the production ones: change a
property in ``template.yaml`` and the sandbox changes with it. Steps of :func:`deploy_stack`:

1. package: each function's local ``CodeUri`` is zipped into moto's S3 (what ``sam package`` does);
2. transform: ``scripts/transform.py``, the pipeline cfn-lint and the stack's tests use (samtranslator, offline);
3. tune (optional, sandbox only): a shorter function ``Timeout``, queue ``VisibilityTimeout`` or redrive
   ``maxReceiveCount`` (:class:`Tuning`), through the template's own parameter when the property is a
   ``Ref`` to one, else in the sandbox's copy of the template (each change is reported);
4. adapt to moto (every change is reported, see ``docs/SANDBOX.md``);
5. ``CreateStack`` on moto's CloudFormation, then read back what was deployed (:class:`DeployedStack`).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Mapping, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from sandbox.aws.deployed import (
    DEFAULT_STACK_NAME,
    TEMPLATE_ENABLED_KEY,
    DeployedStack,
    StackError,
    describe_stack,
    find_sqs_event_source,
)
from sandbox.aws.server import DEFAULT_REGION, client
from scripts.transform import (
    TEMPLATE,
    drop_unsupported,
    load,
    logical_id_of,
    map_keys_as_strings,
    moto_resource_types,
    replace_references,
    transform,
)

__all__ = [
    "DEFAULT_STACK_NAME",
    "DEFAULT_TEMPLATE",
    "QUICK_RETRIES",
    "ROOT",
    "DeployedStack",
    "StackError",
    "StackSpec",
    "Tuning",
    "deploy_stack",
    "max_receive_count_parameters",
]

ROOT: Final = TEMPLATE.parent
DEFAULT_TEMPLATE: Final = TEMPLATE
ARTIFACT_BUCKET: Final = "sandbox-artifacts"
SANDBOX_PAYMENT_MANAGER_ARN: Final = (
    "arn:aws:bedrock-agentcore:us-east-1:123456789012:payment-manager/sandbox-manager-a1b2c3d4e5"
)
# Values for template parameters that have no default; used only when the template declares them.
SANDBOX_PARAMETERS: Final[Mapping[str, str]] = {"PaymentManagerArn": SANDBOX_PAYMENT_MANAGER_ARN}
# Sandbox values of parameters that have a default, used unless given: a retried record comes back by the
# queue's visibility timeout (which the event source models and Tuning shortens), not after the worker's
# retry delay of minutes (docs/SANDBOX.md).
SANDBOX_DEFAULTS: Final[Mapping[str, str]] = {"RetryDelaySeconds": "0"}
MAX_QUEUE_NAME: Final = 80
FIFO_PARAMETER: Final = "FifoQueues"  # the template's switch of both queues to FIFO ("true"/"false")
MAX_RECEIVE_COUNT_PARAMETER: Final = "MaxReceiveCount"  # the receive on which the worker dead-letters
_CODE_EXCLUDES: Final = ("__pycache__", ".pyc", ".mypy_cache", ".pytest_cache")


@dataclass(frozen=True, slots=True)
class Tuning:
    """Sandbox-only settings that make retries observable in seconds rather than minutes.

    Each is applied through the template's own parameter when the property is a ``Ref`` to one; otherwise
    the sandbox's copy of the template is changed. Either way it is reported in ``DeployedStack.notes``.
    """

    function_timeout: int | None = None
    visibility_timeout: int | None = None
    max_receive_count: int | None = None
    fifo_queues: bool = False  # both queues FIFO: the template's FifoQueues parameter when it has one

    def __bool__(self) -> bool:
        values = (self.function_timeout, self.visibility_timeout, self.max_receive_count)
        return self.fifo_queues or any(v is not None for v in values)


# The sandbox's own timeouts (``up`` and the demo, unless told to keep the template's): a handed-back record
# comes back in 10 s rather than the template's 200 s, so a record dead-lettered on its fifth receive is in the
# DLQ within a minute. 10 s, not less: the worker keeps 4 s of an invocation for publishing and dead-lettering.
QUICK_RETRIES: Final = Tuning(function_timeout=10, visibility_timeout=10)


@dataclass(frozen=True, slots=True)
class StackSpec:
    """The stack the sandbox deploys: from which template, under which name, with which parameters and
    :class:`Tuning`, in which region."""

    template_path: Path = DEFAULT_TEMPLATE
    name: str = DEFAULT_STACK_NAME
    parameters: Mapping[str, str] = field(default_factory=dict)
    tuning: Tuning = field(default_factory=Tuning)
    region: str = DEFAULT_REGION


def max_receive_count_parameters(count: int | None) -> dict[str, str]:
    """The template parameters for a ``MaxReceiveCount`` of ``count`` (the function's ``MAX_RECEIVE_COUNT``; the
    request queue's redrive ``maxReceiveCount`` is it + 3); none for ``None``: the template's default."""
    return {} if count is None else {MAX_RECEIVE_COUNT_PARAMETER: str(count)}


def resolve_parameters(template: Mapping[str, Any], given: Mapping[str, str] | None = None) -> dict[str, str]:
    """Parameter values for the stack: ``given``, else the sandbox's value for a parameter with no default."""
    declared: Mapping[str, Any] = template.get("Parameters") or {}
    given = dict(given or {})
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise StackError(f"template has no parameter {', '.join(unknown)}")
    values: dict[str, str] = {}
    missing: list[str] = []
    for name, spec in declared.items():
        if name in given:
            values[name] = str(given[name])
        elif name in SANDBOX_DEFAULTS:
            values[name] = SANDBOX_DEFAULTS[name]
        elif isinstance(spec, dict) and "Default" in spec:
            continue
        elif name in SANDBOX_PARAMETERS:
            values[name] = SANDBOX_PARAMETERS[name]
        else:
            missing.append(name)
    if missing:
        raise StackError(f"template parameters without a default need a value: {', '.join(missing)}")
    return values


def _code_zip(code_dir: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(code_dir.rglob("*")):
            if path.is_file() and not any(part in str(path) for part in _CODE_EXCLUDES):
                archive.write(path, path.relative_to(code_dir).as_posix())
    return buffer.getvalue()


def package_code(template: dict[str, Any], template_dir: Path, upload: Callable[[str, bytes], None]) -> dict[str, Path]:
    """Replace local ``CodeUri`` paths by S3 locations (zips uploaded with ``upload(key, data)``).

    Returns the local code directory of each function, by logical ID.
    """
    global_uri = ((template.get("Globals") or {}).get("Function") or {}).get("CodeUri")
    code_dirs: dict[str, Path] = {}
    for logical_id, resource in template["Resources"].items():
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::Serverless::Function":
            continue
        properties = resource.setdefault("Properties", {})
        uri = properties.get("CodeUri", global_uri)
        if not isinstance(uri, str) or uri.startswith("s3://"):
            continue
        code_dir = (template_dir / uri).resolve()
        if not code_dir.is_dir():
            raise StackError(f"{logical_id}: CodeUri {uri!r} is not a directory next to the template")
        key = f"{logical_id}.zip"
        upload(key, _code_zip(code_dir))
        properties["CodeUri"] = {"Bucket": ARTIFACT_BUCKET, "Key": key}
        code_dirs[logical_id] = code_dir
    return code_dirs


def _is_ref_to_parameter(value: Any, template: Mapping[str, Any]) -> str | None:
    if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in (template.get("Parameters") or {}):
        return str(value["Ref"])
    return None


def apply_tuning(template: dict[str, Any], parameters: dict[str, str], tuning: Tuning) -> list[str]:
    """Apply ``tuning`` to the transformed template or to ``parameters``; returns what was changed, in words."""
    if not tuning:
        return []
    resources = template["Resources"]
    _mapping, function_id, queue_id = find_sqs_event_source(template)
    notes: list[str] = []

    def set_value(container: MutableMapping[str, Any], key: str, value: int, where: str) -> None:
        parameter = _is_ref_to_parameter(container.get(key), template)
        if parameter is not None:
            parameters[parameter] = str(value)
            notes.append(f"{where} = {value} (parameter {parameter})")
        else:
            container[key] = value
            notes.append(f"{where} = {value} (set in the sandbox's copy: template.yaml has no parameter for it)")

    function_props = resources[function_id].setdefault("Properties", {})
    queue_props = resources[queue_id].setdefault("Properties", {})
    if tuning.function_timeout is not None:
        set_value(function_props, "Timeout", tuning.function_timeout, f"{function_id}.Timeout")
    if tuning.visibility_timeout is not None:
        set_value(queue_props, "VisibilityTimeout", tuning.visibility_timeout, f"{queue_id}.VisibilityTimeout")
    if tuning.max_receive_count is not None:
        redrive = queue_props.get("RedrivePolicy")
        if not isinstance(redrive, dict):
            raise StackError(f"{queue_id} has no RedrivePolicy to tune")
        set_value(redrive, "maxReceiveCount", tuning.max_receive_count, f"{queue_id}.RedrivePolicy.maxReceiveCount")
        variables = (function_props.get("Environment") or {}).get("Variables") or {}
        if "MAX_RECEIVE_COUNT" in variables and _is_ref_to_parameter(variables["MAX_RECEIVE_COUNT"], template) is None:
            variables["MAX_RECEIVE_COUNT"] = str(tuning.max_receive_count)
            notes.append(f"{function_id} MAX_RECEIVE_COUNT = {tuning.max_receive_count} (kept equal to the queue's)")
    if tuning.fifo_queues:
        notes += _make_fifo(template, parameters, queue_id)
    return notes


def _make_fifo(template: dict[str, Any], parameters: dict[str, str], queue_id: str) -> list[str]:
    """Both queues FIFO: the template's ``FifoQueues`` parameter when it declares one, else the sandbox's copy."""
    if FIFO_PARAMETER in (template.get("Parameters") or {}):
        parameters[FIFO_PARAMETER] = "true"
        return [f"{FIFO_PARAMETER} = true (parameter {FIFO_PARAMETER})"]
    resources = template["Resources"]
    redrive = resources[queue_id].get("Properties", {}).get("RedrivePolicy") or {}
    queues = [queue_id, *([dlq] if (dlq := logical_id_of(redrive.get("deadLetterTargetArn"))) else [])]
    notes: list[str] = []
    for logical_id in queues:
        properties = resources[logical_id].setdefault("Properties", {})
        properties.update({"FifoQueue": True, "ContentBasedDeduplication": False})
        notes.append(f"{logical_id}.FifoQueue = true (in the sandbox's copy: template.yaml has no {FIFO_PARAMETER})")
    return notes


def adapt_for_moto(template: dict[str, Any], stack_name: str, supported: frozenset[str] | None = None) -> list[str]:
    """Change the transformed template where moto cannot follow it; returns each change, in words.

    * SQS event source mappings are created disabled: moto would otherwise invoke the function itself on
      ``SendMessage`` (in Docker); the sandbox's own event source polls instead.
    * ``Ref`` of an ``AWS::Events::EventBus`` becomes ``GetAtt Name`` (the same value in AWS; moto's ``Ref``
      breaks in Lambda environment variables).
    * Resource types moto's CloudFormation cannot create are dropped (``scripts.transform.drop_unsupported``).
    * Queues without ``QueueName`` are named ``<stack>-<LogicalId>`` (instead of a random suffix), so the
      endpoints in ``events/env.json`` stay fixed.
    """
    notes = map_keys_as_strings(template)
    notes += _disable_queue_event_sources(template["Resources"])
    notes += _bus_refs_as_names(template)
    notes += drop_unsupported(template, supported)
    notes += _name_queues(template["Resources"], stack_name)
    return notes


def _disable_queue_event_sources(resources: dict[str, Any]) -> list[str]:
    """Each SQS event source mapping created disabled, what the template said kept in its ``Metadata``."""
    notes: list[str] = []
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Lambda::EventSourceMapping":
            continue
        properties = resource.setdefault("Properties", {})
        source = logical_id_of(properties.get("EventSourceArn"))
        if source in resources and resources[source].get("Type") == "AWS::SQS::Queue":
            # Keep what the template said, for the event source to honour (Metadata is inert in CloudFormation).
            resource.setdefault("Metadata", {})[TEMPLATE_ENABLED_KEY] = properties.get("Enabled", True)
            properties["Enabled"] = False
            notes.append(f"{logical_id}: created disabled; the sandbox's event source polls {source} instead")
    return notes


def _bus_refs_as_names(template: dict[str, Any]) -> list[str]:
    """Each ``Ref`` of an event bus, in the resources and the outputs, as ``GetAtt <bus>.Name``."""
    buses = {k for k, r in template["Resources"].items() if r.get("Type") == "AWS::Events::EventBus"}
    bus_refs: list[str] = []

    def bus_ref(node: dict[str, Any]) -> Any | None:
        if set(node) == {"Ref"} and node["Ref"] in buses:
            bus_refs.append(str(node["Ref"]))
            return {"Fn::GetAtt": [node["Ref"], "Name"]}
        return None

    template["Resources"] = replace_references(template["Resources"], bus_ref, lambda s: s)
    template["Outputs"] = replace_references(template.get("Outputs") or {}, bus_ref, lambda s: s)
    return [f"Ref {name} (an event bus) replaced by GetAtt {name}.Name" for name in sorted(set(bus_refs))]


def _name_queues(resources: dict[str, Any], stack_name: str) -> list[str]:
    """Each queue the template leaves unnamed (in some settings or all) named ``<stack>-<LogicalId>``."""
    notes: list[str] = []
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::SQS::Queue":
            continue
        properties = resource.setdefault("Properties", {})
        named = properties.get("QueueName")
        if isinstance(named, dict) and isinstance(named.get("Fn::If"), list):
            # Named in some settings only (FIFO): where the template leaves the name to CloudFormation, fix it.
            name = f"{stack_name}-{logical_id}"[:MAX_QUEUE_NAME]
            condition, *branches = named["Fn::If"]
            fixed = [name if branch == {"Ref": "AWS::NoValue"} else branch for branch in branches]
            properties["QueueName"] = {"Fn::If": [condition, *fixed]}
            notes.append(f"{logical_id}: named {name} unless {condition} (fixed, for events/env.json)")
            continue
        if "QueueName" in properties:
            continue
        fifo = str(properties.get("FifoQueue", "")).lower() == "true"
        suffix = ".fifo" if fifo else ""
        name = f"{stack_name}-{logical_id}"[: MAX_QUEUE_NAME - len(suffix)] + suffix
        properties["QueueName"] = name
        notes.append(f"{logical_id}: named {name} (fixed, for events/env.json)")
    return notes


@dataclass(slots=True)
class PreparedTemplate:
    """The CloudFormation template the sandbox deploys, with its parameters and every change it made."""

    template: dict[str, Any]
    parameters: dict[str, str]
    code_dirs: dict[str, Path]
    notes: list[str] = field(default_factory=list)


def prepare_template(
    spec: StackSpec,
    *,
    upload: Callable[[str, bytes], None] = lambda _key, _data: None,
    supported: frozenset[str] | None = None,
) -> PreparedTemplate:
    """Package, transform, tune and adapt ``spec``'s template for moto; nothing is deployed."""
    source = load(spec.template_path)
    values = resolve_parameters(source, spec.parameters)
    code_dirs = package_code(source, spec.template_path.parent, upload)
    transformed = transform(source, parameters=values, region=spec.region)
    notes: list[str] = []
    if spec.tuning:
        notes = apply_tuning(transformed, values, spec.tuning)
        if any("(parameter " in note for note in notes):
            # Parameters changed: transform again so samtranslator sees the values CloudFormation will.
            transformed = transform(source, parameters=values, region=spec.region)
            notes = apply_tuning(transformed, values, spec.tuning)
    notes += adapt_for_moto(transformed, spec.name, supported)
    return PreparedTemplate(template=transformed, parameters=values, code_dirs=code_dirs, notes=notes)


def deploy_stack(endpoint_url: str, spec: StackSpec | None = None) -> DeployedStack:
    """Deploy ``spec`` (by default ``template.yaml`` as it is) into moto at ``endpoint_url``; describe the result."""
    spec = spec or StackSpec()
    region = spec.region
    # moto's CloudFormation registry is slow to import, here and in the server: warm both at once.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="moto-types") as pool:
        supported = pool.submit(moto_resource_types)
        cloudformation = client("cloudformation", endpoint_url, region)
        cloudformation.list_stacks()
        s3 = client("s3", endpoint_url, region)
        s3.create_bucket(Bucket=ARTIFACT_BUCKET)
        supported_types = supported.result()

    def upload(key: str, data: bytes) -> None:
        s3.put_object(Bucket=ARTIFACT_BUCKET, Key=key, Body=data)

    prepared = prepare_template(spec, upload=upload, supported=supported_types)
    cloudformation.create_stack(
        StackName=spec.name,
        TemplateBody=json.dumps(prepared.template),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in prepared.parameters.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    stack = cloudformation.describe_stacks(StackName=spec.name)["Stacks"][0]
    if stack["StackStatus"] != "CREATE_COMPLETE":
        raise StackError(f"stack {spec.name}: {stack['StackStatus']} {stack.get('StackStatusReason', '')}")
    return describe_stack(
        endpoint_url,
        spec.name,
        region,
        template=prepared.template,
        code_dirs=prepared.code_dirs,
        notes=tuple(prepared.notes),
    )
