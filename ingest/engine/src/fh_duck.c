/*
 * fh_duck — a DuckDB database, its connection and fh_scan() (interface in fh_duck.h).
 */
#include "fh_duck.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

duckdb_config fh_duck_config(int threads, const char *memory_limit, const char *const *extra)
{
    assert(memory_limit != NULL);
    duckdb_config cfg;
    char th[16];
    snprintf(th, sizeof th, "%d", threads < 1 ? 1 : threads);
    duckdb_create_config(&cfg);
    duckdb_set_config(cfg, "threads", th);
    duckdb_set_config(cfg, "memory_limit", memory_limit);
    duckdb_set_config(cfg, "preserve_insertion_order", "false");
    for (const char *const *e = extra; e && e[0]; e += 2)
        if (e[1] && e[1][0])
            duckdb_set_config(cfg, e[0], e[1]);
    return cfg;
}

int fh_duck_open(fh_duck *h, const char *path, const char *what, duckdb_config *cfg, fh_error *err)
{
    assert(h && what && cfg);
    memset(h, 0, sizeof *h);
    snprintf(h->what, sizeof h->what, "%s", what);
    char *oerr = NULL;
    duckdb_state st = duckdb_open_ext(path, &h->db, *cfg, &oerr);
    duckdb_destroy_config(cfg);
    if (st != DuckDBSuccess) {
        int code = path ? FH_ECONN : FH_EINTERNAL;
        fh_error_set(err, code, "cannot open %s: %s", what, oerr ? oerr : "unknown error");
        if (oerr)
            duckdb_free(oerr);
        return code;
    }
    h->db_open = 1;
    if (duckdb_connect(h->db, &h->con) != DuckDBSuccess) {
        fh_duck_close(h);
        return fh_error_set(err, path ? FH_ECONN : FH_EINTERNAL, "cannot connect to %s", what);
    }
    h->con_open = 1;
    int rc = duck_scan_register(h->con, &h->slot, err);
    if (rc != FH_OK) {
        fh_duck_close(h);
        return rc;
    }
    h->slot_ready = 1;
    return FH_OK;
}

int fh_duck_query(fh_duck *h, const char *sql, duckdb_result *res, fh_error *err)
{
    assert(h->con_open && sql);
    duckdb_result local;
    duckdb_result *r = res ? res : &local;
    if (h->trace)
        fprintf(stderr, "fhload: sql: %s\n", sql);
    if (duckdb_query(h->con, sql, r) == DuckDBSuccess) {
        if (!res)
            duckdb_destroy_result(r);
        return FH_OK;
    }
    const char *m = duckdb_result_error(r);
    const char *hint = m && (strstr(m, "Out of Memory") || strstr(m, "out of memory"))
                           ? " — raise FINHOUSE_DUCKDB_MEMORY_LIMIT"
                           : "";
    fh_error_set(err, FH_EINTERNAL, "%s: %s%s", h->what, m ? m : "query failed", hint);
    duckdb_destroy_result(r);
    return FH_EINTERNAL;
}

int fh_duck_scalar_i64(fh_duck *h, const char *sql, int64_t *out, fh_error *err)
{
    duckdb_result r;
    *out = 0;
    int rc = fh_duck_query(h, sql, &r, err);
    if (rc != FH_OK)
        return rc;
    if (duckdb_row_count(&r) > 0 && !duckdb_value_is_null(&r, 0, 0))
        *out = duckdb_value_int64(&r, 0, 0);
    duckdb_destroy_result(&r);
    return FH_OK;
}

int fh_duck_scan(fh_duck *h, duck_scan_source *src, const char *sql, uint64_t *changed,
                 fh_error *err)
{
    assert(h->slot_ready && src);
    duckdb_result r;
    duck_scan_arm(&h->slot, src);
    int rc = fh_duck_query(h, sql, &r, err);
    fh_error scan_err;
    if (duck_scan_disarm(&h->slot, &scan_err) != FH_OK) {
        if (rc == FH_OK)
            duckdb_destroy_result(&r);
        *err = scan_err;
        return scan_err.code;
    }
    if (rc != FH_OK)
        return rc;
    if (changed)
        *changed = duckdb_rows_changed(&r);
    duckdb_destroy_result(&r);
    return FH_OK;
}

void fh_duck_close(fh_duck *h)
{
    if (h->con_open)
        duckdb_disconnect(&h->con);
    if (h->db_open)
        duckdb_close(&h->db);
    /* after the connection: fh_scan()'s bind data points at the slot until then */
    if (h->slot_ready)
        duck_scan_slot_destroy(&h->slot);
    h->con_open = h->db_open = h->slot_ready = 0;
}
