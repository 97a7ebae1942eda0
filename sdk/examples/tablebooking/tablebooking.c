/*
 * An example industry plugin in C: table bookings for a restaurant.
 *
 * Shows the whole C path: plugin.h for the ABI, plugin_pbc.h to bind a
 * protoc-c service to typed handlers, a FileDescriptorSet for Reflection,
 * the kernel's storage ("crm.storage.v1": bookings live in SQLite, in a
 * table named with the plugin's prefix, created by a numbered migration)
 * and bus ("crm.bus.v1": each booking publishes tablebooking.booking.created
 * in the same transaction).
 *
 * CreateBooking is declared CRM_METHOD_FLAG_WRITES: crmd runs it in a write
 * transaction, so checking a table is free and inserting the booking cannot
 * race another booking, and a failure leaves nothing behind.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm/plugin_pbc.h"
#include "tablebooking/tablebooking.pb-c.h"

#define SLOT_SECONDS 7200 /* a booking holds its table for two hours */
#define MAX_NAME 200
#define DEFAULT_PAGE 50
#define MAX_PAGE 500
#define LATEST_START 253402300799LL /* 9999-12-31T23:59:59Z: keeps +-SLOT_SECONDS in range */

extern const uint8_t tablebooking_descriptor_set[];
extern const size_t tablebooking_descriptor_set_len;

typedef struct table { const char *name; uint32_t seats; } table;
/* Smallest first, so the first free table that fits is the best fit. */
static const table tables[] = {{"T1", 2}, {"T2", 2}, {"T3", 4}, {"T4", 4}, {"T5", 6}, {"T6", 8}};
#define TABLE_COUNT (sizeof tables / sizeof tables[0])

static crm_plugin *self_plugin;
static const crm_storage_api *db;
static const crm_bus_api *bus;

/* Fails the call with the storage error the host recorded (SQLite's message). */
static int32_t storage_failed(crm_call *call, int32_t status) {
    return crm_pbc_fail(call, status, "%s", db->last_error(call));
}

/* Copies column `col` of the current row (text) into a malloc'd string. */
static char *column_text(crm_stmt *stmt, int col) {
    size_t len = 0;
    const uint8_t *bytes = db->column_bytes(stmt, col, &len);
    char *out = malloc(len + 1);
    if (out) {
        if (len) memcpy(out, bytes, len);
        out[len] = '\0';
    }
    return out;
}

#define SELECT_BOOKING "SELECT id, guest_name, party_size, starts_at, table_name, phone FROM tablebooking_bookings "

/* Fills `out` from the current row; the strings are malloc'd (free_booking). */
static int read_booking(crm_stmt *stmt, Crm__Example__Tablebooking__V1__Booking *out) {
    crm__example__tablebooking__v1__booking__init(out);
    out->id = (uint64_t)db->column_int64(stmt, 0);
    out->guest_name = column_text(stmt, 1);
    out->party_size = (uint32_t)db->column_int64(stmt, 2);
    out->starts_at = db->column_int64(stmt, 3);
    out->table = column_text(stmt, 4);
    out->phone = column_text(stmt, 5);
    return out->guest_name && out->table && out->phone;
}

static void free_booking(Crm__Example__Tablebooking__V1__Booking *b) {
    free(b->guest_name);
    free(b->table);
    free(b->phone);
}

/* 1 if table `t` has no booking overlapping a slot from `starts_at`, 0 if it
 * has, a negative status on a storage error. */
static int32_t table_free(crm_call *call, size_t t, int64_t starts_at) {
    crm_stmt *stmt;
    int32_t status = db->prepare(call,
        "SELECT 1 FROM tablebooking_bookings WHERE table_name = ? AND starts_at > ? AND starts_at < ? LIMIT 1", &stmt);
    if (status != CRM_STATUS_OK) return -status;
    int has_row = 0;
    if ((status = db->bind_text(stmt, 1, tables[t].name, strlen(tables[t].name))) != CRM_STATUS_OK ||
        (status = db->bind_int64(stmt, 2, starts_at - SLOT_SECONDS)) != CRM_STATUS_OK ||
        (status = db->bind_int64(stmt, 3, starts_at + SLOT_SECONDS)) != CRM_STATUS_OK ||
        (status = db->step(stmt, &has_row)) != CRM_STATUS_OK) {
        db->finalize(stmt);
        return -status;
    }
    db->finalize(stmt);
    return has_row ? 0 : 1;
}

/* A page token is the decimal id of the last booking already listed: digits
 * only (strtoull alone would take spaces, signs and overflow quietly). */
static int parse_token(const char *token, uint64_t *after) {
    uint64_t value = 0;
    if (!*token) return 0;
    for (; *token; token++) {
        if (*token < '0' || *token > '9') return 0;
        unsigned digit = (unsigned)(*token - '0');
        if (value > (UINT64_MAX - digit) / 10) return 0;
        value = value * 10 + digit;
    }
    if (value > INT64_MAX) return 0;
    *after = value;
    return 1;
}

static int32_t create_booking(crm_call *call, const ProtobufCMessage *message, void *user_data) {
    (void)user_data;
    const Crm__Example__Tablebooking__V1__CreateBookingRequest *req = (const void *)message;
    size_t name_len = strlen(req->guest_name);
    if (name_len == 0) return crm_pbc_fail(call, CRM_STATUS_INVALID_ARGUMENT, "guest_name is required");
    if (name_len > MAX_NAME)
        return crm_pbc_fail(call, CRM_STATUS_INVALID_ARGUMENT, "guest_name is longer than %d bytes", MAX_NAME);
    if (req->party_size < 1 || req->party_size > tables[TABLE_COUNT - 1].seats)
        return crm_pbc_fail(call, CRM_STATUS_INVALID_ARGUMENT, "party_size must be 1 to %u, got %u",
                            tables[TABLE_COUNT - 1].seats, req->party_size);
    if (req->starts_at <= 0 || req->starts_at > LATEST_START)
        return crm_pbc_fail(call, CRM_STATUS_INVALID_ARGUMENT,
                            "starts_at must be seconds since the Unix epoch (UTC), before the year 10000");

    size_t t = 0;
    for (; t < TABLE_COUNT; t++) {
        if (tables[t].seats < req->party_size) continue;
        int32_t free_now = table_free(call, t, req->starts_at);
        if (free_now < 0) return storage_failed(call, -free_now);
        if (free_now) break;
    }
    if (t == TABLE_COUNT)
        return crm_pbc_fail(call, CRM_STATUS_RESOURCE_EXHAUSTED, "no table for %u at that time", req->party_size);

    crm_stmt *insert;
    int32_t status = db->prepare(call,
        "INSERT INTO tablebooking_bookings (guest_name, phone, party_size, starts_at, table_name) VALUES (?, ?, ?, ?, ?)",
        &insert);
    if (status != CRM_STATUS_OK) return storage_failed(call, status);
    int has_row = 0;
    if ((status = db->bind_text(insert, 1, req->guest_name, name_len)) != CRM_STATUS_OK ||
        (status = db->bind_text(insert, 2, req->phone, strlen(req->phone))) != CRM_STATUS_OK ||
        (status = db->bind_int64(insert, 3, req->party_size)) != CRM_STATUS_OK ||
        (status = db->bind_int64(insert, 4, req->starts_at)) != CRM_STATUS_OK ||
        (status = db->bind_text(insert, 5, tables[t].name, strlen(tables[t].name))) != CRM_STATUS_OK ||
        (status = db->step(insert, &has_row)) != CRM_STATUS_OK) {
        db->finalize(insert);
        return storage_failed(call, status);
    }
    db->finalize(insert);

    Crm__Example__Tablebooking__V1__Booking reply;
    crm__example__tablebooking__v1__booking__init(&reply);
    reply.id = (uint64_t)db->last_insert_id(call);
    reply.guest_name = req->guest_name;
    reply.party_size = req->party_size;
    reply.starts_at = req->starts_at;
    reply.table = (char *)tables[t].name;
    reply.phone = req->phone;

    /* The event commits with the booking, or neither does. */
    size_t size = protobuf_c_message_get_packed_size(&reply.base);
    uint8_t *bytes = malloc(size ? size : 1);
    if (!bytes) return crm_pbc_fail(call, CRM_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    protobuf_c_message_pack(&reply.base, bytes);
    status = bus->publish(call, "tablebooking.booking.created", "crm.example.tablebooking.v1.Booking", bytes, size, NULL);
    free(bytes);
    if (status != CRM_STATUS_OK) return storage_failed(call, status);

    char line[128];
    snprintf(line, sizeof line, "booking %llu: %s for %u at %lld", (unsigned long long)reply.id, tables[t].name,
             req->party_size, (long long)req->starts_at);
    crm_pbc_host()->log(self_plugin, CRM_LOG_INFO, line);
    return crm_pbc_respond(call, &reply.base);
}

static int32_t get_booking(crm_call *call, const ProtobufCMessage *message, void *user_data) {
    (void)user_data;
    const Crm__Example__Tablebooking__V1__GetBookingRequest *req = (const void *)message;
    if (req->id == 0 || req->id > INT64_MAX)
        return crm_pbc_fail(call, CRM_STATUS_NOT_FOUND, "booking %llu not found", (unsigned long long)req->id);
    crm_stmt *stmt;
    int32_t status = db->prepare(call, SELECT_BOOKING "WHERE id = ?", &stmt);
    if (status != CRM_STATUS_OK) return storage_failed(call, status);
    int has_row = 0;
    if ((status = db->bind_int64(stmt, 1, (int64_t)req->id)) != CRM_STATUS_OK ||
        (status = db->step(stmt, &has_row)) != CRM_STATUS_OK) {
        db->finalize(stmt);
        return storage_failed(call, status);
    }
    if (!has_row) {
        db->finalize(stmt);
        return crm_pbc_fail(call, CRM_STATUS_NOT_FOUND, "booking %llu not found", (unsigned long long)req->id);
    }
    Crm__Example__Tablebooking__V1__Booking reply;
    int ok = read_booking(stmt, &reply);
    db->finalize(stmt);
    status = ok ? crm_pbc_respond(call, &reply.base) : crm_pbc_fail(call, CRM_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    free_booking(&reply);
    return status;
}

static int32_t list_bookings(crm_call *call, const ProtobufCMessage *message, void *user_data) {
    (void)user_data;
    const Crm__Example__Tablebooking__V1__ListBookingsRequest *req = (const void *)message;
    size_t page = req->page_size == 0 ? DEFAULT_PAGE : (req->page_size > MAX_PAGE ? MAX_PAGE : req->page_size);
    uint64_t after = 0;
    if (req->page_token[0] && !parse_token(req->page_token, &after))
        return crm_pbc_fail(call, CRM_STATUS_INVALID_ARGUMENT, "page_token is not valid");
    crm_stmt *stmt;
    int32_t status = db->prepare(call, SELECT_BOOKING "WHERE id > ? ORDER BY id LIMIT ?", &stmt);
    if (status != CRM_STATUS_OK) return storage_failed(call, status);
    /* One row more than the page, to know whether another page follows. */
    if ((status = db->bind_int64(stmt, 1, (int64_t)after)) != CRM_STATUS_OK ||
        (status = db->bind_int64(stmt, 2, (int64_t)page + 1)) != CRM_STATUS_OK) {
        db->finalize(stmt);
        return storage_failed(call, status);
    }
    Crm__Example__Tablebooking__V1__Booking *items = calloc(page, sizeof *items);
    Crm__Example__Tablebooking__V1__Booking **pointers = calloc(page, sizeof *pointers);
    size_t n = 0;
    int has_row = 0, more = 0, ok = items && pointers;
    while (ok && (status = db->step(stmt, &has_row)) == CRM_STATUS_OK && has_row) {
        if (n == page) { more = 1; break; }
        ok = read_booking(stmt, &items[n]);
        pointers[n] = &items[n];
        n++;
    }
    db->finalize(stmt);
    if (!ok) status = crm_pbc_fail(call, CRM_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    else if (status != CRM_STATUS_OK) status = storage_failed(call, status);
    else {
        char next[24] = "";
        if (more) snprintf(next, sizeof next, "%llu", (unsigned long long)items[n - 1].id);
        Crm__Example__Tablebooking__V1__ListBookingsResponse reply;
        crm__example__tablebooking__v1__list_bookings_response__init(&reply);
        reply.n_bookings = n;
        reply.bookings = pointers;
        reply.next_page_token = next;
        status = crm_pbc_respond(call, &reply.base);
    }
    for (size_t i = 0; i < n; i++) free_booking(&items[i]);
    free(items);
    free(pointers);
    return status;
}

static int32_t init(crm_plugin *self, const crm_host_api *host, const char **error) {
    self_plugin = self;
    db = host->get_feature(self, CRM_FEATURE_STORAGE_V1);
    bus = host->get_feature(self, CRM_FEATURE_BUS_V1);
    if (!db || !bus) {
        *error = "this crmd offers no storage or bus";
        return CRM_STATUS_FAILED_PRECONDITION;
    }
    return CRM_STATUS_OK;
}

static const crm_migration_def migrations[] = {
    {CRM_MIGRATION_DEF_SIZE, 1, "bookings",
     "CREATE TABLE tablebooking_bookings ("
     " id INTEGER PRIMARY KEY, guest_name TEXT NOT NULL, phone TEXT NOT NULL,"
     " party_size INTEGER NOT NULL, starts_at INTEGER NOT NULL, table_name TEXT NOT NULL);"
     "CREATE INDEX tablebooking_bookings_table_start ON tablebooking_bookings (table_name, starts_at)"},
};
static const char *const publishes[] = {"tablebooking.booking.created"};

static const crm_pbc_binding bindings[] = {
    {"CreateBooking", create_booking, NULL, CRM_METHOD_FLAG_WRITES},
    {"GetBooking", get_booking, NULL, 0},
    {"ListBookings", list_bookings, NULL, 0},
};
#define METHOD_COUNT (sizeof bindings / sizeof bindings[0])
static crm_method_def methods[METHOD_COUNT];
static crm_plugin_def definition = {
    .struct_size = CRM_PLUGIN_DEF_SIZE,
    .abi_version = CRM_PLUGIN_ABI_VERSION,
    .name = "tablebooking",
    .version = "1.0.0",
    .description = "Restaurant table bookings (example C plugin)",
    .methods = methods,
    .method_count = METHOD_COUNT,
    .publishes = publishes,
    .publish_count = 1,
    .migrations = migrations,
    .migration_count = 1,
    .init = init,
};

/* The entry binds the service here because binding needs the host table. */
CRM_PLUGIN_EXPORT const crm_plugin_def *crm_plugin_entry(uint32_t host_abi_version, const crm_host_api *host) {
    if (host_abi_version != CRM_PLUGIN_ABI_VERSION) return NULL;
    crm_pbc_set_host(host);
    const char *error = NULL;
    if (crm_pbc_bind_service(&crm__example__tablebooking__v1__table_booking__descriptor, bindings, METHOD_COUNT,
                             methods, METHOD_COUNT, &error) != CRM_STATUS_OK) {
        fprintf(stderr, "tablebooking: %s\n", error);
        return NULL;
    }
    definition.descriptor_set = tablebooking_descriptor_set;
    definition.descriptor_set_len = tablebooking_descriptor_set_len;
    return &definition;
}
