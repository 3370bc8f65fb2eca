# Every target is what CI runs; `.ci/run` calls `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_DIR ?= .demo

.PHONY: venv bytecode demo test unit lint services bench docs clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "ontolab needs Python 3.11+ (set PYTHON=python3.11)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# Bytecode for the project itself (pip compiles only what it installs): with
# PYTHONDONTWRITEBYTECODE set, every CLI start would otherwise recompile ontolab.
bytecode: $(STAMP)
	@$(BIN)/python -m compileall -q ontolab > /dev/null

venv: $(STAMP)

demo: $(STAMP) bytecode
	$(BIN)/python -m ontolab.testing.demo --dir $(DEMO_DIR)

# deploy/'s Python: the extensionless scripts are named, ruff would skip them otherwise.
DEPLOY_PY := deploy/scripts/switch deploy/scripts/canary deploy/scripts/rollback \
	deploy/scripts/_traffic.py deploy/grafana/_dashboard.py deploy/grafana/generate.py

lint: $(STAMP)
	$(BIN)/ruff format --check ontolab tests benchmarks $(DEPLOY_PY)
	$(BIN)/ruff check ontolab tests benchmarks $(DEPLOY_PY)
	$(BIN)/mypy
	$(BIN)/mypy --strict --scripts-are-modules $(DEPLOY_PY)

# Integration tests start their own PostgreSQL; this installs the server programs if missing.
services:
	@sh tests/services.sh

test: $(STAMP) bytecode lint services
	$(BIN)/pytest

unit: $(STAMP)
	$(BIN)/pytest tests/unit

bench: $(STAMP) bytecode
	$(BIN)/python -m benchmarks

# Regenerates the generated docs; tests/unit/test_docs_cli.py fails until this has run.
docs: $(STAMP)
	$(BIN)/python -m ontolab.cli._reference > docs/cli-reference.md

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .mypy_cache .ruff_cache
