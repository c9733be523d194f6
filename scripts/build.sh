#!/usr/bin/env bash
# The arm64 (Graviton) deployment package of the worker, without Docker (make build):
#   .build/package/           src/ plus its dependencies (src/requirements.txt), boto3 and botocore vendored
#   .build/worker.zip         the same, zipped (what `sam deploy` / `aws lambda update-function-code` upload)
#   .build/template.yaml      template.yaml with CodeUri pointing at .build/package, for `sam deploy`
# Wheels are fetched for the Lambda runtime (CPython 3.13, manylinux2014_aarch64), whatever this machine is.
# boto3/botocore are vendored because the runtime's copy lags: bedrock-agentcore's CreatePaymentSession
# must be in botocore's model.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PY:-.venv/bin/python}
OUT=.build
PACKAGE=$OUT/package
PYTHON_VERSION=3.13
PLATFORM=manylinux2014_aarch64

rm -rf "$PACKAGE" "$OUT/worker.zip"
mkdir -p "$PACKAGE"

echo "build: dependencies for CPython $PYTHON_VERSION on $PLATFORM"
"$PY" -m pip install --quiet --disable-pip-version-check --no-compile --no-warn-conflicts \
    --platform "$PLATFORM" --implementation cp --python-version "$PYTHON_VERSION" --only-binary=:all: \
    --target "$PACKAGE" -r src/requirements.txt

echo "build: sources"
# The handler's packages, without caches, the requirements file itself or the operator's command (operations/).
tar -C src --exclude='__pycache__' --exclude='*.pyc' --exclude='requirements.txt' --exclude='./operations' \
    -cf - . | tar -C "$PACKAGE" -xf -

# Not needed at run time: installer metadata scripts and the test suites some wheels ship.
rm -rf "$PACKAGE/bin"
find "$PACKAGE" -type d -name '__pycache__' -prune -exec rm -rf {} +

echo "build: zip"
"$PY" - "$PACKAGE" "$OUT/worker.zip" <<'PY'
"""Zip the package reproducibly: sorted entries, fixed timestamps, so the same inputs give the same zip."""

import os
import sys
import zipfile
from pathlib import Path

package, target = Path(sys.argv[1]), Path(sys.argv[2])
with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
    for path in sorted(p for p in package.rglob("*") if p.is_file()):
        info = zipfile.ZipInfo(path.relative_to(package).as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
        info.external_attr = (0o755 if os.access(path, os.X_OK) else 0o644) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, path.read_bytes(), compresslevel=9)
PY

# For `sam deploy`: the same stack with the built package as its code (sam uploads the directory).
sed 's#^      CodeUri: src/$#      CodeUri: package/#' template.yaml >"$OUT/template.yaml"
grep -q '^      CodeUri: package/$' "$OUT/template.yaml" || { echo "build: CodeUri not found in template.yaml" >&2; exit 1; }

echo "build: $(du -sh "$PACKAGE" | cut -f1) unpacked, $(du -sh "$OUT/worker.zip" | cut -f1) zipped ($OUT/worker.zip)"
