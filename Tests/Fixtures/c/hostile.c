/*
 * A hostile plugin for the storage isolation tests, built against plugin.h
 * like any C plugin. It runs whatever SQL a test sends it, as the plugin
 * "hostile", through the storage feature (crm.storage.v1), so a test can try
 * every way out of its tables over the real socket. Requests are
 * crm.testing.v1.SqlRequest (field 1: sql), responses crm.testing.v1.SqlResponse
 * (field 1: the first column of each row as text, field 2: changes).
 *
 *   Exec      writes  prepare + step the one statement
 *   Query     reads   the same, on a reader snapshot
 *   Script    writes  exec the whole text (several statements)
 *   Stubborn  writes  like Exec, but answers OK whatever storage said
 *   Counters  writes  runs the statement, answers [last_insert_id, changes]
 *   Audit     writes  hands crm_access_api.audit an entry shaped as the
 *                     request's text names (see audit_case), for the audit
 *                     tests of what a C plugin may pass
 *   AuditRead reads   the same, from a method that does not write
 */
#include "crm/plugin.h"
#include "fixture_descriptor.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const crm_host_api *host;
static const crm_storage_api *db;
static const crm_access_api *access;

enum mode { EXEC, QUERY, SCRIPT, STUBBORN, COUNTERS, AUDIT, AUDIT_READ };

typedef struct {
    uint8_t *data;
    size_t len, cap;
    int failed;
} buffer;

static void put(buffer *b, const void *p, size_t n) {
    if (b->failed || n == 0) return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->len + n) cap *= 2;
        uint8_t *grown = realloc(b->data, cap);
        if (!grown) {
            b->failed = 1;
            return;
        }
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void put_varint(buffer *b, uint64_t v) {
    uint8_t out[10];
    size_t n = 0;
    do {
        out[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v) out[n] |= 0x80;
        n++;
    } while (v);
    put(b, out, n);
}

static void put_row(buffer *b, const void *text, size_t len) {
    put_varint(b, 0x0a);
    put_varint(b, len);
    put(b, text, len);
}

static void put_number(buffer *b, long long v) {
    char text[32];
    int n = snprintf(text, sizeof text, "%lld", v);
    put_row(b, text, n > 0 ? (size_t)n : 0);
}

static int read_varint(const uint8_t *p, size_t len, size_t *i, uint64_t *out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && *i < len; shift += 7) {
        uint8_t c = p[(*i)++];
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *out = v;
            return 1;
        }
    }
    return 0;
}

/* The sql field of a SqlRequest, copied and NUL-terminated; NULL if malformed. */
static char *request_sql(const uint8_t *p, size_t len) {
    size_t i = 0;
    while (i < len) {
        uint64_t key, n;
        if (!read_varint(p, len, &i, &key)) return NULL;
        if ((key & 7) == 0) {
            if (!read_varint(p, len, &i, &n)) return NULL;
        } else if ((key & 7) == 2) {
            if (!read_varint(p, len, &i, &n) || n > len - i) return NULL;
            if (key >> 3 == 1) {
                char *sql = malloc(n + 1);
                if (!sql) return NULL;
                memcpy(sql, p + i, n);
                sql[n] = 0;
                return sql;
            }
            i += n;
        } else {
            return NULL;
        }
    }
    return calloc(1, 1);
}

/* Prepares and steps `sql` to the end, keeping the first column of each row. */
static int32_t run(crm_call *call, const char *sql, buffer *out) {
    crm_stmt *stmt;
    int32_t st = db->prepare(call, sql, &stmt);
    if (st != CRM_STATUS_OK) return st;
    for (;;) {
        int has_row = 0;
        st = db->step(stmt, &has_row);
        if (st != CRM_STATUS_OK || !has_row) break;
        size_t n = 0;
        switch (db->column_type(stmt, 0)) {
        case CRM_VALUE_NULL: put_row(out, "NULL", 4); break;
        case CRM_VALUE_INTEGER: put_number(out, (long long)db->column_int64(stmt, 0)); break;
        default: {
            const uint8_t *bytes = db->column_bytes(stmt, 0, &n);
            put_row(out, bytes, bytes ? n : 0);
        }
        }
    }
    db->finalize(stmt);
    return st;
}

/* A field change as a newer header might define it: 16 bytes longer. */
typedef struct {
    crm_field_change base;
    uint64_t later[2];
} future_change;

/* One audit call for entity "hostile.item", record "1": "future" steps
 * elements of 48 bytes; "short" stamps 24; "mixed" stamps 32 then 48;
 * "huge" claims SIZE_MAX changes; "utf8" names a field in invalid UTF-8;
 * "entry" stamps the entry 16 bytes; anything else is a plain entry. */
static int32_t audit_case(crm_call *call, const char *name) {
    future_change changes[2];
    memset(changes, 0, sizeof changes);
    const char *fields[2] = {"name", "email"};
    for (int i = 0; i < 2; i++) {
        changes[i].base.struct_size = sizeof(future_change);
        changes[i].base.field = fields[i];
        changes[i].base.old_value = i == 0 ? "old" : NULL;
        changes[i].base.new_value = "new";
        changes[i].later[0] = changes[i].later[1] = UINT64_MAX;
    }
    crm_audit_entry entry = {sizeof(crm_audit_entry), "hostile.item", "1", "update", NULL,
                             &changes[0].base, 2};
    crm_field_change plain[2] = {{sizeof(crm_field_change), "name", "old", "new"},
                                 {sizeof(crm_field_change), "email", NULL, "new"}};
    if (strcmp(name, "future") != 0) entry.changes = plain;
    if (strcmp(name, "short") == 0) plain[0].struct_size = plain[1].struct_size = 24;
    if (strcmp(name, "mixed") == 0) plain[1].struct_size = sizeof(future_change);
    if (strcmp(name, "huge") == 0) entry.change_count = SIZE_MAX;
    if (strcmp(name, "utf8") == 0) plain[1].field = "\xff\xfe";
    if (strcmp(name, "entry") == 0) entry.struct_size = 16;
    int32_t st = access->audit(call, &entry);
    if (st != CRM_STATUS_OK) host->call_set_message(call, db->last_error(call));
    return st;
}

static int32_t handle(void *data, crm_call *call, const uint8_t *request, size_t len) {
    enum mode mode = (enum mode)(intptr_t)data;
    char *sql = request_sql(request, len);
    if (!sql) {
        host->call_set_message(call, "not a crm.testing.v1.SqlRequest");
        return CRM_STATUS_INVALID_ARGUMENT;
    }
    if (mode == AUDIT || mode == AUDIT_READ) {
        int32_t st = access ? audit_case(call, sql) : CRM_STATUS_UNIMPLEMENTED;
        free(sql);
        return st;
    }
    buffer out = {0};
    int32_t st = mode == SCRIPT ? db->exec(call, sql) : run(call, sql, &out);
    free(sql);
    if (mode == COUNTERS) {
        out.len = 0;
        put_number(&out, (long long)db->last_insert_id(call));
        put_number(&out, (long long)db->changes(call));
    } else {
        put_varint(&out, 0x10);
        put_varint(&out, (uint64_t)db->changes(call));
    }
    if (mode == STUBBORN) st = CRM_STATUS_OK;
    if (st == CRM_STATUS_OK && out.failed) st = CRM_STATUS_RESOURCE_EXHAUSTED;
    if (st == CRM_STATUS_OK) host->call_respond(call, out.data, out.len);
    free(out.data);
    return st;
}

static int32_t init(crm_plugin *self, const crm_host_api *api, const char **error) {
    host = api;
    db = api->get_feature(self, CRM_FEATURE_STORAGE_V1);
    if (!db) {
        *error = "this crmd offers no storage";
        return CRM_STATUS_FAILED_PRECONDITION;
    }
    access = api->get_feature(self, CRM_FEATURE_ACCESS_V1);
    return CRM_STATUS_OK;
}

#define SQL_METHOD(name, mode, method_flags)                                                  \
    {.struct_size = CRM_METHOD_DEF_SIZE, .full_name = "/crm.testing.v1.Hostile/" name,          \
     .kind = CRM_METHOD_UNARY, .handler = handle, .method_data = (void *)(intptr_t)(mode),     \
     .request_type = "crm.testing.v1.SqlRequest", .response_type = "crm.testing.v1.SqlResponse", \
     .flags = method_flags}

static const crm_method_def methods[] = {
    SQL_METHOD("Exec", EXEC, CRM_METHOD_FLAG_WRITES),
    SQL_METHOD("Query", QUERY, 0),
    SQL_METHOD("Script", SCRIPT, CRM_METHOD_FLAG_WRITES),
    SQL_METHOD("Stubborn", STUBBORN, CRM_METHOD_FLAG_WRITES),
    SQL_METHOD("Counters", COUNTERS, CRM_METHOD_FLAG_WRITES),
    SQL_METHOD("Audit", AUDIT, CRM_METHOD_FLAG_WRITES),
    SQL_METHOD("AuditRead", AUDIT_READ, 0),
};

static crm_plugin_def definition = {
    .struct_size = CRM_PLUGIN_DEF_SIZE,
    .abi_version = CRM_PLUGIN_ABI_VERSION,
    .name = "hostile",
    .version = "1.0.0",
    .description = "test fixture: tries to reach outside its own tables",
    .methods = methods,
    .method_count = sizeof methods / sizeof methods[0],
    .init = init,
};

#define SQL_RPC(name) {name, ".crm.testing.v1.SqlRequest", ".crm.testing.v1.SqlResponse", 0, 0, 0, 0, 0}
static const fixture_rpc rpcs[] = {SQL_RPC("Exec"), SQL_RPC("Query"), SQL_RPC("Script"), SQL_RPC("Stubborn"),
                                   SQL_RPC("Counters"), SQL_RPC("Audit"), SQL_RPC("AuditRead")};
static fixture_buf descriptor_set;

/* The entry runs once, on crmd's main thread, before anything else. */
CRM_PLUGIN_EXPORT const crm_plugin_def *crm_plugin_entry(uint32_t host_abi_version, const crm_host_api *api) {
    (void)host_abi_version, (void)api;
    fixture_descriptor_set(&descriptor_set, "crm/testing/v1/hostile.proto", "crm.testing.v1", "Hostile",
                           rpcs, sizeof rpcs / sizeof rpcs[0]);
    definition.descriptor_set = descriptor_set.bytes;
    definition.descriptor_set_len = descriptor_set.len;
    return &definition;
}
