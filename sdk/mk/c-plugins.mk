# C plugins: the SDK's example and the test fixtures. Included by the
# top-level Makefile; also usable alone:
#   make -f sdk/mk/c-plugins.mk c-plugins c-test-plugins abi-header-check BUILD=/tmp/b
BUILD ?= build
CC ?= cc
# make's built-in CXX is g++; `?=` would not replace it.
ifeq ($(origin CXX),default)
CXX = c++
endif
PLUGIN_CFLAGS = -std=c11 -O2 -fPIC -shared -Wall -Wextra -Werror -fvisibility=hidden \
  -I sdk/c/include -I sdk/examples/tablebooking/generated
PLUGIN_LIBS = -lprotobuf-c -lpthread
ABI_HEADERS = sdk/c/include/crm/plugin.h sdk/c/include/crm/plugin_pbc.h sdk/c/include/crm/plugin_sql.h
# The C SDK's helpers (crm/plugin_pbc.h, crm/plugin_sql.h); each file stands alone.
SDK_SOURCES = sdk/c/src/crm_pbc.c sdk/c/src/crm_pbc_call.c sdk/c/src/crm_sql.c
TABLEBOOKING_SOURCES = sdk/examples/tablebooking/tablebooking.c $(SDK_SOURCES) \
  sdk/examples/tablebooking/generated/tablebooking/tablebooking.pb-c.c \
  sdk/examples/tablebooking/generated/tablebooking_descriptor.c
# Rebuild when a header or these rules (the flags) change.
TABLEBOOKING_DEPS = $(TABLEBOOKING_SOURCES) $(ABI_HEADERS) sdk/mk/c-plugins.mk \
  sdk/examples/tablebooking/generated/tablebooking/tablebooking.pb-c.h

.PHONY: c-plugins c-test-plugins abi-header-check c-sdk-check

c-plugins: $(BUILD)/plugins/tablebooking.so $(BUILD)/plugins/tablebooking.plugin.json

$(BUILD)/plugins/tablebooking.so: $(TABLEBOOKING_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(PLUGIN_CFLAGS) -o $@ $(TABLEBOOKING_SOURCES) $(PLUGIN_LIBS)

$(BUILD)/plugins/tablebooking.plugin.json: sdk/examples/tablebooking/tablebooking.plugin.json
	@mkdir -p $(dir $@)
	cp $< $@

# Each fixture is Tests/Fixtures/c/fixture.c built with its own flags.
FIXTURE_NAMES = badabi needsmissing failinit dupmethod oldrange goodmig badmig badfkmig evolvemig \
  unservedrpc undeclared wrongtype nodescriptor abi10 futurestride selfhandler \
  wrongresponse wrongstreaming flagsdisagree badperm idemnokey badstamp badreadperm \
  jobwrites jobfields jobfast jobslow
FIXTURE_FLAGS_badabi = -DFIXTURE_ABI=999
FIXTURE_FLAGS_needsmissing = -DFIXTURE_DEP='"nosuchplugin"' -DFIXTURE_DEP_RANGE='">=1.0.0"'
FIXTURE_FLAGS_failinit = -DFIXTURE_FAIL_INIT
FIXTURE_FLAGS_dupmethod = -DFIXTURE_SERVICE='"Probe"' -DFIXTURE_RPC='"Echo"' \
  -DFIXTURE_DEP='"probe"' -DFIXTURE_DEP_RANGE='">=1.0.0"'
FIXTURE_FLAGS_unservedrpc = -DFIXTURE_DECLARE_UNSERVED
FIXTURE_FLAGS_undeclared = -DFIXTURE_SERVE_UNDECLARED
FIXTURE_FLAGS_wrongtype = -DFIXTURE_DECLARED_REQUEST='"crm.testing.v1.Other"'
FIXTURE_FLAGS_nodescriptor = -DFIXTURE_NO_DESCRIPTOR
FIXTURE_FLAGS_badstamp = -DFIXTURE_BAD_STAMP
FIXTURE_FLAGS_wrongresponse = -DFIXTURE_DECLARED_RESPONSE='"crm.testing.v1.Other"'
FIXTURE_FLAGS_wrongstreaming = -DFIXTURE_DECLARED_STREAMING=1
# Ping is flagged writes (FIXTURE_PUBLISH) but its option does not say so.
FIXTURE_FLAGS_flagsdisagree = -DFIXTURE_PUBLISH -DFIXTURE_OPTIONS='1, 0, 0, "flagsdisagree.thing.read"'
FIXTURE_FLAGS_badperm = -DFIXTURE_OPTIONS='1, 0, 0, "sales.lead.write"'
FIXTURE_FLAGS_badreadperm = -DFIXTURE_OPTIONS='1, 0, 0, "badreadperm.thing.read"' \
  -DFIXTURE_EVENT='"badreadperm.thing.pinged", "sales.lead.read"'
# Background jobs (job_every_ms) that break a rule: each is refused.
FIXTURE_FLAGS_jobwrites = -DFIXTURE_OPTIONS='1, 1, 0, "jobwrites.thing.write"' -DFIXTURE_JOB_EVERY_MS=100
FIXTURE_FLAGS_jobfields = -DFIXTURE_OPTIONS='1, 0, 0, "jobfields.thing.read"' -DFIXTURE_JOB_EVERY_MS=100 \
  -DFIXTURE_JOB_REQUEST_FIELD
FIXTURE_FLAGS_jobfast = -DFIXTURE_OPTIONS='1, 0, 0, "jobfast.thing.read"' -DFIXTURE_JOB_EVERY_MS=5
FIXTURE_FLAGS_jobslow = -DFIXTURE_OPTIONS='1, 0, 0, "jobslow.thing.read"' -DFIXTURE_JOB_EVERY_MS=86400001
FIXTURE_FLAGS_idemnokey = -DFIXTURE_OPTIONS='1, 1, 1, "idemnokey.thing.write"'
FIXTURE_FLAGS_futurestride = -DFIXTURE_FUTURE_STRIDE \
  -DFIXTURE_SECOND_MIGRATION='"CREATE INDEX futurestride_items_name ON futurestride_items(name)"'
FIXTURE_FLAGS_selfhandler = -DFIXTURE_PLUGIN_HANDLER
# Built against a copy of ABI 1's first header (smaller method entries, no
# plugin_handler): crmd must load what was built before its header grew.
FIXTURE_FLAGS_abi10 = -I Tests/Fixtures/c/abi-1.0 -DFIXTURE_PUBLISH \
  -DFIXTURE_SECOND_MIGRATION='"CREATE INDEX abi10_items_name ON abi10_items(name)"'
FIXTURE_FLAGS_oldrange = -DFIXTURE_DEP='"tablebooking"' -DFIXTURE_DEP_RANGE='">=2.0.0"'
FIXTURE_FLAGS_goodmig = -DFIXTURE_SECOND_MIGRATION='"CREATE INDEX goodmig_items_name ON goodmig_items(name)"'
# Its second migration writes the kernel's table: denied, so neither applies.
FIXTURE_FLAGS_badmig = -DFIXTURE_SECOND_MIGRATION='"CREATE TABLE badmig_more (x INTEGER); DELETE FROM kernel_migrations"'
# Its second migration declares a foreign key to the kernel's outbox: refused.
FIXTURE_FLAGS_badfkmig = -DFIXTURE_SECOND_MIGRATION='"CREATE TABLE badfkmig_more (t TEXT REFERENCES kernel_outbox (topic))"'
# Its second migration evolves its table: rename, rename a column, add a checked column, drop one.
FIXTURE_FLAGS_evolvemig = -DFIXTURE_SECOND_MIGRATION='"ALTER TABLE evolvemig_items RENAME TO evolvemig_things; \
  ALTER TABLE evolvemig_things RENAME COLUMN name TO title; ALTER TABLE evolvemig_things ADD COLUMN gone TEXT; \
  ALTER TABLE evolvemig_things ADD COLUMN n INTEGER CHECK (n IS NULL OR n > 0); ALTER TABLE evolvemig_things DROP COLUMN gone"'

c-test-plugins: $(foreach n,$(FIXTURE_NAMES) hostile,$(BUILD)/test-plugins/$(n).so $(BUILD)/test-plugins/$(n).plugin.json)

# The storage isolation tests' hostile plugin: runs whatever SQL it is sent.
FIXTURE_SOURCES = sdk/c/include/crm/plugin.h Tests/Fixtures/c/fixture_descriptor.h Tests/Fixtures/c/abi-1.0/crm/plugin.h \
  sdk/mk/c-plugins.mk
$(BUILD)/test-plugins/hostile.so: Tests/Fixtures/c/hostile.c $(FIXTURE_SOURCES)
	@mkdir -p $(dir $@)
	$(CC) $(PLUGIN_CFLAGS) -o $@ $<

$(BUILD)/test-plugins/%.so: Tests/Fixtures/c/fixture.c $(FIXTURE_SOURCES)
	@mkdir -p $(dir $@)
	$(CC) $(FIXTURE_FLAGS_$*) $(PLUGIN_CFLAGS) -DFIXTURE_NAME='"$*"' -o $@ $<

$(BUILD)/test-plugins/%.plugin.json: Tests/Fixtures/c/%.plugin.json
	@mkdir -p $(dir $@)
	cp $< $@

# plugin.h must be plain C, C++-safe and warning-free in both; and a C++
# plugin's CRM_DECLARE_PLUGIN must export the unmangled entry symbol.
abi-header-check: $(ABI_HEADERS) sdk/c/test/header_check.c
	@mkdir -p $(BUILD)/abi-header-check
	$(CC) -std=c99 -Wall -Wextra -Werror -pedantic -I sdk/c/include -c -o $(BUILD)/abi-header-check/c.o sdk/c/test/header_check.c
	$(CXX) -x c++ -std=c++11 -Wall -Wextra -Werror -I sdk/c/include -c -o $(BUILD)/abi-header-check/cxx.o sdk/c/test/header_check.c
	@for o in c cxx; do nm $(BUILD)/abi-header-check/$$o.o | grep -q ' T crm_plugin_entry$$' || \
	  { echo "$$o: crm_plugin_entry is not exported unmangled"; exit 1; }; done
	@echo "plugin headers compile as C99 and C++11"

# The SDK helpers and the example under ASan and UBSan, against a host faked
# over SQLite (sdk/c/test/helpers_check.c).
SANITIZE = -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=undefined
c-sdk-check: sdk/c/test/helpers_check.c $(TABLEBOOKING_DEPS)
	@mkdir -p $(BUILD)/c-sdk-check
	$(CC) $(PLUGIN_CFLAGS) $(SANITIZE) -o $(BUILD)/c-sdk-check/tablebooking.so $(TABLEBOOKING_SOURCES) $(PLUGIN_LIBS)
	$(CC) -std=c11 -Wall -Wextra -Werror $(SANITIZE) -I sdk/c/include -I sdk/examples/tablebooking/generated \
	  -o $(BUILD)/c-sdk-check/helpers_check sdk/c/test/helpers_check.c $(SDK_SOURCES) \
	  sdk/examples/tablebooking/generated/tablebooking/tablebooking.pb-c.c -lprotobuf-c -lsqlite3 -lpthread -ldl
	$(BUILD)/c-sdk-check/helpers_check $(BUILD)/c-sdk-check/tablebooking.so
