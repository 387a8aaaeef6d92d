/*
 * cdc_dest — the warehouse side of `fhload stream`: source transactions read from PostgreSQL's logical
 * replication, grouped into warehouse transactions (group commit), appended to RAW with their operation,
 * commit LSN and commit time, and the stream's progress committed in the same transaction.
 *
 * RAW stays append-only and keeps its contract (duck_dest.h); streamed rows add:
 *   _fh_op          'insert', 'update', 'delete' (a delete row holds the key columns only; a TRUNCATE
 *                   becomes one 'delete' row per key live at that point, and a row in raw._fh_truncates)
 *   _fh_commit_lsn  BIGINT      the source transaction's commit LSN (NULL for batch-loaded rows)
 *   _fh_commit_ts   TIMESTAMPTZ its commit time (NULL for batch-loaded rows)
 *   _fh_superseded  BOOLEAN     true when a later change of the same key in the same load replaced
 *                               this one (NULL/false otherwise): "a load holds a key at most once"
 *                               then still holds for the rows with _fh_superseded IS NOT TRUE, which is
 *                               what raw's current view and dbt's latest_version read.
 * Every raw table has these columns (created with it, or added when fhload opens an older warehouse),
 * NULL on rows a batch load wrote. Each group commit is one load (mode 'stream') in raw._fh_loads:
 * rows_loaded, rows_deleted, watermark_from/to = the first and last source commit time it holds.
 * An update whose unchanged TOASTed value was not sent ('u') is stored with that column's value from the
 * key's previous version (in the same group, or raw's current view): never NULL.
 *
 * Progress lives next to the data:
 *   raw._fh_stream  one row per slot: slot_name (PK), publication, confirmed_lsn (the end LSN of the last
 *                   source transaction applied: every transaction at or below it is in RAW),
 *                   confirmed_commit_ts, snapshot_lsn (the slot's consistent point the initial snapshot
 *                   was read at), tables, updated_at.
 * cdc_dest_commit_group writes it in the same DuckDB transaction as the rows, so a crash at any point
 * leaves either the group and its LSN or neither; the caller acknowledges to PostgreSQL only after.
 *
 * Memory: rows are decoded straight into DuckDB data chunks (copy_decode_put) and appended to a
 * temporary table per relation, which DuckDB spills to disk under its memory limit: a group of any
 * size keeps the process bounded. No allocation per row.
 */
#ifndef CDC_DEST_H
#define CDC_DEST_H

#include <stddef.h>
#include <stdint.h>

#include "copy_decode.h"
#include "duck_dest.h"
#include "fh_error.h"
#include "pgoutput.h"

typedef struct cdc_dest cdc_dest;

/* Stream into the warehouse `wh` (borrowed: open with duck_dest_open, closed by the caller after
 * cdc_dest_close) for replication slot `slot`. Creates raw._fh_stream and raw._fh_truncates if missing. */
int cdc_dest_open(duck_dest *wh, const char *slot, cdc_dest **out, fh_error *err);
void cdc_dest_close(cdc_dest *d);

typedef struct cdc_state {
    int found;                   /* the slot has committed progress in this warehouse */
    uint64_t confirmed_lsn;      /* the end LSN of the last applied source transaction */
    int64_t confirmed_commit_ts; /* its commit time, µs since 1970-01-01 UTC (0 if none) */
    uint64_t snapshot_lsn;       /* the consistent point the initial snapshot was read at */
    char publication[PGO_NAME_MAX];
} cdc_state;

int cdc_dest_read_state(cdc_dest *d, cdc_state *out, fh_error *err);

/* Record that the initial snapshot (the tables' full loads or reconciliations, read in the slot's
 * exported snapshot) is complete: confirmed_lsn = snapshot_lsn = consistent_point. */
int cdc_dest_snapshot_done(cdc_dest *d, const char *publication, uint64_t consistent_point,
                           fh_error *err);

/* Forget the slot's progress (fhload stream --drop-slot). */
int cdc_dest_forget(cdc_dest *d, fh_error *err);

/* Describe (or describe again) a source relation: its raw table name, its columns as the Relation
 * message lists them, mapped (copy_decode_map_type and the registry's overrides), and the indexes of
 * its key columns in cols. A column the raw table lacks is added (at the next group commit, in its
 * transaction); an incompatible type change is FH_ESCHEMA naming table and column, before anything of
 * the group is committed. */
int cdc_dest_relation(cdc_dest *d, uint32_t relid, const char *table, const cd_column *cols,
                      size_t ncols, const int *key_cols, int nkey, fh_error *err);

/* One change of a source transaction, in commit order. op: 'I' insert, 'U' update, 'D' delete. tuple
 * holds the new row (insert, update: every column, 'u' for an unchanged TOASTed value) or the key
 * (delete: the key columns set, the others 'n'). An update that changed the key is given as a delete
 * of the old key (old_key, or NULL when the key did not change) followed by the update. Values must be
 * 'b' (binary), 'n' or 'u'; commit_ts in µs since 1970-01-01 UTC. */
int cdc_dest_change(cdc_dest *d, uint32_t relid, char op, uint64_t commit_lsn, int64_t commit_ts,
                    const pgo_tuple *old_key, const pgo_tuple *tuple, fh_error *err);

/* TRUNCATE of relid in the source transaction committing at commit_lsn. */
int cdc_dest_truncate(cdc_dest *d, uint32_t relid, uint64_t commit_lsn, int64_t commit_ts,
                      fh_error *err);

/* Rows (changes) buffered since the last commit or rollback. */
uint64_t cdc_dest_pending(const cdc_dest *d);

typedef struct cdc_group_stats {
    int64_t load_id;  /* the first of the group's loads, or 0 when nothing was pending */
    uint64_t rows;    /* inserts and updates */
    uint64_t deleted; /* deletes (truncates included) */
    uint64_t tables;  /* tables written */
} cdc_group_stats;

/* Commit every change given since the last commit, with the progress: confirmed_lsn = end_lsn (the end
 * LSN of the last source transaction given, whole) and its commit time. Also valid with no change
 * pending (progress only: keepalives of an idle slot). On error nothing is committed and the pending
 * changes are dropped (the caller reconnects and the server sends them again). */
int cdc_dest_commit_group(cdc_dest *d, uint64_t end_lsn, int64_t commit_ts, cdc_group_stats *st,
                          fh_error *err);

/* Drop the pending changes (the caller will receive them again). */
void cdc_dest_rollback_group(cdc_dest *d);

#endif
