#!/usr/bin/env bash
# Static checks of the stack (make infra-check, part of make test): offline, no AWS account, no API key.
#   1. the generated event schemas are in sync with domain.events (scripts/schemas.py --check);
#   2. cfn-lint on template.yaml and on its samtranslator transform: no error, no warning;
#   3. sam validate --lint (aws-sam-cli in its own venv: .venv-tools/sam);
#   4. checkov on both (its own venv: .venv-tools/checkov; it pins an old boto3), offline: no failed check,
#      every skip justified in the resource's Metadata.checkov.skip.
# Steps 2 to 4 run for both settings of the FifoQueues parameter: on template.yaml as written (standard
# queues) and on a copy whose FifoQueues default is "true" (template-fifo.json), the tools' view of a
# stack deployed with FifoQueues=true.
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
    local template
    for template in template.yaml "$work/template-fifo.json"; do
        echo "infra-check: sam validate --lint on ${template#"$work/"}"
        "$TOOLS/sam/bin/sam" validate --lint --template "$template" --region "$AWS_DEFAULT_REGION"
    done
}

checkov_scan() {
    tool_venv checkov "$CHECKOV_SPEC"
    echo "infra-check: checkov (offline) on template.yaml, template-fifo.json and their transformed templates"
    # --skip-download: no policy download, no platform call; skips come from resources' Metadata only.
    BC_SKIP_MAPPING=TRUE "$TOOLS/checkov/bin/checkov" --file template.yaml --file "$work/transformed.json" \
        --file "$work/template-fifo.json" --file "$work/transformed-fifo.json" \
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
# The FIFO setting: template.yaml with FifoQueues defaulting to "true" (as JSON; every tool reads it).
"$PY" - "$work/template-fifo.json" <<'PYTHON'
import json
import sys

from scripts.transform import load

template = load()
template["Parameters"]["FifoQueues"]["Default"] = "true"
with open(sys.argv[1], "w", encoding="utf-8") as out:
    json.dump(template, out, indent=2)
PYTHON
"$PY" scripts/transform.py --template "$work/template-fifo.json" --keep-metadata --out "$work/transformed-fifo.json"

sam_validate >"$work/sam.log" 2>&1 &
sam_pid=$!
jobs_started+=("$sam_pid")
checkov_scan >"$work/checkov.log" 2>&1 &
checkov_pid=$!
jobs_started+=("$checkov_pid")

status=0
echo "infra-check: cfn-lint on template.yaml, template-fifo.json and their transformed templates"
.venv/bin/cfn-lint template.yaml "$work/transformed.json" "$work/template-fifo.json" "$work/transformed-fifo.json" ||
    status=1

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
