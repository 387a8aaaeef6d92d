/*
 * pgoutput — the walsender frames and pgoutput (protocol version 2) messages fhload stream reads
 * (see pgoutput.h).
 *
 * Why a module of its own: these bytes come from outside the process, so every read goes through a
 * bounds-checked cursor and every failure is an FH_EDATA naming the message kind and byte offset —
 * the rest of fhload stream can then trust what it is handed. Layouts follow PostgreSQL 15's
 * src/backend/replication/logical/proto.c; which messages carry a transaction id inside a stream
 * block follows pgoutput.c (in_streaming).
 *
 * Memory: the relation cache is an open-addressing hash by relid (linear probing, relid 0 marks an
 * empty slot — InvalidOid is never a relation), allocated only when a Relation message arrives.
 * Announcing a relation also grows the value arrays to its width, so parsing a change never
 * allocates (a change's ncols must equal its relation's). Truncate's relid array and the name
 * buffer (Origin, Message prefix) grow only when a larger one is seen.
 */
#include "pgoutput.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* PostgreSQL's MaxTupleAttributeNumber: no relation or tuple is wider. */
#define PGO_MAX_COLS 1664
/* A bound on the relation cache: a publication with more relations than this is not fhload's. */
#define PGO_MAX_RELS 65536

struct pgo_parser {
    int in_stream;
    pgo_relation *rels; /* hash table of rel_cap slots; relid 0 = empty */
    size_t rel_cap, nrels;
    pgo_value *old_vals, *new_vals;
    size_t vals_cap;
    uint32_t *relids;
    size_t relids_cap;
    char *names;
    size_t names_cap;
};

/* ---- a bounds-checked reader over one message ------------------------------------------------------ */

typedef struct rd {
    const unsigned char *buf;
    size_t len, pos;
    const char *what; /* the message kind's name, for errors */
    fh_error *err;
} rd;

static int rd_fail(rd *r, size_t at, const char *why)
{
    return fh_error_set(r->err, FH_EDATA,
                        "pgoutput %s message: %s at byte %zu (message length %zu)", r->what, why,
                        at, r->len);
}

static int need(rd *r, size_t n)
{
    if (r->len - r->pos < n)
        return rd_fail(r, r->pos, "truncated");
    return FH_OK;
}

static int get8(rd *r, uint8_t *v)
{
    if (need(r, 1))
        return FH_EDATA;
    *v = r->buf[r->pos++];
    return FH_OK;
}

static uint64_t be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

static int get16(rd *r, uint16_t *v)
{
    if (need(r, 2))
        return FH_EDATA;
    *v = (uint16_t)be(r->buf + r->pos, 2);
    r->pos += 2;
    return FH_OK;
}

static int get32(rd *r, uint32_t *v)
{
    if (need(r, 4))
        return FH_EDATA;
    *v = (uint32_t)be(r->buf + r->pos, 4);
    r->pos += 4;
    return FH_OK;
}

static int get64(rd *r, uint64_t *v)
{
    if (need(r, 8))
        return FH_EDATA;
    *v = be(r->buf + r->pos, 8);
    r->pos += 8;
    return FH_OK;
}

static int geti64(rd *r, int64_t *v)
{
    uint64_t u;
    if (get64(r, &u))
        return FH_EDATA;
    memcpy(v, &u, sizeof *v);
    return FH_OK;
}

/* A NUL-terminated string inside the message: *s points at it, *n is its length. */
static int getstr(rd *r, const char **s, size_t *n)
{
    const unsigned char *p = r->buf + r->pos;
    const unsigned char *z = memchr(p, '\0', r->len - r->pos);
    if (!z)
        return rd_fail(r, r->pos, "unterminated string");
    *s = (const char *)p;
    *n = (size_t)(z - p);
    r->pos += *n + 1;
    return FH_OK;
}

/* An identifier (at most 63 bytes, NAMEDATALEN - 1) copied into dst. */
static int getname(rd *r, char dst[PGO_NAME_MAX], const char *field)
{
    size_t at = r->pos, n;
    const char *s;
    if (getstr(r, &s, &n))
        return FH_EDATA;
    if (n >= PGO_NAME_MAX) {
        char why[128];
        snprintf(why, sizeof why, "%s is %zu bytes, longer than 63", field, n);
        return rd_fail(r, at, why);
    }
    memcpy(dst, s, n);
    dst[n] = '\0';
    return FH_OK;
}

static int end(rd *r)
{
    if (r->pos != r->len)
        return rd_fail(r, r->pos, "trailing bytes");
    return FH_OK;
}

/* ---- frames, status updates, LSNs ---------------------------------------------------------------- */

int pgo_frame_parse(const unsigned char *buf, size_t len, pgo_frame *out, fh_error *err)
{
    memset(out, 0, sizeof *out);
    if (len < 1)
        return fh_error_set(err, FH_EDATA, "walsender frame: empty CopyData message");
    out->kind = (char)buf[0];
    if (buf[0] == 'w') {
        if (len < 25)
            return fh_error_set(err, FH_EDATA,
                                "walsender XLogData frame: %zu bytes, shorter than its 25-byte "
                                "header",
                                len);
        out->wal_start = be(buf + 1, 8);
        out->wal_end = be(buf + 9, 8);
        uint64_t t = be(buf + 17, 8);
        memcpy(&out->send_time, &t, sizeof t);
        out->data = buf + 25;
        out->len = len - 25;
        return FH_OK;
    }
    if (buf[0] == 'k') {
        if (len != 18)
            return fh_error_set(err, FH_EDATA, "walsender keepalive frame: %zu bytes, expected 18",
                                len);
        out->wal_end = be(buf + 1, 8);
        uint64_t t = be(buf + 9, 8);
        memcpy(&out->send_time, &t, sizeof t);
        out->reply_requested = buf[17] != 0;
        return FH_OK;
    }
    return fh_error_set(err, FH_EDATA, "walsender frame: unknown kind 0x%02x at byte 0", buf[0]);
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

void pgo_status_update(unsigned char out[PGO_STATUS_UPDATE_LEN], uint64_t written, uint64_t flushed,
                       uint64_t applied, int64_t now_pg_us, int reply)
{
    uint64_t t;
    memcpy(&t, &now_pg_us, sizeof t);
    out[0] = 'r';
    put64(out + 1, written);
    put64(out + 9, flushed);
    put64(out + 17, applied);
    put64(out + 25, t);
    out[33] = reply ? 1 : 0;
}

void pgo_lsn_format(uint64_t lsn, char *buf, size_t bufsz)
{
    snprintf(buf, bufsz, "%" PRIX32 "/%" PRIX32, (uint32_t)(lsn >> 32), (uint32_t)lsn);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* 1 to 8 hex digits ending at stop (or at the string's end when stop is 0). */
static const char *hexpart(const char *s, char stop, uint32_t *v)
{
    int n = 0;
    *v = 0;
    for (; *s && *s != stop; s++, n++) {
        int h = hexval(*s);
        if (h < 0 || n >= 8)
            return NULL;
        *v = (*v << 4) | (uint32_t)h;
    }
    return n ? s : NULL;
}

int pgo_lsn_parse(const char *s, uint64_t *out, fh_error *err)
{
    uint32_t hi, lo;
    const char *p = s ? hexpart(s, '/', &hi) : NULL;
    if (p && *p == '/')
        p = hexpart(p + 1, '\0', &lo);
    else
        p = NULL;
    if (!p || *p)
        return fh_error_set(err, FH_EUSAGE,
                            "'%.64s' is not an LSN: expected two hex numbers like 16/B374D848",
                            s ? s : "(null)");
    *out = ((uint64_t)hi << 32) | lo;
    return FH_OK;
}

/* ---- the parser ---------------------------------------------------------------------------------- */

int pgo_parser_new(pgo_parser **out, fh_error *err)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return fh_error_set(err, FH_EINTERNAL, "pgoutput: out of memory");
    return FH_OK;
}

static void rels_clear(pgo_parser *p)
{
    for (size_t i = 0; i < p->rel_cap; i++)
        free(p->rels[i].cols);
    free(p->rels);
    p->rels = NULL;
    p->rel_cap = p->nrels = 0;
}

void pgo_parser_free(pgo_parser *p)
{
    if (!p)
        return;
    rels_clear(p);
    free(p->old_vals);
    free(p->new_vals);
    free(p->relids);
    free(p->names);
    free(p);
}

void pgo_parser_reset(pgo_parser *p)
{
    p->in_stream = 0;
    rels_clear(p);
}

static size_t slot_of(uint32_t relid, size_t cap)
{
    return (size_t)((relid * UINT32_C(2654435761)) & (uint32_t)(cap - 1));
}

const pgo_relation *pgo_relation_find(const pgo_parser *p, uint32_t relid)
{
    if (!p->rel_cap || relid == 0)
        return NULL;
    for (size_t i = slot_of(relid, p->rel_cap);; i = (i + 1) & (p->rel_cap - 1)) {
        if (p->rels[i].relid == relid)
            return &p->rels[i];
        if (p->rels[i].relid == 0)
            return NULL;
    }
}

/* The slot for relid: its current entry or the empty slot where it goes (growing the table first). */
static pgo_relation *rel_slot(pgo_parser *p, uint32_t relid, fh_error *err)
{
    if ((p->nrels + 1) * 2 > p->rel_cap) {
        size_t cap = p->rel_cap ? p->rel_cap * 2 : 16;
        pgo_relation *t = calloc(cap, sizeof *t);
        if (!t) {
            fh_error_set(err, FH_EINTERNAL, "pgoutput: out of memory for the relation cache");
            return NULL;
        }
        for (size_t i = 0; i < p->rel_cap; i++) {
            if (p->rels[i].relid == 0)
                continue;
            size_t j = slot_of(p->rels[i].relid, cap);
            while (t[j].relid != 0)
                j = (j + 1) & (cap - 1);
            t[j] = p->rels[i];
        }
        free(p->rels);
        p->rels = t;
        p->rel_cap = cap;
    }
    size_t i = slot_of(relid, p->rel_cap);
    while (p->rels[i].relid != 0 && p->rels[i].relid != relid)
        i = (i + 1) & (p->rel_cap - 1);
    return &p->rels[i];
}

static int grow_vals(pgo_parser *p, size_t n, fh_error *err)
{
    if (n <= p->vals_cap)
        return FH_OK;
    pgo_value *o = realloc(p->old_vals, n * sizeof *o);
    if (o)
        p->old_vals = o;
    pgo_value *v = o ? realloc(p->new_vals, n * sizeof *v) : NULL;
    if (!o || !v)
        return fh_error_set(err, FH_EINTERNAL, "pgoutput: out of memory for %zu values", n);
    p->new_vals = v;
    p->vals_cap = n;
    return FH_OK;
}

static const char *kind_name(uint8_t k)
{
    switch (k) {
    case 'B': return "Begin";
    case 'C': return "Commit";
    case 'O': return "Origin";
    case 'R': return "Relation";
    case 'Y': return "Type";
    case 'I': return "Insert";
    case 'U': return "Update";
    case 'D': return "Delete";
    case 'T': return "Truncate";
    case 'M': return "Message";
    case 'S': return "Stream Start";
    case 'E': return "Stream Stop";
    case 'c': return "Stream Commit";
    case 'A': return "Stream Abort";
    default: return NULL;
    }
}

static int parse_relation(pgo_parser *p, rd *r, pgo_msg *m)
{
    pgo_relation tmp;
    memset(&tmp, 0, sizeof tmp);
    size_t at = r->pos;
    uint8_t ident;
    uint16_t ncols;
    if (get32(r, &tmp.relid))
        return FH_EDATA;
    if (tmp.relid == 0)
        return rd_fail(r, at, "relation OID 0");
    if (getname(r, tmp.nspname, "namespace name") || getname(r, tmp.relname, "relation name"))
        return FH_EDATA;
    at = r->pos;
    if (get8(r, &ident))
        return FH_EDATA;
    if (ident != 'd' && ident != 'n' && ident != 'f' && ident != 'i')
        return rd_fail(r, at, "unknown replica identity");
    tmp.replident = (char)ident;
    at = r->pos;
    if (get16(r, &ncols))
        return FH_EDATA;
    if (ncols > PGO_MAX_COLS)
        return rd_fail(r, at, "more columns than PostgreSQL allows (1664)");
    /* Each column takes at least 10 bytes: refuse a count the message cannot hold before allocating. */
    if ((size_t)ncols * 10 > r->len - r->pos)
        return rd_fail(r, at, "column count larger than the message holds");
    tmp.ncols = ncols;
    if (!pgo_relation_find(p, tmp.relid) && p->nrels >= PGO_MAX_RELS)
        return rd_fail(r, 1, "more relations than fhload caches (65536)");
    if (ncols) {
        tmp.cols = calloc(ncols, sizeof *tmp.cols);
        if (!tmp.cols)
            return fh_error_set(r->err, FH_EINTERNAL, "pgoutput: out of memory for %u columns",
                                ncols);
    }
    for (uint16_t i = 0; i < ncols; i++) {
        pgo_relcol *c = &tmp.cols[i];
        uint8_t flags;
        uint32_t typmod;
        if (get8(r, &flags) || getname(r, c->name, "column name") || get32(r, &c->type_oid) ||
            get32(r, &typmod)) {
            free(tmp.cols);
            return FH_EDATA;
        }
        c->key = flags & 1;
        memcpy(&c->typmod, &typmod, sizeof typmod);
    }
    if (end(r) || grow_vals(p, ncols, r->err)) {
        free(tmp.cols);
        return r->err ? r->err->code : FH_EDATA;
    }
    pgo_relation *s = rel_slot(p, tmp.relid, r->err);
    if (!s) {
        free(tmp.cols);
        return FH_EINTERNAL;
    }
    if (s->relid == 0)
        p->nrels++;
    else
        free(s->cols);
    *s = tmp;
    m->relid = s->relid;
    m->rel = s;
    return FH_OK;
}

/* TupleData into vals: ncols must be the relation's. */
static int parse_tuple(rd *r, const pgo_relation *rel, pgo_value *vals, pgo_tuple *t)
{
    size_t at = r->pos;
    uint16_t ncols;
    if (get16(r, &ncols))
        return FH_EDATA;
    if (ncols != rel->ncols) {
        char why[256];
        snprintf(why, sizeof why, "tuple has %u columns but relation %s.%s has %u", ncols,
                 rel->nspname, rel->relname, rel->ncols);
        return rd_fail(r, at, why);
    }
    for (uint16_t i = 0; i < ncols; i++) {
        pgo_value *v = &vals[i];
        uint8_t k;
        at = r->pos;
        if (get8(r, &k))
            return FH_EDATA;
        v->kind = (char)k;
        v->len = 0;
        v->data = NULL;
        if (k == 'n' || k == 'u')
            continue;
        if (k != 't' && k != 'b') {
            char why[256];
            snprintf(why, sizeof why, "unknown value kind 0x%02x for column %s", k,
                     rel->cols[i].name);
            return rd_fail(r, at, why);
        }
        at = r->pos;
        if (get32(r, &v->len))
            return FH_EDATA;
        if (v->len > r->len - r->pos) {
            char why[256];
            snprintf(why, sizeof why, "value of column %s (%" PRIu32 " bytes) runs past the end",
                     rel->cols[i].name, v->len);
            return rd_fail(r, at, why);
        }
        v->data = r->buf + r->pos;
        r->pos += v->len;
    }
    t->ncols = ncols;
    t->vals = vals;
    return FH_OK;
}

static int find_rel(pgo_parser *p, rd *r, pgo_msg *m)
{
    size_t at = r->pos;
    if (get32(r, &m->relid))
        return FH_EDATA;
    m->rel = pgo_relation_find(p, m->relid);
    if (!m->rel) {
        char why[128];
        snprintf(why, sizeof why, "relation %" PRIu32 " was never announced", m->relid);
        return rd_fail(r, at, why);
    }
    return FH_OK;
}

/* The name buffer holds one string (Origin name, Message prefix); it grows only. */
static int keep_name(pgo_parser *p, rd *r, const char *s, size_t n, pgo_msg *m)
{
    if (n + 1 > p->names_cap) {
        char *b = realloc(p->names, n + 1);
        if (!b)
            return fh_error_set(r->err, FH_EINTERNAL, "pgoutput: out of memory");
        p->names = b;
        p->names_cap = n + 1;
    }
    memcpy(p->names, s, n);
    p->names[n] = '\0';
    m->name = p->names;
    return FH_OK;
}

int pgo_parse(pgo_parser *p, const unsigned char *buf, size_t len, pgo_msg *out, fh_error *err)
{
    memset(out, 0, sizeof *out);
    if (len < 1)
        return fh_error_set(err, FH_EDATA, "pgoutput message: empty at byte 0");
    uint8_t k = buf[0];
    const char *what = kind_name(k);
    if (!what)
        return fh_error_set(err, FH_EDATA,
                            "pgoutput message: unknown kind 0x%02x at byte 0 (fhload reads "
                            "protocol "
                            "version 2 without two-phase)",
                            k);
    rd r = {buf, len, 1, what, err};
    out->kind = (pgo_kind)k;
    out->in_stream = p->in_stream;

    /* Inside a stream block these carry the (sub)transaction id right after the kind byte. */
    if (p->in_stream &&
        (k == 'R' || k == 'Y' || k == 'I' || k == 'U' || k == 'D' || k == 'T' || k == 'M')) {
        if (get32(&r, &out->xid))
            return FH_EDATA;
    }
    if (p->in_stream && (k == 'B' || k == 'C' || k == 'S' || k == 'c' || k == 'A'))
        return rd_fail(&r, 0, k == 'S' ? "nested Stream Start" : "inside a stream block");

    switch (k) {
    case 'B':
        if (get64(&r, &out->lsn) || geti64(&r, &out->commit_ts) || get32(&r, &out->xid))
            return FH_EDATA;
        break;
    case 'C':
    case 'c': {
        if (k == 'c' && get32(&r, &out->xid))
            return FH_EDATA;
        size_t at = r.pos;
        if (get8(&r, &out->flags))
            return FH_EDATA;
        if (out->flags != 0)
            return rd_fail(&r, at, "unknown flags");
        if (get64(&r, &out->lsn) || get64(&r, &out->end_lsn) || geti64(&r, &out->commit_ts))
            return FH_EDATA;
        break;
    }
    case 'O': {
        const char *s;
        size_t n;
        if (get64(&r, &out->lsn) || getstr(&r, &s, &n) || end(&r) || keep_name(p, &r, s, n, out))
            return r.err ? r.err->code : FH_EDATA;
        return FH_OK;
    }
    case 'R':
        if (parse_relation(p, &r, out))
            return err ? err->code : FH_EDATA;
        return FH_OK;
    case 'Y':
        if (get32(&r, &out->type_oid) || getname(&r, out->type_nspname, "type namespace name") ||
            getname(&r, out->type_name, "type name"))
            return FH_EDATA;
        break;
    case 'I':
    case 'U':
    case 'D': {
        if (find_rel(p, &r, out))
            return FH_EDATA;
        size_t at = r.pos;
        uint8_t t;
        if (get8(&r, &t))
            return FH_EDATA;
        if ((k == 'U' || k == 'D') && (t == 'K' || t == 'O')) {
            out->old_kind = (char)t;
            if (parse_tuple(&r, out->rel, p->old_vals, &out->old_tuple))
                return FH_EDATA;
            if (k == 'U') {
                at = r.pos;
                if (get8(&r, &t))
                    return FH_EDATA;
            }
        } else if (k == 'D') {
            return rd_fail(&r, at, "expected 'K' or 'O' before the old tuple");
        }
        if (k != 'D') {
            if (t != 'N')
                return rd_fail(&r, at, "expected 'N' before the new tuple");
            if (parse_tuple(&r, out->rel, p->new_vals, &out->new_tuple))
                return FH_EDATA;
        }
        break;
    }
    case 'T': {
        size_t at = r.pos;
        if (get32(&r, &out->nrelids) || get8(&r, &out->flags))
            return FH_EDATA;
        if (out->nrelids > (r.len - r.pos) / 4)
            return rd_fail(&r, at, "relation count larger than the message holds");
        if (out->nrelids > p->relids_cap) {
            uint32_t *a = realloc(p->relids, out->nrelids * sizeof *a);
            if (!a)
                return fh_error_set(err, FH_EINTERNAL, "pgoutput: out of memory");
            p->relids = a;
            p->relids_cap = out->nrelids;
        }
        for (uint32_t i = 0; i < out->nrelids; i++)
            (void)get32(&r, &p->relids[i]); /* bounds checked above */
        out->relids = p->relids;
        break;
    }
    case 'M': {
        const char *s;
        size_t n;
        if (get8(&r, &out->flags) || get64(&r, &out->lsn) || getstr(&r, &s, &n) ||
            get32(&r, &out->content_len))
            return FH_EDATA;
        if (out->content_len > r.len - r.pos)
            return rd_fail(&r, r.pos - 4, "content runs past the end");
        out->content = r.buf + r.pos;
        r.pos += out->content_len;
        if (end(&r) || keep_name(p, &r, s, n, out))
            return err ? err->code : FH_EDATA;
        return FH_OK;
    }
    case 'S': {
        uint8_t first;
        if (get32(&r, &out->xid) || get8(&r, &first) || end(&r))
            return FH_EDATA;
        out->first_segment = first != 0;
        p->in_stream = 1;
        return FH_OK;
    }
    case 'E':
        if (!p->in_stream)
            return rd_fail(&r, 0, "Stream Stop without Stream Start");
        if (end(&r))
            return FH_EDATA;
        p->in_stream = 0;
        return FH_OK;
    case 'A':
        if (get32(&r, &out->xid) || get32(&r, &out->subxid))
            return FH_EDATA;
        break;
    default:
        assert(0 && "kind_name() and this switch disagree");
        return fh_error_set(err, FH_EINTERNAL, "pgoutput: unhandled kind");
    }
    return end(&r);
}
