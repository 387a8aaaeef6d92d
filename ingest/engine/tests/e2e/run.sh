#!/usr/bin/env bash
# run.sh — fhload end to end against the real PostgreSQL (127.0.0.1:5432, user postgres) and a real
# DuckDB file. Creates its own database and tables, drives fhload, psql and fhcheck, and checks:
# full and incremental loads reconcile exactly, the late-commit race, hard deletes, an added
# column, incompatible type changes, data errors, connection/config failures (one line, exit code,
# untouched state), Parquet staging, ctid-split workers, and SIGKILL at random points.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../../../.." && pwd)
FHLOAD=$ROOT/ingest/engine/build/fhload
CHECK=$ROOT/ingest/engine/build/fhcheck
PGHOST=127.0.0.1 PGPORT=${FHLOAD_TEST_PGPORT:-5432} PGUSER=postgres
export PGHOST PGPORT PGUSER
DB=fhload_test_$$
TMP=$(mktemp -d /tmp/fhload-e2e.XXXXXX)
WH=$TMP/wh/warehouse.duckdb
REG=$TMP/registry.tsv
export FINHOUSE_OLTP_URL="postgresql://postgres@127.0.0.1:$PGPORT/$DB"
export FINHOUSE_DUCKDB_PATH=$WH FINHOUSE_REGISTRY=$REG
unset FINHOUSE_LOOKBACK_SECONDS FINHOUSE_PARQUET_FILE_SIZE
passed=0 failed=0

cleanup() {
  jobs -p | xargs -r kill 2>/dev/null || true
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT

if ! psql -X -q -d postgres -c 'select 1' >/dev/null 2>&1; then
  echo "e2e: PostgreSQL does not answer at $PGHOST:$PGPORT as $PGUSER — start it (make db)" >&2
  exit 1
fi
psql -X -q -d postgres -c "CREATE DATABASE $DB" >/dev/null

sql() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
duck() { "$CHECK" "$WH" "$@"; }
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
eq() { # eq DESCRIPTION ACTUAL EXPECTED
  if [ "$2" == "$3" ]; then ok; else bad "$1: got [$2], expected [$3]"; fi
}
contains() { # contains DESCRIPTION HAYSTACK NEEDLE
  if [[ "$2" == *"$3"* ]]; then ok; else bad "$1: [$2] does not contain [$3]"; fi
}
# run fhload; sets RC, OUT, ERR
run() {
  set +e
  OUT=$("$FHLOAD" "$@" 2>"$TMP/stderr"); RC=$?
  set -e
  ERR=$(cat "$TMP/stderr")
}
# latest version of every key in raw, without deletes: count and sum of a column
raw_recon() { # raw_recon TABLE KEY COLUMN
  duck "select count(*) || '|' || coalesce(sum($3), 0) from (select * from raw.$1 qualify row_number() over (partition by $2 order by _fh_load_id desc) = 1) where _fh_op <> 'delete'"
}
src_recon() { sql -c "select count(*) || '|' || coalesce(sum($2), 0) from $1"; }
state_of() { duck "select coalesce(watermark::varchar, 'NULL') || '|' || last_load_id from raw._fh_state where table_name = '$1'" 2>/dev/null || echo none; }
loads_digest() { duck "select count(*) || '|' || coalesce(sum(rows_loaded), 0) from raw._fh_loads" 2>/dev/null || echo none; }
# rows where raw._fh_current_TABLE and raw's latest non-deleted version of each key differ (0 = they
# agree; the current keys are rebuilt by full loads and reconciliations, so check after one)
cur_diff() { # cur_diff TABLE KEY
  local latest="select $2, _fh_load_id, _fh_row_hash from (select * from raw.$1 qualify row_number() over (partition by $2 order by _fh_load_id desc) = 1) where _fh_op <> 'delete'"
  local cur="select $2, _fh_load_id, _fh_row_hash from raw._fh_current_$1"
  duck "select (select count(*) from ($latest except $cur)) + (select count(*) from ($cur except $latest))"
}

# ---- fixture --------------------------------------------------------------------------------------
sql <<'SQL'
CREATE TABLE loans (
  id bigint PRIMARY KEY, customer_id integer NOT NULL, principal numeric(14,2) NOT NULL,
  rate numeric(6,4), status varchar(20) NOT NULL, note text, secured boolean, disbursed_on date,
  ref uuid, meta jsonb, attrs json, grade char(2), term smallint, created_at timestamp,
  updated_at timestamptz NOT NULL DEFAULT now());
INSERT INTO loans
SELECT g, g % 97, round((g * 13.37)::numeric, 2), 0.1875, 'active',
       CASE WHEN g % 5 = 0 THEN NULL ELSE 'loan ' || g || ' — ₵' END, g % 2 = 0,
       date '2024-01-01' + g % 365, md5(g::text)::uuid, jsonb_build_object('g', g), '{"a": 1}',
       'A' || (g % 10), (g % 36)::smallint, timestamp '2024-01-01' + g * interval '1 minute',
       now() - interval '1 day' + g * interval '1 second'
FROM generate_series(1, 5000) g;
CREATE TABLE branches (id integer PRIMARY KEY, name text NOT NULL, region text);
INSERT INTO branches SELECT g, 'branch ' || g, 'region ' || (g % 4) FROM generate_series(1, 20) g;
CREATE TABLE schedule (loan_id bigint, seq integer, due_on date, amount numeric(12,2),
                       PRIMARY KEY (loan_id, seq));
INSERT INTO schedule SELECT l, s, date '2024-01-01' + s * 30, 100.50 FROM generate_series(1, 50) l, generate_series(1, 12) s;
CREATE TABLE fees (id integer PRIMARY KEY, code text, amount numeric(10,2), updated_at timestamptz DEFAULT now());
INSERT INTO fees SELECT g, 'F' || g, g * 1.5, now() FROM generate_series(1, 10) g;
CREATE TABLE txns (id bigint PRIMARY KEY, account_id integer, amount numeric(18,2), kind text,
                   memo text, booked_at timestamptz, value_date date, flags smallint, ext uuid,
                   updated_at timestamptz NOT NULL DEFAULT now());
INSERT INTO txns SELECT g, g % 5000, round((random() * 10000)::numeric, 2), 'deposit',
       repeat('x', 40), now() - g * interval '1 second', current_date, 0, gen_random_uuid(),
       now() - interval '1 day' + g * interval '1 microsecond'
FROM generate_series(1, 200000) g;
SQL
cat > "$REG" <<'EOF2'
# e2e registry
loans     loans         id           updated_at  incremental
branches  customers     id           -           full
schedule  loans         loan_id,seq  -           full
fees      payments      id           updated_at  incremental
txns      ledger        id           updated_at  incremental
EOF2

# ---- 1. first load: full, all tables -------------------------------------------------------------
run --json loans branches schedule
eq "first load exit" "$RC" 0
eq "first load json lines" "$(echo "$OUT" | grep -c '"status": "ok"')" 3
contains "first load is full" "$(echo "$OUT" | grep '"table": "loans"')" '"mode": "full"'
eq "loans full reconcile" "$(raw_recon loans id principal)" "$(src_recon loans principal)"
eq "schedule full reconcile" "$(raw_recon schedule loan_id,seq amount)" "$(src_recon schedule amount)"
eq "branches rows" "$(duck 'select count(*) from raw.branches')" 20
eq "loans watermark = max(updated_at)" "$(duck "select epoch_us(watermark) from raw._fh_state where table_name='loans'")" \
   "$(sql -c "select (extract(epoch from max(updated_at)) * 1000000)::bigint from loans")"
# values unaltered, type by type
eq "loans text unaltered" "$(duck "select note from raw.loans where id = 7")" "loan 7 — ₵"
eq "loans numeric exact" "$(duck "select sum(principal)::varchar from raw.loans")" "$(sql -c "select sum(principal) from loans")"
eq "loans uuid" "$(duck "select ref from raw.loans where id = 7")" "$(sql -c "select ref from loans where id = 7")"
eq "loans types" "$(duck "select data_type from duckdb_columns() where table_name='loans' and column_name in ('principal','updated_at','ref','term') order by column_name")" \
  "$(printf 'DECIMAL(14,2)\nUUID\nSMALLINT\nTIMESTAMP WITH TIME ZONE')"

eq "warehouse file is private" "$(stat -c %a "$WH")" 600
eq "warehouse directory fhload created is private" "$(stat -c %a "$(dirname "$WH")")" 700

# ---- 2. incremental after updates and inserts -----------------------------------------------------
sql -c "UPDATE loans SET principal = principal + 1, updated_at = now() WHERE id % 500 = 0"
sql -c "INSERT INTO loans (id, customer_id, principal, status) SELECT g, 1, 10, 'new' FROM generate_series(5001, 5010) g"
run --json loans
eq "incremental exit" "$RC" 0
contains "incremental mode" "$OUT" '"mode": "incremental"'
rows=$(echo "$OUT" | sed -E 's/.*"rows": ([0-9]+).*/\1/')
if [ "$rows" -ge 20 ] && [ "$rows" -lt 5000 ]; then ok; else bad "incremental read $rows rows (expected the changed rows plus the lookback window, not everything)"; fi
eq "incremental reconcile" "$(raw_recon loans id principal)" "$(src_recon loans principal)"

# lookback 0 reads only what is newer than the watermark
run --json --lookback 0 loans
eq "lookback 0 reads nothing new" "$(echo "$OUT" | sed -E 's/.*"rows": ([0-9]+).*/\1/')" 0

# ---- 3. late-commit race --------------------------------------------------------------------------
# T1 opens first (updated_at = now() = its start) and commits after T2, which has a newer updated_at.
psql -X -q -d "$DB" -c "BEGIN" -c "UPDATE loans SET principal = 777.77, updated_at = now() WHERE id = 1" -c "SELECT pg_sleep(3)" -c "COMMIT" >/dev/null &
held=$!
sleep 1
sql -c "UPDATE loans SET principal = 888.88, updated_at = now() WHERE id = 2"
run --json --lookback 60 loans
eq "race: load while T1 is open" "$RC" 0
eq "race: T1 not visible yet" "$(duck "select principal from raw.loans where id = 1 order by _fh_load_id desc limit 1")" "$(duck "select principal from raw.loans where id = 1 and _fh_load_id = 1")"
wait $held
run --json --lookback 60 loans
eq "race: next incremental exit" "$RC" 0
eq "race: late commit caught" "$(duck "select principal from raw.loans where id = 1 order by _fh_load_id desc limit 1")" "777.77"
eq "race: reconcile" "$(raw_recon loans id principal)" "$(src_recon loans principal)"

# ---- 4. hard deletes -----------------------------------------------------------------------------
sql -c "DELETE FROM branches WHERE id IN (3, 4)" -c "DELETE FROM schedule WHERE loan_id = 9" -c "DELETE FROM loans WHERE id = 5"
run --json branches schedule
eq "deletes exit" "$RC" 0
contains "branches deleted count" "$(echo "$OUT" | grep branches)" '"deleted": 2'
contains "schedule deleted count" "$(echo "$OUT" | grep schedule)" '"deleted": 12'
eq "branches delete rows" "$(duck "select string_agg(id::varchar, ',' order by id) from raw.branches where _fh_op = 'delete'")" "3,4"
eq "delete rows carry only keys" "$(duck "select count(*) from raw.branches where _fh_op = 'delete' and name is null")" 2
eq "schedule reconcile after delete" "$(raw_recon schedule loan_id,seq amount)" "$(src_recon schedule amount)"
run --json branches
contains "deletes are recorded once" "$OUT" '"deleted": 0'
run --json --full loans
contains "full on incremental table detects deletes" "$OUT" '"deleted": 1'
eq "loans reconcile after delete" "$(raw_recon loans id principal)" "$(src_recon loans principal)"
# a key that comes back after its delete
sql -c "INSERT INTO branches VALUES (3, 'branch 3 reopened', 'north')"
run --json branches
eq "re-inserted key is live again" "$(raw_recon branches id id)" "$(src_recon branches id)"

# ---- 4b. the current-keys table; a full load that would delete most of a table refuses ----------
eq "current keys agree with raw (loans)" "$(cur_diff loans id)" 0
eq "current keys agree with raw (schedule)" "$(cur_diff schedule loan_id,seq)" 0
eq "current keys agree with raw (branches)" "$(cur_diff branches id)" 0
eq "every new row has a row hash" "$(duck "select count(*) from raw.loans where _fh_op = 'upsert' and _fh_row_hash is null")" 0
eq "an unchanged row hashes the same in every load" \
  "$(duck "select count(distinct _fh_row_hash) from raw.branches where id = 1")" 1
before_state=$(state_of branches); before_loads=$(loads_digest)
sql -c "CREATE TABLE branches_saved AS SELECT * FROM branches" -c "DELETE FROM branches WHERE id > 5"
run --json branches
eq "mass delete refused: exit 5" "$RC" 5
eq "mass delete refused: one line" "$(echo "$ERR" | wc -l)" 1
contains "mass delete refused: says what" "$ERR" "table branches: this full load would mark 15 of 19 rows (79%) deleted, above the 50% limit"
contains "mass delete refused: says how to override" "$ERR" "--max-delete-percent 100"
contains "mass delete refused: json kind" "$OUT" '"kind": "data"'
eq "mass delete refused: state untouched" "$(state_of branches)|$(loads_digest)" "$before_state|$before_loads"
sql -c "TRUNCATE branches"
FINHOUSE_MAX_DELETE_PERCENT=99 run branches
eq "empty source refused even at 99%" "$RC" 5
run --json --max-delete-percent 100 branches
eq "explicit override deletes them all" "$RC" 0
contains "explicit override: deleted count" "$OUT" '"deleted": 19'
eq "current keys empty after deleting all" "$(duck "select count(*) from raw._fh_current_branches")" 0
sql -c "INSERT INTO branches SELECT * FROM branches_saved" -c "DROP TABLE branches_saved"
run --json branches
eq "branches back" "$(raw_recon branches id id)" "$(src_recon branches id)"
eq "current keys agree after coming back" "$(cur_diff branches id)" 0
# a warehouse written before the current keys existed: the next full load reads raw's history instead
duck "drop table raw._fh_current_loans; alter table raw.loans drop column _fh_row_hash; update raw._fh_state set current_as_of = null where table_name = 'loans'" >/dev/null
run --json loans
eq "migration: an incremental load goes on" "$RC" 0
eq "migration: row hash column back" "$(duck "select count(*) from duckdb_columns() where table_name = 'loans' and column_name = '_fh_row_hash'")" 1
sql -c "DELETE FROM loans WHERE id = 6"
run --json --reconcile loans
eq "migration: the delete found against raw's history" "$(echo "$OUT" | grep -o '"deleted": [0-9]*')" '"deleted": 1'
# rows loaded before row hashes existed are rewritten once (their hash is unknown)
rewritten=$(echo "$OUT" | grep -o '"rows": [0-9]*' | grep -o '[0-9]*$')
if [ "$rewritten" -gt 4000 ]; then ok; else bad "expected the rows without a hash rewritten, got $rewritten"; fi
eq "migration: current keys rebuilt" "$(cur_diff loans id)" 0
run --json --reconcile loans
contains "migration: then nothing to repair" "$OUT" '"rows": 0, "deleted": 0'
run --json --full loans
contains "migration: a full load after it deletes nothing" "$OUT" '"deleted": 0'
eq "loans = source" "$(raw_recon loans id principal)" "$(src_recon loans principal)"

# ---- 5. schema evolution: added column; incompatible changes ------------------------------------
sql -c "ALTER TABLE loans ADD COLUMN officer text" -c "UPDATE loans SET officer = 'ama', updated_at = now() WHERE id <= 3"
run --json loans
eq "added column: exit" "$RC" 0
eq "added column flows" "$(duck "select officer from raw.loans where id = 2 order by _fh_load_id desc limit 1")" "ama"
run --json fees
eq "fees first load" "$RC" 0
before_state=$(state_of fees); before_loads=$(loads_digest); before_rows=$(duck "select count(*) from raw.fees")
sql -c "ALTER TABLE fees ALTER COLUMN code TYPE integer USING id" -c "UPDATE fees SET updated_at = now()"
run fees
eq "text→integer: exit 4" "$RC" 4
eq "text→integer: one line" "$(echo "$ERR" | wc -l)" 1
contains "text→integer: names table and column" "$ERR" "table fees, column code"
eq "text→integer: state untouched" "$(state_of fees)|$(loads_digest)|$(duck "select count(*) from raw.fees")" "$before_state|$before_loads|$before_rows"
sql -c "ALTER TABLE fees ALTER COLUMN code TYPE text" -c "ALTER TABLE fees ALTER COLUMN amount TYPE numeric(10,1)"
run --json fees
eq "scale shrink: exit 4" "$RC" 4
contains "scale shrink: names column" "$ERR" "column amount"
contains "scale shrink: json error" "$OUT" '"kind": "schema"'
eq "scale shrink: state untouched" "$(state_of fees)|$(loads_digest)" "$before_state|$before_loads"
sql -c "ALTER TABLE fees ALTER COLUMN amount TYPE numeric(12,2)"
run --json fees
eq "precision widening is compatible" "$RC" 0
eq "precision widening widens raw" "$(duck "select data_type from duckdb_columns() where table_name='fees' and column_name='amount'")" "DECIMAL(12,2)"
eq "fees reconcile after widening" "$(raw_recon fees id amount)" "$(src_recon fees amount)"

# ---- 6. data errors and unsupported types --------------------------------------------------------
sql -c "CREATE TABLE odd (id int PRIMARY KEY, x numeric)" -c "INSERT INTO odd VALUES (1, 1.5), (2, 0.00000000001)"
printf 'odd payments id - full\n' >> "$REG"
before_loads=$(loads_digest)
run odd
eq "value that does not fit: exit 5" "$RC" 5
contains "does not fit: names table, column, row" "$ERR" "table public.odd, column x (numeric), row 2"
eq "does not fit: one line" "$(echo "$ERR" | wc -l)" 1
sql -c "UPDATE odd SET x = 'NaN' WHERE id = 2"
run odd
eq "NaN: exit 5" "$RC" 5
contains "NaN: message" "$ERR" "NaN cannot be stored"
sql -c "UPDATE odd SET x = 2 WHERE id = 2" -c "ALTER TABLE odd ADD COLUMN p point"
run odd
eq "unsupported type: exit 4" "$RC" 4
contains "unsupported type: names it" "$ERR" "column p: unsupported type point"
eq "failed loads left no state" "$(loads_digest)" "$before_loads"
sql -c "ALTER TABLE odd DROP COLUMN p"
run odd
eq "odd loads once fixed" "$RC" 0

# ---- 6b. no column blocks a table: the registry gives a numeric column a warehouse type ------------
sql -c "CREATE TABLE rates (id int PRIMARY KEY, r numeric, big numeric(50,2), note text)" \
    -c "INSERT INTO rates VALUES (1, 0.123456789012345, 123456789012345678901234567890123456789012.25, 'a'), (2, -12.5, 1.10, 'b'), (3, 'NaN', 0, 'c')"
printf 'rates loans id - full\n' >> "$REG"
run rates
eq "numeric wider than 38 digits: exit 4" "$RC" 4
contains "numeric wider than 38 digits: message" "$ERR" "column big"
sed -i 's/^rates loans id - full$/rates loans id - full big:VARCHAR/' "$REG"
run rates
eq "more than 10 decimals: exit 5" "$RC" 5
contains "more than 10 decimals: names the registry fix" "$ERR" "give it a warehouse type in the registry"
sed -i 's/^rates loans id - full big:VARCHAR$/rates loans id - full big:VARCHAR,r:DECIMAL(38,20)/' "$REG"
run rates
eq "NaN still refused by a DECIMAL type: exit 5" "$RC" 5
sql -c "UPDATE rates SET r = 3 WHERE id = 3"
run --json rates
eq "with column types: exit" "$RC" 0
eq "DECIMAL(38,20) exact" "$(duck "select r::varchar from raw.rates where id = 1")" "0.12345678901234500000"
eq "VARCHAR keeps the exact text" "$(duck "select big from raw.rates where id = 1")" "123456789012345678901234567890123456789012.25"
eq "VARCHAR keeps the scale" "$(duck "select big from raw.rates where id = 2")" "1.10"
eq "column types in raw" "$(duck "select string_agg(data_type, ',' order by column_name) from duckdb_columns() where table_name = 'rates' and column_name in ('big', 'r')")" "VARCHAR,DECIMAL(38,20)"
# a column already loaded as DECIMAL can move to VARCHAR: its values become their exact text
sed -i 's/^rates loans id - full big:VARCHAR,r:DECIMAL(38,20)$/rates loans id - full big:VARCHAR,r:VARCHAR/' "$REG"
sql -c "UPDATE rates SET r = 'NaN' WHERE id = 3"
run --json rates
eq "DECIMAL → VARCHAR: exit" "$RC" 0
eq "DECIMAL → VARCHAR: NaN as text" "$(duck "select r from raw.rates where id = 3 order by _fh_load_id desc limit 1")" "NaN"
eq "DECIMAL → VARCHAR: old value kept" "$(duck "select r from raw.rates where id = 2 order by _fh_load_id limit 1")" "-12.50000000000000000000"
printf 'rates2 loans id - full note:VARCHAR\n' >> "$REG"
sql -c "CREATE TABLE rates2 AS SELECT id, note FROM rates"
run rates2
eq "a type for a text column: exit 4" "$RC" 4
contains "a type for a text column: message" "$ERR" "only numeric columns take one"
sed -i 's/^rates2 loans id - full note:VARCHAR$/rates2 loans id - full nope:VARCHAR/' "$REG"
run rates2
eq "a type for a missing column: exit 4" "$RC" 4
contains "a type for a missing column: message" "$ERR" "column nope, given a type on registry line"
sed -i '/^rates2 /d' "$REG"

# ---- 7. configuration and connection failures ----------------------------------------------------
before=$(loads_digest)
run --source "postgresql://postgres@127.0.0.1:1/$DB" loans
eq "unreachable: exit 3" "$RC" 3
eq "unreachable: one line" "$(echo "$ERR" | wc -l)" 1
contains "unreachable: says where and how" "$ERR" "fhload: cannot connect to source postgresql://postgres@127.0.0.1:1/$DB: connection refused"
contains "unreachable: hint" "$ERR" "FINHOUSE_OLTP_URL"
run --source "postgresql://no_such_role_fh:s3cretpw@127.0.0.1:$PGPORT/$DB" loans
eq "wrong credentials: exit 3" "$RC" 3
eq "wrong credentials: one line" "$(echo "$ERR" | wc -l)" 1
contains "wrong credentials: names the role" "$ERR" 'role "no_such_role_fh" does not exist'
if [[ "$ERR" == *s3cretpw* ]]; then bad "password printed: $ERR"; else ok; fi
# a string libpq does not read as a URI is echoed in its message: the password is not
run --source "postgres:/no_such_role_fh:s3cretpw@127.0.0.1:$PGPORT/$DB" loans
eq "malformed URL: exit 3" "$RC" 3
if [[ "$ERR$OUT" == *s3cretpw* ]]; then bad "password printed: $ERR"; else ok; fi
contains "malformed URL: shown scrubbed" "$ERR" "no_such_role_fh:***@"
FINHOUSE_PARQUET_FILE_SIZE="1MB', FORMAT csv) --" run --parquet "$TMP/p" --load-id 1 loans
eq "file size that is not a size: exit 2" "$RC" 2
contains "file size that is not a size: message" "$ERR" "is not a size"
run no_such_table
eq "unknown table: exit 2" "$RC" 2
contains "unknown table: message" "$ERR" "unknown table 'no_such_table'"
run --group nonsense
eq "unknown group: exit 2" "$RC" 2
run --bogus
eq "unknown option: exit 2" "$RC" 2
eq "unknown option: one line" "$(echo "$ERR" | wc -l)" 1
printf 'loans loans id updated_at incremental\nbroken line here\n' > "$TMP/bad.tsv"
run --registry "$TMP/bad.tsv"
eq "malformed registry: exit 2" "$RC" 2
contains "malformed registry: file and line" "$ERR" "$TMP/bad.tsv:2: expected 5 fields"
run --registry "$TMP/missing.tsv"
eq "missing registry: exit 2" "$RC" 2
# --print-registry: the registry as the platform's Python reads it; connects to nothing
FINHOUSE_OLTP_URL="postgresql://nobody@127.0.0.1:1/none" run --print-registry
eq "print registry: exit 0" "$RC" 0
contains "print registry: groups in order" "$OUT" '"groups": ["customers", "savings", "loans", "payments", "ledger", "investments"]'
contains "print registry: a table" "$OUT" '{"name": "schedule", "group": "loans", "key": ["loan_id", "seq"], "cursor": null, "mode": "full", "types": [], "line": 4}'
run --registry "$TMP/bad.tsv" --print-registry
eq "print malformed registry: exit 2" "$RC" 2
eq "print malformed registry: one line" "$ERR" "fhload: $TMP/bad.tsv:2: expected 5 fields (table group primary_key cursor mode) and optional column types, found 3"
eq "print malformed registry: nothing on stdout" "$OUT" ""
run --since 2024-01-01
eq "--since without --parquet: exit 2" "$RC" 2
printf 'ghost customers id - full\n' > "$TMP/ghost.tsv"
run --registry "$TMP/ghost.tsv"
eq "table missing in source: exit 4" "$RC" 4
contains "table missing in source: message" "$ERR" "table ghost does not exist in source"
eq "failures left state untouched" "$(loads_digest)" "$before"
run --help
eq "help exit" "$RC" 0
contains "help teaches exit codes" "$OUT" "Exit codes:"
contains "help lists env" "$OUT" "FINHOUSE_LOOKBACK_SECONDS"

# ---- 8. ctid-split workers on a larger table ------------------------------------------------------
run --json --workers 2 txns
eq "split load exit" "$RC" 0
eq "split load reconcile" "$(raw_recon txns id amount)" "$(src_recon txns amount)"
eq "split load no duplicates" "$(duck "select count(*) - count(distinct id) from raw.txns")" 0
run --json --workers 1 --full txns
eq "single-worker full load" "$(echo "$OUT" | sed -E 's/.*"rows": ([0-9]+).*/\1/')" 200000

# ---- 8b. reconciliation: what incremental loads miss, repaired; only what differs is written ------
sql -c "UPDATE txns SET updated_at = now() WHERE id = 1"
run --json txns
# hard deletes, and two commits whose cursor is older than the watermark minus the lookback (a
# transaction that ran for hours, or a writer whose clock lags)
sql -c "DELETE FROM txns WHERE id IN (10, 20, 30)" \
    -c "UPDATE txns SET amount = 4242.42, updated_at = now() - interval '2 hours' WHERE id = 40" \
    -c "UPDATE txns SET memo = 'late', updated_at = now() - interval '3 hours' WHERE id = 150000"
run --json txns
contains "incremental misses the old commits" "$OUT" '"rows": 1,'
if [ "$(raw_recon txns id amount)" != "$(src_recon txns amount)" ]; then ok; else bad "the incremental load should have missed them"; fi
before_wm=$(duck "select watermark from raw._fh_state where table_name = 'txns'")
# small passes: the 200k keys are compared in four key ranges
FINHOUSE_KEYS_PER_PASS=50000 run --json --reconcile txns
eq "reconcile: exit" "$RC" 0
contains "reconcile: mode" "$OUT" '"mode": "reconcile"'
contains "reconcile: repaired rows" "$OUT" '"rows": 2,'
contains "reconcile: repaired deletes" "$OUT" '"deleted": 3,'
contains "reconcile: compared every source row" "$OUT" '"compared": 199997'
eq "reconcile: raw = source" "$(raw_recon txns id amount)" "$(src_recon txns amount)"
eq "reconcile: late memo" "$(duck "select memo from raw.txns where id = 150000 order by _fh_load_id desc limit 1")" late
eq "reconcile: watermark unchanged" "$(duck "select watermark from raw._fh_state where table_name = 'txns'")" "$before_wm"
eq "reconcile: current keys agree" "$(cur_diff txns id)" 0
eq "reconcile: logged" "$(duck "select mode || '|' || rows_loaded || '|' || rows_deleted from raw._fh_loads order by load_id desc limit 1")" "reconcile|2|3"
run --json --reconcile txns loans schedule
eq "reconcile again: nothing to repair" "$(echo "$OUT" | grep -c '"rows": 0, "deleted": 0')" 3
sql -c "CREATE TABLE txns_saved AS SELECT * FROM txns WHERE id > 1000" -c "DELETE FROM txns WHERE id > 1000"
run --reconcile txns
eq "reconcile refuses a mass delete" "$RC" 5
contains "reconcile mass delete: message" "$ERR" "this reconciliation would mark"
sql -c "INSERT INTO txns SELECT * FROM txns_saved" -c "DROP TABLE txns_saved"
sql -c "CREATE TABLE fresh (id int PRIMARY KEY, v text)" -c "INSERT INTO fresh VALUES (1, 'a')"
printf 'fresh customers id - full\n' >> "$REG"
run --json --reconcile fresh
eq "reconcile of a table never loaded loads it in full" "$(echo "$OUT" | grep -o '"mode": "[a-z]*"')" '"mode": "full"'

# ---- 9. SIGKILL at random points, then rerun: nothing lost, nothing doubled -----------------------
for i in $(seq 1 20); do
  sql -c "UPDATE txns SET amount = amount + 1, updated_at = now() WHERE id % 97 = $i" \
      -c "UPDATE loans SET principal = principal + 1, updated_at = now() WHERE id % 50 = $i"
  full=""; [ $((i % 3)) -eq 0 ] && full=--full
  "$FHLOAD" --quiet $full txns loans >/dev/null 2>&1 &
  pid=$!
  sleep "0.$(( (RANDOM % 9) + 1 ))"
  kill -9 $pid 2>/dev/null || true
  wait $pid 2>/dev/null || true
done
run --json txns loans
eq "after kills: rerun exit" "$RC" 0
eq "after kills: txns reconcile" "$(raw_recon txns id amount)" "$(src_recon txns amount)"
eq "after kills: loans reconcile" "$(raw_recon loans id principal)" "$(src_recon loans principal)"
eq "after kills: every raw row belongs to a committed load" \
  "$(duck "select count(*) from raw.txns where _fh_load_id not in (select load_id from raw._fh_loads)")" 0
eq "after kills: load counts match raw" \
  "$(duck "select count(*) from (select l.load_id, l.rows_loaded + l.rows_deleted as n, count(t.id) as c from raw._fh_loads l join raw.txns t on t._fh_load_id = l.load_id where l.table_name = 'txns' group by all having n <> c)")" 0
eq "after kills: no key twice in one load" "$(duck "select count(*) from (select id, _fh_load_id from raw.txns group by all having count(*) > 1)")" 0
run --json --reconcile txns loans
eq "after kills: a reconciliation finds nothing to repair" "$(echo "$OUT" | grep -c '"rows": 0, "deleted": 0')" 2
eq "after kills: current keys agree (txns)" "$(cur_diff txns id)" 0
eq "after kills: current keys agree (loans)" "$(cur_diff loans id)" 0
eq "after kills: state = last load" "$(duck "select s.last_load_id = max(l.load_id) from raw._fh_state s join raw._fh_loads l using (table_name) where table_name = 'txns' group by s.last_load_id")" true

# ---- 9b. full loads in bounded memory whatever raw's history ------------------------------------
# raw.txns now holds several versions of 200k keys. fhload before the current keys aggregated all of
# raw's history at once for delete detection: on this table with 8 versions a key it ran out of memory
# at 32MB, 48MB and 64MB alike; the passes fit in 32MB whatever the history.
sql -c "DELETE FROM txns WHERE id % 1000 = 7"
FINHOUSE_DUCKDB_MEMORY_LIMIT=32MB run --json --full txns
eq "full load with history in 32MB: exit" "$RC" 0
contains "full load with history in 32MB: deletes" "$OUT" '"deleted": 200,'
sql -c "DELETE FROM txns WHERE id % 1000 = 8"
FINHOUSE_KEYS_PER_PASS=30000 run --json --full txns
contains "delete detection in passes of 30000 keys" "$OUT" '"deleted": 200,'
eq "after bounded full loads: txns reconcile" "$(raw_recon txns id amount)" "$(src_recon txns amount)"
eq "after bounded full loads: current keys agree" "$(cur_diff txns id)" 0

# ---- 10. Parquet staging for Snowflake ------------------------------------------------------------
STAGE=$TMP/stage
run --json --parquet "$STAGE" --load-id 7 loans branches
eq "parquet exit" "$RC" 0
contains "parquet mode full without --since" "$(echo "$OUT" | grep loans)" '"mode": "full"'
test -f "$STAGE/loans/manifest.json" && ok || bad "no manifest"
eq "parquet rows" "$("$CHECK" "$TMP/x.duckdb" "select count(*) from read_parquet('$STAGE/loans/*.parquet')")" "$(sql -c 'select count(*) from loans')"
eq "parquet sum exact" "$("$CHECK" "$TMP/x.duckdb" "select sum(principal)::varchar from read_parquet('$STAGE/loans/*.parquet')")" "$(sql -c 'select sum(principal) from loans')"
contains "manifest names the files" "$(cat "$STAGE/loans/manifest.json")" '"path": "part-0.parquet"'
contains "manifest gives each column its Snowflake type" "$(cat "$STAGE/loans/manifest.json")" '"type": "DECIMAL(14,2)", "snowflake_type": "NUMBER(14,2)"'
contains "manifest has types" "$(cat "$STAGE/loans/manifest.json")" '"type": "DECIMAL(14,2)"'
contains "manifest lists the row hash" "$(cat "$STAGE/loans/manifest.json")" '"name": "_fh_row_hash", "type": "BIGINT"'
eq "Parquet files are private" "$(stat -c %a "$STAGE/loans/part-0.parquet")|$(stat -c %a "$STAGE/loans/manifest.json")" "600|600"
eq "parquet rows carry their hash" "$("$CHECK" "$TMP/x.duckdb" "select count(*) from read_parquet('$STAGE/loans/*.parquet') where _fh_row_hash is null")" 0
# a directory whose name holds a quote goes into DuckDB's SQL as a literal, not as SQL
QSTAGE="$TMP/it's here"
run --json --parquet "$QSTAGE" --load-id 9 branches
eq "parquet directory with a quote: exit" "$RC" 0
test -f "$QSTAGE/branches/manifest.json" && ok || bad "no manifest under a quoted directory"
FINHOUSE_PARQUET_FILE_SIZE=1MB run --json --parquet "$STAGE" --load-id 8 --since "$(date -u -d '-2 days' +%Y-%m-%dT%H:%M:%SZ)" --lookback 0 txns
eq "parquet incremental exit" "$RC" 0
contains "parquet incremental mode" "$OUT" '"mode": "incremental"'
nfiles=$(ls "$STAGE/txns/"*.parquet | wc -l)
if [ "$nfiles" -ge 2 ]; then ok; else bad "expected several files at 1MB each, got $nfiles"; fi
eq "parquet manifest rows = files" "$(grep -o '"rows": [0-9]*' "$STAGE/txns/manifest.json" | tail -1 | grep -o '[0-9]*$')" \
   "$("$CHECK" "$TMP/x.duckdb" "select count(*) from read_parquet('$STAGE/txns/*.parquet')")"
# Snowflake's raw columns (--raw-columns): the manifest prescribes the raw table's DDL, or fhload refuses
printf 'table_name,column_name,data_type,numeric_precision,numeric_scale\nLOANS,ID,NUMBER,38,0\nLOANS,PRINCIPAL,NUMBER,12,2\n' > "$TMP/cols.csv"
run --json --parquet "$STAGE" --load-id 10 --raw-columns "$TMP/cols.csv" loans branches
eq "raw columns: exit" "$RC" 0
contains "raw columns: a narrower NUMBER widened" "$(cat "$STAGE/loans/manifest.json")" 'ALTER TABLE {table} ALTER COLUMN \"PRINCIPAL\" SET DATA TYPE NUMBER(14,2)'
contains "raw columns: the load id column added" "$(cat "$STAGE/loans/manifest.json")" 'ALTER TABLE {table} ADD COLUMN \"_FH_LOAD_ID\" NUMBER(38,0)'
contains "raw columns: a table Snowflake lacks created" "$(cat "$STAGE/branches/manifest.json")" '"schema": ["CREATE TABLE IF NOT EXISTS {table} (\"ID\" NUMBER(38,0), '
printf 'table_name,column_name,data_type,numeric_precision,numeric_scale\nloans,principal,TEXT,,\n' > "$TMP/cols.csv"
run --json --parquet "$STAGE" --load-id 11 --raw-columns "$TMP/cols.csv" loans
eq "raw columns: an incompatible change is exit 4" "$RC" 4
contains "raw columns: the refusal names table and column" "$ERR" "table loans, column principal: the source now has NUMBER(14,2) but the Snowflake raw table holds VARCHAR"
contains "raw columns: the earlier stage stays" "$(cat "$STAGE/loans/manifest.json")" '"load_id": 10'

echo "e2e: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
