/*
 * fh_sql — SQL quoting (interface in fh_sql.h).
 */
#include "fh_sql.h"

static const char *quote(const char *text, char q, char *out, size_t outsz)
{
    size_t o = 0;
    if (outsz < 3) {
        if (outsz)
            out[0] = '\0';
        return NULL;
    }
    out[o++] = q;
    for (const char *p = text; *p; p++) {
        if (o + (*p == q ? 2 : 1) + 2 > outsz) {
            out[0] = '\0';
            return NULL;
        }
        if (*p == q)
            out[o++] = q;
        out[o++] = *p;
    }
    out[o++] = q;
    out[o] = '\0';
    return out;
}

const char *fh_sql_ident(const char *name, char *out, size_t outsz)
{
    return quote(name, '"', out, outsz);
}

const char *fh_sql_literal(const char *text, char *out, size_t outsz)
{
    return quote(text, '\'', out, outsz);
}
