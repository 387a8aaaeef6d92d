#!/usr/bin/env bash
# valgrind-load.sh — a small fhload load (full, then incremental, then Parquet) under valgrind:
# no invalid reads/writes, no use of uninitialised values, no definite leaks.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../../../.." && pwd)
FHLOAD=$ROOT/ingest/engine/build/fhload
PGHOST=127.0.0.1 PGPORT=${FHLOAD_TEST_PGPORT:-5432} PGUSER=postgres
export PGHOST PGPORT PGUSER
DB=fhload_vg_$$
TMP=$(mktemp -d /tmp/fhload-vg.XXXXXX)
trap 'psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1; rm -rf "$TMP"' EXIT
psql -X -q -d postgres -c "CREATE DATABASE $DB" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d "$DB" <<'SQL'
CREATE TABLE loans (id bigint PRIMARY KEY, amount numeric(12,2), big numeric(30,4), note text,
  ok boolean, d date, ref uuid, meta jsonb, updated_at timestamptz NOT NULL DEFAULT now());
INSERT INTO loans SELECT g, g * 1.25, g * 12345678901.0001, 'n' || g, g % 2 = 0, current_date,
  gen_random_uuid(), '{"a": 1}', now() - interval '1 hour' FROM generate_series(1, 3000) g;
SQL
printf 'loans loans id updated_at incremental\n' > "$TMP/reg.tsv"
export FINHOUSE_OLTP_URL="postgresql://postgres@127.0.0.1:$PGPORT/$DB" FINHOUSE_REGISTRY=$TMP/reg.tsv
VG=(valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite
    --suppressions="$ROOT/ingest/engine/tests/valgrind.supp")
"${VG[@]}" "$FHLOAD" --quiet --warehouse "$TMP/w.duckdb"
psql -X -q -d "$DB" -c "UPDATE loans SET amount = amount + 1, updated_at = now() WHERE id < 10"
"${VG[@]}" "$FHLOAD" --quiet --warehouse "$TMP/w.duckdb"
"${VG[@]}" "$FHLOAD" --quiet --parquet "$TMP/stage" --load-id 1
# with Snowflake's raw columns: the schema statements (a widening, added columns), then a refusal
printf 'table_name,column_name,data_type,numeric_precision,numeric_scale\nLOANS,ID,NUMBER,18,0\n' > "$TMP/cols.csv"
"${VG[@]}" "$FHLOAD" --quiet --parquet "$TMP/stage" --load-id 2 --raw-columns "$TMP/cols.csv"
grep -q 'SET DATA TYPE NUMBER(38,0)' "$TMP/stage/loans/manifest.json"
printf 'table_name,column_name,data_type,numeric_precision,numeric_scale\nLOANS,ID,TEXT,,\n' > "$TMP/cols.csv"
set +e
"${VG[@]}" "$FHLOAD" --quiet --parquet "$TMP/stage" --load-id 3 --raw-columns "$TMP/cols.csv" 2>/dev/null
rc=$?
set -e
[ "$rc" -eq 4 ] || { echo "valgrind load: --raw-columns refusal exited $rc, expected 4"; exit 1; }
"${VG[@]}" "$FHLOAD" --quiet --source "postgresql://postgres@127.0.0.1:1/x" 2>/dev/null && exit 1 || true
echo "valgrind load: clean"
