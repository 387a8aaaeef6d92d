/*
 * test_hash — fh_hash64 against xxHash64's published reference values (computed with the xxhash
 * package), and the properties row hashes rely on.
 */
#include "check.h"
#include "fh_hash.h"

int main(void)
{
    static const struct {
        const char *text;
        size_t len;
        uint64_t seed, want;
    } V[] = {
        {"", 0, 0, UINT64_C(0xef46db3751d8e999)},
        {"a", 1, 0, UINT64_C(0xd24ec4f1a98c6e5b)},
        {"abc", 3, 0, UINT64_C(0x44bc2cf5ad770999)},
        {"Nobody inspects the spammish repetition", 39, 0, UINT64_C(0xfbcea83c8a378bf1)},
        {"0123456789abcdef0123456789abcdefXYZ", 35, 12345, UINT64_C(0xf4f549b0f9715a93)},
    };
    for (size_t i = 0; i < sizeof V / sizeof V[0]; i++)
        CHECK(fh_hash64(V[i].text, V[i].len, V[i].seed) == V[i].want);
    unsigned char bytes[100];
    for (int i = 0; i < 100; i++)
        bytes[i] = (unsigned char)i;
    CHECK(fh_hash64(bytes, 100, UINT64_MAX) == UINT64_C(0x09a991a091c9f6d7));
    /* every length from 0 to 100 takes its own path through lanes and tails: all differ */
    uint64_t seen[101];
    for (int n = 0; n <= 100; n++) {
        seen[n] = fh_hash64(bytes, (size_t)n, 7);
        for (int m = 0; m < n; m++)
            CHECK(seen[m] != seen[n]);
    }
    /* columns are seeded by name: the same bytes in two columns hash differently */
    CHECK(fh_hash_column_seed("amount") != fh_hash_column_seed("fee"));
    CHECK(fh_hash64("1", 1, fh_hash_column_seed("amount")) !=
          fh_hash64("1", 1, fh_hash_column_seed("fee")));
    CHECK(fh_hash_column_seed("amount") == fh_hash_column_seed("amount"));
    return check_done("test_hash");
}
