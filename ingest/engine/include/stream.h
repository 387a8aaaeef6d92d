/*
 * stream — the replication runtime of `fhload stream`: PostgreSQL's logical replication (slot,
 * publication, plugin pgoutput) followed into the warehouse's RAW layer, exactly once.
 *
 * Why a module of its own: it owns the walsender connection and its state machine (checks at start,
 * the snapshot handoff of a new slot, the COPY BOTH loop, group commits and acknowledgements,
 * reconnection), between pgoutput (the protocol's bytes) and cdc_dest (the warehouse side). The
 * initial loads are not written here: main's per-table load is given as a callback, so `fhload` and
 * `fhload stream` share one load path (a full load, or a reconciliation of a batch-loaded table).
 *
 * Exactly once: cdc_dest_commit_group stores the end LSN of the last whole source transaction in the
 * same DuckDB transaction as its rows; PostgreSQL is told that LSN only after that commit; after a
 * restart the server resends from its confirmed position, and a transaction whose commit LSN lies
 * below the warehouse's confirmed LSN is skipped whole.
 */
#ifndef STREAM_H
#define STREAM_H

#include <stddef.h>

#include "cli.h"
#include "duck_dest.h"
#include "fh_error.h"
#include "pg_source.h"
#include "registry.h"

/* Load (or reconcile) one table from src (open inside the slot's exported snapshot) into the
 * warehouse; fills *res for the report. */
typedef int (*stream_load_fn)(void *ctx, pg_source *src, duck_dest *wh, const registry_table *t,
                              cli_result *res, fh_error *err);

/* Run `fhload stream` for the selected tables (o->stream set): --status, --setup, --drop-slot, or the
 * stream itself until --stop-at-lsn, --max-seconds or SIGTERM/SIGINT (FH_OK), or an error whose code
 * is the exit status (FH_EWAL, FH_ESLOT, FH_EBUSY, FH_EPERM, FH_ESCHEMA, …). The warehouse
 * (o->warehouse) is opened only once the source's checks passed: a bad configuration creates nothing. */
int stream_run(const cli_options *o, const registry_table *const *sel, size_t nsel,
               stream_load_fn load, void *load_ctx, fh_error *err);

#endif
