/*
 * Misbehaving plugins for the plugin host's tests, one source compiled once
 * per variant:
 *   FIXTURE_NAME     plugin name (also the manifest's)
 *   FIXTURE_ABI      ABI version the binary claims (default: the real one)
 *   FIXTURE_DEP      a dependency name, FIXTURE_DEP_RANGE its version range
 *   FIXTURE_FAIL_INIT  init fails with FAILED_PRECONDITION
 *   FIXTURE_SERVICE, FIXTURE_RPC  the one method it serves (default
 *                    /crm.testing.v1.<name>/Ping)
 *   FIXTURE_SECOND_MIGRATION  declare two migrations: <name>_items, then this SQL
 *   FIXTURE_DECLARE_UNSERVED  its descriptor set also declares Pong, unserved
 *   FIXTURE_SERVE_UNDECLARED  it also serves Extra, which its set does not declare
 *   FIXTURE_DECLARED_REQUEST, FIXTURE_DECLARED_RESPONSE  the types its set gives Ping
 *   FIXTURE_DECLARED_STREAMING  its set says Ping streams (it serves it unary)
 *   FIXTURE_OPTIONS  its set gives Ping (crm.options.v1.method) options:
 *                    FIXTURE_OPTIONS = {has_options, writes, idempotent, permission}
 *   FIXTURE_NO_DESCRIPTOR     ships no descriptor set
 *   FIXTURE_FUTURE_STRIDE     its method and migration entries carry fields a
 *                    later header appended (stamped larger than crmd's structs)
 *   FIXTURE_PLUGIN_HANDLER    serves Ping with a crm_plugin_handler_fn, which
 *                    answers with the plugin name it finds through `self`
 *   FIXTURE_BAD_STAMP  its method entry is stamped 4 bytes more than its struct
 *                    (no struct size: it would end inside a field)
 *   FIXTURE_PUBLISH  Ping is flagged CRM_METHOD_FLAG_WRITES and publishes
 *                    <name>.thing.pinged, declared nowhere (as ABI 1.0 allowed)
 * Built against today's plugin.h, or (the abi10 variant) against the copy of
 * ABI 1's first header in abi-1.0/, whose structs are smaller.
 */
#include "crm/plugin.h"
#include "fixture_descriptor.h"

#ifndef FIXTURE_SERVICE
#define FIXTURE_SERVICE FIXTURE_NAME
#endif
#ifndef FIXTURE_RPC
#define FIXTURE_RPC "Ping"
#endif
#define FIXTURE_METHOD "/crm.testing.v1." FIXTURE_SERVICE "/" FIXTURE_RPC
#ifndef FIXTURE_DECLARED_REQUEST
#define FIXTURE_DECLARED_REQUEST "crm.testing.v1.Empty"
#endif
#ifndef FIXTURE_DECLARED_RESPONSE
#define FIXTURE_DECLARED_RESPONSE "crm.testing.v1.Empty"
#endif
#ifndef FIXTURE_DECLARED_STREAMING
#define FIXTURE_DECLARED_STREAMING 0
#endif
#ifndef FIXTURE_OPTIONS
#define FIXTURE_OPTIONS 0, 0, 0, 0
#endif

#ifndef FIXTURE_ABI
#define FIXTURE_ABI CRM_PLUGIN_ABI_VERSION
#endif

#ifdef FIXTURE_PUBLISH
static const crm_bus_api *bus;
#define PING_FLAGS CRM_METHOD_FLAG_WRITES
#else
#define PING_FLAGS 0
#endif

#if !defined(FIXTURE_PLUGIN_HANDLER) || defined(FIXTURE_SERVE_UNDECLARED)
static int32_t ping(void *data, crm_call *call, const uint8_t *request, size_t len) {
    (void)data, (void)call, (void)request, (void)len;
#ifdef FIXTURE_PUBLISH
    return bus->publish(call, FIXTURE_NAME ".thing.pinged", "crm.testing.v1.Empty", NULL, 0, NULL);
#else
    return CRM_STATUS_OK;
#endif
}
#endif

#ifdef FIXTURE_PLUGIN_HANDLER
/* Answers with a message whose field 1 is the plugin's config value "greeting"
 * (looked up through `self` and `host`, no globals), or "hello". */
static int32_t ping_with_self(crm_plugin *self, const crm_host_api *host, void *data, crm_call *call,
                              const uint8_t *request, size_t len) {
    (void)data, (void)request, (void)len;
    if (!self || !host || !CRM_HAS_MEMBER(host, config_get)) return CRM_STATUS_INTERNAL;
    const char *greeting = host->config_get(self, "greeting");
    if (!greeting) greeting = "hello";
    uint8_t reply[130];
    size_t n = strlen(greeting);
    if (n > 127) n = 127;
    reply[0] = 1 << 3 | 2;
    reply[1] = (uint8_t)n;
    memcpy(reply + 2, greeting, n);
    host->call_respond(call, reply, n + 2);
    return CRM_STATUS_OK;
}
#endif

static int32_t init(crm_plugin *self, const crm_host_api *host, const char **error) {
    (void)self, (void)host;
#ifdef FIXTURE_PUBLISH
    if (!(bus = host->get_feature(self, CRM_FEATURE_BUS_V1))) return CRM_STATUS_FAILED_PRECONDITION;
#endif
#ifdef FIXTURE_FAIL_INIT
    *error = "license key missing";
    return CRM_STATUS_FAILED_PRECONDITION;
#else
    (void)error;
    return CRM_STATUS_OK;
#endif
}

#ifdef FIXTURE_FUTURE_STRIDE
/* Entries as a later header would lay them out: the same fields, then more. */
typedef struct future_method { crm_method_def def; uint64_t added_later[3]; } future_method;
typedef struct future_migration { crm_migration_def def; uint64_t added_later[2]; } future_migration;
#define METHOD_ENTRY(name, handler_field) \
    {{sizeof(future_method), name, CRM_METHOD_UNARY, .handler_field, 0, "crm.testing.v1.Empty", "crm.testing.v1.Empty", \
      PING_FLAGS}, {1, 2, 3}}
#define MIGRATION_ENTRY(...) {{sizeof(future_migration), __VA_ARGS__}, {4, 5}}
#else
typedef crm_method_def future_method;
typedef crm_migration_def future_migration;
#ifdef FIXTURE_BAD_STAMP
#define METHOD_STAMP (CRM_METHOD_DEF_SIZE + 4)
#else
#define METHOD_STAMP CRM_METHOD_DEF_SIZE
#endif
/* Designated: a positional list would miss the fields a newer header appends. */
#define METHOD_ENTRY(name, handler_field) \
    {.struct_size = METHOD_STAMP, .full_name = name, .kind = CRM_METHOD_UNARY, .handler_field, \
     .request_type = "crm.testing.v1.Empty", .response_type = "crm.testing.v1.Empty", .flags = PING_FLAGS}
#define MIGRATION_ENTRY(...) {CRM_MIGRATION_DEF_SIZE, __VA_ARGS__}
#endif

static const future_method methods[] = {
#ifdef FIXTURE_PLUGIN_HANDLER
    METHOD_ENTRY(FIXTURE_METHOD, plugin_handler = ping_with_self),
#else
    METHOD_ENTRY(FIXTURE_METHOD, handler = ping),
#endif
#ifdef FIXTURE_SERVE_UNDECLARED
    METHOD_ENTRY("/crm.testing.v1." FIXTURE_SERVICE "/Extra", handler = ping),
#endif
};

static const fixture_rpc rpcs[] = {
    {FIXTURE_RPC, "." FIXTURE_DECLARED_REQUEST, "." FIXTURE_DECLARED_RESPONSE, FIXTURE_DECLARED_STREAMING, FIXTURE_OPTIONS},
#ifdef FIXTURE_DECLARE_UNSERVED
    {"Pong", ".crm.testing.v1.Empty", ".crm.testing.v1.Empty", 0, 0, 0, 0, 0},
#endif
};

#ifdef FIXTURE_DEP
static const crm_dependency_def dependencies[] = {{CRM_DEPENDENCY_DEF_SIZE, FIXTURE_DEP, FIXTURE_DEP_RANGE}};
#endif

#ifdef FIXTURE_SECOND_MIGRATION
static const future_migration migrations[] = {
    MIGRATION_ENTRY(1, "create_items", "CREATE TABLE " FIXTURE_NAME "_items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)"),
    MIGRATION_ENTRY(2, "second", FIXTURE_SECOND_MIGRATION),
};
#endif

static crm_plugin_def definition = {
    .struct_size = CRM_PLUGIN_DEF_SIZE,
    .abi_version = FIXTURE_ABI,
    .name = FIXTURE_NAME,
    .version = "1.0.0",
    .description = "test fixture",
#ifdef FIXTURE_DEP
    .dependencies = dependencies,
    .dependency_count = 1,
#endif
    .methods = (const crm_method_def *)methods,
    .method_count = sizeof methods / sizeof methods[0],
#ifdef FIXTURE_SECOND_MIGRATION
    .migrations = (const crm_migration_def *)migrations,
    .migration_count = 2,
#endif
    .init = init,
};

static fixture_buf descriptor_set;

/* The entry runs once, on crmd's main thread, before anything else. */
CRM_PLUGIN_EXPORT const crm_plugin_def *crm_plugin_entry(uint32_t host_abi_version, const crm_host_api *host) {
    (void)host_abi_version, (void)host;
    fixture_descriptor_set(&descriptor_set, "crm/testing/v1/" FIXTURE_NAME ".proto", "crm.testing.v1", FIXTURE_SERVICE,
                           rpcs, sizeof rpcs / sizeof rpcs[0]);
#ifndef FIXTURE_NO_DESCRIPTOR
    definition.descriptor_set = descriptor_set.bytes;
    definition.descriptor_set_len = descriptor_set.len;
#endif
    return &definition;
}
