# transform/dbt.mk — the dbt project finhouse (transform/finhouse), included by the top-level Makefile.
#
#   make dbt-build   dbt build (models, snapshots, tests, unit tests) on the DuckDB warehouse; the tests of
#                    its incremental models read only the rows it wrote (transform/finhouse/README.md, top)
#   make dbt-test    dbt test alone: every data test on every row (the full check of a warehouse)
#   make dbt-docs    dbt docs generate into transform/finhouse/target (served by `make dbt-docs-serve` on :8081)
#   make dbt-manifest  dbt parse: the manifest the Airflow transform DAG (cosmos) is rendered from
#   make lint-sql    sqlfluff on the models (transform/finhouse/.sqlfluff; part of `make lint`, so of `make test`)
#   make test-dbt    the dbt pytest (sources = registry; build on a small simulated institution, on DuckDB
#                    and on the fakesnow-emulated Snowflake)
#
# Needs $(VENV_BIN) and the platform environment (`make env`) from the top-level Makefile. The warehouse is
# FINHOUSE_DUCKDB_PATH (its default in .env.example); DBT_TARGET picks another target.

DBT_DIR     := transform/finhouse
DBT_TARGET  ?= duckdb
DBT_ARGS    ?=
DBT         := $(VENV_BIN)/dbt
DBT_FLAGS   := --project-dir $(DBT_DIR) --profiles-dir $(DBT_DIR) --target $(DBT_TARGET)
DBT_DOCS_PORT ?= 8081
export DBT_SEND_ANONYMOUS_USAGE_STATS ?= false
# Absolute: dbt reads a relative path from its working directory, the rest of the platform from the root.
export FINHOUSE_DUCKDB_PATH := $(abspath $(FINHOUSE_DUCKDB_PATH))

.PHONY: dbt-build dbt-test dbt-docs dbt-docs-serve dbt-manifest test-dbt lint-sql

dbt-build: env  ## dbt build: staging → intermediate → marts with their tests (of an incremental model: the rows it wrote); DuckDB by default, DBT_ARGS adds dbt options
	$(DBT) build $(DBT_FLAGS) $(DBT_ARGS)

# A build's tests of an incremental model read only the rows it wrote (macros/test_scope.sql); `dbt test` on
# its own reads every row: after a change to a test, or to check a warehouse whole.
dbt-test: env  ## dbt test: every data test on every row of the warehouse (a build tests only the rows it wrote)
	$(DBT) test $(DBT_FLAGS) $(DBT_ARGS)

dbt-manifest: env  ## dbt parse: write transform/finhouse/target/manifest.json for the transform DAG
	$(DBT) parse $(DBT_FLAGS)

dbt-docs: env  ## generate the dbt docs site (transform/finhouse/target)
	$(DBT) docs generate $(DBT_FLAGS)

dbt-docs-serve: dbt-docs  ## serve the dbt docs on 127.0.0.1:$(DBT_DOCS_PORT)
	$(DBT) docs serve $(DBT_FLAGS) --host 127.0.0.1 --port $(DBT_DOCS_PORT) --no-browser

test-dbt: env  ## the dbt tests: sources agree with the registry; builds on a small simulated institution (DuckDB, fakesnow), incremental = rebuild
	@scripts/system-deps
	$(VENV_BIN)/pytest tests/test_dbt_sources.py tests/test_dbt_build.py tests/test_dbt_fakesnow.py \
	  tests/test_dbt_fakesnow_incremental.py

# Offline (no warehouse, no dbt): the jinja templater with stubs of the macros, transform/finhouse/.sqlfluff says why.
# `sqlfluff fix` is no help on templated SQL (it rewrites the Jinja's whitespace): fix by hand.
lint-sql: env  ## sqlfluff lint on the dbt models (rules and why in transform/finhouse/.sqlfluff)
	@cd $(DBT_DIR) && $(VENV_BIN)/sqlfluff lint models --processes 2 --disable-progress-bar --nocolor \
	  || { echo "lint-sql: fix the lines above by hand (rule codes: https://docs.sqlfluff.com/en/stable/reference/rules.html); \
	a rule the project does not follow goes in exclude_rules of $(DBT_DIR)/.sqlfluff with its reason" >&2; exit 1; }
