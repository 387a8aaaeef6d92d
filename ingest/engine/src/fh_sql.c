/*
 * fh_sql — SQL quoting (interface in fh_sql.h).
 */
#include "fh_sql.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

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

void fh_sql_buf_add(fh_sql_buf *b, const char *fmt, ...)
{
    assert(b->n <= b->cap && (b->s != NULL || b->cap == 0));
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0) {
            b->oom = 1;
            return;
        }
        if (b->s && b->n + (size_t)k < b->cap) {
            b->n += (size_t)k;
            return;
        }
        size_t nc = b->cap ? b->cap * 2 : 1024;
        while (nc < b->n + (size_t)k + 1)
            nc *= 2;
        char *ns = realloc(b->s, nc);
        if (!ns) {
            b->oom = 1;
            return;
        }
        b->s = ns;
        b->cap = nc;
    }
}

void fh_sql_buf_reset(fh_sql_buf *b)
{
    free(b->s);
    *b = (fh_sql_buf){0};
}
