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
