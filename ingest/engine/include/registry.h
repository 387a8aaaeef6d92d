/*
 * registry — the table registry (ingest/registry.tsv): which OLTP tables fhload loads, their
 * entity group, primary key, cursor column and load mode.
 *
 * Format: UTF-8 text; '#' starts a comment that runs to the end of the line; blank lines are
 * ignored; every other line holds five whitespace-separated fields and an optional sixth
 *
 *     table  group  primary_key  cursor  mode  [types]
 *
 * table        an identifier, optionally schema-qualified (public.loans)
 * group        customers | savings | loans | payments | ledger | investments  (the Django apps of
 *              corebanking/ that own the tables; each group is one ingestion DAG)
 * primary_key  a column name or a comma-separated list of names (loan_id,seq)
 * cursor       a column name (typically updated_at) or '-' for none
 * mode         incremental | full
 * types        warehouse types for numeric columns the default mapping cannot hold exactly
 *              (an unconstrained numeric with more than 10 decimals or 28 integer digits, a
 *              numeric wider than 38 digits): column:TYPE[,column:TYPE...] where TYPE is
 *              VARCHAR (the value's exact decimal text) or DECIMAL(p,s) with 1 <= p <= 38,
 *              0 <= s <= p — e.g.  rate:DECIMAL(38,20),raw_amount:VARCHAR
 *
 * Identifiers are plain ASCII ([A-Za-z_][A-Za-z0-9_$]*, at most 63 bytes, as in PostgreSQL).
 * An incremental table needs a cursor. The parser reads untrusted bytes (it has a fuzz target):
 * it never reads outside the buffer, and every error names the file and the line.
 */
#ifndef REGISTRY_H
#define REGISTRY_H

#include <stddef.h>

#include "fh_error.h"

#define REGISTRY_NAME_MAX 64  /* 63 bytes + NUL, PostgreSQL's NAMEDATALEN */
#define REGISTRY_KEY_MAX 16   /* columns in a primary key */
#define REGISTRY_TYPES_MAX 16 /* columns with a warehouse type of their own */

/* A column's warehouse type, given by the registry instead of the default mapping. */
typedef struct registry_column_type {
    char column[REGISTRY_NAME_MAX];
    int as_text;      /* VARCHAR: the exact decimal text */
    int width, scale; /* DECIMAL(width, scale), when not as_text */
} registry_column_type;

typedef enum { REGISTRY_INCREMENTAL = 0, REGISTRY_FULL = 1 } registry_mode;

typedef struct registry_table {
    char name[2 * REGISTRY_NAME_MAX]; /* as written: "loans" or "public.loans" */
    char group[REGISTRY_NAME_MAX];
    char key[REGISTRY_KEY_MAX][REGISTRY_NAME_MAX];
    int nkey;
    char cursor[REGISTRY_NAME_MAX]; /* "" when the registry says '-' */
    registry_mode mode;
    registry_column_type types[REGISTRY_TYPES_MAX];
    int ntypes;
    int line; /* where it was declared, for messages */
} registry_table;

typedef struct registry {
    registry_table *tables;
    size_t ntables;
} registry;

/* Parse len bytes of registry text. `file` only names the source in messages. On success fills
 * *out (free it with registry_free) and returns FH_OK; on failure returns FH_EUSAGE with a message
 * "FILE:LINE: what is wrong — how to fix", and *out is left empty. */
int registry_parse(const char *buf, size_t len, const char *file, registry *out, fh_error *err);

/* Read and parse a registry file. A missing file is FH_EUSAGE naming the path. */
int registry_load(const char *path, registry *out, fh_error *err);

/* The table named `name` (exact match, or match of the unqualified part), or NULL. */
const registry_table *registry_find(const registry *reg, const char *name);

/* Is `group` one of the six entity groups? */
int registry_group_valid(const char *group);

/* The entity groups in their canonical order (the order of the ingestion DAGs and of --help):
 * registry_group_name(i) for i < registry_group_count(), NULL past the end. */
size_t registry_group_count(void);
const char *registry_group_name(size_t i);

/* The warehouse type the registry gives `column` of t, or NULL. */
const registry_column_type *registry_column(const registry_table *t, const char *column);

/* The six entity groups, as one comma-separated string for messages. */
const char *registry_groups(void);

/* Free what registry_parse allocated; safe on a zeroed registry. */
void registry_free(registry *reg);

#endif
