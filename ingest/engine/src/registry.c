/*
 * registry — parser of the table registry file (format in registry.h).
 *
 * How it works: one pass over the buffer, line by line. Each line is cut at the first '#', then
 * split on spaces/tabs/CR into at most seven fields (a seventh means "too many"). Each field is
 * validated and copied into a fixed-size registry_table, so nothing points back into the input.
 * The table array grows by doubling (it is small, a few dozen entries). The parser treats the
 * input as untrusted: every index is bounds-checked, NUL bytes are rejected, and a fuzz target
 * (tests/fuzz/fuzz_registry.c) exercises it under ASan and UBSan.
 */
#include "registry.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The one list of entity groups: the names of the Django apps that own the tables (corebanking/). The
 * Python side reads it from fhload --print-registry; test_registry holds registry_groups() to it. */
static const char *const GROUPS[] = {"customers", "savings", "loans",
                                     "payments",  "ledger",  "investments"};

const char *registry_groups(void)
{
    return "customers, savings, loans, payments, ledger, investments";
}

size_t registry_group_count(void) { return sizeof GROUPS / sizeof GROUPS[0]; }

const char *registry_group_name(size_t i) { return i < registry_group_count() ? GROUPS[i] : NULL; }

int registry_group_valid(const char *group)
{
    for (size_t i = 0; i < registry_group_count(); i++)
        if (strcmp(group, GROUPS[i]) == 0)
            return 1;
    return 0;
}

/* A field of the current line: a window into the input buffer. */
typedef struct {
    const char *p;
    size_t n;
} field;

static int is_ident_start(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static int is_ident_char(unsigned char c)
{
    return is_ident_start(c) || (c >= '0' && c <= '9') || c == '$';
}

/* Validate one identifier of length n (no dots) and copy it to out. Returns 0 if valid. */
static int copy_ident(const char *p, size_t n, char *out, size_t outsz)
{
    if (n == 0 || n >= REGISTRY_NAME_MAX || n >= outsz || !is_ident_start((unsigned char)p[0]))
        return -1;
    for (size_t i = 1; i < n; i++)
        if (!is_ident_char((unsigned char)p[i]))
            return -1;
    memcpy(out, p, n);
    out[n] = '\0';
    return 0;
}

static int field_is(field f, const char *s) { return strlen(s) == f.n && memcmp(f.p, s, f.n) == 0; }

/* Print a field into a message safely (non-printable bytes shown as '?', long ones cut). */
static const char *shown(field f, char *buf, size_t bufsz)
{
    size_t n = f.n < bufsz - 4 ? f.n : bufsz - 4;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)f.p[i];
        buf[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (n < f.n) {
        memcpy(buf + n, "...", 4);
    } else {
        buf[n] = '\0';
    }
    return buf;
}

/* The sixth field: column:TYPE[,column:TYPE...], commas inside DECIMAL(p,s) belonging to it. */
static int parse_types(field f, const char *file, int line, registry_table *t, fh_error *err)
{
    char show[80];
    const char *p = f.p, *end = f.p + f.n;
    while (p < end) {
        const char *stop = p;
        int depth = 0;
        while (stop < end && (depth > 0 || *stop != ',')) {
            depth += *stop == '(' ? 1 : *stop == ')' ? -1 : 0;
            stop++;
        }
        field one = {p, (size_t)(stop - p)};
        const char *colon = memchr(p, ':', (size_t)(stop - p));
        if (t->ntypes >= REGISTRY_TYPES_MAX)
            return fh_error_set(err, FH_EUSAGE, "%s:%d: more than %d column types for %s", file,
                                line, REGISTRY_TYPES_MAX, t->name);
        registry_column_type *ct = &t->types[t->ntypes];
        memset(ct, 0, sizeof *ct);
        if (!colon || copy_ident(p, (size_t)(colon - p), ct->column, sizeof ct->column))
            return fh_error_set(err, FH_EUSAGE,
                                "%s:%d: column type '%s' of %s is not column:TYPE — write e.g. "
                                "rate:DECIMAL(38,20) or amount:VARCHAR",
                                file, line, shown(one, show, sizeof show), t->name);
        field ty = {colon + 1, (size_t)(stop - colon - 1)};
        char tybuf[32] = "";
        if (ty.n < sizeof tybuf) {
            memcpy(tybuf, ty.p, ty.n);
            tybuf[ty.n] = '\0';
        }
        int w = 0, sc = 0, used = 0;
        if (field_is(ty, "VARCHAR")) {
            ct->as_text = 1;
        } else if (sscanf(tybuf, "DECIMAL(%d,%d)%n", &w, &sc, &used) == 2 && (size_t)used == ty.n &&
                   w >= 1 && w <= 38 && sc >= 0 && sc <= w) {
            ct->width = w;
            ct->scale = sc;
        } else {
            return fh_error_set(err, FH_EUSAGE,
                                "%s:%d: type '%s' of %s.%s is not VARCHAR or DECIMAL(p,s) with "
                                "1 <= p <= 38 and 0 <= s <= p",
                                file, line, shown(ty, show, sizeof show), t->name, ct->column);
        }
        for (int k = 0; k < t->ntypes; k++)
            if (!strcmp(t->types[k].column, ct->column))
                return fh_error_set(err, FH_EUSAGE, "%s:%d: column %s of %s has two types", file,
                                    line, ct->column, t->name);
        t->ntypes++;
        p = stop < end ? stop + 1 : end;
        if (stop < end && p == end)
            return fh_error_set(err, FH_EUSAGE, "%s:%d: column types of %s end with a comma", file,
                                line, t->name);
    }
    return FH_OK;
}

const registry_column_type *registry_column(const registry_table *t, const char *column)
{
    for (int k = 0; k < t->ntypes; k++)
        if (!strcmp(t->types[k].column, column))
            return &t->types[k];
    return NULL;
}

static int parse_line(field *f, int nf, const char *file, int line, registry_table *t,
                      fh_error *err)
{
    char show[80];
    memset(t, 0, sizeof *t);
    t->line = line;

    /* table, optionally schema.table */
    const char *dot = memchr(f[0].p, '.', f[0].n);
    int bad;
    if (dot) {
        size_t sn = (size_t)(dot - f[0].p);
        char schema[REGISTRY_NAME_MAX], rel[REGISTRY_NAME_MAX];
        bad = copy_ident(f[0].p, sn, schema, sizeof schema) ||
              copy_ident(dot + 1, f[0].n - sn - 1, rel, sizeof rel);
        if (!bad)
            snprintf(t->name, sizeof t->name, "%s.%s", schema, rel);
    } else {
        bad = copy_ident(f[0].p, f[0].n, t->name, sizeof t->name);
    }
    if (bad)
        return fh_error_set(err, FH_EUSAGE,
                            "%s:%d: table name '%s' is not a valid identifier — use letters, "
                            "digits "
                            "and '_' (at most 63 bytes), optionally schema-qualified",
                            file, line, shown(f[0], show, sizeof show));

    if (copy_ident(f[1].p, f[1].n, t->group, sizeof t->group) || !registry_group_valid(t->group))
        return fh_error_set(err, FH_EUSAGE,
                            "%s:%d: unknown group '%s' for table %s — use one of: %s", file, line,
                            shown(f[1], show, sizeof show), t->name, registry_groups());

    /* primary key: name[,name...] */
    const char *p = f[2].p, *end = f[2].p + f[2].n;
    while (1) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        if (t->nkey >= REGISTRY_KEY_MAX)
            return fh_error_set(err, FH_EUSAGE, "%s:%d: primary key of %s has more than %d columns",
                                file, line, t->name, REGISTRY_KEY_MAX);
        if (copy_ident(p, (size_t)(stop - p), t->key[t->nkey], sizeof t->key[0]))
            return fh_error_set(err, FH_EUSAGE,
                                "%s:%d: primary key '%s' of %s is not a column name or a "
                                "comma-separated list of column names",
                                file, line, shown(f[2], show, sizeof show), t->name);
        t->nkey++;
        if (!comma)
            break;
        p = comma + 1;
    }

    if (field_is(f[3], "-")) {
        t->cursor[0] = '\0';
    } else if (copy_ident(f[3].p, f[3].n, t->cursor, sizeof t->cursor)) {
        return fh_error_set(err, FH_EUSAGE,
                            "%s:%d: cursor '%s' of %s is not a column name — write a column such "
                            "as "
                            "updated_at, or '-' for none",
                            file, line, shown(f[3], show, sizeof show), t->name);
    }

    if (field_is(f[4], "incremental"))
        t->mode = REGISTRY_INCREMENTAL;
    else if (field_is(f[4], "full"))
        t->mode = REGISTRY_FULL;
    else
        return fh_error_set(err, FH_EUSAGE,
                            "%s:%d: mode '%s' of %s must be 'incremental' or 'full'", file, line,
                            shown(f[4], show, sizeof show), t->name);
    if (t->mode == REGISTRY_INCREMENTAL && t->cursor[0] == '\0')
        return fh_error_set(err, FH_EUSAGE,
                            "%s:%d: %s is incremental but has no cursor ('-') — name its cursor "
                            "column or make it 'full'",
                            file, line, t->name);
    return nf > 5 ? parse_types(f[5], file, line, t, err) : FH_OK;
}

static int push(registry *reg, size_t *cap, const registry_table *t, fh_error *err)
{
    if (reg->ntables == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        registry_table *nt = realloc(reg->tables, ncap * sizeof *nt);
        if (!nt)
            return fh_error_set(err, FH_EINTERNAL, "out of memory reading the registry");
        reg->tables = nt;
        *cap = ncap;
    }
    reg->tables[reg->ntables++] = *t;
    return FH_OK;
}

int registry_parse(const char *buf, size_t len, const char *file, registry *out, fh_error *err)
{
    registry reg = {0};
    size_t cap = 0;
    int line = 0, rc = FH_OK;
    size_t pos = 0;

    memset(out, 0, sizeof *out);
    while (pos < len && rc == FH_OK) {
        line++;
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t lend = nl ? (size_t)(nl - buf) : len;
        const char *s = buf + pos;
        size_t n = lend - pos;
        pos = nl ? lend + 1 : len;

        if (memchr(s, '\0', n)) {
            rc = fh_error_set(err, FH_EUSAGE, "%s:%d: NUL byte in line — is this a text file?",
                              file, line);
            break;
        }
        const char *hash = memchr(s, '#', n);
        if (hash)
            n = (size_t)(hash - s);

        field f[7];
        int nf = 0;
        size_t i = 0;
        while (i < n && nf < 7) {
            while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
                i++;
            if (i >= n)
                break;
            size_t st = i;
            while (i < n && s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
                i++;
            f[nf].p = s + st;
            f[nf].n = i - st;
            nf++;
        }
        if (nf == 0)
            continue;
        if (nf < 5 || nf > 6) {
            rc = fh_error_set(err, FH_EUSAGE,
                              "%s:%d: expected 5 fields (table group primary_key cursor mode) and "
                              "optional column types, found %s%d",
                              file, line, nf == 7 ? "more than " : "", nf == 7 ? 6 : nf);
            break;
        }
        registry_table t;
        rc = parse_line(f, nf, file, line, &t, err);
        if (rc != FH_OK)
            break;
        for (size_t k = 0; k < reg.ntables; k++)
            if (strcmp(reg.tables[k].name, t.name) == 0) {
                rc = fh_error_set(err, FH_EUSAGE, "%s:%d: table %s is already declared on line %d",
                                  file, line, t.name, reg.tables[k].line);
                break;
            }
        if (rc == FH_OK)
            rc = push(&reg, &cap, &t, err);
    }
    if (rc != FH_OK) {
        registry_free(&reg);
        return rc;
    }
    *out = reg;
    return FH_OK;
}

int registry_load(const char *path, registry *out, fh_error *err)
{
    memset(out, 0, sizeof *out);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return fh_error_set(err, FH_EUSAGE,
                            "cannot read registry %s: %s — set --registry or FINHOUSE_REGISTRY",
                            path, strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = FH_OK;
    for (;;) {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 8192;
            if (ncap > (64u << 20)) {
                rc = fh_error_set(err, FH_EUSAGE, "registry %s is larger than 64 MiB — wrong file?",
                                  path);
                break;
            }
            char *nb = realloc(buf, ncap);
            if (!nb) {
                rc = fh_error_set(err, FH_EINTERNAL, "out of memory reading registry %s", path);
                break;
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - len, fp);
        len += got;
        if (got == 0) {
            if (ferror(fp))
                rc = fh_error_set(err, FH_EUSAGE, "cannot read registry %s: %s", path,
                                  strerror(errno));
            break;
        }
    }
    fclose(fp);
    if (rc == FH_OK)
        rc = registry_parse(buf ? buf : "", len, path, out, err);
    free(buf);
    return rc;
}

const registry_table *registry_find(const registry *reg, const char *name)
{
    for (size_t i = 0; i < reg->ntables; i++)
        if (strcmp(reg->tables[i].name, name) == 0)
            return &reg->tables[i];
    for (size_t i = 0; i < reg->ntables; i++) {
        const char *dot = strchr(reg->tables[i].name, '.');
        if (dot && strcmp(dot + 1, name) == 0)
            return &reg->tables[i];
    }
    return NULL;
}

void registry_free(registry *reg)
{
    if (!reg)
        return;
    free(reg->tables);
    reg->tables = NULL;
    reg->ntables = 0;
}
