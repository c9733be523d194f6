# payment-session-worker: every target runs from a fresh clone; `make install` is the only setup step.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The SAM CLI lives in its own virtualenv (scripts/infra_checks.sh creates it); a sam on PATH wins.
SAM ?= $(shell command -v sam 2>/dev/null || echo .venv-tools/sam/bin/sam)

.PHONY: help install test check lint fmt typecheck unit requirements demo sandbox bench soak fuzz build deploy clean infra-check

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

install: $(STAMP) ## Create or update .venv at the repo root with the project and its dev tools

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

test: install lint typecheck infra-check build ## Lint, type-check, check the stack, build the package, run every test (what CI runs)
	$(PY) -m pytest

lint: install ## Static checks; never rewrites a file
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: install ## Rewrite files with ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

typecheck: install ## mypy --strict on src/
	$(VENV)/bin/mypy

requirements: install ## Regenerate src/requirements.txt from pyproject.toml
	$(PY) scripts/requirements.py --write

demo: install ## The whole pipeline on the embedded local sandbox, end to end
	$(PY) -m sandbox demo

sandbox: install ## Run the embedded local AWS until Ctrl-C
	$(PY) -m sandbox up

bench: install ## Benchmarks as deployed (read-only package, CPU share of MemorySize) against baselines, as ratios
	$(PY) -m bench

soak: install ## Thousands of requests through the sandbox under faults (standard, backstop, FIFO); checks the invariants
	$(PY) -m sandbox.soak

fuzz: install ## Longer hypothesis fuzzing of the handler and of the operator's command
	HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest tests/fuzz tests/operations/test_letter_fuzz.py -q

infra-check: install ## cfn-lint, sam validate --lint and checkov on template.yaml (tools in .venv-tools/)
	bash scripts/infra_checks.sh

build: install ## The arm64 deployment package in .build/ with CPython 3.13 bytecode (no Docker; PYTHON313=... to choose)
	bash scripts/build.sh

deploy: build infra-check ## Checks, then sam deploy --guided (the SAM CLI from .venv-tools/ unless one is on PATH)
	$(SAM) deploy --guided

clean: ## Remove build outputs and caches (keeps .venv)
	rm -rf .build .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis .coverage
