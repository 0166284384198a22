# Switchboard. `make run` sets everything up and runs the demo; `make test` checks everything.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
TEST_INSTALLED := $(VENV)/.installed-test

.PHONY: run test lint chromium bench bench-limits bench-routing bench-writer bench-analytics bench-console vendor \
	refresh-prices clean

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
	@echo "The console: http://127.0.0.1:8084/ui (sign in with ADMIN_TOKEN from .env)"
	$(BIN)/switchboard serve

## test: lint, type-check, check the import layers, run every test (SQLite and PostgreSQL) in
## two worker processes, a test file to each in turn (its module-scoped gateways start once)
test: $(TEST_INSTALLED) lint chromium
	$(BIN)/pytest -n 2 --dist loadfile --durations=15

## chromium: Debian's Chromium for the browser tests, installed when missing and possible (root
## with apt-get); otherwise the browser tests are skipped and say why. Never Playwright's own.
chromium:
	@test -x /usr/bin/chromium || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
		>/dev/null) || echo "Chromium is not installed and cannot be here: browser tests will skip"; }

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

## bench-limits: what limits counted in Redis cost the gateway (req/s, added p50/p95, CPU per
## request), a gateway without them and one with them measured in turn, medians of 3 rounds
bench-limits: $(TEST_INSTALLED)
	$(BIN)/python -m bench.limits

## bench-analytics: time the usage analytics endpoints over 2,000,000 usage rows in PostgreSQL
bench-analytics: $(TEST_INSTALLED)
	$(BIN)/python -m bench.analytics

## bench-console: time every web console page of a real server over 100,000 users, 10,000 models
## and 2,000,000 usage rows in PostgreSQL, signed in as a browser is
bench-console: $(TEST_INSTALLED)
	$(BIN)/python -m bench.console

## refresh-prices: take a newer LiteLLM price map into the starter catalog and the test copy of
## the map, then check them (`make refresh-prices PRICE_MAP=…/model_prices_and_context_window_backup.json
## VERSION=x.y.z`; the map is in the litellm wheel: `pip download litellm==x.y.z --no-deps`)
refresh-prices: $(TEST_INSTALLED)
	$(BIN)/python -m switchboard.services.seed_prices $(PRICE_MAP) --version $(VERSION)
	$(BIN)/pytest tests/integration/test_seed_prices.py

## vendor: refresh the front-end files served from the package, each pinned to the version in
## its folder's VERSION file, with its licence and a SHA256SUMS: Swagger UI for /docs, htmx and
## uPlot for the console (/ui), axe-core for the console's accessibility tests. Needs npm
## (`make vendor SWAGGER_UI_VERSION=x.y.z HTMX_VERSION=… UPLOT_VERSION=… AXE_VERSION=…` moves
## to other versions). Nothing else needs Node.
SWAGGER_UI_DIR := src/switchboard/api/static/vendor/swagger-ui
SWAGGER_UI_VERSION ?= $(shell cat $(SWAGGER_UI_DIR)/VERSION)
SWAGGER_UI_FILES := swagger-ui-bundle.js swagger-ui.css favicon-32x32.png \
	LICENSE NOTICE swagger-ui-bundle.js.LICENSE.txt
HTMX_DIR := src/switchboard/console/static/vendor/htmx
HTMX_VERSION ?= $(shell cat $(HTMX_DIR)/VERSION)
UPLOT_DIR := src/switchboard/console/static/vendor/uplot
UPLOT_VERSION ?= $(shell cat $(UPLOT_DIR)/VERSION)
AXE_DIR := tests/browser/vendor/axe-core
AXE_VERSION ?= $(shell cat $(AXE_DIR)/VERSION)
# vendor_package(npm name, version, folder, files as "path-in-package:name" pairs)
define vendor_package
	set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	(cd "$$tmp" && npm pack --silent $(1)@$(2) >/dev/null); \
	tar -xzf "$$tmp"/*.tgz -C "$$tmp"; \
	mkdir -p $(3); \
	for pair in $(4); do cp "$$tmp/package/$${pair%%:*}" $(3)/$${pair##*:}; done; \
	echo $(2) > $(3)/VERSION; \
	cd $(3) && $(PYTHON) -c 'import hashlib, sys; \
	[print(hashlib.sha256(open(n, "rb").read()).hexdigest() + "  " + n) for n in sys.argv[1:]]' \
	$(foreach pair,$(4),$(lastword $(subst :, ,$(pair)))) > SHA256SUMS
endef
vendor:
	$(call vendor_package,swagger-ui-dist,$(SWAGGER_UI_VERSION),$(SWAGGER_UI_DIR),\
	$(foreach name,$(SWAGGER_UI_FILES),$(name):$(name)))
	$(call vendor_package,htmx.org,$(HTMX_VERSION),$(HTMX_DIR),\
	dist/htmx.min.js:htmx.min.js LICENSE:LICENSE)
	$(call vendor_package,uplot,$(UPLOT_VERSION),$(UPLOT_DIR),\
	dist/uPlot.iife.min.js:uPlot.iife.min.js dist/uPlot.min.css:uPlot.min.css LICENSE:LICENSE)
	$(call vendor_package,axe-core,$(AXE_VERSION),$(AXE_DIR),\
	axe.min.js:axe.min.js LICENSE:LICENSE LICENSE-3RD-PARTY.txt:LICENSE-3RD-PARTY.txt)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
