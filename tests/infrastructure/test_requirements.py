"""What the deployment package vendors is what pyproject.toml declares."""

from __future__ import annotations

from scripts.requirements import TARGET, render


def test_src_requirements_is_the_render_of_pyprojects_runtime_dependencies():
    # Given src/requirements.txt (what scripts/build.sh and sam build install)
    # Then it is exactly what scripts/requirements.py renders from pyproject.toml (else: make requirements)
    assert TARGET.read_text(encoding="utf-8") == render()


def test_boto3_and_botocore_are_vendored_not_taken_from_the_runtime():
    # Given the runtime requirements
    names = {line.split(">", 1)[0].split("=", 1)[0].split("<", 1)[0] for line in render().splitlines()[1:]}

    # Then the SDK is in the package: the runtime's botocore may predate CreatePaymentSession
    assert {"boto3", "botocore"} <= names
