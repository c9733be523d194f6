#!/usr/bin/env bash
# Static checks of the stack (make infra-check, part of make test): offline, no AWS account, no API key.
#   1. the generated event schemas are in sync with domain.events (scripts/schemas.py --check);
#   2. cfn-lint on template.yaml and on its samtranslator transform: no error, no warning;
#   3. sam validate --lint (aws-sam-cli in its own venv: .venv-tools/sam);
#   4. checkov on both (its own venv: .venv-tools/checkov; it pins an old boto3), offline: no failed check,
#      every skip justified in the resource's Metadata.checkov.skip.
# The tool venvs are created on first use and reused while their pinned spec is unchanged (stamp file).
# The checks run side by side; each one's output is printed in order once it is done.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=.venv/bin/python
TOOLS_PYTHON=${TOOLS_PYTHON:-python3}
TOOLS=.venv-tools
# Pinned: a new release of either may add rules, and a gate must not move under the code.
SAM_SPEC="aws-sam-cli==1.170.0"
CHECKOV_SPEC="checkov==3.3.30"
export SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1}

# tool_venv NAME SPEC: .venv-tools/NAME holds SPEC, installed once.
tool_venv() {
    local dir="$TOOLS/$1" spec="$2"
    if [[ -x "$dir/bin/python" && -f "$dir/.installed" && "$(cat "$dir/.installed")" == "$spec" ]]; then
        return 0
    fi
    echo "infra-check: installing $spec into $dir (once)"
    rm -rf "$dir"
    "$TOOLS_PYTHON" -m venv "$dir"
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >"$dir.log" 2>&1 ||
        { cat "$dir.log"; return 1; }
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "$spec" >"$dir.log" 2>&1 ||
        { cat "$dir.log"; return 1; }
    rm -f "$dir.log"
    echo "$spec" >"$dir/.installed"
}

sam_validate() {
    tool_venv sam "$SAM_SPEC"
    echo "infra-check: sam validate --lint"
    "$TOOLS/sam/bin/sam" validate --lint --template template.yaml --region "$AWS_DEFAULT_REGION"
}

checkov_scan() {
    tool_venv checkov "$CHECKOV_SPEC"
    echo "infra-check: checkov (offline) on template.yaml and on the transformed template"
    # --skip-download: no policy download, no platform call; skips come from resources' Metadata only.
    BC_SKIP_MAPPING=TRUE "$TOOLS/checkov/bin/checkov" --file template.yaml --file "$work/transformed.json" \
        --framework cloudformation --skip-download --quiet --compact --output cli
}

work=$(mktemp -d)
jobs_started=()
cleanup() {
    for pid in "${jobs_started[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$TOOLS"

echo "infra-check: generated schemas in sync with domain.events"
"$PY" scripts/schemas.py --check
# Metadata kept, so the transformed function carries the template's checkov skips.
"$PY" scripts/transform.py --keep-metadata --out "$work/transformed.json"

sam_validate >"$work/sam.log" 2>&1 &
sam_pid=$!
jobs_started+=("$sam_pid")
checkov_scan >"$work/checkov.log" 2>&1 &
checkov_pid=$!
jobs_started+=("$checkov_pid")

status=0
echo "infra-check: cfn-lint on template.yaml and on the transformed template"
.venv/bin/cfn-lint template.yaml "$work/transformed.json" || status=1

wait "$sam_pid" || status=1
cat "$work/sam.log"
wait "$checkov_pid" || status=1
cat "$work/checkov.log"
jobs_started=()
if ((status != 0)); then
    echo "infra-check: FAILED" >&2
    exit 1
fi
echo "infra-check: ok"
