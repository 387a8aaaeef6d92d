# finhouse — the two commands are `make demo` and `make test`; everything else here serves them.
# Nothing is installed by hand: this file bootstraps uv from the system python3.11, builds the
# engine (fetching DuckDB 1.4.4 for C from npm into .finhouse/cache), and brings up PostgreSQL.

SHELL := /bin/bash
.DEFAULT_GOAL := all

-include .env
export

FH          := $(CURDIR)/.finhouse
PYTHON      ?= $(shell command -v python3.11 || echo /usr/bin/python3.11)
UV          := $(FH)/boot/bin/uv
export UV_PYTHON_DOWNLOADS := never
# Install every environment with its bytecode compiled, as pip does by default (uv does not): otherwise a
# process whose environment sets PYTHONDONTWRITEBYTECODE (this machine's does) compiles every module it
# imports on each start — 2.8 s of every dbt command (bench/transform), and as much for Airflow's tasks.
export UV_COMPILE_BYTECODE := 1
# Every environment's stamp depends on this file, named after the install settings above: changing them
# re-syncs each environment once, in an existing checkout too.
UV_SETTINGS := $(FH)/uv-settings.compile-bytecode
export UV_PYTHON := $(PYTHON)
export UV_PROJECT_ENVIRONMENT := $(FH)/venv
export FINHOUSE_HOME := $(FH)
# The defaults of every setting (FINHOUSE_OLTP_URL, FINHOUSE_DUCKDB_PATH, …) come from .env.example, the one
# file they are written in: as `NAME ?= value`, so that the environment and .env win. A default derived from
# another (${FINHOUSE_HOME}/…) is not exported: a program (or a test) that moves FINHOUSE_HOME derives it
# anew, as finhouse.config and scripts/defaults.sh do.
include $(FH)/defaults.mk
$(FH)/defaults.mk: .env.example
	@mkdir -p $(@D) && awk 'match($$0, /^[A-Z][A-Z0-9_]*=./) { n = index($$0, "="); name = substr($$0, 1, n - 1); \
	  value = substr($$0, n + 1); if (!index(value, "$${")) { print name " ?= " value; next } \
	  print "ifeq ($$(origin " name "),undefined)\n" name " = " value "\nunexport " name "\nendif" }' $< > $@
VENV_BIN    := $(FH)/venv/bin
MANAGE      := $(VENV_BIN)/python corebanking/manage.py

.PHONY: all env db test test-python demo clean help lint lint-python api-fuzz bench-simulator bench-transform bench-warehouse

help:  ## this list
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | sort

all: env engine  ## build the engine and the Python environment

$(UV):
	@test -x "$(PYTHON)" || { echo "make: python3.11 not found; install it (Debian: apt-get install python3.11 python3.11-venv)" >&2; exit 1; }
	$(PYTHON) -m venv $(FH)/boot
	$(FH)/boot/bin/pip install --quiet --disable-pip-version-check 'uv>=0.9,<0.14'

$(UV_SETTINGS):
	@mkdir -p $(FH) && rm -f $(FH)/uv-settings.* && touch $@

$(FH)/venv/.synced: $(UV) $(UV_SETTINGS) pyproject.toml uv.lock
	$(UV) sync --frozen --quiet
	@touch $@

env: $(FH)/venv/.synced  ## create or update the platform's Python environment

db: env  ## make sure PostgreSQL answers at FINHOUSE_OLTP_URL, create the database, migrate
	@scripts/ensure-postgres
	@$(MANAGE) migrate --no-input -v 0

test: env lint engine-test db test-python test-airflow test-superset  ## everything the project checks

test-python: env engine db fakesnow-env airflow-env superset-env  ## pytest: core banking, platform, ingest end to end, Snowflake leg
	@scripts/system-deps
	$(VENV_BIN)/pytest

api-fuzz: env  ## the API fuzz run alone (schemathesis as admin and teller); its counts into docs/api-fuzz.md
	@scripts/ensure-postgres
	FINHOUSE_API_FUZZ_DOC=1 $(VENV_BIN)/pytest tests/test_api_fuzz.py -q -s

# Lint, run by `make test` (and so by CI) before the tests; each says how to fix what it finds.
lint: lint-python lint-sql format-check  ## ruff on all our Python, sqlfluff on the dbt models, clang-format on the engine

# All our Python: every .py of the repository (ruff skips .gitignore'd paths, .finhouse and the migrations:
# pyproject.toml) and the Python scripts without the suffix.
PY_SCRIPTS := orchestrate/bin/run-dags orchestrate/bin/setup-db
lint-python: env  ## ruff on all our Python (pyproject.toml [tool.ruff])
	@$(VENV_BIN)/ruff check . $(PY_SCRIPTS) || { echo "lint-python: fix with \`$(VENV_BIN)/ruff check --fix . $(PY_SCRIPTS)\`, then by hand what it leaves" >&2; exit 1; }

demo: env engine db airflow-db superset-db  ## the whole platform: simulate, ingest through Airflow, serve (see README)
	$(VENV_BIN)/finhouse demo

bench-simulator: env db  ## simulator benchmark: bulk COPY vs services, figures into bench/simulator/README.md
	$(VENV_BIN)/python bench/simulator/run.py

BENCH_TRANSFORM_ARGS ?= all
bench-transform: env engine db  ## dbt benchmark: full vs incremental build after 1% new activity (bench/transform)
	$(VENV_BIN)/python bench/transform/run.py $(BENCH_TRANSFORM_ARGS)

# DuckLake's extensions are a bench-only dependency group: synced for the run, removed again after it (the
# runtime's environment stays what `make env` makes).
BENCH_WAREHOUSE_ARGS ?=
bench-warehouse: env  ## DuckDB file vs DuckLake for a stream, dbt and dashboards at once (bench/warehouse)
	@scripts/ensure-postgres
	$(UV) sync --frozen --quiet --group bench-warehouse
	$(VENV_BIN)/python bench/warehouse/run.py $(BENCH_WAREHOUSE_ARGS); rc=$$?; $(UV) sync --frozen --quiet; exit $$rc

FAKESNOW := ingest/snowflake/emulator/run
.PHONY: fakesnow-env fakesnow-start fakesnow-stop snowflake-load
fakesnow-env: $(UV)  ## the Snowflake emulator's own environment (.finhouse/fakesnow-venv)
	@$(FAKESNOW) env
fakesnow-start: fakesnow-env  ## start fakesnow on a free loopback port; prints the SNOWFLAKE_* to use
	@$(FAKESNOW) start
fakesnow-stop:  ## stop it
	@$(FAKESNOW) stop
snowflake-load: env engine  ## load the OLTP into Snowflake's RAW layer (SNOWFLAKE_* from .env)
	$(VENV_BIN)/finhouse snowflake-load

clean:  ## remove build outputs (keeps .finhouse caches and the database)
	rm -rf ingest/engine/build

include ingest/engine/engine.mk
include orchestrate/airflow.mk
include transform/dbt.mk
include serve/superset.mk
include bench/ingest/bench.mk
include bench/cdc/bench.mk
