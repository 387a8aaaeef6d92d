/*
 * fh_hash — the 64-bit hash of a source row that fhload stores in raw as _fh_row_hash.
 *
 * A row's hash is the sum (mod 2^64) over its non-NULL fields of fh_hash64(field bytes, seed of the
 * column), where a column's seed is the hash of its name. The field bytes are the value as
 * PostgreSQL sends it in binary (COPY binary, and pgoutput in binary mode): the same value sent
 * twice hashes the same, whichever path brought it. Summing per-column hashes seeded by name makes
 * the row hash independent of column order and unchanged by a column that is added and still NULL,
 * so a reconciliation after `ALTER TABLE … ADD COLUMN` does not see every row as changed (a column
 * added with a DEFAULT does change the hash of every old row, rightly: raw holds NULL there).
 *
 * fh_hash64 is xxHash64's construction (public algorithm by Yann Collet), written from its
 * specification: 8-byte lanes multiplied by large odd primes and rotated, with its avalanche at the
 * end. It is not cryptographic: reconciliation compares rows, it does not defend against an
 * adversary who writes the source.
 */
#ifndef FH_HASH_H
#define FH_HASH_H

#include <stddef.h>
#include <stdint.h>

/* The 64-bit hash of n bytes at p with a seed. */
uint64_t fh_hash64(const void *p, size_t n, uint64_t seed);

/* The seed of column `name` in row hashes. */
uint64_t fh_hash_column_seed(const char *name);

#endif
