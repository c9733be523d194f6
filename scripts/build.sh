#!/usr/bin/env bash
# The deployment package of the worker, without Docker.
#
#   scripts/build.sh (make build; sam build through make build-WorkerFunction): the arm64 (Graviton) package
#   for Lambda's python3.13 runtime
#     .build/package/           src/ (not src/operations/) plus the runtime dependencies at the versions uv.lock
#                               pins (the ones .venv has), their dist-info kept (importlib.metadata reads it),
#                               with CPython 3.13 bytecode beside every module (see "Bytecode" below)
#     .build/requirements.txt   those dependencies as exported from uv.lock, with their hashes
#     .build/worker.zip         the same, zipped (what `aws lambda update-function-code` takes)
#     .build/bytecode.txt       which interpreter wrote the bytecode, or why there is none
#   scripts/build.sh --native DIR: the same package for this machine's Python and platform, in DIR, its
#     bytecode written by that Python ($PY), plus boto3 as Lambda's runtime provides it (the bench's bare
#     baseline imports it; the worker does not); no zip (what `python -m bench` measures)
#   SRC_DIR=path builds another checkout's sources (default src/; the bench's BENCH_SRC), with this lock
#
# Dependencies: `uv export` of uv.lock's runtime dependencies (pyproject.toml's [project] dependencies, no
# extras, no dev group), installed by `uv pip install --require-hashes --no-deps`: nothing is resolved here,
# so the package holds what the tests ran. For Lambda they are the wheels of CPython 3.13 on
# manylinux2014_aarch64, whatever this machine is. botocore is vendored because the runtime's copy lags:
# bedrock-agentcore's CreatePaymentSession must be in its model. boto3 is not: the worker imports botocore only.
#
# Bytecode: /var/task is read-only, so without .pyc files in the package every cold start compiles every
# module it imports, and caches nothing. The .pyc files are unchecked-hash ones (PEP 552): a zip's timestamps
# would invalidate timestamp-based ones. Bytecode is platform-independent but tied to the minor version, so
# any CPython 3.13 serves the arm64 runtime: $PYTHON313 when set, else python3.13 on PATH, else (on Debian)
# CPython 3.13 from Debian's own trixie packages, unpacked under .venv-tools/python3.13/ with trixie's libc and
# run through trixie's loader, never installed into the system (fetched once, about 10 s). Without any, the
# build says so loudly and ships no bytecode (tests/infrastructure/test_package.py then fails).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PY:-.venv/bin/python}
UV=${UV:-.venv-tools/uv/bin/uv}
SRC_DIR=${SRC_DIR:-src}
RUNTIME_PYTHON=3.13
PLATFORM=aarch64-manylinux2014  # uv's name for manylinux2014_aarch64 wheels (glibc 2.17+; the runtime has 2.34)
TOOLS=.venv-tools/python3.13

# Debian trixie's packages of CPython 3.13 and what its interpreter needs to run compileall. Pinned; when the
# archive has moved on from a pin (it keeps only a suite's current version), the current one is taken, with a
# warning: every 3.13.x writes the same bytecode format (one magic number per minor version).
TRIXIE_PACKAGES=(
    python3.13-minimal=3.13.5-2+deb13u5
    libpython3.13-minimal=3.13.5-2+deb13u5
    libpython3.13-stdlib=3.13.5-2+deb13u5
    libc6=2.41-12+deb13u5
    zlib1g=1:1.3.dfsg+really1.3.1-1+deb13u1
    libexpat1=2.9.0-1~deb13u1
)

say() { echo "build: $*"; }

loud() {
    {
        echo "build: ##########################################################################"
        for line in "$@"; do echo "build: ## $line"; done
        echo "build: ##########################################################################"
    } >&2
}

is_python313() { [ -n "$1" ] && "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' >/dev/null 2>&1; }

# CPython 3.13 from Debian trixie, under $TOOLS: root/ (the unpacked packages) and bin/python3.13 (a wrapper
# that runs it through trixie's loader with trixie's libraries). Prints the wrapper's path.
trixie_python313() {
    local wrapper=$TOOLS/bin/python3.13
    if is_python313 "$wrapper"; then echo "$wrapper"; return 0; fi
    command -v apt-get >/dev/null && command -v dpkg >/dev/null && [ -f /etc/debian_version ] || return 1
    local multiarch loader
    case "$(uname -m)" in
        x86_64) multiarch=x86_64-linux-gnu loader=ld-linux-x86-64.so.2 ;;
        aarch64) multiarch=aarch64-linux-gnu loader=ld-linux-aarch64.so.1 ;;
        *) return 1 ;;
    esac
    local started=$SECONDS work
    mkdir -p "$(dirname "$TOOLS")"
    work=$(mktemp -d "$TOOLS.tmp.XXXXXX")
    chmod 755 "$work"
    mkdir -p "$work/apt/state/lists/partial" "$work/apt/cache/archives/partial" "$work/debs" "$work/root" "$work/bin"
    : >"$work/apt/state/status"
    local keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    cat >"$work/apt/sources.list" <<EOF
deb [signed-by=$keyring] http://deb.debian.org/debian trixie main
deb [signed-by=$keyring] http://deb.debian.org/debian-security trixie-security main
EOF
    # apt with its own sources, state and cache: nothing of the system's apt changes, nothing is installed.
    local apt=(-o "Dir::Etc::sourcelist=$PWD/$work/apt/sources.list" -o Dir::Etc::sourceparts=-
        -o "Dir::State=$PWD/$work/apt/state" -o "Dir::State::status=$PWD/$work/apt/state/status"
        -o "Dir::Cache=$PWD/$work/apt/cache" -o APT::Sandbox::User=root -o Debug::NoLocking=1 -qq)
    say "fetching CPython $RUNTIME_PYTHON from Debian trixie into $TOOLS/ (once)" >&2
    if ! apt-get "${apt[@]}" update >&2; then rm -rf "$work"; return 1; fi
    if ! (cd "$work/debs" && apt-get "${apt[@]}" download "${TRIXIE_PACKAGES[@]}" >&2); then
        loud "the pinned trixie packages are gone from the archive; taking its current ones:" "${TRIXIE_PACKAGES[@]}"
        if ! (cd "$work/debs" && apt-get "${apt[@]}" download "${TRIXIE_PACKAGES[@]%%=*}" >&2); then
            rm -rf "$work"
            return 1
        fi
    fi
    local deb
    for deb in "$work"/debs/*.deb; do dpkg-deb -x "$deb" "$work/root"; done
    rm -rf "$work/apt"
    cat >"$work/bin/python3.13" <<EOF
#!/bin/sh
# CPython 3.13 from Debian trixie (packages in ../debs), run with trixie's libc through trixie's loader.
root=\$(cd "\$(dirname "\$0")/../root" && pwd)
lib=\$root/usr/lib/$multiarch
exec "\$lib/$loader" --library-path "\$lib" "\$root/usr/bin/python3.13" "\$@"
EOF
    chmod +x "$work/bin/python3.13"
    if ! is_python313 "$work/bin/python3.13"; then rm -rf "$work"; return 1; fi
    rm -rf "$TOOLS"
    mv "$work" "$TOOLS"
    say "CPython $RUNTIME_PYTHON from trixie ready in $((SECONDS - started)) s: $(ls "$TOOLS/debs" | tr '\n' ' ')" >&2
    echo "$wrapper"
}

# The CPython 3.13 that writes the package's bytecode, or nothing.
find_python313() {
    if [ -n "${PYTHON313:-}" ]; then
        is_python313 "$PYTHON313" && { echo "$PYTHON313"; return 0; }
        loud "PYTHON313=$PYTHON313 is not a CPython 3.13"
        return 1
    fi
    if is_python313 python3.13; then echo python3.13; return 0; fi
    trixie_python313
}

# Install the locked runtime dependencies into $1 (requirements file $2; uv pip arguments for the target follow).
install_package() {
    local package=$1 requirements=$2
    shift 2
    rm -rf "$package"
    mkdir -p "$package"
    "$UV" pip install --quiet --require-hashes --no-deps --link-mode copy --python "$PY" \
        "$@" --target "$package" -r "$requirements"
    # The handler's packages, without caches or the operator's command (operations/).
    tar -C "$SRC_DIR" --exclude='__pycache__' --exclude='*.pyc' --exclude='*.egg-info' --exclude='requirements.txt' \
        --exclude='./operations' -cf - . | tar -C "$package" -xf -
    # Not needed at run time: installer scripts.
    rm -rf "$package/bin"
    find "$package" -type d -name '__pycache__' -prune -exec rm -rf {} +
}

# uv.lock's runtime dependencies with their hashes, into $1 (extras to add follow: --extra NAME).
export_requirements() {
    local target=$1
    shift
    "$UV" export --quiet --locked --no-dev --no-emit-project --format requirements-txt "$@" --output-file "$target"
}

# Unchecked-hash .pyc files for every module of $2, written by interpreter $1 (-j 1: no worker processes,
# which the trixie interpreter could not start without its loader).
compile_package() {
    "$1" -m compileall -q -j 1 --invalidation-mode unchecked-hash "$2" >&2
}

if [ "${1:-}" = "--native" ]; then
    PACKAGE=${2:?usage: scripts/build.sh --native DIR}
    requirements=$(mktemp)
    trap 'rm -f "$requirements"' EXIT
    export_requirements "$requirements" --extra sdk
    install_package "$PACKAGE" "$requirements"
    compile_package "$PY" "$PACKAGE"
    exit 0
fi

OUT=.build
PACKAGE=$OUT/package
rm -rf "$OUT/worker.zip" "$OUT/bytecode.txt" "$OUT/template.yaml"
mkdir -p "$OUT"

say "dependencies from uv.lock for CPython $RUNTIME_PYTHON on $PLATFORM"
export_requirements "$OUT/requirements.txt"
install_package "$PACKAGE" "$OUT/requirements.txt" --python-platform "$PLATFORM" \
    --python-version "$RUNTIME_PYTHON" --only-binary :all:

if PYTHON313_BIN=$(find_python313) && [ -n "$PYTHON313_BIN" ]; then
    version=$("$PYTHON313_BIN" -c 'import platform; print(platform.python_version())')
    say "bytecode by CPython $version ($PYTHON313_BIN), unchecked-hash"
    compile_package "$PYTHON313_BIN" "$PACKAGE"
    echo "CPython $version ($PYTHON313_BIN)" >"$OUT/bytecode.txt"
else
    loud "NO CPYTHON $RUNTIME_PYTHON FOUND: the package ships WITHOUT BYTECODE." \
        "Every cold start will compile every module it imports (2.6x slower at 512 MB: docs/PERFORMANCE.md)." \
        "Set PYTHON313=/path/to/python3.13, put python3.13 on PATH, or build on Debian (trixie's packages)."
    echo "none: no CPython $RUNTIME_PYTHON (PYTHON313, python3.13 on PATH, Debian trixie's packages)" >"$OUT/bytecode.txt"
fi

say "zip"
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

say "$(du -sh "$PACKAGE" | cut -f1) unpacked, $(du -sh "$OUT/worker.zip" | cut -f1) zipped ($OUT/worker.zip)"
