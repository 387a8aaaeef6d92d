/*
 * pgoutput — PostgreSQL's logical replication protocol, as fhload stream reads it: the walsender's
 * CopyData frames (XLogData 'w', Primary keepalive 'k'), the standby status update fhload sends back,
 * and the messages of the `pgoutput` plugin inside XLogData (protocol version 2: Begin, Commit, Origin,
 * Relation, Type, Insert, Update, Delete, Truncate, Message, Stream Start/Stop/Commit/Abort).
 *
 * References: PostgreSQL 15's src/backend/replication/logical/proto.c (the message layouts),
 * src/backend/replication/pgoutput/pgoutput.c (when each is sent, which carry a transaction id),
 * src/bin/pg_basebackup/pg_recvlogical.c (the feedback loop) and the manual's "Logical Replication
 * Message Formats" and "Streaming Replication Protocol" pages.
 *
 * The bytes come from outside the process, so every length and count is checked against the message's
 * end: a truncated or malformed message is FH_EDATA naming the message kind and the byte offset, never
 * a crash (there is a libFuzzer target for this module). Parsing does not allocate per message or per
 * row: values and names point into the caller's buffer or into the parser, valid until the next call.
 * The parser allocates only when a Relation message announces a relation (its cached description) or
 * a tuple wider than any before.
 */
#ifndef PGOUTPUT_H
#define PGOUTPUT_H

#include <stddef.h>
#include <stdint.h>

#include "fh_error.h"

/* NAMEDATALEN: PostgreSQL's identifiers are at most 63 bytes. */
#define PGO_NAME_MAX 64

/* Microseconds from 1970-01-01 to 2000-01-01: PostgreSQL's timestamps count from the latter. */
#define PGO_EPOCH_OFFSET_US INT64_C(946684800000000)

/* ---- the walsender's frames (the payload of one CopyData message in COPY BOTH mode) ------------------ */

typedef struct pgo_frame {
    char kind;                 /* 'w' XLogData, 'k' Primary keepalive */
    uint64_t wal_start;        /* 'w': the WAL position of the data */
    uint64_t wal_end;          /* 'w' and 'k': the server's current end of WAL */
    int64_t send_time;         /* µs since 2000-01-01 */
    int reply_requested;       /* 'k': the server asks for a status update now */
    const unsigned char *data; /* 'w': the pgoutput message (points into the frame) */
    size_t len;
} pgo_frame;

/* Split one CopyData payload. Unknown kinds and short frames are FH_EDATA. */
int pgo_frame_parse(const unsigned char *buf, size_t len, pgo_frame *out, fh_error *err);

#define PGO_STATUS_UPDATE_LEN 34

/* The Standby status update ('r') fhload sends: written, flushed and applied WAL positions (fhload
 * reports what is committed in the warehouse as all three), the client's clock (µs since 2000-01-01),
 * and whether the server should reply at once. Writes PGO_STATUS_UPDATE_LEN bytes to out. */
void pgo_status_update(unsigned char out[PGO_STATUS_UPDATE_LEN], uint64_t written, uint64_t flushed,
                       uint64_t applied, int64_t now_pg_us, int reply);

/* LSNs as PostgreSQL prints them ("16/B374D848"). parse: FH_EUSAGE when s is not one. */
void pgo_lsn_format(uint64_t lsn, char *buf, size_t bufsz);
int pgo_lsn_parse(const char *s, uint64_t *out, fh_error *err);

/* ---- pgoutput messages ------------------------------------------------------------------------------- */

typedef enum pgo_kind {
    PGO_BEGIN = 'B',
    PGO_COMMIT = 'C',
    PGO_ORIGIN = 'O',
    PGO_RELATION = 'R',
    PGO_TYPE = 'Y',
    PGO_INSERT = 'I',
    PGO_UPDATE = 'U',
    PGO_DELETE = 'D',
    PGO_TRUNCATE = 'T',
    PGO_MESSAGE = 'M',
    PGO_STREAM_START = 'S',
    PGO_STREAM_STOP = 'E',
    PGO_STREAM_COMMIT = 'c',
    PGO_STREAM_ABORT = 'A'
} pgo_kind;

/* One column value of a TupleData. */
typedef struct pgo_value {
    char kind;    /* 'n' NULL, 'u' unchanged TOASTed value (not sent), 't' text, 'b' binary */
    uint32_t len; /* 't' and 'b' */
    const unsigned char *data; /* 't' and 'b': the value in the type's text or binary send format */
} pgo_value;

typedef struct pgo_tuple {
    uint16_t ncols;
    const pgo_value *vals; /* ncols values (parser-owned; valid until the next pgo_parse) */
} pgo_tuple;

typedef struct pgo_relcol {
    int key; /* flag 1: part of the replica identity (the key, by default) */
    char name[PGO_NAME_MAX];
    uint32_t type_oid;
    int32_t typmod;
} pgo_relcol;

/* A relation as the last Relation message for its OID described it (cached by the parser). */
typedef struct pgo_relation {
    uint32_t relid;
    char nspname[PGO_NAME_MAX];
    char relname[PGO_NAME_MAX];
    char replident; /* 'd' default (primary key), 'n' nothing, 'f' full, 'i' index */
    uint16_t ncols;
    pgo_relcol *cols;
} pgo_relation;

typedef struct pgo_msg {
    pgo_kind kind;
    int in_stream; /* the message came between Stream Start and Stream Stop */
    uint32_t xid;  /* Begin, Stream Start, Stream Commit, Stream Abort: the (top-level) transaction;
                     * inside a stream block, the (sub)transaction a change, Relation, Type or Message
                     * belongs to; 0 otherwise */
    uint32_t subxid; /* Stream Abort: the subtransaction aborted (== xid: the whole transaction) */
    int first_segment; /* Stream Start: the first block of this transaction */
    uint64_t lsn;      /* Begin: the final (commit) LSN; Commit, Stream Commit: the commit LSN;
                        * Origin: the commit's LSN on the origin; Message: its LSN */
    uint64_t
        end_lsn; /* Commit, Stream Commit: the end of the commit record — what to acknowledge */
    int64_t commit_ts; /* Begin, Commit, Stream Commit: µs since 2000-01-01 */
    uint8_t flags;     /* Commit, Stream Commit (0); Message (1 = transactional);
                        * Truncate (1 = CASCADE, 2 = RESTART IDENTITY) */

    /* Insert, Update, Delete */
    uint32_t relid;
    const pgo_relation *rel; /* the cached description of relid (Relation: the one just announced);
                              * a change for a relation never announced is FH_EDATA */
    char old_kind;           /* Update, Delete: 'K' the old key, 'O' the old row, 0 none (Update) */
    pgo_tuple old_tuple;     /* when old_kind != 0 */
    pgo_tuple new_tuple;     /* Insert, Update */

    /* Truncate */
    uint32_t nrelids;
    const uint32_t *relids; /* parser-owned */

    /* Type */
    uint32_t type_oid;
    char type_nspname[PGO_NAME_MAX];
    char type_name[PGO_NAME_MAX];

    /* Origin: the origin's name; Message: the prefix and the content */
    const char *name; /* NUL-terminated, points into the parser */
    uint32_t content_len;
    const unsigned char *content;
} pgo_msg;

typedef struct pgo_parser pgo_parser;

int pgo_parser_new(pgo_parser **out, fh_error *err);
void pgo_parser_free(pgo_parser *p);

/* Parse one pgoutput message (the data of one XLogData frame). The parser tracks Stream Start/Stop to
 * know which messages carry a transaction id, and caches Relation messages by OID. Unknown message
 * kinds (e.g. two-phase messages, which fhload does not request) and malformed messages are FH_EDATA
 * naming the kind and the byte offset. */
int pgo_parse(pgo_parser *p, const unsigned char *buf, size_t len, pgo_msg *out, fh_error *err);

/* The cached description of a relation, or NULL if none was announced. */
const pgo_relation *pgo_relation_find(const pgo_parser *p, uint32_t relid);

/* Forget the stream-block state (after a reconnect: the server starts afresh). The relation cache is
 * also emptied — the server announces every relation again on a new connection. */
void pgo_parser_reset(pgo_parser *p);

#endif
