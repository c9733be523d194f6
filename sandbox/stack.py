"""``template.yaml`` itself, transformed offline and deployed into moto's CloudFormation.

The local queues, redrive policy, bus and function settings are therefore the production ones: change a
property in ``template.yaml`` and the sandbox changes with it. Steps of :func:`deploy_stack`:

1. package: each function's local ``CodeUri`` is zipped into moto's S3 (what ``sam package`` does);
2. transform: samtranslator, offline (a stub policy loader; no AWS call);
3. tune (optional, sandbox only): a shorter function ``Timeout``, queue ``VisibilityTimeout`` or redrive
   ``maxReceiveCount`` (:class:`Tuning`), through the template's own parameter when the property is a
   ``Ref`` to one, else in the sandbox's copy of the template (each change is reported);
4. adapt to moto (every change is reported, see ``docs/SANDBOX.md``);
5. ``CreateStack`` on moto's CloudFormation, then read back what was deployed (:class:`DeployedStack`).
"""

from __future__ import annotations

import copy
import functools
import io
import json
import re
import zipfile
from collections.abc import Callable, Mapping, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from samtranslator.parser.parser import Parser  # type: ignore[import-untyped]
from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader  # type: ignore[import-untyped]
from samtranslator.translator.translator import Translator  # type: ignore[import-untyped]
from samtranslator.utils.py27hash_fix import to_py27_compatible_template, undo_mark_unicode_str_in_template  # type: ignore[import-untyped]
from samtranslator.yaml_helper import yaml_parse  # type: ignore[import-untyped]

from sandbox.aws import ACCOUNT_ID, DEFAULT_REGION, client, session

ROOT: Final = Path(__file__).resolve().parent.parent
DEFAULT_TEMPLATE: Final = ROOT / "template.yaml"
DEFAULT_STACK_NAME: Final = "payment-session-worker"
ARTIFACT_BUCKET: Final = "sandbox-artifacts"
SANDBOX_PAYMENT_MANAGER_ARN: Final = (
    "arn:aws:bedrock-agentcore:us-east-1:123456789012:payment-manager/sandbox-manager-a1b2c3d4e5"
)
# Values for template parameters that have no default; used only when the template declares them.
SANDBOX_PARAMETERS: Final[Mapping[str, str]] = {"PaymentManagerArn": SANDBOX_PAYMENT_MANAGER_ARN}
MAX_QUEUE_NAME: Final = 80
TEMPLATE_ENABLED_KEY: Final = "SandboxTemplateEnabled"
_CODE_EXCLUDES: Final = ("__pycache__", ".pyc", ".mypy_cache", ".pytest_cache")


class StackError(RuntimeError):
    """The template cannot be deployed into the sandbox, or the stack is not what the sandbox expects."""


# ---------------------------------------------------------------------------------------------------------
# What was deployed
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RedrivePolicy:
    """A queue's redrive policy: after ``max_receive_count`` receives SQS moves a message to the target."""

    dead_letter_target_arn: str
    max_receive_count: int


@dataclass(frozen=True, slots=True)
class QueueInfo:
    """An SQS queue of the stack, as moto has it."""

    logical_id: str
    name: str
    url: str
    arn: str
    visibility_timeout: int
    message_retention_period: int
    receive_wait_time: int
    delay_seconds: int
    fifo: bool
    redrive_policy: RedrivePolicy | None
    attributes: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class FunctionInfo:
    """The worker function as deployed: what the local event source needs to run it like Lambda would."""

    logical_id: str
    name: str
    arn: str
    handler: str
    runtime: str
    timeout: int
    memory_size: int
    environment: Mapping[str, str]
    code_dir: Path | None

    @property
    def module_and_attribute(self) -> tuple[str, str]:
        """``handlers/create_payment_session.lambda_handler`` -> (``handlers.create_payment_session``, ...)."""
        module, _, attribute = self.handler.rpartition(".")
        if not module or not attribute:
            raise StackError(f"function handler {self.handler!r} is not module.attribute")
        return module.replace("/", "."), attribute


@dataclass(frozen=True, slots=True)
class EventSourceMappingInfo:
    """The function's SQS event source mapping (deployed disabled in moto; the sandbox polls instead)."""

    logical_id: str
    uuid: str
    queue_arn: str
    batch_size: int
    maximum_batching_window: int
    function_response_types: tuple[str, ...]
    maximum_concurrency: int | None
    enabled_in_template: bool

    @property
    def reports_batch_item_failures(self) -> bool:
        """Whether the function's ``batchItemFailures`` are honoured (``ReportBatchItemFailures``)."""
        return "ReportBatchItemFailures" in self.function_response_types


@dataclass(frozen=True, slots=True)
class StackResource:
    logical_id: str
    resource_type: str
    physical_id: str


@dataclass(frozen=True, slots=True)
class DeployedStack:
    """The stack in moto, read back after deployment: the sandbox runs from this, never from guesses."""

    name: str
    region: str
    account_id: str
    endpoint_url: str
    parameters: Mapping[str, str]
    outputs: Mapping[str, str]
    resources: Mapping[str, StackResource]
    queues: Mapping[str, QueueInfo]
    function: FunctionInfo
    event_source: EventSourceMappingInfo
    bus_name: str
    bus_arn: str
    notes: tuple[str, ...] = ()

    @property
    def request_queue(self) -> QueueInfo:
        """The queue the function's event source mapping reads."""
        for queue in self.queues.values():
            if queue.arn == self.event_source.queue_arn:
                return queue
        raise StackError(f"no queue of the stack has the event source's ARN {self.event_source.queue_arn}")

    @property
    def dead_letter_queue(self) -> QueueInfo:
        """The request queue's redrive target (the worker's ``DEAD_LETTER_QUEUE_URL`` names the same queue)."""
        redrive = self.request_queue.redrive_policy
        if redrive is None:
            raise StackError("the request queue has no redrive policy")
        for queue in self.queues.values():
            if queue.arn == redrive.dead_letter_target_arn:
                return queue
        raise StackError(f"the redrive target {redrive.dead_letter_target_arn} is not a queue of the stack")

    @property
    def event_source_name(self) -> str:
        """``Source`` of the worker's events (``EVENT_SOURCE``, CONTRACT section 4)."""
        return self.function.environment.get("EVENT_SOURCE", "payment-session-worker")


# ---------------------------------------------------------------------------------------------------------
# Template preparation
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tuning:
    """Sandbox-only settings that make retries observable in seconds rather than minutes.

    Each is applied through the template's own parameter when the property is a ``Ref`` to one; otherwise
    the sandbox's copy of the template is changed. Either way it is reported in ``DeployedStack.notes``.
    """

    function_timeout: int | None = None
    visibility_timeout: int | None = None
    max_receive_count: int | None = None

    def __bool__(self) -> bool:
        return any(v is not None for v in (self.function_timeout, self.visibility_timeout, self.max_receive_count))


class _NoManagedPolicies(ManagedPolicyLoader):  # type: ignore[misc]
    """samtranslator's policy loader without IAM: its bundled map of AWS managed policies is enough."""

    def __init__(self) -> None:
        self._policy_map: dict[str, str] = {}

    def load(self) -> dict[str, str]:
        return {}


def load_template(path: Path = DEFAULT_TEMPLATE) -> dict[str, Any]:
    """``template.yaml`` as a dict (short-form intrinsics such as ``!Ref`` expanded)."""
    template = yaml_parse(path.read_text(encoding="utf-8"))
    if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
        raise StackError(f"{path} is not a CloudFormation template with Resources")
    return template


def transform_template(
    template: Mapping[str, Any], parameters: Mapping[str, str], region: str = DEFAULT_REGION
) -> dict[str, Any]:
    """The SAM template as plain CloudFormation, offline (``samtranslator``'s ``transform`` with a region)."""
    fragment = copy.deepcopy(dict(template))
    values: dict[str, Any] = dict(parameters)
    to_py27_compatible_template(fragment, values)
    translator = Translator(None, Parser(), boto_session=session(region))
    loader = _NoManagedPolicies()
    transformed = translator.translate(fragment, parameter_values=values, get_managed_policy_map=loader.load)
    translator.metrics.publish()  # samtranslator's own timing metrics, to its no-op publisher
    result: dict[str, Any] = undo_mark_unicode_str_in_template(transformed)
    return result


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


def _logical_id_of(reference: Any) -> str | None:
    """``{"Ref": X}`` or ``{"Fn::GetAtt": [X, ...]}`` -> ``X``."""
    if isinstance(reference, dict):
        if "Ref" in reference:
            return str(reference["Ref"])
        get_att = reference.get("Fn::GetAtt")
        if isinstance(get_att, list) and get_att:
            return str(get_att[0])
        if isinstance(get_att, str):
            return get_att.split(".", 1)[0]
    return None


def find_sqs_event_source(template: Mapping[str, Any]) -> tuple[str, str, str]:
    """(mapping, function, queue) logical IDs of the transformed template's SQS event source mapping."""
    resources: Mapping[str, Any] = template["Resources"]
    found: list[tuple[str, str, str]] = []
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Lambda::EventSourceMapping":
            continue
        properties = resource.get("Properties") or {}
        queue = _logical_id_of(properties.get("EventSourceArn"))
        function = _logical_id_of(properties.get("FunctionName"))
        if queue is not None and function and resources.get(queue, {}).get("Type") == "AWS::SQS::Queue":
            if resources.get(function, {}).get("Type") == "AWS::Lambda::Alias":
                function = _logical_id_of(resources[function]["Properties"].get("FunctionName")) or function
            found.append((logical_id, function, queue))
    if len(found) != 1:
        raise StackError(f"expected one SQS event source mapping in the template, found {len(found)}")
    return found[0]


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
    return notes


@functools.cache
def supported_resource_types() -> frozenset[str]:
    """The resource types moto's CloudFormation can create (its own registry, for the installed moto)."""
    from moto.cloudformation.parsing import get_model_map

    return frozenset(get_model_map())


def _replace_references(value: Any, replace: Callable[[dict[str, Any]], Any | None], sub: Callable[[str], str]) -> Any:
    if isinstance(value, dict):
        replaced = replace(value)
        if replaced is not None:
            return replaced
        if "Fn::Sub" in value and len(value) == 1:
            body = value["Fn::Sub"]
            if isinstance(body, str):
                return {"Fn::Sub": sub(body)}
            if isinstance(body, list) and body and isinstance(body[0], str):
                return {"Fn::Sub": [sub(body[0]), *(_replace_references(v, replace, sub) for v in body[1:])]}
        return {k: _replace_references(v, replace, sub) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_references(v, replace, sub) for v in value]
    return value


def _references(value: Any, names: frozenset[str]) -> bool:
    text = json.dumps(value)
    return any(
        f'"Ref": "{name}"' in text or f'["{name}", ' in text or f'"{name}.' in text or f"${{{name}" in text
        for name in names
    )


def map_keys_as_strings(template: dict[str, Any]) -> list[str]:
    """Make each Number parameter that keys an ``Fn::FindInMap`` a String; returns each change, in words.

    moto reads a Number parameter as a number, so its ``Fn::FindInMap`` misses the table's keys (strings, as
    CloudFormation passes every parameter's value).
    """
    notes: list[str] = []
    text = json.dumps(template["Resources"])
    for name in sorted(set(re.findall(r'"Fn::FindInMap": \["[^"]+", \{"Ref": "([^"]+)"\}', text))):
        parameter = (template.get("Parameters") or {}).get(name)
        if isinstance(parameter, dict) and parameter.get("Type") == "Number":
            parameter["Type"] = "String"
            if "Default" in parameter:
                parameter["Default"] = str(parameter["Default"])
            notes.append(f"parameter {name}: a String for moto, whose Fn::FindInMap misses a Number's key")
    return notes


def adapt_for_moto(template: dict[str, Any], stack_name: str, supported: frozenset[str]) -> list[str]:
    """Change the transformed template where moto cannot follow it; returns each change, in words.

    * SQS event source mappings are created disabled: moto would otherwise invoke the function itself on
      ``SendMessage`` (in Docker); the sandbox's own event source polls instead.
    * ``Ref`` of an ``AWS::Events::EventBus`` becomes ``GetAtt Name`` (the same value in AWS; moto's ``Ref``
      breaks in Lambda environment variables).
    * Resource types moto's CloudFormation cannot create are dropped; references to them become
      placeholders and outputs that use them are dropped.
    * Queues without ``QueueName`` are named ``<stack>-<LogicalId>`` (instead of a random suffix), so the
      endpoints in ``events/env.json`` stay fixed.
    """
    resources: dict[str, Any] = template["Resources"]
    notes: list[str] = []

    notes += map_keys_as_strings(template)
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Lambda::EventSourceMapping":
            continue
        properties = resource.setdefault("Properties", {})
        source = _logical_id_of(properties.get("EventSourceArn"))
        if source in resources and resources[source].get("Type") == "AWS::SQS::Queue":
            # Keep what the template said, for the event source to honour (Metadata is inert in CloudFormation).
            resource.setdefault("Metadata", {})[TEMPLATE_ENABLED_KEY] = properties.get("Enabled", True)
            properties["Enabled"] = False
            notes.append(f"{logical_id}: created disabled; the sandbox's event source polls {source} instead")

    buses = {k for k, r in resources.items() if r.get("Type") == "AWS::Events::EventBus"}
    bus_refs: list[str] = []

    def bus_ref(node: dict[str, Any]) -> Any | None:
        if set(node) == {"Ref"} and node["Ref"] in buses:
            bus_refs.append(str(node["Ref"]))
            return {"Fn::GetAtt": [node["Ref"], "Name"]}
        return None

    template["Resources"] = resources = _replace_references(resources, bus_ref, lambda s: s)
    template["Outputs"] = _replace_references(template.get("Outputs") or {}, bus_ref, lambda s: s)
    for name in sorted(set(bus_refs)):
        notes.append(f"Ref {name} (an event bus) replaced by GetAtt {name}.Name")

    dropped = {k: r for k, r in resources.items() if r.get("Type") not in supported}
    if dropped:
        names = frozenset(dropped)

        def placeholder(node: dict[str, Any]) -> Any | None:
            if set(node) == {"Ref"} and node["Ref"] in names:
                target = dropped[node["Ref"]]
                if target.get("Type") == "AWS::Lambda::Alias":  # an alias stands for its function
                    return copy.deepcopy((target.get("Properties") or {}).get("FunctionName"))
                return f"sandbox-dropped-{node['Ref']}"
            get_att = node.get("Fn::GetAtt") if len(node) == 1 else None
            if isinstance(get_att, list) and get_att and get_att[0] in names:
                return f"sandbox-dropped-{get_att[0]}-{get_att[1] if len(get_att) > 1 else ''}"
            return None

        def sub(text: str) -> str:
            return re.sub(
                r"\$\{([A-Za-z0-9]+)(\.[A-Za-z0-9.]+)?\}",
                lambda m: f"sandbox-dropped-{m.group(1)}" if m.group(1) in names else m.group(0),
                text,
            )

        for logical_id in dropped:
            del resources[logical_id]
        for logical_id, resource in list(resources.items()):
            depends = resource.get("DependsOn")
            if isinstance(depends, str) and depends in names:
                del resource["DependsOn"]
            elif isinstance(depends, list):
                resource["DependsOn"] = [d for d in depends if d not in names]
            resources[logical_id] = _replace_references(resource, placeholder, sub)
        outputs: dict[str, Any] = template.get("Outputs") or {}
        for key in [k for k, v in outputs.items() if _references(v, names)]:
            del outputs[key]
            notes.append(f"output {key} dropped (it refers to a resource moto cannot create)")
        for logical_id, resource in sorted(dropped.items()):
            notes.append(f"{logical_id} ({resource.get('Type')}) dropped: moto's CloudFormation cannot create it")

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


# ---------------------------------------------------------------------------------------------------------
# Deploy and describe
# ---------------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class PreparedTemplate:
    """The CloudFormation template the sandbox deploys, with its parameters and every change it made."""

    template: dict[str, Any]
    parameters: dict[str, str]
    code_dirs: dict[str, Path]
    notes: list[str] = field(default_factory=list)


def prepare_template(
    template_path: Path,
    *,
    stack_name: str,
    parameters: Mapping[str, str] | None = None,
    tuning: Tuning | None = None,
    region: str = DEFAULT_REGION,
    upload: Callable[[str, bytes], None] = lambda _key, _data: None,
    supported: frozenset[str] | None = None,
) -> PreparedTemplate:
    """Package, transform, tune and adapt ``template_path`` for moto; nothing is deployed."""
    source = load_template(template_path)
    values = resolve_parameters(source, parameters)
    code_dirs = package_code(source, template_path.parent, upload)
    transformed = transform_template(source, values, region)
    notes: list[str] = []
    if tuning:
        notes = apply_tuning(transformed, values, tuning)
        if any("(parameter " in note for note in notes):
            # Parameters changed: transform again so samtranslator sees the values CloudFormation will.
            transformed = transform_template(source, values, region)
            notes = apply_tuning(transformed, values, tuning)
    notes += adapt_for_moto(transformed, stack_name, supported if supported is not None else supported_resource_types())
    return PreparedTemplate(template=transformed, parameters=values, code_dirs=code_dirs, notes=notes)


def deploy_stack(
    endpoint_url: str,
    *,
    template_path: Path = DEFAULT_TEMPLATE,
    stack_name: str = DEFAULT_STACK_NAME,
    parameters: Mapping[str, str] | None = None,
    tuning: Tuning | None = None,
    region: str = DEFAULT_REGION,
) -> DeployedStack:
    """Deploy ``template_path`` into moto at ``endpoint_url`` and describe what was deployed."""
    # moto's CloudFormation registry is slow to import, here and in the server: warm both at once.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="moto-types") as pool:
        supported = pool.submit(supported_resource_types)
        cloudformation = client("cloudformation", endpoint_url, region)
        cloudformation.list_stacks()
        s3 = client("s3", endpoint_url, region)
        s3.create_bucket(Bucket=ARTIFACT_BUCKET)
        supported_types = supported.result()

    def upload(key: str, data: bytes) -> None:
        s3.put_object(Bucket=ARTIFACT_BUCKET, Key=key, Body=data)

    prepared = prepare_template(
        template_path,
        stack_name=stack_name,
        parameters=parameters,
        tuning=tuning,
        region=region,
        upload=upload,
        supported=supported_types,
    )
    cloudformation.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(prepared.template),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in prepared.parameters.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    if stack["StackStatus"] != "CREATE_COMPLETE":
        raise StackError(f"stack {stack_name}: {stack['StackStatus']} {stack.get('StackStatusReason', '')}")
    return describe_stack(
        endpoint_url,
        stack_name=stack_name,
        region=region,
        template=prepared.template,
        code_dirs=prepared.code_dirs,
        notes=tuple(prepared.notes),
    )


def _queue_info(sqs: Any, logical_id: str, url: str) -> QueueInfo:
    attributes: dict[str, str] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    redrive = None
    if "RedrivePolicy" in attributes:
        policy = json.loads(attributes["RedrivePolicy"])
        redrive = RedrivePolicy(str(policy["deadLetterTargetArn"]), int(policy["maxReceiveCount"]))
    return QueueInfo(
        logical_id=logical_id,
        name=attributes["QueueArn"].rsplit(":", 1)[-1],
        url=url,
        arn=attributes["QueueArn"],
        visibility_timeout=int(attributes.get("VisibilityTimeout", 30)),
        message_retention_period=int(attributes.get("MessageRetentionPeriod", 345600)),
        receive_wait_time=int(attributes.get("ReceiveMessageWaitTimeSeconds", 0)),
        delay_seconds=int(attributes.get("DelaySeconds", 0)),
        fifo=attributes.get("FifoQueue", "false") == "true",
        redrive_policy=redrive,
        attributes=attributes,
    )


def describe_stack(
    endpoint_url: str,
    *,
    stack_name: str = DEFAULT_STACK_NAME,
    region: str = DEFAULT_REGION,
    template: Mapping[str, Any] | None = None,
    template_path: Path | None = DEFAULT_TEMPLATE,
    code_dirs: Mapping[str, Path] | None = None,
    notes: tuple[str, ...] = (),
) -> DeployedStack:
    """Read a deployed stack back from moto (also used to attach to a running sandbox)."""
    cloudformation = client("cloudformation", endpoint_url, region)
    stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    if not stacks:
        raise StackError(f"no stack {stack_name} at {endpoint_url}")
    stack = stacks[0]
    if template is None:
        body = cloudformation.get_template(StackName=stack_name)["TemplateBody"]
        template = json.loads(body) if isinstance(body, str) else body
    assert template is not None
    if code_dirs is None and template_path is not None and template_path.exists():
        source = load_template(template_path)
        code_dirs = {
            logical_id: (template_path.parent / uri).resolve()
            for logical_id, resource in source["Resources"].items()
            if isinstance(uri := (resource.get("Properties") or {}).get("CodeUri"), str) and not uri.startswith("s3:")
        }
    summaries: list[dict[str, Any]] = []
    paginator = cloudformation.get_paginator("list_stack_resources")
    for page in paginator.paginate(StackName=stack_name):
        summaries.extend(page["StackResourceSummaries"])
    resources = {
        s["LogicalResourceId"]: StackResource(
            s["LogicalResourceId"], s["ResourceType"], s.get("PhysicalResourceId", "")
        )
        for s in summaries
    }

    sqs = client("sqs", endpoint_url, region)
    queues = {
        r.logical_id: _queue_info(sqs, r.logical_id, r.physical_id)
        for r in resources.values()
        if r.resource_type == "AWS::SQS::Queue"
    }

    mapping_id, function_id, _queue_id = find_sqs_event_source(template)
    lambda_client = client("lambda", endpoint_url, region)
    configuration = lambda_client.get_function_configuration(FunctionName=resources[function_id].physical_id)
    function = FunctionInfo(
        logical_id=function_id,
        name=configuration["FunctionName"],
        arn=configuration["FunctionArn"],
        handler=configuration["Handler"],
        runtime=configuration.get("Runtime", ""),
        timeout=int(configuration.get("Timeout", 3)),
        memory_size=int(configuration.get("MemorySize", 128)),
        environment={k: str(v) for k, v in (configuration.get("Environment") or {}).get("Variables", {}).items()},
        code_dir=(code_dirs or {}).get(function_id),
    )
    mapping = lambda_client.get_event_source_mapping(UUID=resources[mapping_id].physical_id)
    mapping_metadata = template["Resources"][mapping_id].get("Metadata") or {}
    event_source = EventSourceMappingInfo(
        logical_id=mapping_id,
        uuid=mapping["UUID"],
        queue_arn=mapping["EventSourceArn"],
        batch_size=int(mapping.get("BatchSize", 10)),
        maximum_batching_window=int(mapping.get("MaximumBatchingWindowInSeconds", 0)),
        function_response_types=tuple(mapping.get("FunctionResponseTypes") or ()),
        maximum_concurrency=(mapping.get("ScalingConfig") or {}).get("MaximumConcurrency"),
        enabled_in_template=str(mapping_metadata.get(TEMPLATE_ENABLED_KEY, True)).lower() != "false",
    )

    bus_name = function.environment.get("EVENT_BUS_NAME", "default")
    bus = client("events", endpoint_url, region).describe_event_bus(Name=bus_name)
    return DeployedStack(
        name=stack_name,
        region=region,
        account_id=ACCOUNT_ID,
        endpoint_url=endpoint_url,
        parameters={p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])},
        outputs={o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
        resources=resources,
        queues=queues,
        function=function,
        event_source=event_source,
        bus_name=bus["Name"],
        bus_arn=bus["Arn"],
        notes=notes,
    )
