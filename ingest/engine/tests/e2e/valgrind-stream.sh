#!/usr/bin/env bash
# valgrind-stream.sh — a small fhload stream under valgrind: the snapshot handoff, then ordinary
# transactions and one large transaction that arrives in stream blocks (spooled by cdc_spool, with a
# rolled-back savepoint that truncates the spool file), each run to --stop-at-lsn. No invalid
# reads/writes, no use of uninitialised values, no definite leaks. The walsender's
# logical_decoding_work_mem is lowered for this connection only (libpq options), not the cluster.
# Private wal_level=logical cluster as in stream.sh: FHLOAD_STREAM_PGPORT (default 5442),
# FHLOAD_STREAM_PGDIR (default .finhouse/pg-logical-e2e).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../../../.." && pwd)
FHLOAD=$ROOT/ingest/engine/build/fhload
CHECK=$ROOT/ingest/engine/build/fhcheck
export FINHOUSE_CDC_PG_PORT=${FHLOAD_STREAM_PGPORT:-5442}
export FINHOUSE_CDC_PG_DIR=${FHLOAD_STREAM_PGDIR:-$ROOT/.finhouse/pg-logical-e2e}
PGHOST=127.0.0.1 PGPORT=$FINHOUSE_CDC_PG_PORT PGUSER=postgres
export PGHOST PGPORT PGUSER
DB=fhload_vgs_$$
TMP=$(mktemp -d /tmp/fhload-vgs.XXXXXX)
SLOT=fh_vgs_$$
cleanup() {
  psql -X -q -d postgres -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '$SLOT' AND NOT active" >/dev/null 2>&1 || true
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT
"$ROOT/scripts/pg-logical" start >/dev/null
psql -X -q -d postgres -c "CREATE DATABASE $DB" >/dev/null
sql() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
sql -c "create table accounts (id int8 primary key, balance numeric(14,2), name text,
                               updated_at timestamptz not null default now());
        insert into accounts select g, g * 1.5, 'n' || g from generate_series(1, 200) g;"
printf 'accounts customers id updated_at incremental\n' > "$TMP/reg.tsv"
export FINHOUSE_OLTP_URL="postgresql://postgres@127.0.0.1:$PGPORT/$DB?options=-c%20logical_decoding_work_mem%3D64kB"
export FINHOUSE_REGISTRY=$TMP/reg.tsv FINHOUSE_DUCKDB_PATH=$TMP/w.duckdb
export FINHOUSE_STREAM_SLOT=$SLOT FINHOUSE_STREAM_PUBLICATION=$SLOT
VG=(valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite
    --suppressions="$ROOT/ingest/engine/tests/valgrind.supp")
lsn() { sql -c "select pg_current_wal_lsn()"; }
"${VG[@]}" "$FHLOAD" stream --quiet --stop-at-lsn "$(lsn)"
sql <<'SQL'
update accounts set balance = balance + 1 where id <= 20;
delete from accounts where id between 191 and 195;
begin; insert into accounts select g, 1, 'big' from generate_series(1001, 2000) g;
savepoint a; insert into accounts select g, 1, 'gone' from generate_series(5001, 5500) g;
rollback to a; insert into accounts select g, 2, 'big' from generate_series(7001, 7100) g; commit;
begin; insert into accounts select g, 1, 'aborted' from generate_series(8001, 9000) g; rollback;
SQL
"${VG[@]}" "$FHLOAD" stream --stop-at-lsn "$(lsn)" 2>"$TMP/err"
grep -q '(1 streamed)' "$TMP/err" || { cat "$TMP/err"; echo "valgrind stream: no transaction came in stream blocks"; exit 1; }
got=$("$CHECK" "$TMP/w.duckdb" "select count(*) from (select id, _fh_op from raw.accounts qualify row_number() over (partition by id order by _fh_load_id desc, coalesce(_fh_commit_lsn, 0) desc) = 1) where _fh_op <> 'delete'")
want=$(sql -c "select count(*) from accounts")
[ "$got" == "$want" ] || { echo "valgrind stream: raw.accounts has $got live keys, the source $want"; exit 1; }
[ -z "$(ls -A "$TMP/w.duckdb.spool/$SLOT")" ] || { echo "valgrind stream: spool not emptied"; exit 1; }
echo "valgrind stream: clean"
