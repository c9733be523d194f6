"""Generate src/requirements.txt (what the deployment package vendors) from pyproject.toml.

python scripts/requirements.py --write   # rewrite the file
python scripts/requirements.py           # print it
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "src" / "requirements.txt"
HEADER = "# Generated from pyproject.toml by `make requirements`; do not edit by hand.\n"


def render() -> str:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return HEADER + "".join(f"{requirement}\n" for requirement in project["dependencies"])


def main(argv: list[str]) -> int:
    text = render()
    if "--write" in argv:
        TARGET.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
