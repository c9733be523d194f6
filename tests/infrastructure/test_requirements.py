"""One lock: uv.lock agrees with pyproject.toml, and .venv holds exactly what it pins (make install)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from scripts.requirements import LOCK, LOCKED_PROJECTS, ROOT, UV, installed_versions, locked_versions


def lock_check(project: Path) -> subprocess.CompletedProcess[str]:
    """``uv lock --check --offline`` of ``project``: whether its uv.lock still satisfies its pyproject.toml."""
    assert UV.is_file(), f"no {UV.relative_to(ROOT)}: run make install"
    return subprocess.run(
        [str(UV), "lock", "--check", "--offline", "--python", sys.executable, "--project", str(project)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"},
    )


@pytest.mark.parametrize("project", LOCKED_PROJECTS, ids=lambda p: p.relative_to(ROOT).as_posix() or "worker")
def test_each_lock_agrees_with_its_pyproject(project):
    # Given a project with a lock (the worker's, or a tool's in tools/)
    # When uv checks the lock against pyproject.toml, without the network
    done = lock_check(project)

    # Then it is current (else: make lock)
    assert done.returncode == 0, f"{project / 'uv.lock'} disagrees with pyproject.toml: run make lock\n{done.stderr}"


def test_the_lock_check_fails_when_pyproject_gains_a_dependency(tmp_path):
    # Given a copy of the project whose pyproject.toml asks for a dependency uv.lock does not have
    shutil.copy(LOCK, tmp_path / "uv.lock")
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text(
        text.replace("dependencies = [\n", 'dependencies = [\n    "six>=1.16",\n', 1), encoding="utf-8"
    )
    assert text != (tmp_path / "pyproject.toml").read_text(encoding="utf-8")

    # When uv checks that lock
    done = lock_check(tmp_path)

    # Then the check fails, saying so: the test above cannot pass on a stale lock
    assert done.returncode != 0
    assert "needs to be updated" in done.stderr


def test_the_venv_holds_exactly_the_locked_versions():
    # Given the distributions of the interpreter running the tests (.venv, made by make install) and the lock
    installed = installed_versions()
    locked = locked_versions()

    # Then every one of them is in the lock, at a locked version (uv sync --locked --all-extras installed it)
    assert not set(installed) - set(locked), f"not in uv.lock: {sorted(set(installed) - set(locked))}"
    wrong = {name: (version, locked[name]) for name, version in installed.items() if version not in locked[name]}
    assert not wrong, f"installed version not the locked one: {wrong}"

    # And the worker's runtime dependencies and the linters are among them
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert {"pydantic", "pydantic-core", "botocore", "aws-lambda-powertools", "ruff", "mypy"} <= set(installed)
    assert project["project"]["name"] in installed


def test_boto3_is_not_a_runtime_dependency():
    # Given the worker's runtime dependencies (what the Lambda package holds)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = {Requirement(dependency).name for dependency in project["dependencies"]}

    # Then botocore is one (the runtime's copy may predate CreatePaymentSession) and boto3 is not
    assert "botocore" in names
    assert "boto3" not in names
