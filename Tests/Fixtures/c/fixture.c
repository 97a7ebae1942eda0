/*
 * Misbehaving plugins for the plugin host's tests, one source compiled once
 * per variant:
 *   FIXTURE_NAME     plugin name (also the manifest's)
 *   FIXTURE_ABI      ABI version the binary claims (default: the real one)
 *   FIXTURE_DEP      a dependency name, FIXTURE_DEP_RANGE its version range
 *   FIXTURE_FAIL_INIT  init fails with FAILED_PRECONDITION
 *   FIXTURE_METHOD   the one method it serves
 *   FIXTURE_SECOND_MIGRATION  declare two migrations: <name>_items, then this SQL
 */
#include "crm/plugin.h"

#ifndef FIXTURE_METHOD
#define FIXTURE_METHOD "/crm.testing.v1." FIXTURE_NAME "/Ping"
#endif

#ifndef FIXTURE_ABI
#define FIXTURE_ABI CRM_PLUGIN_ABI_VERSION
#endif

static int32_t ping(void *data, crm_call *call, const uint8_t *request, size_t len) {
    (void)data, (void)call, (void)request, (void)len;
    return CRM_STATUS_OK;
}

static int32_t init(crm_plugin *self, const crm_host_api *host, const char **error) {
    (void)self, (void)host;
#ifdef FIXTURE_FAIL_INIT
    *error = "license key missing";
    return CRM_STATUS_FAILED_PRECONDITION;
#else
    (void)error;
    return CRM_STATUS_OK;
#endif
}

static const crm_method_def methods[] = {
    {CRM_METHOD_DEF_SIZE, FIXTURE_METHOD, CRM_METHOD_UNARY, ping, 0, "crm.testing.v1.Empty", "crm.testing.v1.Empty", 0},
};

#ifdef FIXTURE_DEP
static const crm_dependency_def dependencies[] = {{CRM_DEPENDENCY_DEF_SIZE, FIXTURE_DEP, FIXTURE_DEP_RANGE}};
#endif

#ifdef FIXTURE_SECOND_MIGRATION
static const crm_migration_def migrations[] = {
    {CRM_MIGRATION_DEF_SIZE, 1, "create_items",
     "CREATE TABLE " FIXTURE_NAME "_items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)"},
    {CRM_MIGRATION_DEF_SIZE, 2, "second", FIXTURE_SECOND_MIGRATION},
};
#endif

static const crm_plugin_def definition = {
    .struct_size = CRM_PLUGIN_DEF_SIZE,
    .abi_version = FIXTURE_ABI,
    .name = FIXTURE_NAME,
    .version = "1.0.0",
    .description = "test fixture",
#ifdef FIXTURE_DEP
    .dependencies = dependencies,
    .dependency_count = 1,
#endif
    .methods = methods,
    .method_count = 1,
#ifdef FIXTURE_SECOND_MIGRATION
    .migrations = migrations,
    .migration_count = 2,
#endif
    .init = init,
};

CRM_DECLARE_PLUGIN(definition)
