/*
 * fh_error — error values with one-line messages (see fh_error.h).
 *
 * Messages are formatted into the fixed buffer inside fh_error, so recording an error never
 * allocates and can be done from any thread that owns its fh_error. Control characters are
 * flattened to spaces because fhload promises exactly one line per error on stderr.
 */
#include "fh_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void fh_error_clear(fh_error *err)
{
    if (!err)
        return;
    err->code = FH_OK;
    err->msg[0] = '\0';
}

static void flatten(char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20)
            s[i] = ' ';
    while (n > 0 && s[n - 1] == ' ')
        s[--n] = '\0';
}

int fh_error_set(fh_error *err, int code, const char *fmt, ...)
{
    if (!err)
        return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    flatten(err->msg);
    err->code = code;
    return code;
}

int fh_error_prefix(fh_error *err, const char *fmt, ...)
{
    if (!err)
        return FH_EINTERNAL;
    char head[FH_ERROR_MAX], old[FH_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    snprintf(err->msg, sizeof err->msg, "%s%s", head, old);
    flatten(err->msg);
    return err->code;
}

const char *fh_error_kind(int code)
{
    switch (code) {
    case FH_OK: return "ok";
    case FH_EUSAGE: return "usage";
    case FH_ECONN: return "connection";
    case FH_ESCHEMA: return "schema";
    case FH_EDATA: return "data";
    case FH_EWAL: return "wal_level";
    case FH_ESLOT: return "slot";
    case FH_EBUSY: return "busy";
    case FH_EPERM: return "permission";
    default: return "internal";
    }
}
