#!/usr/bin/env bash
# Static checks of the stack (make infra-check, part of make test): offline, no AWS account, no API key.
#   1. the generated event schemas are in sync with domain.events (scripts/schemas.py --check);
#   2. cfn-lint on template.yaml and on its samtranslator transform: no error, no warning;
#   3. sam validate --lint (aws-sam-cli in its own locked venv: .venv-tools/sam, tools/sam/uv.lock);
#   4. checkov on both (its own locked venv: .venv-tools/checkov, tools/checkov/uv.lock; it pins an old
#      boto3), offline: no failed check,
#      every skip justified in the resource's Metadata.checkov.skip.
# Steps 2 to 4 run for both settings of the FifoQueues parameter: on template.yaml as written (standard
# queues) and on a copy whose FifoQueues default is "true" (template-fifo.json), the tools' view of a
# stack deployed with FifoQueues=true.
# make infra-check first syncs the tool venvs with their locks (make tools; a no-op when they match).
# The checks run side by side; each one's output is printed in order once it is done.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=.venv/bin/python
TOOLS=.venv-tools
export SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1}

# tool_venv NAME: .venv-tools/NAME, which `make tools` syncs with tools/NAME/uv.lock (pinned, because a new
# release of either may add rules, and a gate must not move under the code).
tool_venv() {
    [[ -x "$TOOLS/$1/bin/$1" ]] || { echo "infra-check: no $TOOLS/$1/bin/$1: run make tools" >&2; return 1; }
}

sam_validate() {
    tool_venv sam
    local template
    for template in template.yaml "$work/template-fifo.json"; do
        echo "infra-check: sam validate --lint on ${template#"$work/"}"
        "$TOOLS/sam/bin/sam" validate --lint --template "$template" --region "$AWS_DEFAULT_REGION"
    done
}

checkov_scan() {
    tool_venv checkov
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
