/*
 * fuzz_registry — libFuzzer target for the registry parser: any bytes must parse or fail with a
 * usage error, never crash, leak or read out of bounds; a parsed registry must satisfy the
 * format's invariants.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    registry reg;
    fh_error err;
    int rc = registry_parse((const char *)data, size, "fuzz.tsv", &reg, &err);
    if (rc == FH_OK) {
        for (size_t i = 0; i < reg.ntables; i++) {
            const registry_table *t = &reg.tables[i];
            assert(t->name[0] && registry_group_valid(t->group));
            assert(t->nkey >= 1 && t->nkey <= REGISTRY_KEY_MAX);
            assert(t->mode == REGISTRY_FULL || t->cursor[0]);
            assert(registry_find(&reg, t->name) != NULL);
        }
        registry_free(&reg);
    } else {
        assert(rc == FH_EUSAGE || rc == FH_EINTERNAL);
        assert(strlen(err.msg) > 0 && !strchr(err.msg, '\n'));
    }
    return 0;
}
