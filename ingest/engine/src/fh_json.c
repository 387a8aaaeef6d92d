/*
 * fh_json — JSON string escaping and timestamp values (see fh_json.h). Control characters become
 * \uXXXX; bytes >= 0x80 are copied as they are (fhload's strings are UTF-8).
 */
#include "fh_json.h"

#include "fh_time.h"

void fh_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

void fh_json_time(FILE *f, int has, int64_t us)
{
    if (!has) {
        fputs("null", f);
        return;
    }
    char t[FH_TIME_TEXT];
    fh_time_format_iso(us, t, sizeof t);
    fh_json_string(f, t);
}
