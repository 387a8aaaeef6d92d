/*
 * duck_scan — the fh_scan() table function (interface in duck_scan.h).
 *
 * bind        declares one output column per producer column, with copy_decode's DuckDB type.
 * init        sets max_threads from the producer (one per COPY range).
 * local_init  gives each DuckDB thread a small holder for the producer's per-thread state.
 * function    calls fill() into DuckDB's output chunk; an error is recorded in the slot (first
 *             one wins) and reported to DuckDB, which aborts the statement.
 * The holder's destructor calls local_free(), so a producer's thread state is released whether
 * the statement finished or was aborted.
 */
#include "duck_scan.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    duck_scan_slot *slot;
    duck_scan_source *src;
    void *local;
} local_state;

static void bind(duckdb_bind_info info)
{
    duck_scan_slot *slot = duckdb_bind_get_extra_info(info);
    duck_scan_source *src = slot->src;
    if (!src) {
        duckdb_bind_set_error(info, "fh_scan() is fhload's internal table function");
        return;
    }
    for (size_t c = 0; c < src->ncols; c++) {
        duckdb_logical_type t = copy_decode_logical_type(&src->cols[c]);
        duckdb_bind_add_result_column(info, src->cols[c].name, t);
        duckdb_destroy_logical_type(&t);
    }
    if (src->row_hash) {
        duckdb_logical_type t = duckdb_create_logical_type(DUCKDB_TYPE_BIGINT);
        duckdb_bind_add_result_column(info, "_fh_row_hash", t);
        duckdb_destroy_logical_type(&t);
    }
    /* Without an estimate, a join with fh_scan() may hash the scan's side: every source row of a
     * reconciliation's range, whole, in memory. */
    if (src->cardinality)
        duckdb_bind_set_cardinality(info, src->cardinality, false);
}

static void init(duckdb_init_info info)
{
    duck_scan_slot *slot = duckdb_init_get_extra_info(info);
    if (slot->src)
        duckdb_init_set_max_threads(info, slot->src->max_threads ? slot->src->max_threads : 1);
}

static void local_destroy(void *p)
{
    local_state *ls = p;
    if (ls->src && ls->src->local_free)
        ls->src->local_free(ls->src->ctx, ls->local);
    free(ls);
}

static void local_init(duckdb_init_info info)
{
    duck_scan_slot *slot = duckdb_init_get_extra_info(info);
    local_state *ls = calloc(1, sizeof *ls);
    if (!ls) {
        duckdb_init_set_error(info, "out of memory");
        return;
    }
    ls->slot = slot;
    ls->src = slot->src;
    duckdb_init_set_init_data(info, ls, local_destroy);
}

static void record(duck_scan_slot *slot, const fh_error *e)
{
    pthread_mutex_lock(&slot->mu);
    if (slot->err.code == FH_OK)
        slot->err = *e;
    pthread_mutex_unlock(&slot->mu);
}

static void function(duckdb_function_info info, duckdb_data_chunk output)
{
    local_state *ls = duckdb_function_get_local_init_data(info);
    size_t rows = 0;
    fh_error e;
    fh_error_clear(&e);
    if (!ls->src) {
        duckdb_data_chunk_set_size(output, 0);
        return;
    }
    int rc = ls->src->fill(ls->src->ctx, &ls->local, output, duckdb_vector_size(), &rows, &e);
    if (rc != FH_OK) {
        if (e.code == FH_OK)
            fh_error_set(&e, rc, "fh_scan: producer failed");
        record(ls->slot, &e);
        duckdb_function_set_error(info, e.msg);
        return;
    }
    duckdb_data_chunk_set_size(output, rows);
}

int duck_scan_register(duckdb_connection con, duck_scan_slot *slot, fh_error *err)
{
    memset(slot, 0, sizeof *slot);
    pthread_mutex_init(&slot->mu, NULL);
    duckdb_table_function f = duckdb_create_table_function();
    duckdb_table_function_set_name(f, "fh_scan");
    duckdb_table_function_set_extra_info(f, slot, NULL);
    duckdb_table_function_set_bind(f, bind);
    duckdb_table_function_set_init(f, init);
    duckdb_table_function_set_local_init(f, local_init);
    duckdb_table_function_set_function(f, function);
    duckdb_state st = duckdb_register_table_function(con, f);
    duckdb_destroy_table_function(&f);
    if (st != DuckDBSuccess)
        return fh_error_set(err, FH_EINTERNAL, "cannot register the fh_scan table function");
    return FH_OK;
}

void duck_scan_arm(duck_scan_slot *slot, duck_scan_source *src)
{
    pthread_mutex_lock(&slot->mu);
    slot->src = src;
    fh_error_clear(&slot->err);
    pthread_mutex_unlock(&slot->mu);
}

int duck_scan_disarm(duck_scan_slot *slot, fh_error *err)
{
    pthread_mutex_lock(&slot->mu);
    slot->src = NULL;
    int rc = slot->err.code;
    if (rc != FH_OK && err)
        *err = slot->err;
    pthread_mutex_unlock(&slot->mu);
    return rc;
}

void duck_scan_slot_destroy(duck_scan_slot *slot) { pthread_mutex_destroy(&slot->mu); }
