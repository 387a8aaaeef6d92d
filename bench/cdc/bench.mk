# bench/cdc/bench.mk — the CDC benchmark (bench/cdc/README.md), included by the top-level Makefile.
#
#   make bench-cdc                                        every leg, figures into bench/cdc/README.md
#   make bench-cdc BENCH_CDC_ARGS="--rows 200000 --runs 1 --no-readme"
#
# Runs on the private wal_level=logical cluster (scripts/pg-logical; FINHOUSE_CDC_PG_PORT/_DIR) with the
# platform's environment (psycopg, duckdb); pgbench and pg_recvlogical come with PostgreSQL.

BENCH_CDC_ARGS ?=

.PHONY: bench-cdc

bench-cdc: env engine  ## CDC benchmark: fhload stream vs pg_recvlogical vs batch fhload; commit → RAW latency
	$(VENV_BIN)/python bench/cdc/run.py $(BENCH_CDC_ARGS)
