# Switchboard. `make run` sets everything up and runs the demo; `make test` checks everything.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
TEST_INSTALLED := $(VENV)/.installed-test

.PHONY: run test lint bench bench-routing bench-writer bench-analytics vendor refresh-prices clean

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(TEST_INSTALLED): $(INSTALLED)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

## run: install, write .env (first time), migrate and seed the SQLite default, serve the gateway
run: $(INSTALLED)
	$(BIN)/switchboard init-env
	$(BIN)/switchboard db upgrade
	$(BIN)/switchboard seed --demo
	$(BIN)/switchboard explain --tier professional --power balanced --task chat --tokens 1000
	$(BIN)/switchboard demo
	$(BIN)/switchboard serve

## test: lint, type-check, check the import layers, run every test (SQLite and PostgreSQL) in
## two worker processes, a test file to each in turn (its module-scoped gateways start once)
test: $(TEST_INSTALLED) lint
	$(BIN)/pytest -n 2 --dist loadfile

lint: $(TEST_INSTALLED)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

## bench-routing: time routing decisions and snapshot loading on a 10,000-rule catalog
bench-routing: $(INSTALLED)
	$(BIN)/python -m bench.routing

## bench-writer: the usage writer's CPU per usage row, draining a spool into SQLite
bench-writer: $(INSTALLED)
	$(BIN)/python -m bench.usage_writer

## bench: the gateway's throughput, latency, CPU and memory against a fast fake upstream
bench: $(TEST_INSTALLED)
	$(BIN)/python -m bench.gateway

## bench-analytics: time the usage analytics endpoints over 2,000,000 usage rows in PostgreSQL
bench-analytics: $(TEST_INSTALLED)
	$(BIN)/python -m bench.analytics

## refresh-prices: take a newer LiteLLM price map into the starter catalog and the test copy of
## the map, then check them (`make refresh-prices PRICE_MAP=…/model_prices_and_context_window_backup.json
## VERSION=x.y.z`; the map is in the litellm wheel: `pip download litellm==x.y.z --no-deps`)
refresh-prices: $(TEST_INSTALLED)
	$(BIN)/python -m switchboard.services.seed_prices $(PRICE_MAP) --version $(VERSION)
	$(BIN)/pytest tests/integration/test_seed_prices.py

## vendor: refresh the Swagger UI files that /docs serves from the package (needs npm; `make
## vendor SWAGGER_UI_VERSION=x.y.z` moves to another version). Nothing else needs Node.
SWAGGER_UI_DIR := src/switchboard/api/static/vendor/swagger-ui
SWAGGER_UI_VERSION ?= $(shell cat $(SWAGGER_UI_DIR)/VERSION)
SWAGGER_UI_FILES := swagger-ui-bundle.js swagger-ui.css favicon-32x32.png \
	LICENSE NOTICE swagger-ui-bundle.js.LICENSE.txt
vendor:
	set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	(cd "$$tmp" && npm pack --silent swagger-ui-dist@$(SWAGGER_UI_VERSION) >/dev/null); \
	tar -xzf "$$tmp"/swagger-ui-dist-$(SWAGGER_UI_VERSION).tgz -C "$$tmp"; \
	mkdir -p $(SWAGGER_UI_DIR); \
	for name in $(SWAGGER_UI_FILES); do cp "$$tmp/package/$$name" $(SWAGGER_UI_DIR)/; done
	echo $(SWAGGER_UI_VERSION) > $(SWAGGER_UI_DIR)/VERSION
	cd $(SWAGGER_UI_DIR) && $(PYTHON) -c 'import hashlib, sys; \
	[print(hashlib.sha256(open(n, "rb").read()).hexdigest() + "  " + n) for n in sys.argv[1:]]' \
	$(SWAGGER_UI_FILES) > SHA256SUMS

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
