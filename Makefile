# crm: the kernel, its plugins and its tools.
#   make build   crmd, crmctl and crm-web in build/bin, plugins in build/plugins
#   make run     crmd with every first-party plugin on ./crm.sock, data in ./data,
#                and crm-web, the web console, on http://127.0.0.1:8080 (web users in ./web-data)
#   make test    every test (Swift, C, Python) against real binaries
#   make fuzz    the fuzz tests for 10 minutes (FUZZ_SECONDS=N to change)
#   make bench   the load figures quoted in the notes
#   make install-sdk PREFIX=DIR   the plugin SDK for plugins built outside the repository
# Missing Debian packages are installed on first use.

BUILD ?= build
CONFIG ?= release
SWIFT ?= swift
CC ?= cc
SWIFT_FLAGS = -c $(CONFIG)
SWIFT_BIN = $(shell $(SWIFT) build $(SWIFT_FLAGS) --show-bin-path 2>/dev/null)
DEBIAN_PACKAGES = libsqlite3-dev libcurl4-openssl-dev libgmime-3.0-dev libprotobuf-c-dev protobuf-c-compiler protobuf-compiler libprotobuf-dev pkg-config python3 python3-pip

.PHONY: all build run test deps bench-storage swift-build install-swift c-plugins c-test-plugins \
        test-swift test-python test-web abi-header-check c-sdk-check check-generated bench bench-contacts bench-marketing bench-b2b bench-loyalty bench-service bench-service-kb bench-service-email fuzz clean install-sdk

all: build

# Installs what the build and tests need from Debian, only if missing.
deps:
	@missing=""; for p in $(DEBIAN_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi
	@python3 -c "import pytest" 2>/dev/null || python3 -m pip install --quiet pytest || \
	  python3 -m pip install --quiet --break-system-packages pytest
	@python3 -c "import aiosmtpd" 2>/dev/null || python3 -m pip install --quiet aiosmtpd || \
	  python3 -m pip install --quiet --break-system-packages aiosmtpd

swift-build: deps
	$(SWIFT) build $(SWIFT_FLAGS) --product crmd
	$(SWIFT) build $(SWIFT_FLAGS) --product crmctl
	$(SWIFT) build $(SWIFT_FLAGS) --product crm-web
	$(SWIFT) build $(SWIFT_FLAGS) --product crm-plugin-probe

# Swift plugins: Plugins/<name>/ holds <name>.plugin.json; its product is crm-plugin-<name>.
SWIFT_PLUGINS = $(patsubst Plugins/%/,%,$(dir $(wildcard Plugins/*/*.plugin.json)))

install-swift: swift-build
	@mkdir -p $(BUILD)/bin $(BUILD)/plugins $(BUILD)/test-plugins
	cp -f $(SWIFT_BIN)/crmd $(SWIFT_BIN)/crmctl $(SWIFT_BIN)/crm-web $(BUILD)/bin/
	cp -f $(SWIFT_BIN)/libcrm-plugin-probe.so $(BUILD)/test-plugins/probe.so
	cp Tests/Fixtures/ProbePlugin/probe.plugin.json $(BUILD)/test-plugins/
	@for p in $(SWIFT_PLUGINS); do \
	  $(SWIFT) build $(SWIFT_FLAGS) --product crm-plugin-$$p && \
	  cp $(SWIFT_BIN)/libcrm-plugin-$$p.so $(BUILD)/plugins/$$p.so && \
	  cp Plugins/$$p/$$p.plugin.json $(BUILD)/plugins/ || exit 1; \
	done

include sdk/mk/c-plugins.mk
include sdk/mk/install.mk

build: deps install-swift c-plugins c-test-plugins

# crm-web runs as this uid and names the web user each call is for in
# crm-user metadata, which crmd believes only from a trusted proxy's uid: so
# crmd trusts this uid. It is crmd's own uid, an administrator already, so
# the trust grants it nothing it did not have.
run: build
	@$(BUILD)/bin/crm-web --socket ./crm.sock --data-dir ./web-data & web=$$!; \
	trap 'kill $$web 2>/dev/null' EXIT; \
	$(BUILD)/bin/crmd --socket ./crm.sock --data-dir ./data --plugin-dir $(BUILD)/plugins --trusted-proxy-uid $$(id -u)

test: build abi-header-check c-sdk-check test-swift test-python test-web

# Integration tests start build/bin/crmd themselves, on sockets in a temp dir.
# No @testable imports: the test build then shares every compiled module with
# `make build` instead of rebuilding the whole graph with -enable-testing.
test-swift: build
	CRM_BUILD_DIR=$(CURDIR)/$(BUILD) $(SWIFT) test $(SWIFT_FLAGS) --disable-testable-imports --no-parallel

# The fuzz tests run for 30 s inside `make test`; this runs them for
# FUZZ_SECONDS (default 600). CRM_FUZZ_SEED=<seed> replays a failing run's inputs.
fuzz: build
	CRM_BUILD_DIR=$(CURDIR)/$(BUILD) CRM_FUZZ_SECONDS=$(or $(FUZZ_SECONDS),600) \
	  $(SWIFT) test $(SWIFT_FLAGS) --disable-testable-imports --no-parallel --filter FuzzTests

# The Python client, written from docs/PROTOCOL.md alone, against a live
# crmd serving the shipped plugins and the probe, with short timeouts.
test-python: build
	@dir=$$(mktemp -d); mkdir -p $$dir/plugins; \
	cp $(BUILD)/plugins/* $(BUILD)/test-plugins/probe.* $$dir/plugins/; \
	$(BUILD)/bin/crmd --socket $$dir/crm.sock --data-dir $$dir/data --plugin-dir $$dir/plugins \
	  --read-timeout-ms 2000 --idle-timeout-ms 3000 --log-level warning & pid=$$!; \
	for i in $$(seq 100); do [ -S $$dir/crm.sock ] && break; sleep 0.05; done; \
	CRM_SOCKET=$$dir/crm.sock CRM_READ_TIMEOUT_MS=2000 CRM_IDLE_TIMEOUT_MS=3000 \
	  python3 -m pytest -q sdk/python/tests; status=$$?; \
	kill -TERM $$pid; wait $$pid; rm -rf $$dir; exit $$status

# crm-web in headless Chromium (Selenium), against a live crmd and crm-web
# the tests start; they install chromium, chromium-driver and selenium if missing.
test-web: build
	CRM_BUILD_DIR=$(CURDIR)/$(BUILD) python3 -m pytest -q Tests/WebTests

check-generated: deps
	proto/generate.sh --check

bench: build
	@dir=$$(mktemp -d); \
	$(BUILD)/bin/crmd --socket $$dir/crm.sock --data-dir $$dir/data --plugin-dir $(BUILD)/plugins \
	  --log-level warning & pid=$$!; \
	for i in $$(seq 100); do [ -S $$dir/crm.sock ] && break; sleep 0.05; done; \
	for shape in "1 1" "1 64" "4 64"; do set -- $$shape; \
	  $(BUILD)/bin/crmctl bench --socket $$dir/crm.sock --method /crm.kernel.v1.Health/Check \
	    --connections $$1 --in-flight $$2 --duration 10; \
	done; \
	kill -TERM $$pid; wait $$pid; rm -rf $$dir

# Durable writes: the probe plugin's Put (one small row with a unique key)
# through crmd, 1x1 and 1x64, then the same insert straight into SQLite from C
# on the same disk, one transaction per insert, as the baseline.
bench-storage: build $(BUILD)/bench/sqlite_direct_insert
	@dir=$$(mktemp -d); mkdir -p $$dir/plugins; cp $(BUILD)/test-plugins/probe.* $$dir/plugins/; \
	$(BUILD)/bin/crmd --socket $$dir/crm.sock --data-dir $$dir/data --plugin-dir $$dir/plugins \
	  --log-level warning $(CRMD_FLAGS) & pid=$$!; \
	for i in $$(seq 100); do [ -S $$dir/crm.sock ] && break; sleep 0.05; done; \
	for shape in "1 1" "1 64" "4 64"; do set -- $$shape; \
	  $(BUILD)/bin/crmctl bench --socket $$dir/crm.sock --method /crm.testing.v1.Probe/Put \
	    --json '{"value":"hello"}' --connections $$1 --in-flight $$2 --duration 10; \
	done; \
	kill -TERM $$pid; wait $$pid; \
	echo "direct SQLite from C (same disk):"; $(BUILD)/bench/sqlite_direct_insert $$dir/direct.db 10; \
	rm -rf $$dir

# CONTACTS=100000 make bench-contacts for a quicker run.
bench-contacts: build
	Tests/Bench/contacts_bench.sh $(BUILD) $(or $(CONTACTS),1000000)

# Segments over a seeded data set: rebuild, count/preview and change-to-event
# delay (CONTACTS=100000 make bench-marketing for a quicker run).
bench-marketing: build
	Tests/Bench/marketing_bench.sh $(BUILD) $(or $(CONTACTS),1000000)

# Quote pricing, reading, rendering and editing of a 500-line quote
# (LINES=2000 make bench-b2b for the largest quote).
# and the account roll-up over 1,000 organizations and 100,000 opportunities
# (ORGS=, DEALS= to change them).
bench-b2b: build
	Tests/Bench/b2b_bench.sh $(BUILD) $(or $(LINES),500)
	Tests/Bench/b2b_rollup_bench.sh $(BUILD) $(or $(ORGS),1000) $(or $(DEALS),100000)

# Ledger postings at 1 and 64 in flight, redemptions, balance lookups,
# reconciliation (BENCH_SECONDS=3 make bench-loyalty for a quicker run); compare
# with bench-storage run in the same session.
bench-loyalty: build
	Tests/Bench/loyalty_bench.sh $(BUILD) $(or $(BENCH_SECONDS),10)

# Tickets created at 64 in flight, then queue pages timed one at a time
# (TICKETS=100000 make bench-service for a quicker run); routing; and the
# knowledge base's search over ARTICLES (100,000) seeded articles, also
# alone as bench-service-kb; MESSAGES (2,000) emails piped through crmctl
# ingest-email, also alone as bench-service-email; and the lag of SLA
# breach events beside OPEN_TICKETS (100,000) running clocks.
bench-service: build
	Tests/Bench/service_bench.sh $(BUILD) $(or $(TICKETS),1000000)
	Tests/Bench/service_routing_bench.sh $(BUILD) $(or $(ROUTED_TICKETS),50000)
	Tests/Bench/service_kb_bench.sh $(BUILD) $(or $(ARTICLES),100000)
	Tests/Bench/service_email_bench.sh $(BUILD) $(or $(MESSAGES),2000)
	Tests/Bench/service_sla_bench.sh $(BUILD) $(or $(OPEN_TICKETS),100000)

bench-service-kb: build
	Tests/Bench/service_kb_bench.sh $(BUILD) $(or $(ARTICLES),100000)

bench-service-email: build
	Tests/Bench/service_email_bench.sh $(BUILD) $(or $(MESSAGES),2000)

$(BUILD)/bench/sqlite_direct_insert: Tests/Bench/sqlite_direct_insert.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O2 -Wall -Wextra -Werror -o $@ $< -lsqlite3

clean:
	rm -rf $(BUILD) .build
