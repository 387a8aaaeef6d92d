/*
 * test_pgoutput — the pgoutput/walsender parser on hand-built messages of every kind.
 *
 * A tiny builder writes the big-endian layouts of PostgreSQL 15's proto.c; each message is parsed
 * and every field checked. Every valid message is also cut at every shorter length (into an exact-
 * size heap copy, so ASan sees any over-read) and must then fail with FH_EDATA naming its kind.
 */
#include <stdlib.h>

#include "check.h"
#include "pgoutput.h"

typedef struct bld {
    unsigned char b[4096];
    size_t n;
} bld;

static void put8(bld *b, unsigned v) { b->b[b->n++] = (unsigned char)v; }
static void put16(bld *b, unsigned v)
{
    put8(b, v >> 8);
    put8(b, v);
}
static void put32(bld *b, uint32_t v)
{
    put16(b, v >> 16);
    put16(b, v & 0xffff);
}
static void put64(bld *b, uint64_t v)
{
    put32(b, (uint32_t)(v >> 32));
    put32(b, (uint32_t)v);
}
static void putstr(bld *b, const char *s)
{
    size_t n = strlen(s) + 1;
    memcpy(b->b + b->n, s, n);
    b->n += n;
}
static void putbytes(bld *b, const void *p, size_t n)
{
    memcpy(b->b + b->n, p, n);
    b->n += n;
}
static void start(bld *b, char kind)
{
    b->n = 0;
    put8(b, (unsigned char)kind);
}

static pgo_parser *P;
static fh_error E;
static pgo_msg M;

static int parse(const bld *b) { return pgo_parse(P, b->b, b->n, &M, &E); }

/* Every prefix of a valid message fails cleanly, naming the kind; the parser's state is unchanged. */
static void check_truncations(const bld *b, const char *kind_name)
{
    for (size_t len = 0; len < b->n; len++) {
        unsigned char *copy = malloc(len ? len : 1);
        memcpy(copy, b->b, len);
        pgo_msg m;
        fh_error e;
        int rc = pgo_parse(P, copy, len, &m, &e);
        CHECK_EQ_INT(rc, FH_EDATA);
        if (rc == FH_EDATA && len > 0)
            CHECK_CONTAINS(e.msg, kind_name);
        free(copy);
    }
    /* and the whole message still parses (the failures changed nothing) */
    CHECK_EQ_INT(parse(b), FH_OK);
}

static void rel_msg(bld *b, int in_stream, uint32_t xid, uint32_t relid, int ncols)
{
    start(b, 'R');
    if (in_stream)
        put32(b, xid);
    put32(b, relid);
    putstr(b, "public");
    putstr(b, "loans");
    put8(b, 'd');
    put16(b, (unsigned)ncols);
    static const char *names[] = {"id", "amount", "note", "extra"};
    static const uint32_t oids[] = {20, 1700, 25, 1184};
    for (int i = 0; i < ncols; i++) {
        put8(b, i == 0 ? 1 : 0);
        putstr(b, names[i]);
        put32(b, oids[i]);
        put32(b, i == 1 ? (uint32_t)((18 << 16 | 2) + 4) : 0xffffffffu);
    }
}

/* A 3-column TupleData: 'b' int8 42, 't' "12.50", then 'n' | 'u' per tail. */
static void tuple3(bld *b, char tail)
{
    static const unsigned char i8[8] = {0, 0, 0, 0, 0, 0, 0, 42};
    put16(b, 3);
    put8(b, 'b');
    put32(b, 8);
    putbytes(b, i8, 8);
    put8(b, 't');
    put32(b, 5);
    putbytes(b, "12.50", 5);
    put8(b, (unsigned char)tail);
}

static void check_tuple3(const pgo_tuple *t, char tail)
{
    CHECK_EQ_INT(t->ncols, 3);
    if (t->ncols != 3)
        return;
    CHECK_EQ_INT(t->vals[0].kind, 'b');
    CHECK_EQ_INT(t->vals[0].len, 8);
    CHECK_EQ_INT(t->vals[0].data[7], 42);
    CHECK_EQ_INT(t->vals[1].kind, 't');
    CHECK_EQ_INT(t->vals[1].len, 5);
    CHECK(memcmp(t->vals[1].data, "12.50", 5) == 0);
    CHECK_EQ_INT(t->vals[2].kind, tail);
}

static void test_lsn(void)
{
    const char *ok[] = {"0/0", "16/B374D848", "FFFFFFFF/FFFFFFFF"};
    const uint64_t want[] = {0, (UINT64_C(0x16) << 32) | 0xB374D848u, UINT64_MAX};
    for (int i = 0; i < 3; i++) {
        uint64_t v = 1;
        CHECK_EQ_INT(pgo_lsn_parse(ok[i], &v, &E), FH_OK);
        CHECK(v == want[i]);
        char buf[32];
        pgo_lsn_format(v, buf, sizeof buf);
        CHECK_STR(buf, ok[i]);
    }
    uint64_t v;
    CHECK_EQ_INT(pgo_lsn_parse("16/b374d848", &v, &E), FH_OK);
    CHECK(v == want[1]);
    const char *bad[] = {"",     "/",    "0/",    "/0",           "0/0/0",       "g/0",
                         "0",    "1 /2", "-1/0",  "0/+1",         "100000000/0", "0/100000000",
                         "0/0 ", " 0/0", "0x1/0", "12345678901/0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_EQ_INT(pgo_lsn_parse(bad[i], &v, &E), FH_EUSAGE);
        CHECK_CONTAINS(E.msg, "not an LSN");
    }
    CHECK_EQ_INT(pgo_lsn_parse(NULL, &v, &E), FH_EUSAGE);
}

static void test_frames(void)
{
    bld b;
    pgo_frame f;
    start(&b, 'w');
    put64(&b, 0x1000);
    put64(&b, 0x2000);
    put64(&b, 123456789);
    putbytes(&b, "Bxyz", 4);
    CHECK_EQ_INT(pgo_frame_parse(b.b, b.n, &f, &E), FH_OK);
    CHECK_EQ_INT(f.kind, 'w');
    CHECK(f.wal_start == 0x1000 && f.wal_end == 0x2000 && f.send_time == 123456789);
    CHECK_EQ_INT(f.len, 4);
    CHECK(f.data == b.b + 25);
    for (size_t len = 0; len < 25; len++)
        CHECK_EQ_INT(pgo_frame_parse(b.b, len, &f, &E), FH_EDATA);
    CHECK_EQ_INT(pgo_frame_parse(b.b, 25, &f, &E), FH_OK);
    CHECK_EQ_INT(f.len, 0);

    start(&b, 'k');
    put64(&b, 0xABCDEF);
    put64(&b, (uint64_t)-5);
    put8(&b, 1);
    CHECK_EQ_INT(pgo_frame_parse(b.b, b.n, &f, &E), FH_OK);
    CHECK_EQ_INT(f.kind, 'k');
    CHECK(f.wal_end == 0xABCDEF && f.send_time == -5 && f.reply_requested == 1);
    b.b[17] = 0;
    CHECK_EQ_INT(pgo_frame_parse(b.b, b.n, &f, &E), FH_OK);
    CHECK_EQ_INT(f.reply_requested, 0);
    for (size_t len = 0; len < 18; len++)
        CHECK_EQ_INT(pgo_frame_parse(b.b, len, &f, &E), FH_EDATA);
    b.b[0] = 'x';
    CHECK_EQ_INT(pgo_frame_parse(b.b, b.n, &f, &E), FH_EDATA);
    CHECK_CONTAINS(E.msg, "unknown kind");

    unsigned char r[PGO_STATUS_UPDATE_LEN];
    pgo_status_update(r, 0x0102030405060708u, 0x1112131415161718u, 0x2122232425262728u, -2, 1);
    static const unsigned char want[PGO_STATUS_UPDATE_LEN] = {'r',  0x01, 0x02, 0x03, 0x04, 0x05,
                                                              0x06, 0x07, 0x08, 0x11, 0x12, 0x13,
                                                              0x14, 0x15, 0x16, 0x17, 0x18, 0x21,
                                                              0x22, 0x23, 0x24, 0x25, 0x26, 0x27,
                                                              0x28, 0xff, 0xff, 0xff, 0xff, 0xff,
                                                              0xff, 0xff, 0xfe, 0x01};
    CHECK(memcmp(r, want, sizeof want) == 0);
    pgo_status_update(r, 0, 0, 0, 0, 0);
    CHECK_EQ_INT(r[33], 0);
}

static void test_transaction(void)
{
    bld b;
    start(&b, 'B');
    put64(&b, 0x16B374D848u);
    put64(&b, 700000000000LL);
    put32(&b, 777);
    CHECK_EQ_INT(parse(&b), FH_OK);
    CHECK_EQ_INT(M.kind, PGO_BEGIN);
    CHECK(M.lsn == 0x16B374D848u && M.commit_ts == 700000000000LL && M.xid == 777);
    CHECK_EQ_INT(M.in_stream, 0);
    check_truncations(&b, "Begin");

    start(&b, 'O');
    put64(&b, 0x55);
    putstr(&b, "node_a");
    CHECK_EQ_INT(parse(&b), FH_OK);
    CHECK_EQ_INT(M.kind, PGO_ORIGIN);
    CHECK(M.lsn == 0x55);
    CHECK_STR(M.name, "node_a");
    check_truncations(&b, "Origin");

    start(&b, 'Y');
    put32(&b, 16400);
    putstr(&b, "public");
    putstr(&b, "mood");
    CHECK_EQ_INT(parse(&b), FH_OK);
    CHECK_EQ_INT(M.kind, PGO_TYPE);
    CHECK_EQ_INT(M.type_oid, 16400);
    CHECK_STR(M.type_nspname, "public");
    CHECK_STR(M.type_name, "mood");
    check_truncations(&b, "Type");

    /* an unknown relation's change */
    start(&b, 'I');
    put32(&b, 16384);
    put8(&b, 'N');
    tuple3(&b, 'n');
    CHECK_EQ_INT(parse(&b), FH_EDATA);
    CHECK_CONTAINS(E.msg, "Insert");
    CHECK_CONTAINS(E.msg, "never announced");
    CHECK(pgo_relation_find(P, 16384) == NULL);

    rel_msg(&b, 0, 0, 16384, 3);
    CHECK_EQ_INT(parse(&b), FH_OK);
    CHECK_EQ_INT(M.kind, PGO_RELATION);
    CHECK_EQ_INT(M.relid, 16384);
    const pgo_relation *rel = pgo_relation_find(P, 16384);
    CHECK(rel != NULL && M.rel == rel);
    if (rel) {
        CHECK_STR(rel->nspname, "public");
        CHECK_STR(rel->relname, "loans");
        CHECK_EQ_INT(rel->replident, 'd');
        CHECK_EQ_INT(rel->ncols, 3);
        CHECK_EQ_INT(rel->cols[0].key, 1);
        CHECK_STR(rel->cols[0].name, "id");
        CHECK_EQ_INT(rel->cols[0].type_oid, 20);
        CHECK_EQ_INT(rel->cols[0].typmod, -1);
        CHECK_EQ_INT(rel->cols[1].key, 0);
        CHECK_STR(rel->cols[1].name, "amount");
        CHECK_EQ_INT(rel->cols[1].type_oid, 1700);
        CHECK_EQ_INT(rel->cols[1].typmod, (18 << 16 | 2) + 4);
        CHECK_STR(rel->cols[2].name, "note");
    }
    check_truncations(&b, "Relation");

    start(&b, 'I');
    put32(&b, 16384);
    put8(&b, 'N');
    tuple3(&b, 'n');
    CHECK_EQ_INT(parse(&b), FH_OK);
    CHECK_EQ_INT(M.kind, PGO_INSERT);
    CHECK_EQ_INT(M.relid, 16384);
    CHECK(M.rel == rel);
    CHECK_EQ_INT(M.old_kind, 0);
    check_tuple3(&M.new_tuple, 'n');
    check_truncations(&b, "Insert");

    /* Update without old tuple, with 'u' (unchanged TOAST) */
    start(&b, 'U');
    put32(&b, 16384);
    put8(&b, 'N');
    tuple3(&b, 'u');
    CHECK_EQ_INT(parse(&b), FH_OK);
    CHECK_EQ_INT(M.kind, PGO_UPDATE);
    CHECK_EQ_INT(M.old_kind, 0);
    check_tuple3(&M.new_tuple, 'u');
    check_truncations(&b, "Update");

    /* Update with the old key and the old row */
    for (int o = 0; o < 2; o++) {
        char ok = o ? 'O' : 'K';
        start(&b, 'U');
        put32(&b, 16384);
        put8(&b, (unsigned char)ok);
        tuple3(&b, 'n');
        put8(&b, 'N');
        tuple3(&b, 'u');
        CHECK_EQ_INT(parse(&b), FH_OK);
        CHECK_EQ_INT(M.old_kind, ok);
        check_tuple3(&M.old_tuple, 'n');
        check_tuple3(&M.new_tuple, 'u');
        CHECK(M.old_tuple.vals != M.new_tuple.vals);
        check_truncations(&b, "Update");

        start(&b, 'D');
        put32(&b, 16384);
        put8(&b, (unsigned char)ok);
        tuple3(&b, 'n');
        CHECK_EQ_INT(parse(&b), FH_OK);
        CHECK_EQ_INT(M.kind, PGO_DELETE);
        CHECK_EQ_INT(M.old_kind, ok);
        check_tuple3(&M.old_tuple, 'n');
        check_truncations(&b, "Delete");
    }

    start(&b, 'D');
    put32(&b, 16384);
    put8(&b, 'N');
    tuple3(&b, 'n');
    CHECK_EQ_INT(parse(&b), FH_EDATA);
    CHECK_CONTAINS(E.msg, "Delete");

    start(&b, 'T');
    put32(&b, 2);
    put8(&b, 3);
    put32(&b, 16384);
    put32(&b, 16390);
    CHECK_EQ_INT(parse(&b), FH_OK);
    CHECK_EQ_INT(M.kind, PGO_TRUNCATE);
    CHECK_EQ_INT(M.nrelids, 2);
    CHECK_EQ_INT(M.flags, 3);
    CHECK(M.relids && M.relids[0] == 16384 && M.relids[1] == 16390);
    check_truncations(&b, "Truncate");

    start(&b, 'M');
    put8(&b, 1);
    put64(&b, 0x99);
    putstr(&b, "fh/test");
    put32(&b, 3);
    putbytes(&b, "a\0b", 3);
    CHECK_EQ_INT(parse(&b), FH_OK);
    CHECK_EQ_INT(M.kind, PGO_MESSAGE);
    CHECK_EQ_INT(M.flags, 1);
    CHECK(M.lsn == 0x99);
    CHECK_STR(M.name, "fh/test");
    CHECK_EQ_INT(M.content_len, 3);
    CHECK(M.content && memcmp(M.content, "a\0b", 3) == 0);
    check_truncations(&b, "Message");

    start(&b, 'C');
    put8(&b, 0);
    put64(&b, 0x100);
    put64(&b, 0x128);
    put64(&b, 42);
    CHECK_EQ_INT(parse(&b), FH_OK);
    CHECK_EQ_INT(M.kind, PGO_COMMIT);
    CHECK(M.lsn == 0x100 && M.end_lsn == 0x128 && M.commit_ts == 42 && M.flags == 0);
    check_truncations(&b, "Commit");
    b.b[1] = 1;
    CHECK_EQ_INT(parse(&b), FH_EDATA);
    CHECK_CONTAINS(E.msg, "flags");
}

static void test_reannounce(void)
{
    bld b;
    rel_msg(&b, 0, 0, 16384, 4); /* ALTER TABLE ... ADD COLUMN extra */
    CHECK_EQ_INT(parse(&b), FH_OK);
    const pgo_relation *rel = pgo_relation_find(P, 16384);
    CHECK(rel && rel->ncols == 4);
    if (rel)
        CHECK_STR(rel->cols[3].name, "extra");

    start(&b, 'I');
    put32(&b, 16384);
    put8(&b, 'N');
    tuple3(&b, 'n');
    CHECK_EQ_INT(parse(&b), FH_EDATA);
    CHECK_CONTAINS(E.msg, "Insert");
    CHECK_CONTAINS(E.msg, "3 columns");
    CHECK_CONTAINS(E.msg, "public.loans has 4");

    start(&b, 'I');
    put32(&b, 16384);
    put8(&b, 'N');
    tuple3(&b, 'n');
    b.b[7] = 4; /* ncols' low byte */
    put8(&b, 't');
    put32(&b, 2);
    putbytes(&b, "hi", 2);
    CHECK_EQ_INT(parse(&b), FH_OK);
    CHECK_EQ_INT(M.new_tuple.ncols, 4);
    if (M.new_tuple.ncols == 4) {
        CHECK_EQ_INT(M.new_tuple.vals[3].kind, 't');
        CHECK(memcmp(M.new_tuple.vals[3].data, "hi", 2) == 0);
    }

    /* many relations: the cache grows and finds each */
    for (uint32_t r = 1; r <= 300; r++) {
        rel_msg(&b, 0, 0, 50000 + r * 7, (int)(r % 4) + 1);
        CHECK_EQ_INT(parse(&b), FH_OK);
    }
    int all = 1;
    for (uint32_t r = 1; r <= 300; r++) {
        const pgo_relation *x = pgo_relation_find(P, 50000 + r * 7);
        all &= x && x->relid == 50000 + r * 7 && x->ncols == (r % 4) + 1;
    }
    CHECK(all);
    CHECK(pgo_relation_find(P, 16384) != NULL);
    CHECK(pgo_relation_find(P, 50001) == NULL);
}

static void test_stream(void)
{
    bld b;
    start(&b, 'E');
    CHECK_EQ_INT(parse(&b), FH_EDATA);
    CHECK_CONTAINS(E.msg, "Stream Stop without Stream Start");

    start(&b, 'S');
    put32(&b, 900);
    put8(&b, 1);
    check_truncations(&b, "Stream Start"); /* ends with a successful parse: now inside the block */
    CHECK_EQ_INT(M.kind, PGO_STREAM_START);
    CHECK_EQ_INT(M.xid, 900);
    CHECK_EQ_INT(M.first_segment, 1);
    CHECK_EQ_INT(M.in_stream, 0);

    CHECK_EQ_INT(parse(&b), FH_EDATA);
    CHECK_CONTAINS(E.msg, "nested Stream Start");

    /* Origin inside a block carries no xid */
    start(&b, 'O');
    put64(&b, 7);
    putstr(&b, "o");
    CHECK_EQ_INT(parse(&b), FH_OK);
    CHECK_EQ_INT(M.in_stream, 1);
    CHECK_EQ_INT(M.xid, 0);

    rel_msg(&b, 1, 901, 16500, 3);
    CHECK_EQ_INT(parse(&b), FH_OK);
    CHECK_EQ_INT(M.in_stream, 1);
    CHECK_EQ_INT(M.xid, 901);
    CHECK_EQ_INT(M.relid, 16500);
    check_truncations(&b, "Relation");

    start(&b, 'Y');
    put32(&b, 901);
    put32(&b, 16401);
    putstr(&b, "");
    putstr(&b, "t");
    CHECK_EQ_INT(parse(&b), FH_OK);
    CHECK_EQ_INT(M.xid, 901);
    CHECK_EQ_INT(M.type_oid, 16401);
    CHECK_STR(M.type_nspname, "");
    check_truncations(&b, "Type");

    start(&b, 'I');
    put32(&b, 900);
    put32(&b, 16500);
    put8(&b, 'N');
    tuple3(&b, 'u');
    CHECK_EQ_INT(parse(&b), FH_OK);
    CHECK_EQ_INT(M.kind, PGO_INSERT);
    CHECK_EQ_INT(M.xid, 900);
    CHECK_EQ_INT(M.in_stream, 1);
    check_tuple3(&M.new_tuple, 'u');
    check_truncations(&b, "Insert");

    start(&b, 'U');
    put32(&b, 901);
    put32(&b, 16500);
    put8(&b, 'O');
    tuple3(&b, 'n');
    put8(&b, 'N');
    tuple3(&b, 'n');
    CHECK_EQ_INT(parse(&b), FH_OK);
    CHECK_EQ_INT(M.xid, 901);
    CHECK_EQ_INT(M.old_kind, 'O');
    check_truncations(&b, "Update");

    start(&b, 'D');
    put32(&b, 901);
    put32(&b, 16500);
    put8(&b, 'K');
    tuple3(&b, 'n');
    CHECK_EQ_INT(parse(&b), FH_OK);
    CHECK_EQ_INT(M.xid, 901);
    check_truncations(&b, "Delete");

    start(&b, 'T');
    put32(&b, 900);
    put32(&b, 1);
    put8(&b, 0);
    put32(&b, 16500);
    CHECK_EQ_INT(parse(&b), FH_OK);
    CHECK_EQ_INT(M.xid, 900);
    CHECK_EQ_INT(M.nrelids, 1);
    check_truncations(&b, "Truncate");

    start(&b, 'M');
    put32(&b, 900);
    put8(&b, 1);
    put64(&b, 0x77);
    putstr(&b, "p");
    put32(&b, 0);
    CHECK_EQ_INT(parse(&b), FH_OK);
    CHECK_EQ_INT(M.xid, 900);
    CHECK_EQ_INT(M.content_len, 0);
    check_truncations(&b, "Message");

    /* Begin, Commit, Stream Commit, Stream Abort don't belong inside a block */
    const char inside[] = {'B', 'C', 'c', 'A'};
    for (int i = 0; i < 4; i++) {
        start(&b, inside[i]);
        put32(&b, 0);
        put32(&b, 0);
        put64(&b, 0);
        put64(&b, 0);
        CHECK_EQ_INT(parse(&b), FH_EDATA);
        CHECK_CONTAINS(E.msg, "inside a stream block");
    }

    start(&b, 'E');
    CHECK_EQ_INT(parse(&b), FH_OK);
    CHECK_EQ_INT(M.kind, PGO_STREAM_STOP);
    CHECK_EQ_INT(M.in_stream, 1);

    /* outside the block again: an Insert has no xid */
    start(&b, 'I');
    put32(&b, 16500);
    put8(&b, 'N');
    tuple3(&b, 'n');
    CHECK_EQ_INT(parse(&b), FH_OK);
    CHECK_EQ_INT(M.xid, 0);
    CHECK_EQ_INT(M.in_stream, 0);

    start(&b, 'c');
    put32(&b, 900);
    put8(&b, 0);
    put64(&b, 0x500);
    put64(&b, 0x540);
    put64(&b, 99);
    CHECK_EQ_INT(parse(&b), FH_OK);
    CHECK_EQ_INT(M.kind, PGO_STREAM_COMMIT);
    CHECK(M.xid == 900 && M.lsn == 0x500 && M.end_lsn == 0x540 && M.commit_ts == 99);
    check_truncations(&b, "Stream Commit");

    start(&b, 'A');
    put32(&b, 900);
    put32(&b, 901);
    CHECK_EQ_INT(parse(&b), FH_OK);
    CHECK_EQ_INT(M.kind, PGO_STREAM_ABORT);
    CHECK(M.xid == 900 && M.subxid == 901);
    check_truncations(&b, "Stream Abort");

    /* Stream Stop is one byte; trailing bytes are refused */
    start(&b, 'S');
    put32(&b, 902);
    put8(&b, 0);
    CHECK_EQ_INT(parse(&b), FH_OK);
    CHECK_EQ_INT(M.first_segment, 0);
    start(&b, 'E');
    put8(&b, 0);
    CHECK_EQ_INT(parse(&b), FH_EDATA);
    CHECK_CONTAINS(E.msg, "trailing");
    /* reset forgets the block and the relations */
    pgo_parser_reset(P);
    CHECK(pgo_relation_find(P, 16500) == NULL);
    start(&b, 'E');
    CHECK_EQ_INT(parse(&b), FH_EDATA);
}

static void test_malformed(void)
{
    bld b;
    rel_msg(&b, 0, 0, 16384, 3);
    CHECK_EQ_INT(parse(&b), FH_OK);

    /* a 64-byte name */
    char longname[65];
    memset(longname, 'x', 64);
    longname[64] = '\0';
    start(&b, 'R');
    put32(&b, 16385);
    putstr(&b, "public");
    putstr(&b, longname);
    put8(&b, 'd');
    put16(&b, 0);
    CHECK_EQ_INT(parse(&b), FH_EDATA);
    CHECK_CONTAINS(E.msg, "Relation");
    CHECK_CONTAINS(E.msg, "longer than 63");
    CHECK_CONTAINS(E.msg, "byte 12");
    longname[63] = '\0'; /* 63 is fine */
    start(&b, 'R');
    put32(&b, 16385);
    putstr(&b, "public");
    putstr(&b, longname);
    put8(&b, 'f');
    put16(&b, 0);
    CHECK_EQ_INT(parse(&b), FH_OK);
    CHECK_EQ_INT(M.rel->ncols, 0);
    CHECK_EQ_INT(M.rel->replident, 'f');

    /* bad replica identity, huge column count, relid 0 */
    start(&b, 'R');
    put32(&b, 16386);
    putstr(&b, "s");
    putstr(&b, "t");
    put8(&b, 'z');
    put16(&b, 0);
    CHECK_EQ_INT(parse(&b), FH_EDATA);
    CHECK_CONTAINS(E.msg, "replica identity");
    start(&b, 'R');
    put32(&b, 16386);
    putstr(&b, "s");
    putstr(&b, "t");
    put8(&b, 'd');
    put16(&b, 40000);
    CHECK_EQ_INT(parse(&b), FH_EDATA);
    start(&b, 'R');
    put32(&b, 0);
    putstr(&b, "s");
    putstr(&b, "t");
    put8(&b, 'd');
    put16(&b, 0);
    CHECK_EQ_INT(parse(&b), FH_EDATA);

    /* unterminated string */
    start(&b, 'Y');
    put32(&b, 1);
    putbytes(&b, "abc", 3);
    CHECK_EQ_INT(parse(&b), FH_EDATA);
    CHECK_CONTAINS(E.msg, "unterminated");

    /* a value length past the end, a negative length, an unknown value kind */
    start(&b, 'I');
    put32(&b, 16384);
    put8(&b, 'N');
    put16(&b, 3);
    put8(&b, 't');
    put32(&b, 1000);
    putbytes(&b, "abc", 3);
    CHECK_EQ_INT(parse(&b), FH_EDATA);
    CHECK_CONTAINS(E.msg, "Insert");
    CHECK_CONTAINS(E.msg, "byte 9");
    CHECK_CONTAINS(E.msg, "column id");
    b.b[9] = 0xff; /* length -1 as Int32 */
    CHECK_EQ_INT(parse(&b), FH_EDATA);
    start(&b, 'I');
    put32(&b, 16384);
    put8(&b, 'N');
    put16(&b, 3);
    put8(&b, 'n');
    put8(&b, 'x');
    put8(&b, 'n');
    CHECK_EQ_INT(parse(&b), FH_EDATA);
    CHECK_CONTAINS(E.msg, "unknown value kind");
    CHECK_CONTAINS(E.msg, "amount");

    /* Update: not 'N' after the key */
    start(&b, 'U');
    put32(&b, 16384);
    put8(&b, 'K');
    tuple3(&b, 'n');
    put8(&b, 'X');
    tuple3(&b, 'n');
    CHECK_EQ_INT(parse(&b), FH_EDATA);
    CHECK_CONTAINS(E.msg, "'N'");

    /* Truncate: more relids than the bytes hold */
    start(&b, 'T');
    put32(&b, 0x40000000u);
    put8(&b, 0);
    put32(&b, 1);
    CHECK_EQ_INT(parse(&b), FH_EDATA);

    /* Message: content past the end */
    start(&b, 'M');
    put8(&b, 0);
    put64(&b, 1);
    putstr(&b, "p");
    put32(&b, 0xffffffffu);
    CHECK_EQ_INT(parse(&b), FH_EDATA);

    /* unknown kinds (two-phase 'P', logical 'X'), empty messages, trailing bytes */
    start(&b, 'P');
    CHECK_EQ_INT(parse(&b), FH_EDATA);
    CHECK_CONTAINS(E.msg, "unknown kind 0x50");
    CHECK_EQ_INT(pgo_parse(P, b.b, 0, &M, &E), FH_EDATA);
    start(&b, 'B');
    put64(&b, 1);
    put64(&b, 2);
    put32(&b, 3);
    put8(&b, 0);
    CHECK_EQ_INT(parse(&b), FH_EDATA);
    CHECK_CONTAINS(E.msg, "Begin");
    CHECK_CONTAINS(E.msg, "trailing bytes at byte 21");
}

int main(void)
{
    fh_error_clear(&E);
    CHECK_EQ_INT(pgo_parser_new(&P, &E), FH_OK);
    test_lsn();
    test_frames();
    test_transaction();
    test_reannounce();
    test_stream();
    test_malformed();
    pgo_parser_free(P);
    pgo_parser_free(NULL);
    return check_done("test_pgoutput");
}
