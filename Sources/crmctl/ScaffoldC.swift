/// `crmctl plugin new NAME --lang c`: a protobuf-c plugin built with the
/// installed SDK (pkg-config crm-plugin), its descriptor set embedded by the
/// assembler's .incbin.
enum ScaffoldC {
    static func files(_ n: ScaffoldNames) -> [ScaffoldFile] {
        ScaffoldCommon.files(n, language: "C", build: """
            Build it with the SDK that `make install-sdk PREFIX=...` installs from the crm
            repository (protoc, protoc-c, libprotobuf-c-dev, libprotobuf-dev for
            descriptor.proto, and pkg-config from Debian):

            ```sh
            export PKG_CONFIG_PATH=PREFIX/lib/pkgconfig   # not needed for /usr/local
            make
            make smoke CRMD=path/to/crmd CRMCTL=path/to/crmctl
            ```
            """) + [
            ScaffoldFile(path: "Makefile", text: makefile(n)),
            ScaffoldFile(path: "src/\(n.plugin).c", text: source(n)),
            ScaffoldFile(path: "src/descriptor.S", text: descriptorAssembly),
        ]
    }

    static func makefile(_ n: ScaffoldNames) -> String {
        #"""
        # Builds the \#(n.plugin) plugin against the installed crm plugin SDK:
        #   make                 build/\#(n.plugin).so and the manifest beside it
        #   make smoke           loads it into crmd and calls it (CRMD=..., CRMCTL=...)
        #   make install PLUGIN_DIR=/path/to/crmd/plugins
        # The SDK comes from `make install-sdk PREFIX=...` in the crm repository;
        # for a PREFIX other than /usr/local, set PKG_CONFIG_PATH=PREFIX/lib/pkgconfig.
        NAME = \#(n.plugin)
        PROTO = \#(n.protoPath)
        CC ?= cc
        PKG_CONFIG ?= pkg-config
        PROTOC ?= protoc
        PROTOC_C ?= protoc-c
        CRMD ?= crmd
        CRMCTL ?= crmctl
        BUILD = build

        SDK_CFLAGS := $(shell $(PKG_CONFIG) --cflags crm-plugin)
        SDK_LIBS := $(shell $(PKG_CONFIG) --libs crm-plugin)
        SDK_PROTO := $(shell $(PKG_CONFIG) --variable=protodir crm-plugin)
        ifeq ($(SDK_PROTO),)
        $(error no crm-plugin.pc: run `make install-sdk PREFIX=...` in the crm repository, set PKG_CONFIG_PATH=PREFIX/lib/pkgconfig)
        endif

        # -fvisibility=hidden: crm_plugin_entry is the only symbol the plugin exports.
        CFLAGS ?= -O2
        ALL_CFLAGS = -std=c11 $(CFLAGS) -fPIC -fvisibility=hidden -Wall -Wextra -Werror $(SDK_CFLAGS) -I $(BUILD)/gen
        GEN_C = $(BUILD)/gen/$(PROTO:.proto=.pb-c.c)
        DESCRIPTOR_SET = $(BUILD)/$(NAME).binpb
        OBJECTS = $(BUILD)/$(NAME).o $(BUILD)/descriptor.o $(GEN_C:.c=.o)

        .PHONY: all smoke install clean

        all: $(BUILD)/$(NAME).so $(BUILD)/$(NAME).plugin.json

        $(GEN_C): proto/$(PROTO)
        \#t@mkdir -p $(BUILD)/gen
        \#t$(PROTOC_C) -I proto -I $(SDK_PROTO) --c_out=$(BUILD)/gen $(PROTO)

        # The contract with every file it imports (crm/options/v1, descriptor.proto):
        # crmd reads each rpc's options from this set.
        $(DESCRIPTOR_SET): proto/$(PROTO)
        \#t@mkdir -p $(BUILD)
        \#t$(PROTOC) -I proto -I $(SDK_PROTO) --include_imports --descriptor_set_out=$@ $(PROTO)

        $(BUILD)/$(NAME).o: src/$(NAME).c $(GEN_C)
        \#t$(CC) $(ALL_CFLAGS) -c -o $@ $<

        $(GEN_C:.c=.o): $(GEN_C)
        \#t$(CC) $(ALL_CFLAGS) -c -o $@ $<

        # The assembler's .incbin copies the set's bytes into the plugin.
        $(BUILD)/descriptor.o: src/descriptor.S $(DESCRIPTOR_SET)
        \#t$(CC) -c -DDESCRIPTOR_SET='"$(DESCRIPTOR_SET)"' -o $@ $<

        $(BUILD)/$(NAME).so: $(OBJECTS)
        \#t$(CC) -shared -o $@ $(OBJECTS) $(SDK_LIBS)

        """# + ScaffoldCommon.makefileTail(clean: "$(BUILD)")
    }

    static let descriptorAssembly = #"""
        /* The serialized FileDescriptorSet of the contract, embedded as bytes by the
         * assembler (.incbin): DESCRIPTOR_SET is its path, given by the Makefile.
         * Hidden, so the plugin still exports crm_plugin_entry alone. */
            .section .rodata
            .balign 8
            .globl plugin_descriptor_set
            .hidden plugin_descriptor_set
        plugin_descriptor_set:
            .incbin DESCRIPTOR_SET
            .globl plugin_descriptor_set_end
            .hidden plugin_descriptor_set_end
        plugin_descriptor_set_end:
            .section .note.GNU-stack,"",%progbits

        """#

    static func source(_ n: ScaffoldNames) -> String {
        let type = n.cTypePrefix, fn = n.cFunctionPrefix, table = "\(n.plugin)_items"
        return #"""
        /*
         * The \#(n.plugin) plugin: CreateItem stores a text in \#(table), GetItem
         * reads it back. Its contract is proto/\#(n.protoPath): whether
         * a method writes, and its permission, crmd takes from the rpc's options.
         */
        #include "crm/plugin_sql.h"
        #include "\#(n.protoPath.dropLast(".proto".count)).pb-c.h"

        /* src/descriptor.S */
        extern const uint8_t plugin_descriptor_set[], plugin_descriptor_set_end[];

        static int32_t create_item(crm_pbc_call *c, const void *request) {
            const \#(type)CreateItemRequest *req = request;
            if (!req->text[0]) return crm_pbc_fail(c, CRM_STATUS_INVALID_ARGUMENT, "text is required");
            int32_t status = crm_sql_exec(c, "INSERT INTO \#(table) (text) VALUES (?)", "t", req->text);
            if (status != CRM_STATUS_OK) return status; /* SQLite's message is already the call's */
            \#(type)Item reply;
            \#(fn)item__init(&reply);
            reply.id = (uint64_t)c->storage->last_insert_id(c->call);
            reply.text = req->text;
            return crm_pbc_respond(c, &reply.base);
        }

        static int32_t get_item(crm_pbc_call *c, const void *request) {
            const \#(type)GetItemRequest *req = request;
            const crm_sql_row *row;
            /* An id above INT64_MAX is negative as int64_t: it finds no row. */
            int32_t status = crm_sql_query_one(c, &row, "SELECT text FROM \#(table) WHERE id = ?", "i", (int64_t)req->id);
            if (status != CRM_STATUS_OK) return status;
            if (!row) return crm_pbc_fail(c, CRM_STATUS_NOT_FOUND, "item %llu not found", (unsigned long long)req->id);
            \#(type)Item reply;
            \#(fn)item__init(&reply);
            reply.id = req->id;
            reply.text = (char *)crm_sql_text(row, 0); /* the call's memory, valid until the handler returns */
            return crm_pbc_respond(c, &reply.base);
        }

        static int32_t init(crm_plugin *self, const crm_host_api *host, const char **error) {
            if (host->get_feature(self, CRM_FEATURE_STORAGE_V1)) return CRM_STATUS_OK;
            *error = "this crmd offers no storage";
            return CRM_STATUS_FAILED_PRECONDITION;
        }

        /* Tables are named \#(n.plugin)_...: crmd lets the plugin reach no others. */
        static const crm_migration_def migrations[] = {
            {CRM_MIGRATION_DEF_SIZE, 1, "items", "CREATE TABLE \#(table) (id INTEGER PRIMARY KEY, text TEXT NOT NULL)"},
        };

        /* One binding per rpc of the .proto. */
        static const crm_pbc_binding bindings[] = {
            {"CreateItem", create_item, NULL, 0},
            {"GetItem", get_item, NULL, 0},
        };
        static crm_plugin_def definition = {
            .struct_size = CRM_PLUGIN_DEF_SIZE,
            .abi_version = CRM_PLUGIN_ABI_VERSION,
            .name = "\#(n.plugin)",
            .version = "0.1.0",
            .description = "\#(n.plugin) plugin",
            .migrations = migrations,
            .migration_count = sizeof migrations / sizeof migrations[0],
            .init = init,
        };

        /* Binds the service into `definition` and exports crm_plugin_entry. */
        CRM_PBC_DECLARE_PLUGIN(definition, \#(fn)\#(n.plugin)__descriptor, bindings, plugin_descriptor_set,
                               (size_t)(plugin_descriptor_set_end - plugin_descriptor_set))

        """#
    }
}
