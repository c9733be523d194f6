"""The worker as deployed, for the benchmark children: the package, read-only, at the template's MemorySize.

:class:`Deployment` builds the package with ``scripts/build.sh --native`` (the same package ``make build``
makes, for this machine's Python and platform, with unchecked-hash bytecode written by this machine's Python)
and lays it out twice under ``.build/bench/``: with its bytecode, and without (every ``__pycache__`` removed).
Each copy is mounted read-only on itself (a bind mount, as root), as ``/var/task`` is read-only in Lambda:
the copy without bytecode then compiles every module it imports in memory, at every cold start, and can cache
nothing. Where mounting is not allowed, the children get ``PYTHONDONTWRITEBYTECODE=1`` instead, which has the
same effect on the interpreter, and :attr:`Deployment.read_only` says so. The mounts are undone when the block
ends (and a mount left by an interrupted run is undone at the next start).

The bare boto3 baseline runs from the copy with bytecode too, importing boto3 and nothing of the worker: the
same boto3, precompiled, as the runtime's own copy is.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".build" / "bench"
TEMPLATE = ROOT / "template.yaml"


def template_memory_size(template: Path = TEMPLATE) -> int:
    """The function's ``MemorySize`` in template.yaml (its one function's, else the Globals'), as deployed."""
    from scripts.transform import load

    data = load(template)
    (function,) = [r for r in data["Resources"].values() if r["Type"] == "AWS::Serverless::Function"]
    size = function["Properties"].get("MemorySize", data.get("Globals", {}).get("Function", {}).get("MemorySize"))
    return int(size)


@dataclass(frozen=True)
class Package:
    """One read-only copy of the package."""

    path: Path
    bytecode: bool


def _build(target: Path) -> None:
    """``scripts/build.sh --native target`` with this interpreter (the children's), of ``BENCH_SRC`` or src/."""
    source = os.environ.get("BENCH_SRC") or str(ROOT / "src")
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "build.sh"), "--native", str(target)],
        check=False,
        cwd=ROOT,
        env={**os.environ, "PY": sys.executable, "SRC_DIR": source},
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"scripts/build.sh --native failed (exit {done.returncode}):\n{done.stderr[-3000:]}")


def _mount_read_only(path: Path) -> bool:
    """Bind-mount ``path`` read-only on itself; False where the machine does not allow it."""
    done = subprocess.run(["mount", "--bind", str(path), str(path)], capture_output=True, check=False)
    if done.returncode != 0:
        return False
    remounted = subprocess.run(["mount", "-o", "remount,bind,ro", str(path)], capture_output=True, check=False)
    if remounted.returncode != 0:
        _unmount(path)
        return False
    return True


def _mounted(path: Path) -> bool:
    """Whether ``path`` is a mount point (a bind mount on the same file system included, unlike ``is_mount``)."""
    try:
        mounts = Path("/proc/self/mounts").read_text(encoding="utf-8").splitlines()
    except OSError:
        return False
    return any(len(fields) > 1 and fields[1] == str(path) for fields in (line.split() for line in mounts))


def _unmount(path: Path) -> None:
    for _ in range(3):  # a path mounted more than once (an interrupted run, then another) unmounts in layers
        if not _mounted(path):
            return
        subprocess.run(["umount", str(path)], capture_output=True, check=False)


class Deployment:
    """``with Deployment() as deployment:`` the package built and mounted read-only, with and without bytecode."""

    def __init__(self, work: Path = WORK) -> None:
        self._work = work
        self.memory_mb = template_memory_size()
        self.with_bytecode = Package(work / "package", bytecode=True)
        self.without_bytecode = Package(work / "package-no-bytecode", bytecode=False)
        self.read_only = ""  # how the copies are kept read-only

    def __enter__(self) -> Deployment:
        packages = (self.with_bytecode, self.without_bytecode)
        for package in packages:
            _unmount(package.path)
        built = self._work / "build"
        _build(built)
        for package in packages:
            shutil.rmtree(package.path, ignore_errors=True)
            ignore = None if package.bytecode else shutil.ignore_patterns("__pycache__")
            shutil.copytree(built, package.path, ignore=ignore)
        mounted = [_mount_read_only(package.path) for package in packages]
        if all(mounted):
            self.read_only = "read-only bind mounts"
        else:
            self.__exit__(None, None, None)
            self.read_only = "not mountable here: PYTHONDONTWRITEBYTECODE=1 instead"
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        for package in (self.with_bytecode, self.without_bytecode):
            _unmount(package.path)

    def environment(self) -> dict[str, str]:
        """What the children's environment needs for the copies to stay as built."""
        return {} if self.read_only.startswith("read-only") else {"PYTHONDONTWRITEBYTECODE": "1"}
