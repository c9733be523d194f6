"""The deployment package scripts/build.sh makes (make build; make test builds it first) runs on Lambda arm64."""

from __future__ import annotations

import _imp
import ast
import zipfile
from pathlib import Path

import pytest
from botocore.loaders import Loader

from tests.support import ROOT

BUILD = ROOT / ".build"
PACKAGE = BUILD / "package"
ZIP = BUILD / "worker.zip"
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
    assert (PACKAGE / "boto3" / "__init__.py").is_file()


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


def test_the_sam_deploy_template_points_at_the_package(template):
    # Given the template make build writes for sam deploy
    built = (BUILD / "template.yaml").read_text(encoding="utf-8")

    # Then it is template.yaml with the built package as the function's code
    source = (ROOT / "template.yaml").read_text(encoding="utf-8")
    assert built == source.replace("\n      CodeUri: src/\n", "\n      CodeUri: package/\n")
    assert built != source
