"""The deployment package scripts/build.sh makes (make build; make test builds it through sam build first) runs
on Lambda arm64, holds what the tests ran, and is what sam build puts in .aws-sam/build."""

from __future__ import annotations

import _imp
import ast
import hashlib
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from botocore.loaders import Loader

from scripts.requirements import PACKAGE, installed_versions, locked_versions
from tests.support import ROOT

BUILD = PACKAGE.parent
ZIP = BUILD / "worker.zip"
SAM_BUILD = ROOT / ".aws-sam" / "build"
# What the tests and the package must agree on, at least (every shared distribution is compared).
CORE = {"pydantic", "pydantic-core", "aws-lambda-powertools", "botocore"}
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024
# The first four bytes of every .pyc CPython 3.13 writes (importlib.util.MAGIC_NUMBER: 3571, then "\r\n").
CPYTHON_313_MAGIC = (3571).to_bytes(2, "little") + b"\r\n"
HASH_BASED, CHECK_SOURCE = 0b01, 0b10  # PEP 552's flags, the .pyc header's second word

pytestmark = pytest.mark.skipif(not ZIP.is_file(), reason="no package: run make build (make test does)")


def package_files() -> dict[str, Path]:
    return {path.relative_to(PACKAGE).as_posix(): path for path in PACKAGE.rglob("*") if path.is_file()}


def test_the_handler_module_defines_lambda_handler_at_the_templates_path(function):
    # Given the handler the template names, relative to the package root
    module, name = function["Handler"].rsplit(".", 1)
    source = PACKAGE / f"{module}.py"

    # Then the package has that module, and it defines the function
    tree = ast.parse(source.read_text(encoding="utf-8"))
    assert name in {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


def test_the_package_holds_the_current_sources_and_no_tests_sandbox_or_operations():
    # Given the sources of the worker in src/ (the operator's command, src/operations/, is not the worker's)
    sources = {
        path.relative_to(ROOT / "src").as_posix(): path
        for path in (ROOT / "src").rglob("*.py")
        if "__pycache__" not in path.parts and path.relative_to(ROOT / "src").parts[0] != "operations"
    }
    files = package_files()

    # Then the package has each of them byte for byte (a stale build fails here: make build)
    for relative, path in sources.items():
        assert files[relative].read_bytes() == path.read_bytes(), f"{relative} is stale: make build"
    assert not any(name.startswith(("tests/", "sandbox/", "bench/", "operations/")) for name in files)


def test_the_vendored_botocore_knows_create_payment_session_and_its_errors():
    # Given botocore's service model for bedrock-agentcore as vendored in the package
    loader = Loader(extra_search_paths=[str(PACKAGE / "botocore" / "data")], include_default_search_paths=False)
    model = loader.load_service_model("bedrock-agentcore", "service-2")

    # Then it has the operation and the error the worker classifies
    assert "CreatePaymentSession" in model["operations"]
    assert "SubscriptionRequiredException" in model["shapes"]


def test_the_package_traces_with_opentelemetry_and_holds_no_xray_sdk():
    # Given the package's files
    files = package_files()

    # Then the OpenTelemetry SDK, the X-Ray propagator and the OTLP encoding are in it, the X-Ray SDK is not
    assert "opentelemetry/sdk/trace/__init__.py" in files
    assert "opentelemetry/propagators/aws/aws_xray_propagator.py" in files
    assert "opentelemetry/exporter/otlp/proto/common/trace_encoder.py" in files
    assert not any(name.startswith("aws_xray_sdk/") for name in files)


def test_every_native_extension_is_built_for_cpython_3_13_on_aarch64():
    # Given the compiled modules in the package
    extensions = [name for name in package_files() if name.endswith(".so")]

    # Then pydantic-core is among them, and each one is for Lambda's arm64 python3.13
    assert any(name.startswith("pydantic_core/") for name in extensions)
    for name in extensions:
        # an ELF for AArch64 (e_machine 183), whatever its name says (protobuf's is plain `_message.abi3.so`)
        header = (PACKAGE / name).read_bytes()[:20]
        assert header[:4] == b"\x7fELF" and int.from_bytes(header[18:20], "little") == 183, name
        assert name.endswith(("aarch64-linux-gnu.so", ".abi3.so")), name
        assert ".cpython-313-" in name or ".abi3." in name, name


def test_every_module_has_unchecked_hash_cpython_313_bytecode_of_its_own_source():
    # Given every module of the package, and what make build said of its bytecode
    modules = sorted(PACKAGE.rglob("*.py"))
    said = (BUILD / "bytecode.txt").read_text(encoding="utf-8").strip()
    assert modules

    # Then beside each is __pycache__/<module>.cpython-313.pyc, and nothing of another Python
    missing = [m for m in modules if not (m.parent / "__pycache__" / f"{m.stem}.cpython-313.pyc").is_file()]
    assert not missing, f"{len(missing)} of {len(modules)} modules have no 3.13 bytecode ({said}): {missing[:3]}"
    others = [p for p in PACKAGE.rglob("*.pyc") if not p.name.endswith(".cpython-313.pyc")]
    assert not others, others[:3]

    # And each is CPython 3.13's, hash-based, never checked against its source at import (read-only
    # /var/task, a zip's timestamps), and its hash is that of the module shipped beside it
    key = int.from_bytes(CPYTHON_313_MAGIC, "little")
    for module in modules:
        header = (module.parent / "__pycache__" / f"{module.stem}.cpython-313.pyc").read_bytes()[:16]
        flags = int.from_bytes(header[4:8], "little")
        assert header[:4] == CPYTHON_313_MAGIC, module
        assert flags & HASH_BASED and not flags & CHECK_SOURCE, (module, flags)
        assert header[8:16] == _imp.source_hash(key, module.read_bytes()), f"{module}: stale bytecode"


def test_the_zip_is_the_package_and_fits_lambdas_limit():
    # Given the zip beside the package directory
    with zipfile.ZipFile(ZIP) as archive:
        entries = {info.filename: info.file_size for info in archive.infolist()}

    # Then it holds the same files, and unzipped stays under Lambda's 250 MB
    files = package_files()
    assert set(entries) == set(files)
    assert sum(entries.values()) < LAMBDA_UNZIPPED_LIMIT


def test_every_distribution_in_the_package_has_the_version_the_tests_ran_on():
    # Given the distributions in the package (their dist-info) and in .venv, which runs the tests
    packaged = installed_versions(PACKAGE)
    tested = installed_versions()
    locked = locked_versions()

    # Then the package holds the worker's core dependencies, each with its dist-info (importlib.metadata reads it)
    assert packaged.keys() >= CORE, sorted(packaged)
    # And every one of them is the version .venv has, and the one uv.lock pins
    differ = {name: (version, tested.get(name)) for name, version in packaged.items() if tested.get(name) != version}
    assert not differ, f"package vs .venv: {differ}"
    assert all(version in locked[name] for name, version in packaged.items())


def test_the_package_holds_no_boto3():
    # Given the top level of the package
    names = {path.name for path in PACKAGE.iterdir()}

    # Then neither boto3 nor its s3transfer is there: the worker imports botocore only
    assert not {"boto3", "s3transfer"} & names
    assert not {name for name in installed_versions(PACKAGE) if name in {"boto3", "s3transfer"}}


@pytest.fixture(scope="module")
def native_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same package built for this machine's Python (scripts/build.sh --native, as the bench does)."""
    target = tmp_path_factory.mktemp("native") / "package"
    subprocess.run(
        ["bash", str(ROOT / "scripts" / "build.sh"), "--native", str(target)],
        cwd=ROOT,
        env={**os.environ, "PY": sys.executable},
        check=True,
        capture_output=True,
        timeout=600,
    )
    return target


def test_the_handler_imports_from_the_package_with_boto3_unimportable(function, native_package, tmp_path):
    # Given the package for this machine (the arm64 one cannot load here), a Lambda-like environment, and an
    # interpreter that sees only the standard library and the package, where importing boto3 fails
    module, name = function["Handler"].rsplit(".", 1)
    child = f"""
import importlib, sys
sys.path.insert(0, {str(native_package)!r})
sys.modules["boto3"] = None  # import boto3 raises ImportError
handler = getattr(importlib.import_module({module.replace("/", ".")!r}), {name!r})
assert callable(handler)
print(sorted({{name.split(".")[0] for name in sys.modules}}))
"""
    environment = {"PATH": os.environ["PATH"], "AWS_LAMBDA_FUNCTION_NAME": "worker", "AWS_REGION": "us-east-1"}

    # When it imports the handler the template names (python -S: no site-packages, nothing of .venv)
    done = subprocess.run(
        [sys.executable, "-S", "-c", child], cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=60
    )

    # Then the import succeeds, from the package's own pydantic, botocore and Powertools
    assert done.returncode == 0, done.stderr[-3000:]
    assert {"pydantic", "botocore", "aws_lambda_powertools"} <= set(ast.literal_eval(done.stdout.strip()))


def test_the_template_builds_the_function_with_the_projects_makefile_target(resources):
    # Given the function in template.yaml
    (logical_id,) = [key for key, resource in resources.items() if resource["Type"] == "AWS::Serverless::Function"]
    metadata = resources[logical_id]["Metadata"]

    # Then sam build runs build-<LogicalId> of the Makefile at the repository root, from the root
    assert metadata["BuildMethod"] == "makefile"
    assert (ROOT / metadata["ContextPath"]).resolve() == ROOT
    assert (ROOT / metadata["WorkingDirectory"]).resolve() == ROOT
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(rf"^build-{logical_id}: build\b", makefile, re.MULTILINE)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.skipif(not SAM_BUILD.is_dir(), reason="no .aws-sam/build: run make sam-build (make test does)")
def test_sam_build_put_the_same_package_with_its_bytecode_in_aws_sam_build(resources):
    # Given what sam build wrote for the function, and make build's package
    (logical_id,) = [key for key, resource in resources.items() if resource["Type"] == "AWS::Serverless::Function"]
    built = SAM_BUILD / logical_id
    sam_files = {path.relative_to(built).as_posix(): path for path in built.rglob("*") if path.is_file()}
    files = package_files()

    # Then they are the same files, byte for byte, CPython 3.13 bytecode included (more than 100 .pyc)
    assert set(sam_files) == set(files)
    assert all(digest(sam_files[name]) == digest(files[name]) for name in files)
    assert sum(name.endswith(".cpython-313.pyc") for name in sam_files) > 100

    # And sam build's template (what sam deploy uploads, samconfig.toml) takes its code from there
    template = (SAM_BUILD / "template.yaml").read_text(encoding="utf-8")
    assert f"CodeUri: {logical_id}\n" in template
