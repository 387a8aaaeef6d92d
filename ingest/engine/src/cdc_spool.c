/*
 * cdc_spool — the on-disk spool of streamed transactions (why and how in cdc_spool.h).
 *
 * One file per open top-level xid, records [uint32 length][bytes]; the spool tracks each file's size
 * itself (writes go with pwrite at that offset), so a subtransaction abort is an ftruncate to the
 * recorded offset and nothing else. Replay reads with pread into one buffer that only grows.
 */
#include "cdc_spool.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define SPOOL_PATH_MAX 4400

typedef struct {
    uint32_t xid;
    off_t off; /* where its first message starts in the file */
} subxact;

typedef struct {
    uint32_t xid;
    int fd;
    off_t size; /* bytes written (the file's length as far as we know) */
    subxact *subs;
    size_t nsubs, capsubs;
} spool_txn;

struct cdc_spool {
    char dir[4096];
    spool_txn *tx;
    size_t ntx, captx;
    unsigned char *buf; /* replay buffer, grows to the largest message */
    size_t cap;
};

void cdc_spool_path(const cdc_spool *sp, uint32_t xid, char *out, size_t outsz)
{
    snprintf(out, outsz, "%s/%u", sp->dir, xid);
}

static long find(const cdc_spool *sp, uint32_t xid)
{
    for (size_t i = 0; i < sp->ntx; i++)
        if (sp->tx[i].xid == xid)
            return (long)i;
    return -1;
}

/* mkdir -p with mode 0700 for the components it creates. */
static int make_dirs(const char *dir, fh_error *err)
{
    char p[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof p)
        return fh_error_set(err, FH_EUSAGE, "spool directory '%s' is empty or too long", dir);
    memcpy(p, dir, n + 1);
    for (size_t i = 1; i <= n; i++)
        if (p[i] == '/' || p[i] == '\0') {
            char c = p[i];
            p[i] = '\0';
            if (mkdir(p, 0700) != 0 && errno != EEXIST)
                return fh_error_set(err, FH_EINTERNAL, "cannot create spool directory %s: %s", p,
                                    strerror(errno));
            p[i] = c;
        }
    return FH_OK;
}

int cdc_spool_open(const char *dir, cdc_spool **out, fh_error *err)
{
    *out = NULL;
    int rc = make_dirs(dir, err);
    if (rc != FH_OK)
        return rc;
    cdc_spool *sp = calloc(1, sizeof *sp);
    if (!sp)
        return fh_error_set(err, FH_EINTERNAL, "out of memory");
    snprintf(sp->dir, sizeof sp->dir, "%s", dir);
    DIR *d = opendir(sp->dir);
    if (!d) {
        rc = fh_error_set(err, FH_EINTERNAL, "cannot read spool directory %s: %s", sp->dir,
                          strerror(errno));
        free(sp);
        return rc;
    }
    /* Left by an earlier run: the server resends every unfinished transaction from its start. */
    struct dirent *e;
    char path[SPOOL_PATH_MAX];
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.') {
            snprintf(path, sizeof path, "%s/%s", sp->dir, e->d_name);
            unlink(path);
        }
    closedir(d);
    *out = sp;
    return FH_OK;
}

static void drop_at(cdc_spool *sp, size_t i)
{
    assert(i < sp->ntx);
    char path[SPOOL_PATH_MAX];
    cdc_spool_path(sp, sp->tx[i].xid, path, sizeof path);
    close(sp->tx[i].fd);
    unlink(path);
    free(sp->tx[i].subs);
    sp->tx[i] = sp->tx[--sp->ntx];
}

void cdc_spool_drop(cdc_spool *sp, uint32_t xid)
{
    long i = find(sp, xid);
    if (i >= 0)
        drop_at(sp, (size_t)i);
}

void cdc_spool_clear(cdc_spool *sp)
{
    while (sp->ntx)
        drop_at(sp, sp->ntx - 1);
}

void cdc_spool_close(cdc_spool *sp)
{
    if (!sp)
        return;
    cdc_spool_clear(sp);
    free(sp->tx);
    free(sp->buf);
    free(sp);
}

size_t cdc_spool_count(const cdc_spool *sp) { return sp->ntx; }

int cdc_spool_has(const cdc_spool *sp, uint32_t xid) { return find(sp, xid) >= 0; }

uint64_t cdc_spool_size(const cdc_spool *sp, uint32_t xid)
{
    long i = find(sp, xid);
    return i < 0 ? 0 : (uint64_t)sp->tx[i].size;
}

int cdc_spool_write(cdc_spool *sp, uint32_t xid, uint32_t subxid, const unsigned char *msg,
                    size_t len, fh_error *err)
{
    char path[SPOOL_PATH_MAX];
    if (len > UINT32_MAX)
        return fh_error_set(err, FH_EDATA,
                            "transaction %u: a message of %zu bytes is too large to spool", xid,
                            len);
    long i = find(sp, xid);
    if (i < 0) {
        if (sp->ntx == sp->captx) {
            size_t n = sp->captx ? sp->captx * 2 : 4;
            spool_txn *nt = realloc(sp->tx, n * sizeof *nt);
            if (!nt)
                return fh_error_set(err, FH_EINTERNAL, "out of memory");
            sp->tx = nt;
            sp->captx = n;
        }
        cdc_spool_path(sp, xid, path, sizeof path);
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
        if (fd < 0)
            return fh_error_set(err, FH_EINTERNAL,
                                "cannot create spool file %s of transaction %u: %s", path, xid,
                                strerror(errno));
        i = (long)sp->ntx++;
        sp->tx[i] = (spool_txn){.xid = xid, .fd = fd};
    }
    spool_txn *t = &sp->tx[i];
    if (subxid != xid) {
        int seen = 0;
        for (size_t k = 0; k < t->nsubs && !seen; k++)
            seen = t->subs[k].xid == subxid;
        if (!seen) {
            if (t->nsubs == t->capsubs) {
                size_t n = t->capsubs ? t->capsubs * 2 : 8;
                subxact *ns = realloc(t->subs, n * sizeof *ns);
                if (!ns)
                    return fh_error_set(err, FH_EINTERNAL, "out of memory");
                t->subs = ns;
                t->capsubs = n;
            }
            t->subs[t->nsubs++] = (subxact){subxid, t->size};
        }
    }
    uint32_t n32 = (uint32_t)len;
    errno = 0;
    if (pwrite(t->fd, &n32, 4, t->size) != 4 ||
        (len && pwrite(t->fd, msg, len, t->size + 4) != (ssize_t)len)) {
        cdc_spool_path(sp, xid, path, sizeof path);
        return fh_error_set(err, FH_EINTERNAL,
                            "writing spool file %s of transaction %u at offset %lld failed: %s",
                            path, xid, (long long)t->size, errno ? strerror(errno) : "short write");
    }
    t->size += 4 + (off_t)len;
    return FH_OK;
}

int cdc_spool_abort(cdc_spool *sp, uint32_t xid, uint32_t subxid, fh_error *err)
{
    long i = find(sp, xid);
    if (i < 0)
        return FH_OK;
    if (subxid == xid) {
        drop_at(sp, (size_t)i);
        return FH_OK;
    }
    spool_txn *t = &sp->tx[i];
    for (size_t k = 0; k < t->nsubs; k++)
        if (t->subs[k].xid == subxid) {
            if (ftruncate(t->fd, t->subs[k].off) != 0) {
                char path[SPOOL_PATH_MAX];
                cdc_spool_path(sp, xid, path, sizeof path);
                return fh_error_set(err, FH_EINTERNAL,
                                    "truncating spool file %s of transaction %u to offset %lld "
                                    "failed: %s",
                                    path, xid, (long long)t->subs[k].off, strerror(errno));
            }
            t->size = t->subs[k].off;
            t->nsubs = k; /* it and every subtransaction recorded after it */
            break;
        }
    return FH_OK;
}

/* Read exactly n bytes at off; FH_EDATA when the file ends first. */
static int read_at(cdc_spool *sp, const spool_txn *t, void *dst, size_t n, off_t off,
                   const char *what, fh_error *err)
{
    ssize_t got = pread(t->fd, dst, n, off);
    if (got == (ssize_t)n)
        return FH_OK;
    char path[SPOOL_PATH_MAX];
    cdc_spool_path(sp, t->xid, path, sizeof path);
    if (got < 0)
        return fh_error_set(err, FH_EINTERNAL,
                            "reading spool file %s of transaction %u at offset %lld failed: %s",
                            path, t->xid, (long long)off, strerror(errno));
    return fh_error_set(err, FH_EDATA,
                        "spool file %s of transaction %u is truncated: %s at offset %lld needs %zu "
                        "bytes, the file has %zd (of %lld written)",
                        path, t->xid, what, (long long)off, n, got, (long long)t->size);
}

int cdc_spool_replay(cdc_spool *sp, uint32_t xid, cdc_spool_fn fn, void *ctx, fh_error *err)
{
    long i = find(sp, xid);
    if (i < 0)
        return FH_OK;
    const spool_txn *t = &sp->tx[i];
    int rc = FH_OK;
    for (off_t at = 0; rc == FH_OK && at < t->size;) {
        uint32_t n;
        rc = read_at(sp, t, &n, 4, at, "a length", err);
        if (rc != FH_OK)
            return rc;
        if (t->size - at - 4 < (off_t)n) {
            char path[SPOOL_PATH_MAX];
            cdc_spool_path(sp, xid, path, sizeof path);
            return fh_error_set(err, FH_EDATA,
                                "spool file %s of transaction %u is corrupt: the message at offset "
                                "%lld claims %u bytes, only %lld were written after it",
                                path, xid, (long long)at, n, (long long)(t->size - at - 4));
        }
        if (n > sp->cap) {
            unsigned char *nb = realloc(sp->buf, n);
            if (!nb)
                return fh_error_set(err, FH_EINTERNAL, "out of memory");
            sp->buf = nb;
            sp->cap = n;
        }
        if (n) {
            rc = read_at(sp, t, sp->buf, n, at + 4, "a message", err);
            if (rc != FH_OK)
                return rc;
        }
        at += 4 + (off_t)n;
        rc = fn(ctx, sp->buf, n, err);
    }
    return rc;
}
