# bench/ingest/bench.mk — the ingest benchmark (bench/ingest/README.md), included by the top-level Makefile.
#
#   make bench-ingest                              1M and 10M rows, every path, figures into README.md
#   make bench-ingest BENCH_INGEST_ARGS="--sizes 1m --runs 5"
#
# Its own uv project (pandas, pyarrow, SQLAlchemy, psycopg, ADBC, duckdb 1.4.4 and DuckDB's postgres
# scanner) in .finhouse/bench-venv, so the platform's environment does not carry the peers' libraries.

BENCH_INGEST_VENV := $(CURDIR)/.finhouse/bench-venv
BENCH_INGEST_ARGS ?=

.PHONY: bench-ingest

$(BENCH_INGEST_VENV)/.synced: $(CURDIR)/.finhouse/boot/bin/uv bench/ingest/pyproject.toml bench/ingest/uv.lock
	cd bench/ingest && UV_PROJECT_ENVIRONMENT=$(BENCH_INGEST_VENV) UV_PYTHON_DOWNLOADS=never \
	  UV_PYTHON=/usr/bin/python3.11 $(CURDIR)/.finhouse/boot/bin/uv sync --frozen --quiet
	@touch $@

bench-ingest: engine $(BENCH_INGEST_VENV)/.synced  ## ingest benchmark: fhload vs COPY, pandas, ADBC, postgres scanner
	@FINHOUSE_OLTP_URL=$${FINHOUSE_BENCH_INGEST_URL:-postgresql://postgres@127.0.0.1:5432/fh_bench} scripts/ensure-postgres
	$(BENCH_INGEST_VENV)/bin/python bench/ingest/run.py $(BENCH_INGEST_ARGS)
