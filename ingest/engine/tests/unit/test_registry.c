/*
 * test_registry — the registry parser: valid files, every kind of malformed line (each error must
 * name the file and the line), lookups, and a file on disk.
 */
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "registry.h"

static int parse(const char *text, registry *reg, fh_error *err)
{
    return registry_parse(text, strlen(text), "reg.tsv", reg, err);
}

static void test_valid(void)
{
    const char *text = "# finhouse registry\n"
                       "\n"
                       "customers      customers     id           updated_at  incremental\n"
                       "public.loans\tloans\tid\tupdated_at\tincremental   # trailing comment\r\n"
                       "schedule  loans  loan_id,seq  -  full\n"
                       "   \t  \n"
                       "products investments id - full";
    registry reg;
    fh_error err;
    CHECK_EQ_INT(parse(text, &reg, &err), FH_OK);
    CHECK_EQ_INT(reg.ntables, 4);
    CHECK_STR(reg.tables[0].name, "customers");
    CHECK_STR(reg.tables[0].group, "customers");
    CHECK_STR(reg.tables[0].cursor, "updated_at");
    CHECK_EQ_INT(reg.tables[0].mode, REGISTRY_INCREMENTAL);
    CHECK_EQ_INT(reg.tables[0].line, 3);
    CHECK_STR(reg.tables[1].name, "public.loans");
    CHECK_EQ_INT(reg.tables[1].nkey, 1);
    CHECK_EQ_INT(reg.tables[2].nkey, 2);
    CHECK_STR(reg.tables[2].key[1], "seq");
    CHECK_STR(reg.tables[2].cursor, "");
    CHECK_EQ_INT(reg.tables[2].mode, REGISTRY_FULL);
    CHECK(registry_find(&reg, "loans") == &reg.tables[1]);
    CHECK(registry_find(&reg, "public.loans") == &reg.tables[1]);
    CHECK(registry_find(&reg, "nope") == NULL);
    registry_free(&reg);
    CHECK(reg.tables == NULL);

    CHECK_EQ_INT(parse("", &reg, &err), FH_OK);
    CHECK_EQ_INT(reg.ntables, 0);
    registry_free(&reg);

    /* column types: VARCHAR and DECIMAL(p,s), commas inside the parentheses belong to them */
    CHECK_EQ_INT(parse("rates loans id - full "
                       "ratio:DECIMAL(38,20),raw_amount:VARCHAR,b:DECIMAL(5,0)\n",
                       &reg, &err),
                 FH_OK);
    CHECK_EQ_INT(reg.tables[0].ntypes, 3);
    const registry_column_type *ct = registry_column(&reg.tables[0], "ratio");
    CHECK(ct && !ct->as_text && ct->width == 38 && ct->scale == 20);
    ct = registry_column(&reg.tables[0], "raw_amount");
    CHECK(ct && ct->as_text);
    ct = registry_column(&reg.tables[0], "b");
    CHECK(ct && ct->width == 5 && ct->scale == 0);
    CHECK(registry_column(&reg.tables[0], "id") == NULL);
    registry_free(&reg);
}

static void test_errors(void)
{
    struct {
        const char *text, *msg;
    } bad[] = {
        {"a customers id updated_at incremental\nb customers id\n", "reg.tsv:2: expected 5 fields"},
        {"a customers id x full x:VARCHAR extra\n",
         "reg.tsv:1: expected 5 fields (table group primary_key cursor mode) and optional column "
         "types, found more than 6"},
        {"a customers id x full extra\n", "column type 'extra' of a is not column:TYPE"},
        {"a customers id x full amount:TEXT\n",
         "type 'TEXT' of a.amount is not VARCHAR or DECIMAL(p,s)"},
        {"a customers id x full amount:DECIMAL(39,2)\n",
         "is not VARCHAR or DECIMAL(p,s) with 1 <= p <= 38"},
        {"a customers id x full amount:DECIMAL(10,12)\n", "type 'DECIMAL(10,12)'"},
        {"a customers id x full amount:DECIMAL(10,2)x\n", "type 'DECIMAL(10,2)x'"},
        {"a customers id x full amount:VARCHAR,amount:DECIMAL(38,20)\n",
         "column amount of a has two types"},
        {"a customers id x full amount:VARCHAR,\n", "end with a comma"},
        {"a customers id x full 1x:VARCHAR\n", "column type '1x:VARCHAR' of a is not column:TYPE"},
        {"a clients id - full\n", "reg.tsv:1: unknown group 'clients' for table a"},
        {"a customers id - sometimes\n", "mode 'sometimes' of a must be"},
        {"a customers id - incremental\n", "is incremental but has no cursor"},
        {"1a customers id - full\n", "table name '1a' is not a valid identifier"},
        {"a.b.c customers id - full\n", "is not a valid identifier"},
        {"a customers id,,x - full\n", "primary key 'id,,x' of a"},
        {"a customers id, - full\n", "primary key"},
        {"a customers id up-dated full\n", "cursor 'up-dated' of a is not a column name"},
        {"a customers id - full\n\n# c\na loans id - full\n",
         "reg.tsv:4: table a is already declared on line 1"},
        {"a loans id - full\nb\0 loans id - full\n", "reg.tsv:2: NUL byte"},
        {"caf\xc3\xa9 customers id - full\n", "is not a valid identifier"},
        {"a customers k1,k2,k3,k4,k5,k6,k7,k8,k9,k10,k11,k12,k13,k14,k15,k16,k17 - full\n",
         "more than 16 columns"},
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa customers id - "
         "full\n",
         "at most 63 bytes"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        registry reg;
        fh_error err;
        size_t len = strlen(bad[i].text);
        if (strstr(bad[i].msg, "NUL"))
            len = 36; /* the literal holds an embedded NUL */
        CHECK_EQ_INT(registry_parse(bad[i].text, len, "reg.tsv", &reg, &err), FH_EUSAGE);
        CHECK_CONTAINS(err.msg, bad[i].msg);
        CHECK(reg.tables == NULL && reg.ntables == 0);
    }
}

static void test_file(void)
{
    char path[] = "/tmp/fhload-test-registry-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    const char *text = "loans loans id updated_at incremental\n";
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    registry reg;
    fh_error err;
    CHECK_EQ_INT(registry_load(path, &reg, &err), FH_OK);
    CHECK_EQ_INT(reg.ntables, 1);
    registry_free(&reg);
    unlink(path);
    CHECK_EQ_INT(registry_load(path, &reg, &err), FH_EUSAGE);
    CHECK_CONTAINS(err.msg, "cannot read registry /tmp/fhload-test-registry-");
    CHECK_CONTAINS(err.msg, "FINHOUSE_REGISTRY");
    CHECK(registry_group_valid("ledger"));
    CHECK(!registry_group_valid("Ledger"));
}

/* The groups are the Django apps' names, in one list: registry_groups() (for messages) spells the
 * same list in the same order, and the old names are gone. */
static void test_groups(void)
{
    const char *apps[] = {"customers", "savings", "loans", "payments", "ledger", "investments"};
    CHECK_EQ_INT(registry_group_count(), 6);
    char joined[256] = "";
    for (size_t i = 0; i < registry_group_count(); i++) {
        CHECK_STR(registry_group_name(i), apps[i]);
        CHECK(registry_group_valid(apps[i]));
        if (i)
            strcat(joined, ", ");
        strcat(joined, registry_group_name(i));
    }
    CHECK(registry_group_name(6) == NULL);
    CHECK_STR(registry_groups(), joined);
    CHECK(!registry_group_valid("users") && !registry_group_valid("accounts") &&
          !registry_group_valid("transactions"));
}

int main(void)
{
    test_valid();
    test_errors();
    test_file();
    test_groups();
    return check_done("test_registry");
}
