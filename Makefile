# forecast-stack: the only entry point people and CI call.  `make help` lists the targets.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

ENV ?= local
VALID_ENVS := local dev prod
ifneq ($(words $(ENV)),1)
$(error ENV='$(ENV)' is not a valid environment; use one of: $(VALID_ENVS))
endif
ifeq ($(filter $(ENV),$(VALID_ENVS)),)
$(error ENV='$(ENV)' is not a valid environment; use one of: $(VALID_ENVS))
endif

# torch 2.13.0's CPU wheel is built for CPython 3.11; any other interpreter pulls GBs of CUDA wheels.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
TOOLS_VENV := .venv-tools
PY := $(VENV)/bin/python
STACKCTL := $(VENV)/bin/stackctl
CONSTRAINTS := requirements/constraints.txt
DEP_FILES := pyproject.toml src/model/pyproject.toml $(CONSTRAINTS)
TOOLS_FILES := requirements/tools.txt
ARGS ?=
# pytest runs on every core (pytest-xdist); tests that share a costly fixture stay on one worker
# (xdist_group marks, set by tests/conftest.py). PYTEST_WORKERS=0 runs in one process.
PYTEST_WORKERS ?= auto
PYTEST_PARALLEL := -n $(PYTEST_WORKERS) --dist loadgroup

.PHONY: help setup test test-network unit-fast lint typecheck unit validate plan review apply deploy pipelines destroy doctor audit bench fmt lock lock-aml lock-tools lock-providers clean sample-data

help: ## list every target with one line each
	@echo "usage: make TARGET [ENV=local|dev|prod]   (ENV defaults to local)"
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

setup: ## create .venv/ and .venv-tools/ with the pinned dependencies (no-op when nothing changed)
	@scripts/setup.sh "$(PYTHON)" "$(VENV)" "$(TOOLS_VENV)"

test: setup ## run every check: ruff, import contracts, mypy (strict), pytest, offline infrastructure validation
	@echo "==> ruff"; $(VENV)/bin/ruff check src tests scripts benchmarks
	@$(VENV)/bin/ruff format --check src tests scripts benchmarks
	@echo "==> import-linter"; $(VENV)/bin/lint-imports --no-cache pyproject.toml
	@echo "==> mypy (strict)"; $(VENV)/bin/mypy
	@echo "==> pytest"; $(VENV)/bin/pytest $(PYTEST_PARALLEL) --durations=25 -m "not network" $(ARGS)

test-network: setup ## only the tests that need the package index (marker `network`; CI=true turns their skip into a failure)
	@$(VENV)/bin/pytest $(PYTEST_PARALLEL) -m network $(ARGS)

unit-fast: setup ## the fast subset to run on every change: pytest without `slow`, `network` and `azure` tests
	@$(VENV)/bin/pytest $(PYTEST_PARALLEL) -m "not slow and not network and not azure" $(ARGS)

lint: setup ## ruff lint and format check, the import contracts of pyproject.toml (layers, no cycles), function length, the Any budget
	@$(VENV)/bin/ruff check src tests scripts benchmarks && $(VENV)/bin/ruff format --check src tests scripts benchmarks
	@$(VENV)/bin/lint-imports --no-cache pyproject.toml
	@$(PY) scripts/import_cycles.py
	@$(PY) scripts/code_size.py --check
	@$(PY) scripts/any_budget.py --check

typecheck: setup ## mypy strict on src/
	@$(VENV)/bin/mypy

unit: setup ## pytest only, in one process (pass ARGS="-k name" to select); the release pipeline's smoke tests use it
	@$(VENV)/bin/pytest $(ARGS)

validate: setup ## offline Terraform checks: fmt, config load, provider schema, checkov, dev/prod parity
	@$(STACKCTL) validate $(ARGS)

plan: setup ## terraform plan for ENV into build/ENV/ (local: show what apply would do)
	@$(STACKCTL) plan --env $(ENV) $(ARGS)

review: setup ## record that the saved plan of ENV was reviewed (its sha256 -> build/ENV/plan.reviewed); prod apply needs it
	@$(STACKCTL) plan --env $(ENV) --mark-reviewed

apply: setup ## apply ENV: local runs the whole stack on the sample data; dev/prod apply the reviewed plan, then deploy
	@$(STACKCTL) apply --env $(ENV) $(ARGS)

deploy: setup ## deploy the model, AML pipelines, schedules and SQL views into ENV
	@$(STACKCTL) deploy --env $(ENV) $(ARGS)

pipelines: setup ## write the YAML of every AML component, pipeline, deployment and schedule deploy would create
	@$(STACKCTL) pipelines dump --env $(ENV) --out build/$(ENV)/aml $(ARGS)

destroy: setup ## tear ENV down (asks for confirmation; prod also needs ARGS=--allow-prod)
	@$(STACKCTL) destroy --env $(ENV) $(ARGS)

# GNU make reports every failed recipe as its own exit status 2, whatever the command returned, so
# `make audit` cannot exit 1: it fails (2) when the audit blocks or cannot run, and its last
# line names the audit's own status. The release gate needs only pass/fail; to tell the two apart
# by exit status, run `.venv/bin/stackctl audit --env ENV` (0 pass, 1 blocking, 3 setup fault).
doctor: setup ## check every prerequisite of a first deploy of ENV (dev|prod), in order, and name the next step
	@$(STACKCTL) doctor --env $(ENV) $(ARGS)

audit: setup ## auditor's report of build/ENV/plan.json: build/ENV/audit.{md,html,sarif}; fails when anything blocks
	@$(STACKCTL) audit --env $(ENV) $(ARGS) || { status=$$?; \
	  case $$status in 1) why="blocking findings";; 3) why="setup fault, nothing written";; *) why="the audit did not finish";; esac; \
	  echo "make audit: stackctl audit exited $$status ($$why)" >&2; exit $$status; }

bench: setup ## benchmarks: model train/score time, memory and accuracy; validate and audit timings; AML image package sets
	@$(PY) benchmarks/run.py $(ARGS)

fmt: setup ## format Python (ruff) and Terraform (terraform fmt)
	@$(VENV)/bin/ruff format src tests scripts benchmarks
	@$(VENV)/bin/ruff check --fix src tests scripts benchmarks
	@$(PY) scripts/terraform_fmt.py --write

sample-data: setup ## regenerate the bundled sample dataset (data/sample) from its seed
	@$(PY) scripts/generate_sample_data.py --out data/sample $(ARGS)

lock: setup ## re-resolve requirements/constraints.txt, .venv's pins, with uv pip compile (needs the registry; ARGS="--upgrade" moves every pin, "--torch-wheels DIR" takes torch from a folder)
	@$(PY) -m stackctl.locking main $(ARGS)

lock-aml: setup ## re-resolve requirements/aml-runtime.txt, the AML job images' pins, with uv pip compile for CPython 3.11 x86_64-manylinux_2_36 (needs the indexes; ARGS="--torch-wheels DIR" takes torch from a folder)
	@$(PY) -m stackctl.aml.resolve $(ARGS)

lock-tools: setup ## re-resolve requirements/tools.txt, .venv-tools' pins (checkov), with uv pip compile (needs the registry)
	@$(PY) -m stackctl.locking tools $(ARGS)

lock-providers: setup ## write envs/{dev,prod,bootstrap}/.terraform.lock.hcl for Linux, macOS and Windows (needs the Terraform registry)
	@$(PY) -m stackctl.terraform.locks

clean: ## remove build outputs and the local stack (keeps the virtual environments)
	rm -rf build .local .pytest_cache .mypy_cache .ruff_cache
