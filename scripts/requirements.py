"""What uv.lock pins, and which distributions a directory of installed packages holds: the two sides the tests
compare (.venv against the lock, the Lambda package against .venv).

python scripts/requirements.py [DIR]   # the distributions in DIR (default .build/package), with their versions
"""

from __future__ import annotations

import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "uv.lock"
PACKAGE = ROOT / ".build" / "package"
# The projects with a lock of their own: the worker's, and each tool's that pins other versions (.venv-tools/).
LOCKED_PROJECTS = (ROOT, ROOT / "tools" / "sam", ROOT / "tools" / "checkov")
# uv itself, pinned with hashes in tools/uv/requirements.txt (make install bootstraps it with pip).
UV = ROOT / ".venv-tools" / "uv" / "bin" / "uv"


def canonical(name: str) -> str:
    """A distribution's name as PEP 503 compares them (``Typing_Extensions`` is ``typing-extensions``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_versions(lock: Path = LOCK) -> dict[str, set[str]]:
    """Each locked distribution's versions (one, unless the resolution forks on a marker)."""
    data = tomllib.loads(lock.read_text(encoding="utf-8"))
    versions: dict[str, set[str]] = {}
    for package in data["package"]:
        versions.setdefault(canonical(package["name"]), set()).add(str(package["version"]))
    return versions


def installed_versions(*paths: Path) -> dict[str, str]:
    """Each distribution installed in ``paths`` (its dist-info), by name; the running interpreter's without."""
    found = metadata.distributions(path=[str(path) for path in paths]) if paths else metadata.distributions()
    return {canonical(dist.metadata["Name"]): dist.version for dist in found}


def main(argv: list[str]) -> int:
    directory = Path(argv[0]) if argv else PACKAGE
    for name, version in sorted(installed_versions(directory).items()):
        print(f"{name}=={version}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
