"""The layers of docs/ARCHITECTURE.md hold: handlers -> service -> domain <- adapters, and no import cycles."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import ROOT

SRC = ROOT / "src"
# What each layer may import of the project (its own package always).
ALLOWED = {
    "handlers": {"service", "domain", "adapters"},
    "service": {"domain"},
    "adapters": {"domain"},
    "operations": {"domain"},  # the operator's command, beside the Lambda's layers
    "domain": set(),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    return {module_name(path): path for path in SRC.rglob("*.py")}


def imports(path: Path, known: set[str]) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        yield from (name for name in names if name in known)


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {name: set(imports(path, set(modules))) - {name} for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                found.append([*stack[stack.index(target) :], target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def test_the_cycle_finder_sees_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"a"}}) == [["a", "b", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_of_src_imports_itself_back_through_others() -> None:
    assert cycles(import_graph()) == []


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_each_layer_imports_only_the_layers_below_it(layer: str) -> None:
    graph = import_graph()
    against = sorted(
        f"{source} -> {target}"
        for source, targets in graph.items()
        if source.split(".")[0] == layer
        for target in targets
        if target.split(".")[0] not in ALLOWED[layer] | {layer}
    )
    assert against == []


def external_imports(path: Path) -> set[str]:
    tops: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            tops.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            tops.update(alias.name.split(".")[0] for alias in node.names)
    return tops


def test_the_domain_imports_neither_botocore_nor_powertools_nor_the_environment() -> None:
    forbidden = {"boto3", "botocore", "aws_lambda_powertools", "os"}
    offenders = {
        name: sorted(external_imports(path) & forbidden)
        for name, path in project_modules().items()
        if name.split(".")[0] == "domain" and external_imports(path) & forbidden
    }
    assert offenders == {}


SANDBOX_DOOR = ROOT / "sandbox" / "worker_code.py"


def test_the_sandbox_takes_the_workers_code_through_its_one_door_only() -> None:
    # Given every module of the sandbox and the packages of src/
    packages = set(ALLOWED)
    # When each one's imports are read
    strays = {
        str(path.relative_to(ROOT)): sorted(names)
        for path in (ROOT / "sandbox").rglob("*.py")
        if path != SANDBOX_DOOR
        and (names := {name for name in external_imports(path) if name.split(".")[0] in packages})
    }
    # Then only sandbox/worker_code.py imports src/ (the event source loads the handler by the template's path)
    assert strays == {}
