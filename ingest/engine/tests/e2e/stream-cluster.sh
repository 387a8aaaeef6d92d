# stream-cluster.sh — sourced by stream.sh and valgrind-stream.sh: the private wal_level=logical
# PostgreSQL they run against (scripts/pg-logical; port FHLOAD_STREAM_PGPORT, default 5442, dir
# FHLOAD_STREAM_PGDIR, default .finhouse/pg-logical-e2e: not pytest's 5441), the binaries, and a fresh
# database $DB (named by the caller) with the helpers sql and lsn.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../../.." && pwd)
FHLOAD=$ROOT/ingest/engine/build/fhload
CHECK=$ROOT/ingest/engine/build/fhcheck
export FINHOUSE_CDC_PG_PORT=${FHLOAD_STREAM_PGPORT:-5442}
export FINHOUSE_CDC_PG_DIR=${FHLOAD_STREAM_PGDIR:-$ROOT/.finhouse/pg-logical-e2e}
PGHOST=127.0.0.1 PGPORT=$FINHOUSE_CDC_PG_PORT PGUSER=postgres
export PGHOST PGPORT PGUSER
sql() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
lsn() { sql -c "select pg_current_wal_lsn()"; }
start_cluster_and_db() {
  "$ROOT/scripts/pg-logical" start >/dev/null
  psql -X -q -d postgres -c "CREATE DATABASE $DB" >/dev/null
}
