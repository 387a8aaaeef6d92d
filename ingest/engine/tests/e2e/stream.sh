#!/usr/bin/env bash
# stream.sh — fhload stream end to end against a private wal_level=logical PostgreSQL (scripts/pg-logical,
# port FHLOAD_STREAM_PGPORT, default 5442, dir .finhouse/pg-logical-e2e: not pytest's 5441) and a real
# DuckDB file. Checks: the snapshot handoff (full loads in the slot's snapshot), inserts/updates/deletes/
# key changes/TOAST/truncate streamed into RAW and equal to the source, exactly once across restarts,
# --status, --drop-slot, SIGTERM, and each bad configuration's exit code (6 on the machine's
# wal_level=replica server, 7, 8, 9, 4) with nothing changed.
set -euo pipefail
DB=fhload_stream_$$
. "$(dirname "$0")/stream-cluster.sh"
TMP=$(mktemp -d /tmp/fhload-stream.XXXXXX)
WH=$TMP/warehouse.duckdb
REG=$TMP/registry.tsv
export FINHOUSE_OLTP_URL="postgresql://postgres@127.0.0.1:$PGPORT/$DB"
export FINHOUSE_DUCKDB_PATH=$WH FINHOUSE_REGISTRY=$REG
export FINHOUSE_STREAM_SLOT=fh_e2e_$$ FINHOUSE_STREAM_PUBLICATION=fh_e2e_$$
passed=0 failed=0

cleanup() {
  jobs -p | xargs -r kill 2>/dev/null || true
  psql -X -q -d postgres -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '$FINHOUSE_STREAM_SLOT' AND NOT active" >/dev/null 2>&1 || true
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "DROP ROLE IF EXISTS fh_norep_$$" >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT

start_cluster_and_db

duck() { "$CHECK" "$WH" "$@"; }
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
eq() { if [ "$2" == "$3" ]; then ok; else bad "$1: got [$2], expected [$3]"; fi; }
contains() { if [[ "$2" == *"$3"* ]]; then ok; else bad "$1: [$2] does not contain [$3]"; fi; }
run() {
  set +e
  OUT=$("$FHLOAD" "$@" 2>"$TMP/stderr"); RC=$?
  set -e
  ERR=$(cat "$TMP/stderr")
}
# the latest non-superseded version of every key, without deletes: count|sum(COL)
raw_recon() {
  duck "select count(*) || '|' || coalesce(sum($3), 0) from (select * from raw.$1 where _fh_superseded is not true qualify row_number() over (partition by $2 order by _fh_load_id desc, coalesce(_fh_commit_lsn, 0) desc) = 1) where _fh_op <> 'delete'"
}
src_recon() { sql -c "select count(*) || '|' || coalesce(sum($2), 0) from $1"; }
stream_to_now() { run stream --quiet --stop-at-lsn "$(lsn)" "$@"; }

sql <<'EOF'
create table accounts (id int8 primary key, balance numeric(14,2), name text,
                       updated_at timestamptz not null default now());
create table notes (id int8 primary key, body text, created_at timestamptz not null default now());
alter table notes alter column body set storage external;
create table ledger (id int8 primary key, amount numeric(18,4), at timestamptz default now());
insert into accounts select g, g * 1.5, 'n' || g from generate_series(1, 1000) g;
insert into notes select g, repeat(md5(g::text), 200) from generate_series(1, 20) g;
insert into ledger select g, g from generate_series(1, 100) g;
EOF
cat >"$REG" <<'EOF'
accounts customers id updated_at incremental
notes    customers id created_at incremental
ledger   ledger    id at         incremental
EOF

# --- bad configurations first: exit code, one line, nothing created --------------------------------------
run stream --quiet --source "postgresql://postgres@127.0.0.1:5432/postgres" --stop-at-lsn 0/1
eq "wal_level=replica: exit 6" "$RC" 6
contains "wal_level message" "$ERR" "wal_level = logical"
eq "wal_level: no warehouse" "$(test -e "$WH" && echo yes || echo no)" no

psql -X -q -d postgres -c "CREATE ROLE fh_norep_$$ LOGIN" >/dev/null
run stream --quiet --source "postgresql://fh_norep_$$@127.0.0.1:$PGPORT/$DB" --stop-at-lsn 0/1
eq "no REPLICATION: exit 9" "$RC" 9
contains "no REPLICATION message" "$ERR" "WITH REPLICATION"

psql -X -q -d postgres -c "ALTER ROLE fh_norep_$$ WITH REPLICATION" >/dev/null
run stream --quiet --source "postgresql://fh_norep_$$@127.0.0.1:$PGPORT/$DB" --stop-at-lsn 0/1
eq "no SELECT: exit 9" "$RC" 9
contains "no SELECT: the grant" "$ERR" "GRANT SELECT ON public.accounts"
sql -c "grant select on accounts, notes, ledger to fh_norep_$$"
run stream --quiet --source "postgresql://fh_norep_$$@127.0.0.1:$PGPORT/$DB" --stop-at-lsn 0/1
eq "may not create the publication: exit 9" "$RC" 9
contains "may not create the publication: who runs --setup" "$ERR" "owner must run fhload stream --setup"

sql -c "create table nopk (id int8, v text)"
printf 'nopk customers id - full\n' >"$TMP/nopk.tsv"
run stream --quiet --registry "$TMP/nopk.tsv" --stop-at-lsn 0/1
eq "no primary key: exit 4" "$RC" 4
contains "no primary key: the fix" "$ERR" "ADD PRIMARY KEY"
sql -c "alter table nopk add primary key (id)" -c "alter table nopk replica identity nothing"
run stream --quiet --registry "$TMP/nopk.tsv" --stop-at-lsn 0/1
eq "replica identity nothing: exit 4" "$RC" 4
contains "replica identity nothing: the fix" "$ERR" "REPLICA IDENTITY DEFAULT"
eq "bad configurations created no slot" \
  "$(sql -c "select count(*) from pg_replication_slots where slot_name = '$FINHOUSE_STREAM_SLOT'")" 0

# --- first start: slot, snapshot, full loads ---------------------------------------------------------------
stream_to_now
eq "first start: exit 0" "$RC" 0
eq "snapshot: accounts" "$(raw_recon accounts id balance)" "$(src_recon accounts balance)"
eq "snapshot: notes" "$(raw_recon notes id 'length(body)')" "$(src_recon notes 'length(body)')"

# --- streamed changes --------------------------------------------------------------------------------------
sql <<'EOF'
update accounts set balance = balance + 1 where id <= 100;
delete from accounts where id between 901 and 950;
insert into accounts select g, g, 'x' from generate_series(2001, 2500) g;
update accounts set id = 5001 where id = 999;
update notes set created_at = now() where id <= 5;
insert into notes values (100, repeat('y', 9000));
begin; insert into ledger values (1001, 1); update ledger set amount = 7 where id = 1001; commit;
truncate ledger;
insert into ledger values (2001, 42.5);
EOF
t0=$(date +%s%N)
stream_to_now
t1=$(date +%s%N)
eq "stream: exit 0" "$RC" 0
eq "stream: accounts" "$(raw_recon accounts id balance)" "$(src_recon accounts balance)"
eq "stream: notes (unchanged TOAST filled)" "$(raw_recon notes id 'length(body)')" "$(src_recon notes 'length(body)')"
eq "stream: no NULL body" "$(duck "select count(*) from raw.notes where body is null and _fh_op <> 'delete'")" 0
eq "stream: ledger after truncate" "$(raw_recon ledger id amount)" "$(src_recon ledger amount)"
eq "stream: key change recorded as a delete" \
  "$(duck "select count(*) from raw.accounts where id = 999 and _fh_op = 'delete'")" 1
echo "stream: $(duck 'select count(*) from raw.accounts where _fh_commit_lsn is not null') streamed rows of accounts in $(((t1 - t0) / 1000000)) ms" >&2

# --- a large transaction sent in stream blocks (spooled): a rolled-back savepoint and an aborted one -------
psql -X -q -d postgres -c "alter system set logical_decoding_work_mem = '64kB'" -c "select pg_reload_conf()" >/dev/null
sql <<'EOF2'
begin; insert into accounts select g, 1, 'big' from generate_series(100001, 120000) g;
savepoint a; insert into accounts select g, 1, 'gone' from generate_series(130001, 135000) g;
rollback to a; insert into accounts select g, 2, 'big' from generate_series(140001, 141000) g; commit;
begin; insert into accounts select g, 1, 'aborted' from generate_series(150001, 170000) g; rollback;
EOF2
run stream --stop-at-lsn "$(lsn)"
psql -X -q -d postgres -c "alter system reset logical_decoding_work_mem" -c "select pg_reload_conf()" >/dev/null
eq "streamed: exit 0" "$RC" 0
contains "streamed: came as stream blocks" "$ERR" "(1 streamed)"
eq "streamed: the committed rows, once" \
  "$(duck "select count(*) || '|' || count(distinct id) from raw.accounts where id > 100000 and id < 200000")" "21000|21000"
eq "streamed: accounts equal" "$(raw_recon accounts id balance)" "$(src_recon accounts balance)"
eq "streamed: spool emptied" "$(ls -A "$WH.spool/$FINHOUSE_STREAM_SLOT" | wc -l)" 0

# --- exactly once: running again to the same point adds nothing ---------------------------------------------
before=$(duck "select count(*) from raw.accounts")
stream_to_now
eq "again: exit 0" "$RC" 0
eq "again: no duplicates" "$(duck "select count(*) from raw.accounts")" "$before"
sql -c "insert into accounts values (7001, 1, 'z')"
stream_to_now
stream_to_now
eq "restart: one new row, once" "$(duck "select count(*) from raw.accounts")" "$((before + 1))"

# --- --status ------------------------------------------------------------------------------------------------
run stream --status
eq "status: exit 0" "$RC" 0
contains "status: slot line" "$OUT" "slot $FINHOUSE_STREAM_SLOT"

# --- PostgreSQL restarted mid-stream: reconnect with backoff, resume from the stored LSN, exactly once -----
before=$(duck "select count(*) from raw.accounts")
"$FHLOAD" stream --max-seconds 60 2>"$TMP/restart.err" &
bg=$!
sql -c "insert into accounts select g, 1, 'r' from generate_series(8001, 8100) g"
sleep 1
"$ROOT/scripts/pg-logical" restart >/dev/null
sql -c "insert into accounts select g, 1, 'r' from generate_series(8101, 8200) g"
for _ in $(seq 150); do # until it streams again (its second "streaming slot" line)
  [ "$(grep -c "streaming slot" "$TMP/restart.err" || true)" -ge 2 ] && break
  sleep 0.1
done
sleep 1
kill -TERM $bg
set +e; wait $bg; bgrc=$?; set -e
eq "restart: exit 0" "$bgrc" 0
contains "restart: one line per attempt" "$(cat "$TMP/restart.err")" "reconnecting in"
eq "restart: every row once" "$(duck "select count(*) || '|' || count(distinct id) from raw.accounts where id between 8001 and 8200")" "200|200"
eq "restart: nothing else added" "$(duck "select count(*) from raw.accounts")" "$((before + 200))"

# --- SIGKILL at random points under a live writer, then a rerun: every transaction exactly once ------------
(for i in $(seq 9001 9300); do echo "insert into accounts values ($i, 1, 'k'); select pg_sleep(0.01);"; done |
  psql -X -q -d "$DB" >/dev/null) &
writer=$!
for _ in 1 2 3 4; do
  "$FHLOAD" stream --quiet --commit-interval 50 2>/dev/null &
  victim=$!
  sleep "0.$((RANDOM % 9 + 1))"
  kill -KILL $victim 2>/dev/null || true
  wait $victim 2>/dev/null || true
done
wait $writer
stream_to_now
eq "SIGKILL: exit 0" "$RC" 0
eq "SIGKILL: every transaction once" \
  "$(duck "select count(*) || '|' || count(distinct id) from raw.accounts where id between 9001 and 9300")" "300|300"
eq "SIGKILL: accounts equal" "$(raw_recon accounts id balance)" "$(src_recon accounts balance)"

# --- busy slot: exit 8; SIGTERM: exit 0 ------------------------------------------------------------------------
"$FHLOAD" stream --quiet --max-seconds 30 2>"$TMP/bg.err" &
bg=$!
for _ in $(seq 50); do
  [ "$(sql -c "select count(*) from pg_replication_slots where slot_name = '$FINHOUSE_STREAM_SLOT' and active")" = 1 ] && break
  sleep 0.1
done
run stream --quiet --stop-at-lsn "$(lsn)" --warehouse "$TMP/other.duckdb"
eq "busy slot: exit 8" "$RC" 8
contains "busy slot: names the pid" "$ERR" "in use by process"
sql -c "insert into accounts values (7002, 1, 'z')"
sleep 1
kill -TERM $bg
set +e; wait $bg; bgrc=$?; set -e
eq "SIGTERM: exit 0" "$bgrc" 0
eq "SIGTERM: what was whole is committed" "$(duck "select count(*) from raw.accounts where id = 7002")" 1

# --- slot lost while the warehouse has progress: exit 7, then --resync ---------------------------------------
sql -c "select pg_drop_replication_slot('$FINHOUSE_STREAM_SLOT')" >/dev/null
sql -c "delete from accounts where id = 7001"
run stream --quiet --stop-at-lsn "$(lsn)"
eq "missing slot: exit 7" "$RC" 7
contains "missing slot: what to do" "$ERR" "--resync"
stream_to_now --resync
eq "resync: exit 0" "$RC" 0
eq "resync: reconciled" "$(raw_recon accounts id balance)" "$(src_recon accounts balance)"

# --- slot invalidated (its WAL exceeded max_slot_wal_keep_size): exit 7 with the cause, then --resync ----------
psql -X -q -d postgres -c "alter system set max_slot_wal_keep_size = '1MB'" -c "select pg_reload_conf()" >/dev/null
sleep 0.5 # the checkpointer reads the reloaded setting asynchronously
sql -c "create table wal_filler (x int8); insert into wal_filler select generate_series(1, 60000);
        drop table wal_filler; select pg_switch_wal();" >/dev/null
sql -c "insert into accounts values (99001, 1, 'after') ; select pg_switch_wal()" >/dev/null
sql -c "checkpoint" >/dev/null
psql -X -q -d postgres -c "alter system reset max_slot_wal_keep_size" -c "select pg_reload_conf()" >/dev/null
eq "slot invalidated: wal_status" \
  "$(sql -c "select wal_status from pg_replication_slots where slot_name = '$FINHOUSE_STREAM_SLOT'")" lost
run stream --quiet --stop-at-lsn "$(lsn)"
eq "slot invalidated: exit 7" "$RC" 7
contains "slot invalidated: the cause" "$ERR" "max_slot_wal_keep_size"
contains "slot invalidated: what to do" "$ERR" "--resync"
stream_to_now --resync
eq "slot invalidated, resync: exit 0" "$RC" 0
eq "slot invalidated, resync: reconciled" "$(raw_recon accounts id balance)" "$(src_recon accounts balance)"

# --- --drop-slot ---------------------------------------------------------------------------------------------
run stream --quiet --drop-slot
eq "drop-slot: exit 0" "$RC" 0
eq "drop-slot: gone" \
  "$(sql -c "select count(*) from pg_replication_slots where slot_name = '$FINHOUSE_STREAM_SLOT'")" 0
eq "drop-slot: progress forgotten" "$(duck "select count(*) from raw._fh_stream")" 0

# --- a slot without progress (a stop before the snapshot completed): dropped, recreated, reconciled ---------
sql -c "select pg_create_logical_replication_slot('$FINHOUSE_STREAM_SLOT', 'pgoutput')" >/dev/null
sql -c "update accounts set balance = balance + 100 where id <= 10"
run stream --stop-at-lsn "$(lsn)"
eq "slot without progress: exit 0" "$RC" 0
contains "slot without progress: says so" "$ERR" "dropping and recreating"
eq "slot without progress: reconciled" "$(raw_recon accounts id balance)" "$(src_recon accounts balance)"
run stream --quiet --drop-slot

echo "stream e2e: $passed passed, $failed failed" >&2
[ "$failed" -eq 0 ]
