/*
 * fhcheck — run SQL against a DuckDB file and print the rows, for the engine's shell tests.
 *
 *   fhcheck [-r] DB.duckdb "SQL" ["SQL" ...]
 *
 * Each statement's rows are printed one per line, values separated by '|' (NULL as "NULL"); a
 * SELECT is wrapped as SELECT COLUMNS(*)::VARCHAR FROM (...) so every type prints as DuckDB casts
 * it to text (the C API's value accessors do not cover every type). -r
 * opens the file read-only. Exit status 1 with the error on stderr if a statement fails. The
 * engine's tests use it instead of a Python client, so they need nothing but the C build.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "duckdb.h"

int main(int argc, char **argv)
{
    int ro = argc > 1 && strcmp(argv[1], "-r") == 0;
    if (argc < 3 + ro) {
        fprintf(stderr, "usage: fhcheck [-r] DB.duckdb SQL [SQL ...]\n");
        return 2;
    }
    duckdb_config cfg;
    duckdb_create_config(&cfg);
    if (ro)
        duckdb_set_config(cfg, "access_mode", "READ_ONLY");
    duckdb_database db;
    duckdb_connection con;
    char *err = NULL;
    if (duckdb_open_ext(argv[1 + ro], &db, cfg, &err) != DuckDBSuccess) {
        fprintf(stderr, "fhcheck: %s\n", err ? err : "cannot open");
        return 1;
    }
    duckdb_destroy_config(&cfg);
    duckdb_connect(db, &con);
    int status = 0;
    for (int a = 2 + ro; a < argc && status == 0; a++) {
        duckdb_result r;
        const char *q = argv[a];
        while (*q == ' ' || *q == '\n')
            q++;
        char *sql = NULL;
        if (!strncasecmp(q, "select", 6) || !strncasecmp(q, "with", 4)) {
            size_t n = strlen(q) + 64;
            sql = malloc(n);
            snprintf(sql, n, "SELECT COLUMNS(*)::VARCHAR FROM (%s)", q);
        }
        duckdb_state st = duckdb_query(con, sql ? sql : q, &r);
        free(sql);
        if (st != DuckDBSuccess) {
            fprintf(stderr, "fhcheck: %s\n", duckdb_result_error(&r));
            status = 1;
        } else {
            idx_t rows = duckdb_row_count(&r), cols = duckdb_column_count(&r);
            for (idx_t i = 0; i < rows; i++) {
                for (idx_t c = 0; c < cols; c++) {
                    char *v = duckdb_value_varchar(&r, c, i);
                    printf("%s%s", c ? "|" : "", duckdb_value_is_null(&r, c, i) || !v ? "NULL" : v);
                    duckdb_free(v);
                }
                printf("\n");
            }
        }
        duckdb_destroy_result(&r);
    }
    duckdb_disconnect(&con);
    duckdb_close(&db);
    return status;
}
