# The plugin SDK, for plugins built outside the repository (see
# docs/PLUGINS.md, "Writing a plugin outside the repository"):
#   make install-sdk PREFIX=/opt/crm      (default /usr/local; DESTDIR too)
# installs
#   include/crm/*.h, include/crm/options/v1/options.pb-c.h
#   lib/libcrmplugin.a        every sdk/c/src/*.c but crm_abi.c, built -fPIC
#   share/crm/proto/crm/options/v1/options.proto
#   lib/pkgconfig/crm-plugin.pc
#   bin/protoc-gen-swift      only if proto/generate.sh has built one
PREFIX ?= /usr/local
SDK_BUILD = $(BUILD)/sdk
# crm_abi.c holds the layout checks that make sdk/c a module for Swift; a
# new helper file in sdk/c/src joins the library by being there.
SDK_LIB_SOURCES = $(filter-out sdk/c/src/crm_abi.c,$(wildcard sdk/c/src/*.c))
SDK_OBJECTS = $(patsubst sdk/c/src/%.c,$(SDK_BUILD)/obj/%.o,$(SDK_LIB_SOURCES))
SDK_HEADERS = $(wildcard sdk/c/include/crm/*.h sdk/c/include/crm/options/v1/*.h)
# Hidden: a plugin linking the library exports nothing of it.
SDK_CFLAGS = -std=c11 -O2 -fPIC -fvisibility=hidden -Wall -Wextra -Werror -I sdk/c/include
SDK_ABI = $(shell sed -n 's/^\#define CRM_PLUGIN_ABI_VERSION \([0-9]*\)u*$$/\1/p' sdk/c/include/crm/plugin.h)
SDK_PROTOC_GEN_SWIFT = .build-protoc/debug/protoc-gen-swift
SDK_DEST = $(DESTDIR)$(PREFIX)

.PHONY: install-sdk

$(SDK_BUILD)/obj/%.o: sdk/c/src/%.c $(SDK_HEADERS) sdk/mk/install.mk
	@mkdir -p $(dir $@)
	$(CC) $(SDK_CFLAGS) -c -o $@ $<

$(SDK_BUILD)/libcrmplugin.a: $(SDK_OBJECTS)
	@rm -f $@
	ar rcs $@ $^

$(SDK_BUILD)/crm-plugin.pc: sdk/pkgconfig/crm-plugin.pc.in sdk/c/include/crm/plugin.h sdk/mk/install.mk
	@mkdir -p $(dir $@)
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@ABI@|$(SDK_ABI)|g' $< >$@

install-sdk: deps $(SDK_BUILD)/libcrmplugin.a $(SDK_BUILD)/crm-plugin.pc
	install -d $(SDK_DEST)/include/crm/options/v1 $(SDK_DEST)/lib/pkgconfig \
	  $(SDK_DEST)/share/crm/proto/crm/options/v1
	install -m 644 $(wildcard sdk/c/include/crm/*.h) $(SDK_DEST)/include/crm/
	install -m 644 $(wildcard sdk/c/include/crm/options/v1/*.h) $(SDK_DEST)/include/crm/options/v1/
	install -m 644 $(SDK_BUILD)/libcrmplugin.a $(SDK_DEST)/lib/
	install -m 644 $(SDK_BUILD)/crm-plugin.pc $(SDK_DEST)/lib/pkgconfig/
	install -m 644 proto/crm/options/v1/options.proto $(SDK_DEST)/share/crm/proto/crm/options/v1/
	@if [ -x $(SDK_PROTOC_GEN_SWIFT) ]; then \
	  install -d $(SDK_DEST)/bin && install -m 755 $(SDK_PROTOC_GEN_SWIFT) $(SDK_DEST)/bin/ && \
	  echo "installed $(SDK_DEST)/bin/protoc-gen-swift"; \
	else echo "no $(SDK_PROTOC_GEN_SWIFT) (proto/generate.sh builds it): Swift plugins need PROTOC_GEN_SWIFT"; fi
	@echo "crm plugin SDK in $(SDK_DEST): PKG_CONFIG_PATH=$(SDK_DEST)/lib/pkgconfig pkg-config --cflags --libs crm-plugin"
