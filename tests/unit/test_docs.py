"""The published contract in docs/ is the fixed one, and the README names what it promises."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import ROOT

SHARED_CONTRACT = ROOT.parent / "shared" / "CONTRACT.md"


@pytest.mark.skipif(not SHARED_CONTRACT.exists(), reason="the team's shared contract is not beside this clone")
def test_the_repository_contract_is_the_shared_one_word_for_word():
    assert (ROOT / "docs" / "CONTRACT.md").read_text(encoding="utf-8") == SHARED_CONTRACT.read_text(encoding="utf-8")


def test_every_document_the_readme_links_exists():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for target in (
        "docs/CONTRACT.md",
        "docs/ARCHITECTURE.md",
        "docs/DEPLOY.md",
        "docs/SANDBOX.md",
        "docs/RELIABILITY.md",
        "docs/PERFORMANCE.md",
    ):
        assert f"]({target})" in readme
        assert Path(ROOT / target).is_file(), target


def test_the_readme_layout_names_every_package_of_src_and_every_wing_of_the_sandbox():
    # Given the README's layout block
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    layout = readme.split("## Layout", 1)[1].split("```", 2)[1]
    starts = {line.split()[0] for line in layout.splitlines() if line.strip()}
    # Then each package of src/ and each wing of sandbox/ has its line
    packages = {f"src/{path.parent.name}/" for path in (ROOT / "src").glob("*/__init__.py")}
    wings = {f"{path.parent.name}/" for path in (ROOT / "sandbox").glob("*/__init__.py")}
    assert sorted((packages | wings) - starts) == []
