/*
 * fuzz_copy_decode — libFuzzer target for the binary COPY decoder.
 *
 * The first input byte picks a column layout (all the types the decoder handles, in a few
 * shapes), the second how to cut the rest into pieces and how small the chunks are; the rest is
 * the COPY stream. Any input must decode or fail with a data error — never crash, read out of
 * bounds, overflow or leak — and a successful decode must report a sane row count.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "copy_decode.h"

static duckdb_logical_type types[9];

static void mk(cd_column *c, const char *name, uint32_t oid, int32_t typmod)
{
    memset(c, 0, sizeof *c);
    strcpy(c->name, name);
    c->type_oid = oid;
    c->typmod = typmod;
    fh_error e;
    if (copy_decode_map_type("fuzz", c, &e) != FH_OK)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    cd_column cols[8];
    size_t n = 0;
    fh_error e;
    switch (data[0] % 4) {
    case 0:
        mk(&cols[n++], "i2", CD_OID_INT2, -1);
        mk(&cols[n++], "i4", CD_OID_INT4, -1);
        mk(&cols[n++], "i8", CD_OID_INT8, -1);
        mk(&cols[n++], "txt", CD_OID_TEXT, -1);
        break;
    case 1:
        mk(&cols[n++], "n4", CD_OID_NUMERIC, ((4 << 16) | 2) + 4);
        mk(&cols[n++], "n18", CD_OID_NUMERIC, ((18 << 16) | 6) + 4);
        mk(&cols[n++], "n38", CD_OID_NUMERIC, ((38 << 16) | 10) + 4);
        mk(&cols[n++], "nany", CD_OID_NUMERIC, -1);
        mk(&cols[n++], "ntext", CD_OID_NUMERIC, -1); /* kept as text, the registry's choice */
        if (copy_decode_override("fuzz", &cols[n - 1], 1, 0, 0, &e) != FH_OK)
            abort();
        break;
    case 2:
        mk(&cols[n++], "b", CD_OID_BOOL, -1);
        mk(&cols[n++], "d", CD_OID_DATE, -1);
        mk(&cols[n++], "ts", CD_OID_TIMESTAMP, -1);
        mk(&cols[n++], "tz", CD_OID_TIMESTAMPTZ, -1);
        mk(&cols[n++], "tm", CD_OID_TIME, -1);
        mk(&cols[n++], "iv", CD_OID_INTERVAL, -1);
        break;
    default:
        mk(&cols[n++], "u", CD_OID_UUID, -1);
        mk(&cols[n++], "j", CD_OID_JSON, -1);
        mk(&cols[n++], "jb", CD_OID_JSONB, -1);
        mk(&cols[n++], "f8", CD_OID_FLOAT8, -1);
        mk(&cols[n++], "by", CD_OID_BYTEA, -1);
        break;
    }
    size_t step = (size_t)(data[1] & 0x0f) + 1;
    if (step == 16)
        step = SIZE_MAX;
    size_t cap = (data[1] >> 4) ? (size_t)(data[1] >> 4) : duckdb_vector_size();
    data += 2;
    size -= 2;

    /* selectors with bit 2 set also compute row hashes, into one more BIGINT column */
    int hashed = (data[0 - 2] >> 2) & 1;
    for (size_t c = 0; c < n; c++)
        types[c] = copy_decode_logical_type(&cols[c]);
    types[n] = duckdb_create_logical_type(DUCKDB_TYPE_BIGINT);
    duckdb_data_chunk chunk = duckdb_create_data_chunk(types, n + (size_t)hashed);
    copy_decoder *d;
    fh_error err;
    int rc = copy_decode_new("fuzz", cols, n, (data[0 - 2] % 4) == 2 ? 3 : -1, &d, &err);
    assert(rc == FH_OK);
    if (hashed)
        rc = copy_decode_enable_row_hash(d, &err);
    assert(rc == FH_OK);
    copy_decode_bind_chunk(d, chunk, cap);
    size_t off = 0;
    uint64_t emitted = 0;
    cd_status st = CD_NEED_INPUT;
    while (rc == FH_OK) {
        size_t len = size - off < step ? size - off : step;
        size_t used;
        rc = copy_decode_feed(d, (const char *)data + off, len, &used, &st, &err);
        if (rc != FH_OK)
            break;
        assert(used <= len);
        off += used;
        if (st != CD_NEED_INPUT) {
            emitted += copy_decode_finish_chunk(d);
            duckdb_data_chunk_reset(chunk);
            copy_decode_bind_chunk(d, chunk, cap);
        }
        if (st == CD_END) {
            if (off < size)
                rc = copy_decode_feed(d, (const char *)data + off, size - off, &used, &st, &err);
            break;
        }
        if (st == CD_NEED_INPUT && off == size) {
            rc = copy_decode_finish(d, &err);
            break;
        }
    }
    if (rc == FH_OK)
        assert(emitted == copy_decode_rows(d));
    else
        assert(rc == FH_EDATA && strlen(err.msg) > 0);
    copy_decode_free(d);
    duckdb_destroy_data_chunk(&chunk);
    for (size_t c = 0; c <= n; c++)
        duckdb_destroy_logical_type(&types[c]);
    return 0;
}
