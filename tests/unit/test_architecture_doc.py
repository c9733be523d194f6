"""docs/ARCHITECTURE.md holds to the tree: every path and command it names is there, and nothing is left off it.

A newcomer finds the room of each CONTRACT section and each sandbox wing from the page, so the page fails the
build when a module it names is renamed or moved, when a package of ``src/`` or a wing or loose module of
``sandbox/`` is added without a line on it, or when the contract gains a section the page does not place.
"""

from __future__ import annotations

import ast
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.cli import build_parser
from tests.support import ROOT

DOC = ROOT / "docs" / "ARCHITECTURE.md"
CONTRACT = ROOT / "docs" / "CONTRACT.md"
SRC = ROOT / "src"
SANDBOX = ROOT / "sandbox"
# A backticked path is the project's when it starts with one of these folders (``moto/sqs/`` is moto's).
PROJECT_FOLDERS = ("src", "sandbox", "tests", "bench", "scripts", "docs", "events", "tools")
# Where a dotted module name is looked up, as the tests' sys.path has it: src/ first, then the repository.
MODULE_ROOTS = (SRC, ROOT)
DOTTED = re.compile(r"^(?:handlers|service|domain|adapters|operations|sandbox|bench|scripts|tests)(?:\.\w+)+$")
FILE_SUFFIXES = (".py", ".yaml", ".yml", ".toml", ".json", ".md", ".sh")
PYTHON_M = re.compile(r"(?:^|\s)(?:\S*/)?python3? -m ([\w.]+)(.*)$")
MAKE = re.compile(r"^make ([\w-]+)$")
CONTRACT_SECTION = re.compile(r"^## (\d+)\. ", re.MULTILINE)
SECTION_ROW = re.compile(r"^\| (\d+)\. [^|]+\|(?P<where>[^|]+)\|(?P<proof>[^|]+)\|$", re.MULTILINE)


def backticked(text: str) -> list[str]:
    """Every inline code span of a Markdown text (fenced blocks are pictures, not names)."""
    outside_fences = re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)
    return re.findall(r"`([^`\n]+)`", outside_fences)


def module_file(dotted: str) -> Path | None:
    """The file of a module or package named by its dotted name, under src/ or the repository root."""
    for base in MODULE_ROOTS:
        path = base.joinpath(*dotted.split("."))
        for candidate in (path.with_suffix(".py"), path / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


def top_level_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(target.id for target in node.targets if isinstance(target, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return names


def dotted_problem(dotted: str) -> str | None:
    """Why ``package.module[.name]`` names nothing, or None: the longest module prefix, then one name in it."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        path = module_file(".".join(parts[:cut]))
        if path is None:
            continue
        rest = parts[cut:]
        if rest and rest[0] not in top_level_names(path):
            return f"`{dotted}`: {'.'.join(parts[:cut])} defines no {rest[0]}"
        return None
    return f"`{dotted}`: no such module"


def path_problem(token: str) -> str | None:
    """Why a backticked path of the project names nothing, or None (other tokens are not paths)."""
    if " " in token:
        return None  # a command
    first = token.split("/")[0]
    if "/" in token and first in PROJECT_FOLDERS:
        target = ROOT / token
        exists = target.is_dir() if token.endswith("/") else target.is_file()
        return None if exists else f"`{token}`: no such {'folder' if token.endswith('/') else 'file'}"
    if "/" not in token and token.endswith(".py"):
        return f"`{token}`: name a module by its path from the repository root"
    if "/" not in token and token.endswith(FILE_SUFFIXES) and not (ROOT / token).is_file():
        return f"`{token}`: no such file at the repository root"
    return None


def command_problem(token: str) -> str | None:
    """Why a backticked command would not run as written, or None: ``python -m``, ``python -m sandbox``, make."""
    make = MAKE.match(token)
    if make:
        makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
        ok = re.search(rf"^{re.escape(make[1])}:", makefile, re.MULTILINE)
        return None if ok else f"`{token}`: the Makefile has no target {make[1]}"
    command = PYTHON_M.search(token)
    if not command:
        return None
    module, arguments = command[1], shlex.split(command[2])
    path = module_file(module)
    if path is None:
        return f"`{token}`: no module {module}"
    runnable = (
        path.with_name("__main__.py").is_file()
        if path.name == "__init__.py"
        else "__main__" in path.read_text(encoding="utf-8")
    )
    if not runnable:
        return f"`{token}`: {module} has no __main__"
    if module == "sandbox":
        try:
            build_parser().parse_args(arguments)
        except SystemExit:
            return f"`{token}`: python -m sandbox refuses these arguments"
    return None


def problems(text: str) -> Iterator[str]:
    """Every name of the page that points nowhere."""
    for token in backticked(text):
        if "<" in token:
            continue  # a placeholder: ``sandbox/<service>/``, ``python -m sandbox.<service>``
        problem = dotted_problem(token) if DOTTED.match(token) else path_problem(token) or command_problem(token)
        if problem:
            yield problem


def doc() -> str:
    return DOC.read_text(encoding="utf-8")


def test_the_checker_sees_a_renamed_module_a_missing_name_and_a_wrong_command() -> None:
    # Given a page naming a module that was renamed, a name its module lost, an unknown subcommand and target
    page = (
        "`src/domain/outcome_table.py` `domain.outcomes.no_such_rule` `python -m sandbox upp` `make demos` "
        "`sandbox/aws/` `domain.outcomes.decide` `python -m sandbox demo --fifo` `moto/sqs/` `sandbox/<service>/` "
        "`python -m sandbox.<service>`"
    )
    # When it is checked, Then each of the four is named, and the names that hold are not
    assert list(problems(page)) == [
        "`src/domain/outcome_table.py`: no such file",
        "`domain.outcomes.no_such_rule`: domain.outcomes defines no no_such_rule",
        "`python -m sandbox upp`: python -m sandbox refuses these arguments",
        "`make demos`: the Makefile has no target demos",
    ]


def test_every_path_module_and_command_the_page_names_exists() -> None:
    assert list(problems(doc())) == []


def named_paths() -> set[str]:
    return set(backticked(doc()))


@pytest.mark.parametrize("package", sorted(path.parent.name for path in SRC.glob("*/__init__.py")))
def test_every_package_of_src_is_on_the_page(package: str) -> None:
    assert f"src/{package}/" in named_paths()


def wings() -> list[str]:
    return sorted(f"sandbox/{path.parent.name}/" for path in SANDBOX.glob("*/__init__.py"))


def loose_modules() -> list[str]:
    # __init__.py and __main__.py are the package's own (``python -m sandbox`` is sandbox/cli.py's).
    return sorted(f"sandbox/{path.name}" for path in SANDBOX.glob("*.py") if not path.name.startswith("__"))


def wing_table() -> dict[str, str]:
    """Each row of the table of wings by its first cell, as the page writes it."""
    section = doc().split("## The sandbox's wings", 1)[1].split("\n## ", 1)[0]
    return {match[1]: match[0] for match in re.finditer(r"^\| `([^`]+)` \|.*$", section, re.MULTILINE)}


def test_the_table_of_wings_has_a_row_for_each_wing_and_each_loose_module_and_no_other() -> None:
    # Given the wings (sandbox's subpackages) and the modules loose in sandbox/
    expected = set(wings() + loose_modules())
    assert wings(), "the sandbox has wings"
    # Then the table has a row for each, and none for what is not there
    rows = set(wing_table())
    assert (sorted(expected - rows), sorted(rows - expected)) == ([], [])


@pytest.mark.parametrize("wing", wings())
def test_each_wing_row_names_its_modules(wing: str) -> None:
    # Given a wing's modules (its package's own __init__ and __main__ aside)
    modules = sorted(
        str(path.relative_to(ROOT)) for path in (ROOT / wing).glob("*.py") if not path.name.startswith("__")
    )
    # Then the wing's row names each of them
    row = wing_table().get(wing, "")
    assert [module for module in modules if f"`{module}`" not in row] == []


def test_every_section_of_the_contract_has_a_row_naming_its_modules_and_its_tests() -> None:
    sections = CONTRACT_SECTION.findall(CONTRACT.read_text(encoding="utf-8"))
    rows = {match[1]: match for match in SECTION_ROW.finditer(doc())}
    assert sections, "the contract has numbered sections"
    assert sorted(rows, key=int) == sections
    for number, row in rows.items():
        assert re.search(r"`(src/|template\.yaml|sandbox/)", row["where"]), f"section {number}: no module"
        assert re.search(r"`tests/[\w/]+\.py`", row["proof"]), f"section {number}: no test"
