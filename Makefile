# Every developer command. `make help` lists them. The two that matter on day one:
#   make run    serve the API on http://127.0.0.1:8000 (embedded SQLite, no services needed)
#   make test   run the whole test suite
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
PIP    := $(PY) -m pip --disable-pip-version-check -q
HOST   ?= 127.0.0.1
PORT   ?= 8000
# Bytecode caches (__pycache__/, gitignored) are kept, even when the shell says otherwise:
# without them each test worker, and each server or tool a test starts, compiles the app
# again and pytest rewrites every test module again (about a tenth of `make test`, ADR-0043).
unexport PYTHONDONTWRITEBYTECODE

# --- Environment -----------------------------------------------------------------
$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python >= 3.11 is required")'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

$(VENV)/.runtime: pyproject.toml | $(PY)
	$(PIP) install -e .
	@touch $@

$(VENV)/.dev: pyproject.toml | $(PY)
	$(PIP) install -e '.[dev]'
	@touch $@ $(VENV)/.runtime

$(VENV)/.docs: pyproject.toml | $(PY)
	$(PIP) install -e '.[dev,docs]'
	@touch $@ $(VENV)/.dev $(VENV)/.runtime

.PHONY: help
help: ## List every target
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: install
install: $(VENV)/.dev ## Create .venv and install the app with dev tools (idempotent)

# --- Run -------------------------------------------------------------------------
.PHONY: run
run: $(VENV)/.runtime db-upgrade ## Migrate and serve the API on http://127.0.0.1:8000
	$(BIN)/uvicorn app.main:app --host $(HOST) --port $(PORT) --no-access-log --no-server-header --no-proxy-headers --timeout-graceful-shutdown 10

.PHONY: dev
dev: $(VENV)/.runtime db-upgrade ## Like run, with auto-reload on code changes
	$(BIN)/uvicorn app.main:app --host $(HOST) --port $(PORT) --no-access-log --no-server-header --no-proxy-headers --reload --reload-dir backend

.PHONY: worker
worker: $(VENV)/.runtime db-upgrade ## Run the background-job worker (arq; needs REDIS_URL, ADR-0036); python -m app jobs failed lists failures
	$(PY) -m app worker

# --- Quality ---------------------------------------------------------------------
.PHONY: test
test: $(VENV)/.dev ## Run the whole test suite (SQLite + fakeredis unless DATABASE_URL/REDIS_URL); make coverage adds the gate
	$(BIN)/pytest $(PYTEST_ARGS)

.PHONY: coverage
# Coverage tracing doubles the time of the in-process tests on Python 3.11, so it is not
# part of `make test` (ADR-0043); `make check` and CI run this. The gate (90 %) applies to
# the whole suite only: a run that selects tests (PYTEST_ARGS naming tests/..., -k, -m,
# --lf, --deselect) reports coverage but cannot fail on it; options that select nothing
# (--junitxml=..., -n 0, -x) keep the gate.
SELECTS_TESTS = $(filter tests% -k -m --lf --last-failed --deselect%,$(PYTEST_ARGS))
COVERAGE_GATE = $(if $(SELECTS_TESTS),,--cov-fail-under=90)
coverage: $(VENV)/.dev ## The whole suite with branch coverage of backend/app and its 90 % gate (make check runs this)
	$(BIN)/pytest --cov --cov-report=term-missing:skip-covered --cov-report=xml $(COVERAGE_GATE) $(PYTEST_ARGS)

.PHONY: redis-faults
redis-faults: $(VENV)/.dev ## Redis fault tests (throwaway redis-server) printing the latency numbers of docs/rate-limiting.md
	set -o pipefail; $(BIN)/pytest -m fault tests/fault/test_redis_*.py -s $(PYTEST_ARGS) | grep -E 'redis-latency|passed|failed|skipped'

.PHONY: fmt
fmt: $(VENV)/.dev ## Format and auto-fix with ruff
	$(BIN)/ruff format backend tests examples .ci/validate_deploy.py
	$(BIN)/ruff check --fix backend tests examples .ci/validate_deploy.py

.PHONY: lint
lint: $(VENV)/.dev validate ## ruff, mypy, import contracts, bandit, detect-secrets, deploy validators
	$(BIN)/ruff format --check backend tests examples .ci/validate_deploy.py
	$(BIN)/ruff check backend tests examples .ci/validate_deploy.py
	$(BIN)/mypy
	$(BIN)/mypy examples/python_client.py .ci/validate_deploy.py
	$(BIN)/lint-imports
	$(BIN)/bandit -q -c pyproject.toml -r backend/app
	git ls-files -z | xargs -0 $(BIN)/detect-secrets-hook --baseline .secrets.baseline

.PHONY: check
check: lint docs coverage ## Everything CI runs on every change (lint + docs + the suite with coverage)

# --- Reliability and performance (ADR-0030) ----------------------------------------
.PHONY: fault
fault: $(VENV)/.dev ## Fault suite only: throwaway PostgreSQL stopped/starved/slow, SIGTERM (root + initdb)
	$(BIN)/pytest -m fault tests/fault $(PYTEST_ARGS)

.PHONY: flaky
flaky: $(VENV)/.dev ## Flaky-test hunt: fault + timing tests FLAKY_COUNT (20) times under CPU load (docs/testing.md)
	$(PY) -m tests.support.flaky --count $(or $(FLAKY_COUNT),20) $(if $(FLAKY_LOAD),--load $(FLAKY_LOAD)) -- $(PYTEST_ARGS)

# mutmut (docs/testing.md#mutation-testing) runs in mutants/ (gitignored), where src, tests and
# pyproject.toml link back to the repository: see [tool.mutmut] in pyproject.toml for why.
MUTATION_MIN ?= 85
MUTATION_JOBS ?= 2

.PHONY: mutation
mutation: $(VENV)/.dev ## Mutation testing (mutmut) of the CONTRACT-cited modules; per-module kill rates, fails under MUTATION_MIN (85) %
	rm -rf mutants && mkdir mutants
	ln -s ../backend mutants/src && ln -s ../tests mutants/tests && ln -s ../pyproject.toml mutants/pyproject.toml
	cd mutants && $(abspath $(BIN))/mutmut run --max-children $(MUTATION_JOBS)
	cd mutants && $(abspath $(BIN))/mutmut results --all true > results.txt
	$(PY) -m tests.support.mutation_report --min $(MUTATION_MIN) mutants/results.txt

.PHONY: bench
bench: $(VENV)/.dev ## Benchmark against per-endpoint references (wrk or Python fallback); BENCH_ARGS="--db postgres --duration 5"
	$(PY) -m tests.bench.run $(BENCH_ARGS)

# --- Docs ------------------------------------------------------------------------
DOCS_ENV := NO_MKDOCS_2_WARNING=1 DISABLE_MKDOCS_2_WARNING=true

.PHONY: docs
docs: $(VENV)/.docs ## Build the docs site into site/ (--strict, offline); fails on any warning
	$(DOCS_ENV) $(BIN)/mkdocs build --strict --clean
	$(PY) -m tests.docs.site_check site

.PHONY: docs-serve
docs-serve: $(VENV)/.docs ## Serve the docs site with live reload on http://127.0.0.1:8001
	$(DOCS_ENV) $(BIN)/mkdocs serve --strict -a 127.0.0.1:8001

.PHONY: docs-browser
docs-browser: docs $(VENV)/.dev ## Open the built site in headless Chromium at desktop and phone widths; screenshots in reports/docs-browser
	$(PY) -m tests.docs.browser_check site --screenshots reports/docs-browser

.PHONY: openapi
openapi: $(VENV)/.runtime ## Regenerate the committed OpenAPI snapshot docs/reference/openapi.json
	APP_ENV_FILE=/dev/null $(PY) -m app openapi > docs/reference/openapi.json.tmp
	mv docs/reference/openapi.json.tmp docs/reference/openapi.json

# --- Contract (ADR-0021, tests/contract/README.md) -------------------------------------
.PHONY: fuzz
fuzz: $(VENV)/.dev ## Fuzz a live server with schemathesis (all checks/phases; DATABASE_URL/REDIS_URL or temp SQLite)
	$(PY) -m tests.contract.fuzz

.PHONY: breaking
breaking: $(VENV)/.dev ## Fail on breaking API changes vs docs/reference/openapi-release.json not recorded in an ADR
	APP_ENV_FILE=/dev/null $(PY) -m tests.contract.breaking

.PHONY: openapi-release
openapi-release: $(VENV)/.dev ## Cut a release: snapshot the current schema into docs/reference/openapi-release.json
	APP_ENV_FILE=/dev/null $(PY) -m tests.contract.breaking --write-release

# --- Database --------------------------------------------------------------------
.PHONY: db-upgrade
db-upgrade: $(VENV)/.runtime ## Apply migrations to DATABASE_URL (default: var/app.db)
	$(PY) -m app migrate

.PHONY: db-downgrade
db-downgrade: $(VENV)/.runtime ## Revert the last migration (REV=base reverts all)
	$(PY) -m app migrate --downgrade $(or $(REV),-1)

.PHONY: new-domain
new-domain: $(VENV)/.dev ## Scaffold an owned-resource domain copied from items: make new-domain name=gadgets
	@test -n "$(name)" || { echo 'usage: make new-domain name=<plural> [singular=<singular>]'; exit 2; }
	$(PY) -m app new-domain $(name) $(if $(singular),--singular $(singular))
	$(BIN)/ruff check --fix --select I,RUF022 -q backend tests
	$(BIN)/ruff format -q backend tests
	$(MAKE) --no-print-directory openapi

.PHONY: db-revision
db-revision: $(VENV)/.dev db-upgrade ## New autogenerated migration (house style, formatted): make db-revision msg="add table x"
	@test -n "$(msg)" || { echo 'usage: make db-revision msg="what changed"'; exit 2; }
	$(BIN)/alembic revision --autogenerate -m "$(msg)"

# --- Delivery: examples, containers, deploy manifests (ADR-0029) -------------------
.PHONY: validate
validate: $(VENV)/.dev ## Offline checks: hadolint, compose schema, k8s schemas, actionlint, shellcheck (+ self-check)
	$(PY) .ci/validate_deploy.py --self-check

.PHONY: examples
examples: $(VENV)/.dev ## Run the curl walkthrough and the Python client against a live server
	PY=$(PY) bash examples/run.sh

.PHONY: up
up: ## Build and start app + PostgreSQL + Redis with Docker Compose (http://127.0.0.1:8000)
	docker compose up --build --detach --wait app

.PHONY: down
down: ## Stop the Compose stack (data volumes are kept; add -v by hand to drop them)
	docker compose down

# --- Housekeeping ----------------------------------------------------------------
.PHONY: clean
clean: ## Remove caches and build output (keeps .venv and var/)
	rm -rf .pytest_cache .mypy_cache .ruff_cache htmlcov site coverage.xml .coverage .coverage.* reports mutants
	find backend tests examples -name __pycache__ -prune -exec rm -rf {} +
