# ingest/engine/engine.mk — build and test rules of fhload, included by the top-level Makefile.
#
#   make engine           build ingest/engine/build/fhload (fetches DuckDB 1.4.4 for C first)
#   make engine-test      unit tests (plain and ASan+UBSan), short fuzz runs, C end-to-end tests
#   make engine-fuzz      longer fuzz runs (FUZZ_SECONDS per target, default 120)
#   make engine-valgrind  two unit tests, small loads and a small stream (spooled blocks) under valgrind
#   make format-check     clang-format --dry-run --Werror on the engine's C (ingest/engine/.clang-format)
#   make format           clang-format -i: rewrite them in that style
#
# DuckDB's library and header come from npm packages into .finhouse/cache/duckdb-1.4.4/ (never
# committed); fhload is linked with an rpath to that directory. Messages are cut to fixed buffers
# on purpose, hence -Wno-format-truncation. Paths are relative to the
# repository root, where the top-level Makefile runs. All rules are safe under make -j.

ENG            := ingest/engine
EB             := $(ENG)/build
DUCKDB_VERSION := 1.4.4
DUCKDB_NPM_LIB := @duckdb/node-bindings-linux-x64@1.4.4-r.4
DUCKDB_NPM_HDR := duckdb@1.4.4
DUCKDB_DIR     := $(CURDIR)/.finhouse/cache/duckdb-$(DUCKDB_VERSION)
DUCKDB_STAMP   := $(DUCKDB_DIR)/.fetched

# Recursive (=) so that pg_config is asked only once system-deps may have installed it.
PG_INC          = $(shell pg_config --includedir)
PG_LIB          = $(shell pg_config --libdir)

ENGINE_CC      ?= gcc
ENGINE_CFLAGS   = -std=c11 -Wall -Wextra -Werror -Wno-format-truncation -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
                  -I$(ENG)/include -I$(DUCKDB_DIR)/include -I$(PG_INC) -g
ENGINE_LDLIBS   = -L$(DUCKDB_DIR) -Wl,-rpath,$(DUCKDB_DIR) -lduckdb -L$(PG_LIB) -lpq -lpthread
ENGINE_FUZZ_CFLAGS = $(filter-out -Wno-format-truncation,$(ENGINE_CFLAGS))
ENGINE_SAN      = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

ENGINE_MODS    := fh_error fh_hash fh_sql fh_time fh_json pgoutput registry copy_decode pg_source duck_scan fh_duck load_log duck_dest cdc_dest cdc_spool stage_parquet stream cli
ENGINE_HDRS    := $(wildcard $(ENG)/include/*.h)
ENGINE_OBJS    := $(ENGINE_MODS:%=$(EB)/obj/%.o)
ENGINE_AOBJS   := $(ENGINE_MODS:%=$(EB)/asan/%.o)
ENGINE_TESTS   := $(patsubst $(ENG)/tests/unit/%.c,%,$(wildcard $(ENG)/tests/unit/test_*.c))
ENGINE_UNIT    := $(ENGINE_TESTS:%=$(EB)/%)
ENGINE_UNIT_AS := $(ENGINE_TESTS:%=$(EB)/asan/%)
ENGINE_FUZZ    := $(patsubst $(ENG)/tests/fuzz/%.c,$(EB)/fuzz/%,$(wildcard $(ENG)/tests/fuzz/fuzz_*.c))
FUZZ_SECONDS   ?= 120

.PHONY: engine engine-deps engine-test engine-unit engine-fuzz engine-e2e \
        engine-valgrind

.SECONDARY: $(ENGINE_OBJS) $(ENGINE_AOBJS) $(EB)/obj/main.o

engine: $(EB)/fhload  ## build the C engine fhload

engine-deps:
	@scripts/system-deps

$(DUCKDB_STAMP): | engine-deps
	@echo "fetching DuckDB $(DUCKDB_VERSION) for C (npm) into $(DUCKDB_DIR)"
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	  (cd "$$tmp" && npm pack --silent $(DUCKDB_NPM_LIB) >/dev/null && npm pack --silent $(DUCKDB_NPM_HDR) >/dev/null); \
	  mkdir -p "$$tmp/lib" "$$tmp/hdr"; \
	  tar xzf "$$tmp"/duckdb-node-bindings-linux-x64-*.tgz -C "$$tmp/lib" package/libduckdb.so; \
	  tar xzf "$$tmp"/duckdb-$(DUCKDB_VERSION).tgz -C "$$tmp/hdr" package/src/duckdb/src/include/duckdb.h; \
	  mkdir -p $(DUCKDB_DIR)/include; \
	  mv "$$tmp/lib/package/libduckdb.so" $(DUCKDB_DIR)/libduckdb.so; \
	  mv "$$tmp/hdr/package/src/duckdb/src/include/duckdb.h" $(DUCKDB_DIR)/include/duckdb.h; \
	  touch $@

$(EB)/obj/%.o: $(ENG)/src/%.c $(ENGINE_HDRS) $(DUCKDB_STAMP) | engine-deps
	@mkdir -p $(@D)
	$(ENGINE_CC) $(ENGINE_CFLAGS) -O2 -c $< -o $@

$(EB)/asan/%.o: $(ENG)/src/%.c $(ENGINE_HDRS) $(DUCKDB_STAMP) | engine-deps
	@mkdir -p $(@D)
	$(ENGINE_CC) $(ENGINE_CFLAGS) -O1 $(ENGINE_SAN) -c $< -o $@

$(EB)/fhload: $(EB)/obj/main.o $(ENGINE_OBJS)
	$(ENGINE_CC) -o $@ $^ $(ENGINE_LDLIBS)

$(EB)/fhcheck: $(ENG)/tests/fhcheck.c $(DUCKDB_STAMP)
	@mkdir -p $(@D)
	$(ENGINE_CC) $(ENGINE_CFLAGS) -O2 $< -o $@ $(ENGINE_LDLIBS)

$(EB)/test_%: $(ENG)/tests/unit/test_%.c $(ENG)/tests/unit/check.h $(ENGINE_OBJS)
	$(ENGINE_CC) $(ENGINE_CFLAGS) -O1 $< $(ENGINE_OBJS) -o $@ $(ENGINE_LDLIBS)

$(EB)/asan/test_%: $(ENG)/tests/unit/test_%.c $(ENG)/tests/unit/check.h $(ENGINE_AOBJS)
	$(ENGINE_CC) $(ENGINE_CFLAGS) -O1 $(ENGINE_SAN) $< $(ENGINE_AOBJS) -o $@ $(ENGINE_LDLIBS)

# libFuzzer targets: clang, the module under test compiled in with the fuzzer's sanitizers.
$(EB)/fuzz/fuzz_copy_decode: $(ENG)/tests/fuzz/fuzz_copy_decode.c $(ENG)/src/copy_decode.c $(ENG)/src/fh_hash.c $(ENG)/src/fh_error.c $(ENGINE_HDRS) $(DUCKDB_STAMP) | engine-deps
	@mkdir -p $(@D)
	clang $(ENGINE_FUZZ_CFLAGS) -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	  $(filter %.c,$^) -o $@ $(ENGINE_LDLIBS)

$(EB)/fuzz/fuzz_pgoutput: $(ENG)/tests/fuzz/fuzz_pgoutput.c $(ENG)/src/pgoutput.c $(ENG)/src/fh_error.c $(ENGINE_HDRS) | engine-deps
	@mkdir -p $(@D)
	clang $(ENGINE_FUZZ_CFLAGS) -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	  $(filter %.c,$^) -o $@

$(EB)/fuzz/fuzz_registry: $(ENG)/tests/fuzz/fuzz_registry.c $(ENG)/src/registry.c $(ENG)/src/fh_error.c $(ENGINE_HDRS) | engine-deps
	@mkdir -p $(@D)
	clang $(ENGINE_FUZZ_CFLAGS) -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	  $(filter %.c,$^) -o $@

ENGINE_SAN_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

define engine_run_unit
	@for t in $(ENGINE_UNIT); do echo "== $$t"; $$t || exit 1; done
	@for t in $(ENGINE_UNIT_AS); do echo "== $$t (ASan+UBSan)"; $(ENGINE_SAN_ENV) $$t || exit 1; done
endef

engine-unit: $(ENGINE_UNIT) $(ENGINE_UNIT_AS)
	$(engine_run_unit)

# Short fuzz budget for engine-test; engine-fuzz runs longer. The committed corpus is the seed;
# inputs the fuzzer finds go under ingest/engine/build/fuzz/, so a test run never edits the repository.
engine-fuzz: $(ENGINE_FUZZ)
	@$(ENG)/tests/fuzz/run-fuzz $(FUZZ_SECONDS) $(ENGINE_FUZZ)

engine-e2e: $(EB)/fhload $(EB)/fhcheck
	@$(ENG)/tests/e2e/run.sh
	@$(ENG)/tests/e2e/stream.sh

engine-test: $(ENGINE_UNIT) $(ENGINE_UNIT_AS) $(ENGINE_FUZZ) $(EB)/fhload $(EB)/fhcheck | engine-deps  ## C engine: unit tests plain and under ASan+UBSan, fuzz, end to end
	$(engine_run_unit)
	@$(ENG)/tests/fuzz/run-fuzz 7 $(ENGINE_FUZZ)
	@$(ENG)/tests/e2e/run.sh
	@$(ENG)/tests/e2e/stream.sh

engine-valgrind: $(EB)/test_copy_decode $(EB)/test_fh_duck $(EB)/test_cdc_spool $(EB)/fhload $(EB)/fhcheck
	valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
	  $(EB)/test_copy_decode
	valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
	  $(EB)/test_fh_duck
	valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
	  $(EB)/test_cdc_spool
	@$(ENG)/tests/e2e/valgrind-load.sh
	@$(ENG)/tests/e2e/valgrind-stream.sh

# The engine's C in one style (ingest/engine/.clang-format, found by clang-format next to the files).
ENGINE_FORMAT_FILES = $(wildcard $(ENG)/src/*.c $(ENG)/include/*.h $(ENG)/tests/*.c $(ENG)/tests/unit/*.[ch] \
                      $(ENG)/tests/fuzz/*.c)
.PHONY: format-check format
format-check:  ## clang-format --dry-run --Werror on the engine's C (ingest/engine/.clang-format)
	@scripts/system-deps
	@clang-format --dry-run --Werror $(ENGINE_FORMAT_FILES) \
	  || { echo "format-check: the engine's C differs from ingest/engine/.clang-format: run \`make format\` and commit the result" >&2; exit 1; }

format:  ## clang-format -i on the engine's C: rewrite it in ingest/engine/.clang-format's style
	@scripts/system-deps
	clang-format -i $(ENGINE_FORMAT_FILES)
