# CDR-Stats: `make run` starts the whole product with demo data; `make test` runs every check.
SHELL := /bin/bash
VENV ?= .venv
PYTHON ?= python3.11
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
CONSTRAINTS := requirements/constraints.txt
# dev.txt adds the test and lint tools; the container image builds with REQUIREMENTS=requirements/runtime.txt
REQUIREMENTS ?= requirements/dev.txt
PACKAGES := libs/common libs/cli services/ingest services/reporting services/alerting services/notify services/gateway
export CDRSTATS_DATA_DIR ?= var
PYTEST_ARGS ?=

.PHONY: setup venv protos assets debs run start stop test lint typecheck audit unit contract integration e2e deploy-check bench clean

setup: venv protos assets

venv: $(VENV)/.installed

$(VENV)/.installed: $(CONSTRAINTS) $(REQUIREMENTS) $(foreach p,$(PACKAGES),$(p)/pyproject.toml)
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is required"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -c $(CONSTRAINTS) setuptools
	$(PIP) install --no-build-isolation -c $(CONSTRAINTS) -r $(REQUIREMENTS) $(foreach p,$(PACKAGES),-e $(p))
	touch $@

protos: venv
	$(PY) scripts/gen_protos.py

# Debian packages the product and its tests use; installed only when missing.
debs:
	@bash scripts/ensure_debs.sh

assets: debs
	@bash scripts/ensure_assets.sh

# Start every process with SQLite stores under $(CDRSTATS_DATA_DIR), load demo data, stay in the foreground.
run: setup
	@bash scripts/ensure_rabbitmq.sh
	$(VENV)/bin/cdrstats run

# The same in the background; `make stop` ends it.
start: setup
	@bash scripts/ensure_rabbitmq.sh
	$(VENV)/bin/cdrstats run --background

stop:
	@test -x $(VENV)/bin/cdrstats && $(VENV)/bin/cdrstats stop || echo "nothing to stop"

lint: venv
	$(VENV)/bin/ruff check libs services tests bench scripts
	$(VENV)/bin/ruff format --check libs services tests bench scripts

typecheck: setup
	$(VENV)/bin/mypy

# Known vulnerabilities in the pinned Python packages and the npm assets (docs/security.md); fails on an
# unlisted one (requirements/audit-ignore.txt), warns loudly when no advisory service answers.
audit: venv
	$(PY) scripts/audit_deps.py

test: setup
	@bash scripts/ensure_rabbitmq.sh
	$(MAKE) --no-print-directory lint typecheck audit
	$(VENV)/bin/pytest $(PYTEST_ARGS)

unit: setup
	$(VENV)/bin/pytest tests/unit $(PYTEST_ARGS)

e2e: setup
	$(VENV)/bin/pytest tests/e2e $(PYTEST_ARGS)

clean:
	rm -rf build $(VENV) node_modules
