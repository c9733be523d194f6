"""Transform template.yaml (AWS SAM) into plain CloudFormation, offline, with samtranslator.

    python scripts/transform.py [--template FILE] [--code-uri s3://bucket/key] [--out FILE]

SAM accepts only an S3 ``CodeUri`` in a transform; a local one (``src/``) is what ``sam package`` would
upload, so it is replaced by ``--code-uri`` first (cfn-lint does the same when it lints SAM).
Used by scripts/infra_checks.sh (cfn-lint on the result) and by tests/infrastructure.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from pathlib import Path
from typing import Any, Final

import boto3
from cfnlint.decode import decode
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

ROOT: Final = Path(__file__).resolve().parent.parent
TEMPLATE: Final = ROOT / "template.yaml"
DEFAULT_CODE_URI: Final = "s3://payment-session-worker-artifacts/worker.zip"
DEFAULT_REGION: Final = "us-east-1"
# Resource types moto's CloudFormation cannot create (tests/infrastructure proves each is still missing).
# EventSchemas fails the whole stack (its GetAtt in Outputs); moto skips an alarm or a queue policy with a
# warning. None matters locally: no schema registry, alarm or TLS-only policy is needed to run the worker.
MOTO_UNSUPPORTED_TYPES: Final = frozenset(
    {"AWS::EventSchemas::Registry", "AWS::EventSchemas::Schema", "AWS::CloudWatch::Alarm", "AWS::SQS::QueuePolicy"}
)


def load(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template as data; CloudFormation's short tags (``!Ref``, ``!GetAtt``...) become their long form."""
    template, matches = decode(str(path))
    if matches or template is None:
        raise ValueError(f"{path}: cannot parse: {[str(match) for match in matches]}")
    return dict(template)


def transform(
    template: dict[str, Any],
    *,
    code_uri: str = DEFAULT_CODE_URI,
    region: str = DEFAULT_REGION,
    parameters: dict[str, Any] | None = None,
    keep_metadata: bool = False,
) -> dict[str, Any]:
    """The CloudFormation template SAM deploys for ``template`` (which is left unchanged).

    ``keep_metadata`` copies each SAM resource's ``Metadata`` (e.g. checkov skips) to what it becomes.
    """
    template = copy.deepcopy(template)
    for resource in template.get("Resources", {}).values():
        properties = resource.get("Properties", {})
        if resource.get("Type") == "AWS::Serverless::Function" and not str(properties.get("CodeUri", "")).startswith(
            "s3://"
        ):
            properties["CodeUri"] = code_uri
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=region))
    # No managed policy is referenced by name, so the (online) managed policy map is never needed.
    result: dict[str, Any] = translator.translate(
        template,
        parameter_values=dict(parameters or {}),
        get_managed_policy_map=dict,
        passthrough_metadata=keep_metadata,
    )
    return json.loads(json.dumps(result, default=str))


def _references(node: Any) -> set[str]:
    """Logical IDs that ``node`` names with ``Ref``, ``Fn::GetAtt`` or ``${...}`` in ``Fn::Sub``."""
    found: set[str] = set()
    if isinstance(node, list):
        for item in node:
            found |= _references(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                target = value[0] if isinstance(value, list) else str(value).split(".", 1)[0]
                found.add(str(target))
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) else value
                found |= {name.split(".", 1)[0] for name in re.findall(r"\$\{([^!}][^}]*)\}", str(text))}
                found |= _references(value[1:] if isinstance(value, list) else [])
            else:
                found |= _references(value)
    return found


def without_types(template: dict[str, Any], types: frozenset[str]) -> dict[str, Any]:
    """``template`` less its resources of ``types`` and the outputs naming them.

    For emulators that lack a resource type (moto has no AWS::EventSchemas::*): a resource that still
    names a dropped one is an error, since silently dropping it would change the stack under test.
    """
    template = copy.deepcopy(template)
    resources = template["Resources"]
    dropped = {name for name, resource in resources.items() if resource.get("Type") in types}
    for name in dropped:
        del resources[name]
    for name, resource in resources.items():
        if dangling := _references(resource) & dropped:
            raise ValueError(f"{name} references {sorted(dangling)}, whose type is dropped")
    outputs = template.get("Outputs", {})
    for name in [name for name, output in outputs.items() if _references(output) & dropped]:
        del outputs[name]
    return template


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
