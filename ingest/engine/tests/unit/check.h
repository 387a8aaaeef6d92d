/*
 * check.h — the tiny test harness of fhload's unit tests.
 *
 * CHECK(cond) records a failure (with file and line) and goes on; CHECK_EQ_INT / CHECK_STR /
 * CHECK_CONTAINS print both sides. Each test program calls check_done(), which prints
 * "<program>: N passed, M failed" and returns the exit status (0 only when nothing failed).
 */
#ifndef CHECK_H
#define CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int check_passed, check_failed;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (cond) {                                                                  \
            check_passed++;                                                          \
        } else {                                                                     \
            check_failed++;                                                          \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                            \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                        \
    do {                                                                                          \
        long long _a = (long long)(a), _b = (long long)(b);                                       \
        if (_a == _b) {                                                                           \
            check_passed++;                                                                       \
        } else {                                                                                  \
            check_failed++;                                                                       \
            fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__, __LINE__, #a, #b, \
                    _a, _b);                                                                      \
        }                                                                                         \
    } while (0)

#define CHECK_STR(a, b)                                                                           \
    do {                                                                                          \
        const char *_a = (a), *_b = (b);                                                          \
        if (_a && _b && strcmp(_a, _b) == 0) {                                                    \
            check_passed++;                                                                       \
        } else {                                                                                  \
            check_failed++;                                                                       \
            fprintf(stderr, "%s:%d: %s == %s failed: \"%s\" != \"%s\"\n", __FILE__, __LINE__, #a, \
                    #b, _a ? _a : "(null)", _b ? _b : "(null)");                                  \
        }                                                                                         \
    } while (0)

#define CHECK_CONTAINS(hay, needle)                                                        \
    do {                                                                                   \
        const char *_h = (hay), *_n = (needle);                                            \
        if (_h && _n && strstr(_h, _n)) {                                                  \
            check_passed++;                                                                \
        } else {                                                                           \
            check_failed++;                                                                \
            fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n", __FILE__, __LINE__, \
                    _h ? _h : "(null)", _n ? _n : "(null)");                               \
        }                                                                                  \
    } while (0)

static int check_done(const char *prog)
{
    printf("%s: %d passed, %d failed\n", prog, check_passed, check_failed);
    return check_failed ? 1 : 0;
}

#endif
