# payment-session-worker: every target runs from a fresh clone; `make install` is the only setup step.
# Where things come from: uv (pinned with hashes in tools/uv/requirements.txt) from PyPI through pip; .venv
# exactly as uv.lock says, from PyPI; the SAM CLI and checkov, each in its own environment under .venv-tools/
# as tools/<name>/uv.lock says, from PyPI; CPython 3.13 for the package's bytecode from Debian's packages
# (scripts/build.sh), unless one is on this machine.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TOOLS := .venv-tools
UV := $(TOOLS)/uv/bin/uv
# The SAM CLI of tools/sam/uv.lock: the one the tests run `sam build` with.
SAM := $(TOOLS)/sam/bin/sam
# uv takes $(PYTHON), never a CPython it would download.
export UV_PYTHON_DOWNLOADS := never
export SAM_CLI_TELEMETRY := 0

.PHONY: help install lock tools test unit lint fmt typecheck demo sandbox bench soak fuzz build sam-build \
	build-WorkerFunction deploy clean infra-check

help: ## List the targets
	@grep -E '^[a-zA-Z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-20s %s\n", $$1, $$2}'

$(UV): tools/uv/requirements.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	@test -x $(TOOLS)/uv/bin/python || $(PYTHON) -m venv $(TOOLS)/uv
	$(TOOLS)/uv/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps \
		-r tools/uv/requirements.txt
	@touch $@

install: $(STAMP) ## Create or update .venv with exactly what uv.lock pins (the project, its extras, the dev group)

$(STAMP): pyproject.toml uv.lock $(UV)
	$(UV) sync --quiet --locked --all-extras --python $(PYTHON) || \
		{ echo "make install: is uv.lock out of date? After changing pyproject.toml, run make lock" >&2; exit 1; }
	@touch $@

lock: $(UV) ## Regenerate uv.lock (after any change to pyproject.toml's dependencies), the tools' locks and uv's pin
	$(UV) lock --python $(PYTHON) $(LOCK_ARGS)
	for tool in sam checkov; do $(UV) lock --quiet --python $(PYTHON) --project tools/$$tool $(LOCK_ARGS); done
	$(UV) pip compile --quiet --universal --generate-hashes --python-version 3.11 --custom-compile-command 'make lock' \
		tools/uv/requirements.in --output-file tools/uv/requirements.txt
	@echo "make lock: done; LOCK_ARGS=--upgrade moves every pin to the newest release pyproject.toml allows"

tools: $(UV) ## The SAM CLI and checkov, each in its own locked environment under .venv-tools/
	for tool in sam checkov; do \
		UV_PROJECT_ENVIRONMENT=$(CURDIR)/$(TOOLS)/$$tool $(UV) sync --quiet --locked --python $(PYTHON) --project tools/$$tool; \
	done

test: install lint infra-check sam-build ## Lint and type-check, check the stack, sam build (make build inside), run every test (CI)
	$(PY) -m pytest

unit: install ## Every test but the end-to-end ones (marker e2e): the quick loop while working
	$(PY) -m pytest -q -m 'not e2e'

lint: install ## Static checks, never rewriting a file: ruff, ruff format --check, mypy --strict
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

fmt: install ## Rewrite files with ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

typecheck: install ## mypy --strict on src/, sandbox/, bench/, scripts/ and tests/
	$(VENV)/bin/mypy

# ARGS: options of `python -m sandbox demo` / `up`, passed through, e.g. make demo ARGS="--requests 50 --fifo".
ARGS ?=

demo: install ## The whole pipeline on the embedded local sandbox, end to end (options: ARGS="--requests 50")
	$(PY) -m sandbox demo $(ARGS)

sandbox: install ## Run the embedded local AWS until Ctrl-C (options: ARGS="--template-timeouts")
	$(PY) -m sandbox up $(ARGS)

bench: install ## Benchmarks as deployed (read-only package, CPU share of MemorySize) against baselines, as ratios
	$(PY) -m bench

soak: install ## Thousands of requests through the sandbox under faults (standard, backstop, FIFO); checks the invariants
	$(PY) -m sandbox.soak

fuzz: install ## Longer hypothesis fuzzing of the handler and of the operator's command
	HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest tests/fuzz tests/operations/test_letter_fuzz.py -q

infra-check: install tools ## cfn-lint, sam validate --lint and checkov on template.yaml (tools in .venv-tools/)
	bash scripts/infra_checks.sh

build: install ## The arm64 package in .build/ from uv.lock, with CPython 3.13 bytecode (no Docker; PYTHON313=... to choose)
	bash scripts/build.sh

# sam build (template.yaml: BuildMethod makefile, run from the repository root) calls this target with
# ARTIFACTS_DIR=.aws-sam/build/WorkerFunction: the package of make build, file for file.
build-WorkerFunction: build ## What sam build runs: make build, then the package copied to $ARTIFACTS_DIR
	@test -n "$${ARTIFACTS_DIR:-}" || { echo "build-WorkerFunction: ARTIFACTS_DIR is not set (sam build sets it)" >&2; exit 1; }
	cp -a .build/package/. "$$ARTIFACTS_DIR/"

sam-build: install tools ## sam build with the SAM CLI of .venv-tools/ (it runs make build-WorkerFunction)
	$(SAM) build --template-file template.yaml

deploy: infra-check sam-build ## Checks, sam build, then sam deploy --guided (samconfig.toml deploys .aws-sam/build)
	$(SAM) deploy --guided

clean: ## Remove build outputs and caches (keeps .venv and .venv-tools)
	rm -rf .build .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis .coverage
