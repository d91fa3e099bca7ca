# One entry point for people, hooks and CI. `make help` lists the targets.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
SCALE  ?= 0.02
SEED   ?= 42
DEFAULT_DB := data/generated/pathfinder.duckdb
DB     ?= $(DEFAULT_DB)
export PATHFINDER_DB ?= $(abspath $(DB))
# Demo mode seeds one demo user per role (docs/security.md); real deployments set a user store instead.
export PATHFINDER_DEMO ?= true

.PHONY: help setup run serve data default-db test test-fast lint format check browser-deps bench bench-quick bench-scaling clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

setup: $(VENV)/.installed  ## Create the virtual environment and install pinned packages

data: setup  ## (Re)build the synthetic database: make data SCALE=0.02 SEED=42
	$(BIN)/python -m data.build synthetic --scale $(SCALE) --seed $(SEED) --out $(DB)

# The default synthetic database is built when missing, and rebuilt when another build version made it
# (data/build_version.py) or another version of the generator wrote its data (data/synthetic). Only that one,
# and only when it is the one served: a database named by DB= or PATHFINDER_DB may be a real extract (or the
# path for one), so nothing is ever built there for you; the app says why it cannot read it instead.
default-db: | $(VENV)/.installed
ifeq ($(abspath $(PATHFINDER_DB)),$(abspath $(DEFAULT_DB)))
	@$(BIN)/python -m data.build check --generator --db $(DEFAULT_DB) || { \
		echo "Building the default database $(DEFAULT_DB) (SCALE=$(SCALE) SEED=$(SEED))"; \
		$(BIN)/python -m data.build synthetic --scale $(SCALE) --seed $(SEED) --out $(DEFAULT_DB); }
endif

run: setup default-db  ## Serve the app on http://127.0.0.1:8050 (builds the default database if missing or stale)
	$(BIN)/python app.py

serve: setup default-db  ## Production serving: gunicorn, PATHFINDER_WORKERS workers (default 2) on the read-only database
	$(BIN)/gunicorn --config gunicorn.conf.py

browser-deps:  ## Install Debian chromium for the browser tests when missing
	./scripts/ensure-chromium

test: setup browser-deps  ## Run every test (unit, spec, integration, browser)
	$(BIN)/pytest -n 2 --dist loadgroup

test-fast: setup  ## Run every test except the browser tests
	$(BIN)/pytest -m "not browser"

lint: setup  ## Lint, format check and layer contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: setup  ## Format the code
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

check: lint test  ## Lint and run every test (what CI runs)

$(VENV)/.bench-installed: requirements-bench.txt | $(VENV)/.installed
	$(BIN)/pip install -q -r requirements-bench.txt
	touch $@

BENCH_DIR  ?= data/generated/bench
# Extra report options, e.g. BENCH_ARGS="--db 1.0=/tmp/s1/pathfinder.duckdb --skip load"
BENCH_ARGS ?=

bench: setup $(VENV)/.bench-installed  ## Every benchmark at scales 0.1 and 1.0 into one report, bench/results/latest.md (30+ min)
	$(BIN)/python bench/report.py --scales 0.1,1.0 --seed $(SEED) --db-dir $(BENCH_DIR) --reuse $(BENCH_ARGS)

bench-quick: setup $(VENV)/.bench-installed  ## The same report at scale 0.02 (a few minutes)
	$(BIN)/python bench/report.py --scales 0.02 --seed $(SEED) --db-dir $(BENCH_DIR) --reuse --repeat 5 \
		--callback-repeat 5 --duration 20 $(BENCH_ARGS)

bench-scaling: setup $(VENV)/.bench-installed  ## Scaling curve 0.1/0.5/1.0/2.0 into bench/results/scaling.json (long)
	$(BIN)/python bench/scaling.py --scales 0.1,0.5,1.0,2.0 --seed $(SEED)

clean:  ## Remove generated data and caches (keeps the venv)
	rm -rf data/generated test-artifacts .pytest_cache .ruff_cache
