/*
 * cdc_spool — the on-disk spool of streamed (in-progress) transactions of fhload stream.
 *
 * Why: with streaming 'on', PostgreSQL sends a transaction larger than logical_decoding_work_mem in
 * blocks (Stream Start … Stream Stop) before it knows whether it commits, interleaved with other
 * transactions' blocks. Holding those changes in memory would make fhload's memory grow with the
 * largest source transaction; the spool keeps it bounded whatever the size: each top-level xid's raw
 * pgoutput messages are appended (a 4-byte native-endian length, then the bytes) to one file
 * <dir>/<xid>, and read back one at a time on Stream Commit into one reusable buffer (it grows only for
 * a message larger than any before: no allocation per message).
 *
 * Subtransactions: the spool remembers the offset of each subtransaction's first message. A Stream
 * Abort of a subtransaction truncates the file at that offset and forgets that subtransaction and all
 * recorded after it (they are nested in it, or later and so also rolled back with it), exactly as
 * PostgreSQL's own apply worker does (src/backend/replication/logical/worker.c, REL_15:
 * subxact_info_add, apply_handle_stream_abort). A Stream Abort of the top-level xid deletes the file.
 *
 * The directory is created 0700 and the files 0600 (they hold row data). cdc_spool_open empties the
 * directory and cdc_spool_clear deletes every open file: after a start or a reconnect the server sends
 * every unfinished transaction again from its first change, so whatever a previous run left is stale.
 *
 * Errors are fh_error values naming the xid, the file and the offset: a file shorter than what was
 * written, or a length prefix running past its end, is FH_EDATA (never a crash or a huge allocation);
 * an I/O failure is FH_EINTERNAL.
 */
#ifndef CDC_SPOOL_H
#define CDC_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "fh_error.h"

typedef struct cdc_spool cdc_spool;

/* Called by cdc_spool_replay for each spooled message, in the order written. The bytes are valid
 * only during the call; fn must not change the spool. A status other than FH_OK stops the replay and
 * is returned by it. */
typedef int (*cdc_spool_fn)(void *ctx, const unsigned char *msg, size_t len, fh_error *err);

/* Create dir (and missing parents, 0700), delete the files in it, and return an empty spool. */
int cdc_spool_open(const char *dir, cdc_spool **out, fh_error *err);

/* Append one message of top-level transaction xid, belonging to subtransaction subxid (subxid == xid
 * for the top level). The first message of a xid creates its file; the first of a subxid records its
 * offset. */
int cdc_spool_write(cdc_spool *sp, uint32_t xid, uint32_t subxid, const unsigned char *msg,
                    size_t len, fh_error *err);

/* Stream Abort: subxid == xid deletes the transaction's file; otherwise the file is cut where subxid
 * began (a subxid never seen, or an xid never seen, changes nothing). */
int cdc_spool_abort(cdc_spool *sp, uint32_t xid, uint32_t subxid, fh_error *err);

/* Whether xid has a spool file (at least one message written and not aborted whole). */
int cdc_spool_has(const cdc_spool *sp, uint32_t xid);

/* Call fn for each message of xid in order (nothing for an unknown xid). The file stays: drop it. */
int cdc_spool_replay(cdc_spool *sp, uint32_t xid, cdc_spool_fn fn, void *ctx, fh_error *err);

/* Close and delete xid's file (no-op when unknown). */
void cdc_spool_drop(cdc_spool *sp, uint32_t xid);

/* Drop every open transaction (on reconnect). */
void cdc_spool_clear(cdc_spool *sp);

/* Number of transactions with a spool file. */
size_t cdc_spool_count(const cdc_spool *sp);

/* Bytes in xid's file (0 when unknown). */
uint64_t cdc_spool_size(const cdc_spool *sp, uint32_t xid);

/* The file path of xid (whether or not it exists), for messages and tests. */
void cdc_spool_path(const cdc_spool *sp, uint32_t xid, char *out, size_t outsz);

/* cdc_spool_clear, then free. NULL is fine. */
void cdc_spool_close(cdc_spool *sp);

#endif
