/*
 * fh_time — microsecond instants and their text forms (see fh_time.h).
 *
 * Conversions use days-from-civil arithmetic (proleptic Gregorian, as PostgreSQL and DuckDB do)
 * instead of gmtime/timegm, so they do not depend on the process time zone or on the range of
 * time_t.
 */
#include "fh_time.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define US_PER_DAY INT64_C(86400000000)

int64_t fh_time_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

double fh_time_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Days since 1970-01-01 of a civil date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static void split(int64_t us, int64_t *y, int *mo, int *d, int *h, int *mi, int *s, int64_t *frac)
{
    int64_t days = us / US_PER_DAY, rem = us % US_PER_DAY;
    if (rem < 0) {
        rem += US_PER_DAY;
        days--;
    }
    civil_from_days(days, y, mo, d);
    *h = (int)(rem / 3600000000);
    *mi = (int)(rem / 60000000 % 60);
    *s = (int)(rem / 1000000 % 60);
    *frac = rem % 1000000;
}

void fh_time_format_sql(int64_t us, char *buf, size_t bufsz)
{
    int64_t y, f;
    int mo, d, h, mi, s;
    split(us, &y, &mo, &d, &h, &mi, &s, &f);
    snprintf(buf, bufsz, "%04lld-%02d-%02d %02d:%02d:%02d.%06lld+00", (long long)y, mo, d, h, mi, s,
             (long long)f);
}

void fh_time_format_iso(int64_t us, char *buf, size_t bufsz)
{
    int64_t y, f;
    int mo, d, h, mi, s;
    split(us, &y, &mo, &d, &h, &mi, &s, &f);
    snprintf(buf, bufsz, "%04lld-%02d-%02dT%02d:%02d:%02d.%06lldZ", (long long)y, mo, d, h, mi, s,
             (long long)f);
}

static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

int fh_time_parse(const char *s, int64_t *us)
{
    int y, mo, d, h = 0, mi = 0, sec = 0;
    int64_t frac = 0;
    const char *p = s;
    if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' || digits(&p, 2, &d))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31)
        return -1;
    if (*p == 'T' || *p == ' ') {
        p++;
        if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi))
            return -1;
        if (*p == ':') {
            p++;
            if (digits(&p, 2, &sec))
                return -1;
            if (*p == '.') {
                p++;
                int n = 0;
                while (isdigit((unsigned char)*p)) {
                    if (n < 6) {
                        frac = frac * 10 + (*p - '0');
                        n++;
                    }
                    p++;
                }
                if (n == 0)
                    return -1;
                while (n++ < 6)
                    frac *= 10;
            }
        }
        if (h > 23 || mi > 59 || sec > 60)
            return -1;
    }
    int64_t off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
        if (digits(&p, 2, &oh))
            return -1;
        if (*p == ':')
            p++;
        if (isdigit((unsigned char)*p) && digits(&p, 2, &om))
            return -1;
        off = sign * ((int64_t)oh * 3600 + om * 60) * 1000000;
    }
    if (*p != '\0')
        return -1;
    *us = days_from_civil(y, mo, d) * US_PER_DAY + ((int64_t)h * 3600 + mi * 60 + sec) * 1000000 +
          frac - off;
    return 0;
}
