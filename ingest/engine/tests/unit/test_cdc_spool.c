/* Unit tests of cdc_spool: the on-disk spool of streamed transactions, in a temp directory. */
#include "cdc_spool.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

/* What a replay delivered: the messages concatenated, with their count and lengths. */
typedef struct {
    unsigned char bytes[1 << 20];
    size_t len;
    size_t n;
    size_t lens[64];
    int fail_at; /* return FH_EDATA at this message (1-based), 0: never */
} got;

static int collect(void *ctx, const unsigned char *msg, size_t len, fh_error *err)
{
    got *g = ctx;
    if (g->n < 64)
        g->lens[g->n] = len;
    g->n++;
    if (g->fail_at && (size_t)g->fail_at == g->n)
        return fh_error_set(err, FH_EDATA, "callback stops at %zu", g->n);
    if (g->len + len <= sizeof g->bytes) {
        memcpy(g->bytes + g->len, msg, len);
        g->len += len;
    }
    return FH_OK;
}

static got G;

static void reset(void) { memset(&G, 0, sizeof G); }

static int wr(cdc_spool *sp, uint32_t xid, uint32_t sub, const char *s)
{
    fh_error err;
    fh_error_clear(&err);
    int rc = cdc_spool_write(sp, xid, sub, (const unsigned char *)s, strlen(s), &err);
    if (rc != FH_OK)
        fprintf(stderr, "write: %s\n", err.msg);
    return rc;
}

/* Replay xid into G; returns the status. */
static int replay(cdc_spool *sp, uint32_t xid, fh_error *err)
{
    reset();
    fh_error_clear(err);
    return cdc_spool_replay(sp, xid, collect, &G, err);
}

static int exists(const cdc_spool *sp, uint32_t xid)
{
    char p[4400];
    cdc_spool_path(sp, xid, p, sizeof p);
    return access(p, F_OK) == 0;
}

static char base[256];

static void test_interleaved_and_replay(void)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/a/slot", base); /* parents created */
    cdc_spool *sp;
    fh_error err;
    fh_error_clear(&err);
    CHECK_EQ_INT(cdc_spool_open(dir, &sp, &err), FH_OK);
    CHECK_EQ_INT(cdc_spool_count(sp), 0);
    /* three transactions in interleaved blocks */
    CHECK_EQ_INT(wr(sp, 700, 700, "a1"), FH_OK);
    CHECK_EQ_INT(wr(sp, 701, 701, "b1"), FH_OK);
    CHECK_EQ_INT(wr(sp, 700, 700, "a2"), FH_OK);
    CHECK_EQ_INT(wr(sp, 702, 702, "c1"), FH_OK);
    CHECK_EQ_INT(wr(sp, 701, 701, "b22"), FH_OK);
    CHECK_EQ_INT(wr(sp, 700, 700, ""), FH_OK); /* an empty message is a message */
    CHECK_EQ_INT(wr(sp, 700, 700, "a4"), FH_OK);
    CHECK_EQ_INT(cdc_spool_count(sp), 3);
    CHECK(cdc_spool_has(sp, 701));
    CHECK(!cdc_spool_has(sp, 703));
    CHECK_EQ_INT(cdc_spool_size(sp, 700), 4 * 4 + 6);

    /* permissions: directory 0700, files 0600 */
    struct stat st;
    char p[4400];
    cdc_spool_path(sp, 700, p, sizeof p);
    CHECK_EQ_INT(stat(p, &st), 0);
    CHECK_EQ_INT(st.st_mode & 0777, 0600);
    CHECK_EQ_INT(stat(dir, &st), 0);
    CHECK_EQ_INT(st.st_mode & 0777, 0700);

    CHECK_EQ_INT(replay(sp, 700, &err), FH_OK);
    CHECK_EQ_INT(G.n, 4);
    CHECK_EQ_INT(G.len, 6);
    CHECK(memcmp(G.bytes, "a1a2a4", 6) == 0);
    CHECK_EQ_INT(G.lens[0], 2);
    CHECK_EQ_INT(G.lens[2], 0);
    CHECK_EQ_INT(replay(sp, 701, &err), FH_OK);
    CHECK_EQ_INT(G.n, 2);
    CHECK(G.len == 5 && memcmp(G.bytes, "b1b22", 5) == 0);
    /* replay keeps the file; drop deletes it */
    CHECK(exists(sp, 701));
    cdc_spool_drop(sp, 701);
    CHECK(!exists(sp, 701));
    CHECK(!cdc_spool_has(sp, 701));
    CHECK_EQ_INT(cdc_spool_count(sp), 2);
    /* unknown xid: nothing replayed, drop and abort are no-ops */
    CHECK_EQ_INT(replay(sp, 999, &err), FH_OK);
    CHECK_EQ_INT(G.n, 0);
    cdc_spool_drop(sp, 999);
    CHECK_EQ_INT(cdc_spool_abort(sp, 999, 999, &err), FH_OK);
    CHECK_EQ_INT(cdc_spool_abort(sp, 999, 1000, &err), FH_OK);

    /* a callback error stops the replay and is returned */
    reset();
    G.fail_at = 2;
    fh_error_clear(&err);
    CHECK_EQ_INT(cdc_spool_replay(sp, 700, collect, &G, &err), FH_EDATA);
    CHECK_EQ_INT(G.n, 2);
    CHECK_CONTAINS(err.msg, "callback stops at 2");

    /* clear deletes every file */
    cdc_spool_clear(sp);
    CHECK_EQ_INT(cdc_spool_count(sp), 0);
    CHECK(!exists(sp, 700));
    CHECK(!exists(sp, 702));
    cdc_spool_close(sp);
    cdc_spool_close(NULL);
}

static void test_subxact_abort(void)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/sub", base);
    cdc_spool *sp;
    fh_error err;
    fh_error_clear(&err);
    CHECK_EQ_INT(cdc_spool_open(dir, &sp, &err), FH_OK);
    /* top 10: t1, sub 11: s1, sub 12 (nested in 11): n1, back in 11: s2, other xid 20 between */
    CHECK_EQ_INT(wr(sp, 10, 10, "t1"), FH_OK);
    CHECK_EQ_INT(wr(sp, 10, 11, "s1"), FH_OK);
    CHECK_EQ_INT(wr(sp, 20, 21, "x1"), FH_OK);
    CHECK_EQ_INT(wr(sp, 10, 12, "n1"), FH_OK);
    CHECK_EQ_INT(wr(sp, 10, 11, "s2"), FH_OK);
    CHECK_EQ_INT(wr(sp, 10, 10, "t2"), FH_OK);
    /* abort of the never-seen subxact 13 changes nothing */
    CHECK_EQ_INT(cdc_spool_abort(sp, 10, 13, &err), FH_OK);
    CHECK_EQ_INT(cdc_spool_size(sp, 10), 5 * 6);
    /* abort of 12 cuts at n1: keeps t1 s1, drops n1 s2 t2 (everything after 12 began) */
    CHECK_EQ_INT(cdc_spool_abort(sp, 10, 12, &err), FH_OK);
    CHECK_EQ_INT(cdc_spool_size(sp, 10), 2 * 6);
    char p[4400];
    struct stat st;
    cdc_spool_path(sp, 10, p, sizeof p);
    CHECK_EQ_INT(stat(p, &st), 0);
    CHECK_EQ_INT(st.st_size, 2 * 6);
    CHECK_EQ_INT(replay(sp, 10, &err), FH_OK);
    CHECK(G.n == 2 && G.len == 4 && memcmp(G.bytes, "t1s1", 4) == 0);
    /* writes go on after the cut; 12 seen again is a new subxact at the new offset */
    CHECK_EQ_INT(wr(sp, 10, 10, "t3"), FH_OK);
    CHECK_EQ_INT(wr(sp, 10, 12, "m1"), FH_OK);
    CHECK_EQ_INT(wr(sp, 10, 14, "o1"), FH_OK);
    CHECK_EQ_INT(replay(sp, 10, &err), FH_OK);
    CHECK(G.n == 5 && G.len == 10 && memcmp(G.bytes, "t1s1t3m1o1", 10) == 0);
    /* abort of 11 (recorded first) cuts at s1 and forgets 12 and 14 too */
    CHECK_EQ_INT(cdc_spool_abort(sp, 10, 11, &err), FH_OK);
    CHECK_EQ_INT(replay(sp, 10, &err), FH_OK);
    CHECK(G.n == 1 && G.len == 2 && memcmp(G.bytes, "t1", 2) == 0);
    CHECK_EQ_INT(cdc_spool_abort(sp, 10, 14, &err), FH_OK); /* forgotten: no-op */
    CHECK_EQ_INT(cdc_spool_size(sp, 10), 6);
    /* the other transaction is untouched */
    CHECK_EQ_INT(replay(sp, 20, &err), FH_OK);
    CHECK(G.n == 1 && G.len == 2 && memcmp(G.bytes, "x1", 2) == 0);
    /* a subxact that is the first message of its xid: its abort empties the file but keeps it */
    CHECK_EQ_INT(wr(sp, 30, 31, "q1"), FH_OK);
    CHECK_EQ_INT(cdc_spool_abort(sp, 30, 31, &err), FH_OK);
    CHECK(cdc_spool_has(sp, 30));
    CHECK_EQ_INT(cdc_spool_size(sp, 30), 0);
    CHECK_EQ_INT(replay(sp, 30, &err), FH_OK);
    CHECK_EQ_INT(G.n, 0);
    /* whole-xid abort deletes the file */
    CHECK(exists(sp, 10));
    CHECK_EQ_INT(cdc_spool_abort(sp, 10, 10, &err), FH_OK);
    CHECK(!exists(sp, 10));
    CHECK(!cdc_spool_has(sp, 10));
    CHECK_EQ_INT(cdc_spool_count(sp), 2);
    cdc_spool_close(sp);
}

static void test_large_message(void)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/large", base);
    cdc_spool *sp;
    fh_error err;
    fh_error_clear(&err);
    CHECK_EQ_INT(cdc_spool_open(dir, &sp, &err), FH_OK);
    size_t big = 300000;
    unsigned char *m = malloc(big);
    for (size_t i = 0; i < big; i++)
        m[i] = (unsigned char)(i * 31 + 7);
    CHECK_EQ_INT(wr(sp, 5, 5, "small"), FH_OK);
    CHECK_EQ_INT(cdc_spool_write(sp, 5, 5, m, big, &err), FH_OK);
    CHECK_EQ_INT(wr(sp, 5, 5, "after"), FH_OK);
    CHECK_EQ_INT(cdc_spool_write(sp, 5, 5, m, 1000, &err), FH_OK); /* smaller again */
    CHECK_EQ_INT(replay(sp, 5, &err), FH_OK);
    CHECK_EQ_INT(G.n, 4);
    CHECK_EQ_INT(G.lens[1], big);
    CHECK_EQ_INT(G.len, 5 + big + 5 + 1000);
    CHECK(memcmp(G.bytes, "small", 5) == 0);
    CHECK(memcmp(G.bytes + 5, m, big) == 0);
    CHECK(memcmp(G.bytes + 5 + big, "after", 5) == 0);
    CHECK(memcmp(G.bytes + 10 + big, m, 1000) == 0);
    /* a second replay reuses the grown buffer and gives the same */
    CHECK_EQ_INT(replay(sp, 5, &err), FH_OK);
    CHECK_EQ_INT(G.len, 5 + big + 5 + 1000);
    free(m);
    cdc_spool_close(sp);
}

static void test_corrupt(void)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/corrupt", base);
    cdc_spool *sp;
    fh_error err;
    fh_error_clear(&err);
    CHECK_EQ_INT(cdc_spool_open(dir, &sp, &err), FH_OK);
    char p[4400];

    /* truncated behind the spool's back: the last message is short */
    CHECK_EQ_INT(wr(sp, 40, 40, "hello"), FH_OK);
    CHECK_EQ_INT(wr(sp, 40, 40, "world"), FH_OK);
    cdc_spool_path(sp, 40, p, sizeof p);
    CHECK_EQ_INT(truncate(p, 9 + 4 + 2), 0);
    CHECK_EQ_INT(replay(sp, 40, &err), FH_EDATA);
    CHECK_EQ_INT(G.n, 1); /* the whole first message, then the error */
    CHECK_CONTAINS(err.msg, "transaction 40");
    CHECK_CONTAINS(err.msg, p);
    CHECK_CONTAINS(err.msg, "offset 13");
    CHECK_CONTAINS(err.msg, "truncated");
    /* cut inside a length prefix */
    CHECK_EQ_INT(truncate(p, 9 + 2), 0);
    CHECK_EQ_INT(replay(sp, 40, &err), FH_EDATA);
    CHECK_CONTAINS(err.msg, "offset 9");
    /* emptied entirely */
    CHECK_EQ_INT(truncate(p, 0), 0);
    CHECK_EQ_INT(replay(sp, 40, &err), FH_EDATA);
    CHECK_EQ_INT(G.n, 0);

    /* a length prefix overwritten with a huge value: FH_EDATA, no huge allocation */
    CHECK_EQ_INT(wr(sp, 41, 41, "abc"), FH_OK);
    CHECK_EQ_INT(wr(sp, 41, 41, "def"), FH_OK);
    cdc_spool_path(sp, 41, p, sizeof p);
    int fd = open(p, O_WRONLY);
    CHECK(fd >= 0);
    uint32_t huge = 0xFFFFFFF0u;
    CHECK_EQ_INT(pwrite(fd, &huge, 4, 7), 4);
    close(fd);
    CHECK_EQ_INT(replay(sp, 41, &err), FH_EDATA);
    CHECK_EQ_INT(G.n, 1);
    CHECK_CONTAINS(err.msg, "corrupt");
    CHECK_CONTAINS(err.msg, "offset 7");
    CHECK_CONTAINS(err.msg, "transaction 41");
    /* the spool still closes cleanly */
    cdc_spool_close(sp);
}

static void test_clear_at_start(void)
{
    char dir[512], p[600];
    snprintf(dir, sizeof dir, "%s/stale", base);
    CHECK_EQ_INT(mkdir(dir, 0700), 0);
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%d", dir, 100 + i);
        FILE *f = fopen(p, "w");
        CHECK(f != NULL);
        if (f) {
            fputs("stale", f);
            fclose(f);
        }
    }
    cdc_spool *sp;
    fh_error err;
    fh_error_clear(&err);
    CHECK_EQ_INT(cdc_spool_open(dir, &sp, &err), FH_OK);
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%d", dir, 100 + i);
        CHECK(access(p, F_OK) != 0);
    }
    CHECK_EQ_INT(cdc_spool_count(sp), 0);
    /* an xid whose file was stale starts empty */
    CHECK_EQ_INT(wr(sp, 101, 101, "new"), FH_OK);
    CHECK_EQ_INT(replay(sp, 101, &err), FH_OK);
    CHECK(G.n == 1 && G.len == 3 && memcmp(G.bytes, "new", 3) == 0);
    cdc_spool_close(sp);

    /* a directory that cannot be created: an error naming it */
    snprintf(p, sizeof p, "%s/afile", base);
    FILE *f = fopen(p, "w");
    if (f)
        fclose(f);
    snprintf(dir, sizeof dir, "%s/afile/slot", base);
    fh_error_clear(&err);
    CHECK(cdc_spool_open(dir, &sp, &err) != FH_OK);
    CHECK(sp == NULL);
    CHECK_CONTAINS(err.msg, "afile");
}

int main(void)
{
    snprintf(base, sizeof base, "/tmp/test_cdc_spool.XXXXXX");
    if (!mkdtemp(base)) {
        perror("mkdtemp");
        return 1;
    }
    test_interleaved_and_replay();
    test_subxact_abort();
    test_large_message();
    test_corrupt();
    test_clear_at_start();
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", base);
    return check_done("test_cdc_spool");
}
