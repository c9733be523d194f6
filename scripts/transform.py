"""The one SAM-to-CloudFormation pipeline, offline: for cfn-lint and checkov, for the stack's tests, for the sandbox.

    python scripts/transform.py [--template FILE] [--code-uri s3://bucket/key] [--keep-metadata] [--out FILE]

Steps, each a function: :func:`load` (``template.yaml`` as data, short tags in their long form),
:func:`transform` (samtranslator's ``Translator``, what ``sam deploy`` runs, with no AWS call), and for moto
:func:`drop_unsupported` (the resource types moto's CloudFormation cannot create, read from moto's own
registry, dropped with every reference to them). SAM accepts only an S3 ``CodeUri`` in a transform; a local one
(``src/``) is what ``sam package`` would upload, so it is replaced by ``--code-uri`` (cfn-lint does the same);
the sandbox packages the code into moto's S3 first. A build and test tool: never part of the Lambda package.
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

import boto3
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.utils.py27hash_fix import to_py27_compatible_template, undo_mark_unicode_str_in_template
from samtranslator.yaml_helper import yaml_parse

ROOT: Final = Path(__file__).resolve().parent.parent
TEMPLATE: Final = ROOT / "template.yaml"
DEFAULT_CODE_URI: Final = "s3://payment-session-worker-artifacts/worker.zip"
DEFAULT_REGION: Final = "us-east-1"
DROPPED_PREFIX: Final = "sandbox-dropped-"


class TemplateError(ValueError):
    """The template cannot be read or transformed as the pipeline needs."""


def load(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template as data; CloudFormation's short tags (``!Ref``, ``!GetAtt``...) become their long form."""
    template = yaml_parse(path.read_text(encoding="utf-8"))
    if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
        raise TemplateError(f"{path} is not a CloudFormation template with Resources")
    return template


def transform(
    template: Mapping[str, Any],
    *,
    parameters: Mapping[str, Any] | None = None,
    region: str = DEFAULT_REGION,
    code_uri: str = DEFAULT_CODE_URI,
    keep_metadata: bool = False,
) -> dict[str, Any]:
    """The CloudFormation template SAM deploys for ``template`` (which is left unchanged).

    A function's local ``CodeUri`` becomes ``code_uri``; an S3 one (a string or a ``Bucket``/``Key`` map) is
    kept. ``keep_metadata`` copies each SAM resource's ``Metadata`` (e.g. checkov skips) to what it becomes.
    """
    fragment = copy.deepcopy(dict(template))
    for resource in fragment.get("Resources", {}).values():
        properties = resource.get("Properties") or {}
        uri = properties.get("CodeUri")
        if resource.get("Type") == "AWS::Serverless::Function" and isinstance(uri, str) and not uri.startswith("s3://"):
            properties["CodeUri"] = code_uri
    values: dict[str, Any] = dict(parameters or {})
    to_py27_compatible_template(fragment, values)
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=region))
    # No managed policy is referenced by name, so samtranslator's (online) managed policy map is never needed.
    result = translator.translate(
        fragment, parameter_values=values, get_managed_policy_map=dict, passthrough_metadata=keep_metadata
    )
    translator.metrics.publish()  # samtranslator's own timing metrics, to its no-op publisher
    plain: dict[str, Any] = json.loads(json.dumps(undo_mark_unicode_str_in_template(result), default=str))
    return plain


# ---------------------------------------------------------------------------------------------------------
# For moto
# ---------------------------------------------------------------------------------------------------------


@functools.cache
def moto_resource_types() -> frozenset[str]:
    """The resource types moto's CloudFormation can create (its own registry, for the installed moto)."""
    from moto.cloudformation.parsing import get_model_map

    return frozenset(get_model_map())


def logical_id_of(reference: Any) -> str | None:
    """``{"Ref": X}`` or ``{"Fn::GetAtt": [X, ...]}`` (or ``"X.Attr"``) -> ``X``."""
    if isinstance(reference, dict):
        if "Ref" in reference:
            return str(reference["Ref"])
        get_att = reference.get("Fn::GetAtt")
        if isinstance(get_att, list) and get_att:
            return str(get_att[0])
        if isinstance(get_att, str):
            return get_att.split(".", 1)[0]
    return None


def replace_references(value: Any, replace: Callable[[dict[str, Any]], Any | None], sub: Callable[[str], str]) -> Any:
    """``value`` with each intrinsic ``replace`` answers for swapped in, and each ``Fn::Sub`` string through ``sub``."""
    if isinstance(value, dict):
        replaced = replace(value)
        if replaced is not None:
            return replaced
        if "Fn::Sub" in value and len(value) == 1:
            body = value["Fn::Sub"]
            if isinstance(body, str):
                return {"Fn::Sub": sub(body)}
            if isinstance(body, list) and body and isinstance(body[0], str):
                return {"Fn::Sub": [sub(body[0]), *(replace_references(v, replace, sub) for v in body[1:])]}
        return {k: replace_references(v, replace, sub) for k, v in value.items()}
    if isinstance(value, list):
        return [replace_references(v, replace, sub) for v in value]
    return value


def _names_any(value: Any, names: frozenset[str]) -> bool:
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


def drop_unsupported(template: dict[str, Any], supported: frozenset[str] | None = None) -> list[str]:
    """Drop, in place, the resources whose type moto cannot create; returns each change, in words.

    ``supported`` defaults to :func:`moto_resource_types`. References to a dropped resource become
    ``sandbox-dropped-<LogicalId>`` placeholders (a ``Ref`` to a dropped ``AWS::Lambda::Alias`` becomes its
    function), ``DependsOn`` forgets it, and outputs that use it are dropped.
    """
    supported = moto_resource_types() if supported is None else supported
    resources: dict[str, Any] = template["Resources"]
    dropped = {k: r for k, r in resources.items() if r.get("Type") not in supported}
    if not dropped:
        return []
    names = frozenset(dropped)

    def placeholder(node: dict[str, Any]) -> Any | None:
        if set(node) == {"Ref"} and node["Ref"] in names:
            target = dropped[node["Ref"]]
            if target.get("Type") == "AWS::Lambda::Alias":  # an alias stands for its function
                return copy.deepcopy((target.get("Properties") or {}).get("FunctionName"))
            return f"{DROPPED_PREFIX}{node['Ref']}"
        get_att = node.get("Fn::GetAtt") if len(node) == 1 else None
        if isinstance(get_att, list) and get_att and get_att[0] in names:
            return f"{DROPPED_PREFIX}{get_att[0]}-{get_att[1] if len(get_att) > 1 else ''}"
        return None

    def sub(text: str) -> str:
        return re.sub(
            r"\$\{([A-Za-z0-9]+)(\.[A-Za-z0-9.]+)?\}",
            lambda m: f"{DROPPED_PREFIX}{m.group(1)}" if m.group(1) in names else m.group(0),
            text,
        )

    notes: list[str] = []
    for logical_id in dropped:
        del resources[logical_id]
    for logical_id, resource in list(resources.items()):
        depends = resource.get("DependsOn")
        if isinstance(depends, str) and depends in names:
            del resource["DependsOn"]
        elif isinstance(depends, list):
            resource["DependsOn"] = [d for d in depends if d not in names]
        resources[logical_id] = replace_references(resource, placeholder, sub)
    outputs: dict[str, Any] = template.get("Outputs") or {}
    for key in [k for k, v in outputs.items() if _names_any(v, names)]:
        del outputs[key]
        notes.append(f"output {key} dropped (it refers to a resource moto cannot create)")
    for logical_id, resource in sorted(dropped.items()):
        notes.append(f"{logical_id} ({resource.get('Type')}) dropped: moto's CloudFormation cannot create it")
    return notes


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--template", type=Path, default=TEMPLATE)
    parser.add_argument("--code-uri", default=DEFAULT_CODE_URI)
    parser.add_argument("--region", default=DEFAULT_REGION)
    parser.add_argument("--keep-metadata", action="store_true", help="keep SAM resources' Metadata")
    parser.add_argument("--out", type=Path, help="write here instead of stdout")
    args = parser.parse_args(argv)
    template = transform(
        load(args.template), code_uri=args.code_uri, region=args.region, keep_metadata=args.keep_metadata
    )
    text = json.dumps(template, indent=2) + "\n"
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
