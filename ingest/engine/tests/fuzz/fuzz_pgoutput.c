/*
 * fuzz_pgoutput — libFuzzer target for the pgoutput/walsender parser.
 *
 * The input is a sequence of messages, each prefixed by a big-endian Int16 length (cut at the
 * input's end), fed in order to one parser, so Relation → Insert/Update/Delete and stream-block
 * paths are reached; a length with the top bit set resets the parser first (a reconnect). Each
 * message is copied into an exact-size heap buffer so ASan sees any over-read. The raw input also
 * goes through pgo_frame_parse and (NUL-terminated) pgo_lsn_parse. Any input must parse or fail
 * with FH_EDATA/FH_EUSAGE — never crash, overflow or leak — and what parses must be consistent.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pgoutput.h"

static volatile unsigned sink;

static void touch_tuple(const pgo_tuple *t, const pgo_relation *rel)
{
    if (!rel || t->ncols != rel->ncols)
        abort();
    for (uint16_t i = 0; i < t->ncols; i++) {
        const pgo_value *v = &t->vals[i];
        if (v->kind == 't' || v->kind == 'b') {
            for (uint32_t j = 0; j < v->len; j++)
                sink += v->data[j];
        } else if (v->kind != 'n' && v->kind != 'u') {
            abort();
        }
    }
}

static void check_msg(const pgo_parser *p, const pgo_msg *m)
{
    switch (m->kind) {
    case PGO_RELATION:
        if (!m->rel || pgo_relation_find(p, m->relid) != m->rel)
            abort();
        for (uint16_t i = 0; i < m->rel->ncols; i++)
            if (strlen(m->rel->cols[i].name) >= PGO_NAME_MAX)
                abort();
        break;
    case PGO_INSERT: touch_tuple(&m->new_tuple, m->rel); break;
    case PGO_UPDATE:
        if (m->old_kind)
            touch_tuple(&m->old_tuple, m->rel);
        touch_tuple(&m->new_tuple, m->rel);
        break;
    case PGO_DELETE: touch_tuple(&m->old_tuple, m->rel); break;
    case PGO_TRUNCATE:
        for (uint32_t i = 0; i < m->nrelids; i++)
            sink += m->relids[i];
        break;
    case PGO_MESSAGE:
        sink += (unsigned)strlen(m->name);
        for (uint32_t i = 0; i < m->content_len; i++)
            sink += m->content[i];
        break;
    case PGO_ORIGIN: sink += (unsigned)strlen(m->name); break;
    default: break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fh_error e;
    pgo_frame f;
    if (pgo_frame_parse(data, size, &f, &e) == FH_OK) {
        if (f.kind == 'w' && (f.data != data + 25 || f.len != size - 25))
            abort();
    } else if (e.code != FH_EDATA) {
        abort();
    }

    char lsn[40];
    size_t n = size < sizeof lsn - 1 ? size : sizeof lsn - 1;
    memcpy(lsn, data, n);
    lsn[n] = '\0';
    uint64_t v;
    if (pgo_lsn_parse(lsn, &v, &e) == FH_OK) {
        char back[40];
        pgo_lsn_format(v, back, sizeof back);
        uint64_t w;
        if (pgo_lsn_parse(back, &w, &e) != FH_OK || w != v)
            abort();
    }

    pgo_parser *p;
    if (pgo_parser_new(&p, &e) != FH_OK)
        abort();
    size_t pos = 0;
    while (pos + 2 <= size) {
        unsigned len = (unsigned)data[pos] << 8 | data[pos + 1];
        pos += 2;
        if (len & 0x8000) {
            pgo_parser_reset(p);
            len &= 0x7fff;
        }
        if (len > size - pos)
            len = (unsigned)(size - pos);
        unsigned char *msg = malloc(len ? len : 1);
        if (!msg)
            abort();
        memcpy(msg, data + pos, len);
        pos += len;
        pgo_msg m;
        int rc = pgo_parse(p, msg, len, &m, &e);
        if (rc == FH_OK)
            check_msg(p, &m);
        else if (rc != FH_EDATA || e.msg[0] == '\0')
            abort();
        free(msg);
    }
    pgo_parser_free(p);
    return 0;
}
