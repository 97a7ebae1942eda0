/*
 * An example industry plugin in C: table bookings for a restaurant.
 *
 * Shows the whole C path: plugin.h for the ABI, plugin_pbc.h to bind a
 * protoc-c service to typed handlers, a FileDescriptorSet for Reflection,
 * plugin_sql.h for the kernel's storage ("crm.storage.v1": bookings live in
 * SQLite, in a table named with the plugin's prefix, created by a numbered
 * migration) and the bus ("crm.bus.v1": each booking publishes
 * tablebooking.booking.created in the same transaction). It keeps no
 * globals: each handler gets its call's context (crm_pbc_call).
 *
 * CreateBooking writes (tablebooking.proto says so): crmd runs it in a write
 * transaction, so checking a table is free and inserting the booking cannot
 * race another booking, and a failure leaves nothing behind.
 */
#include <stdio.h>
#include <string.h>

#include "crm/plugin_sql.h"
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

#define SELECT_BOOKING "SELECT id, guest_name, party_size, starts_at, table_name, phone FROM tablebooking_bookings "

/* Fills `out` from a SELECT_BOOKING row; the strings stay the call's. */
static void read_booking(const crm_sql_row *row, Crm__Example__Tablebooking__V1__Booking *out) {
    crm__example__tablebooking__v1__booking__init(out);
    out->id = (uint64_t)crm_sql_int(row, 0);
    out->guest_name = (char *)crm_sql_text(row, 1);
    out->party_size = (uint32_t)crm_sql_int(row, 2);
    out->starts_at = crm_sql_int(row, 3);
    out->table = (char *)crm_sql_text(row, 4);
    out->phone = (char *)crm_sql_text(row, 5);
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

static int32_t create_booking(crm_pbc_call *c, const void *request) {
    const Crm__Example__Tablebooking__V1__CreateBookingRequest *req = request;
    size_t name_len = strlen(req->guest_name);
    if (name_len == 0) return crm_pbc_fail(c, CRM_STATUS_INVALID_ARGUMENT, "guest_name is required");
    if (name_len > MAX_NAME)
        return crm_pbc_fail(c, CRM_STATUS_INVALID_ARGUMENT, "guest_name is longer than %d bytes", MAX_NAME);
    if (req->party_size < 1 || req->party_size > tables[TABLE_COUNT - 1].seats)
        return crm_pbc_fail(c, CRM_STATUS_INVALID_ARGUMENT, "party_size must be 1 to %u, got %u",
                            tables[TABLE_COUNT - 1].seats, req->party_size);
    if (req->starts_at <= 0 || req->starts_at > LATEST_START)
        return crm_pbc_fail(c, CRM_STATUS_INVALID_ARGUMENT,
                            "starts_at must be seconds since the Unix epoch (UTC), before the year 10000");

    size_t t = 0;
    const crm_sql_row *taken = NULL;
    for (; t < TABLE_COUNT; t++) {
        if (tables[t].seats < req->party_size) continue;
        int32_t status = crm_sql_query_one(c, &taken,
            "SELECT 1 FROM tablebooking_bookings WHERE table_name = ? AND starts_at > ? AND starts_at < ? LIMIT 1",
            "tii", tables[t].name, req->starts_at - SLOT_SECONDS, req->starts_at + SLOT_SECONDS);
        if (status != CRM_STATUS_OK) return status;
        if (!taken) break;
    }
    if (t == TABLE_COUNT)
        return crm_pbc_fail(c, CRM_STATUS_RESOURCE_EXHAUSTED, "no table for %u at that time", req->party_size);

    int32_t status = crm_sql_exec(c,
        "INSERT INTO tablebooking_bookings (guest_name, phone, party_size, starts_at, table_name) VALUES (?, ?, ?, ?, ?)",
        "ttuit", req->guest_name, req->phone, req->party_size, req->starts_at, tables[t].name);
    if (status != CRM_STATUS_OK) return status;

    Crm__Example__Tablebooking__V1__Booking reply = CRM__EXAMPLE__TABLEBOOKING__V1__BOOKING__INIT;
    reply.id = (uint64_t)c->storage->last_insert_id(c->call);
    reply.guest_name = req->guest_name;
    reply.party_size = req->party_size;
    reply.starts_at = req->starts_at;
    reply.table = (char *)tables[t].name;
    reply.phone = req->phone;
    /* The event commits with the booking, or neither does. */
    if ((status = crm_pbc_publish(c, "tablebooking.booking.created", &reply.base, NULL)) != CRM_STATUS_OK) return status;
    crm_pbc_log(c, CRM_LOG_INFO, "booking %llu: %s for %u at %lld", (unsigned long long)reply.id, tables[t].name,
                req->party_size, (long long)req->starts_at);
    return crm_pbc_respond(c, &reply.base);
}

static int32_t get_booking(crm_pbc_call *c, const void *request) {
    const Crm__Example__Tablebooking__V1__GetBookingRequest *req = request;
    const crm_sql_row *row;
    /* Ids run from 1: 0, or an id above INT64_MAX (negative as int64_t), finds no row. */
    int32_t status = crm_sql_query_one(c, &row, SELECT_BOOKING "WHERE id = ?", "i", (int64_t)req->id);
    if (status != CRM_STATUS_OK) return status;
    if (!row) return crm_pbc_fail(c, CRM_STATUS_NOT_FOUND, "booking %llu not found", (unsigned long long)req->id);
    Crm__Example__Tablebooking__V1__Booking reply;
    read_booking(row, &reply);
    return crm_pbc_respond(c, &reply.base);
}

static int32_t list_bookings(crm_pbc_call *c, const void *request) {
    const Crm__Example__Tablebooking__V1__ListBookingsRequest *req = request;
    size_t page = req->page_size == 0 ? DEFAULT_PAGE : (req->page_size > MAX_PAGE ? MAX_PAGE : req->page_size);
    uint64_t after = 0;
    if (req->page_token[0] && !parse_token(req->page_token, &after))
        return crm_pbc_fail(c, CRM_STATUS_INVALID_ARGUMENT, "page_token is not valid");
    /* One row more than the page, to know whether another page follows. */
    crm_sql_rows *rows;
    int32_t status = crm_sql_query(c, &rows, SELECT_BOOKING "WHERE id > ? ORDER BY id LIMIT ?", "ii", (int64_t)after,
                                   (int64_t)page + 1);
    if (status != CRM_STATUS_OK) return status;
    size_t n = rows->count > page ? page : rows->count;
    Crm__Example__Tablebooking__V1__Booking *items = crm_pbc_alloc(c, (n + 1) * sizeof *items);
    Crm__Example__Tablebooking__V1__Booking **pointers = crm_pbc_alloc(c, (n + 1) * sizeof *pointers);
    if (!items || !pointers) return CRM_STATUS_RESOURCE_EXHAUSTED;
    for (size_t i = 0; i < n; i++) {
        read_booking(&rows->rows[i], &items[i]);
        pointers[i] = &items[i];
    }
    char next[24] = "";
    if (rows->count > page) snprintf(next, sizeof next, "%llu", (unsigned long long)items[n - 1].id);
    Crm__Example__Tablebooking__V1__ListBookingsResponse reply = CRM__EXAMPLE__TABLEBOOKING__V1__LIST_BOOKINGS_RESPONSE__INIT;
    reply.n_bookings = n;
    reply.bookings = pointers;
    reply.next_page_token = next;
    return crm_pbc_respond(c, &reply.base);
}

/* Storage and bus are asked for here only to refuse a crmd without them. */
static int32_t init(crm_plugin *self, const crm_host_api *host, const char **error) {
    if (host->get_feature(self, CRM_FEATURE_STORAGE_V1) && host->get_feature(self, CRM_FEATURE_BUS_V1))
        return CRM_STATUS_OK;
    *error = "this crmd offers no storage or bus";
    return CRM_STATUS_FAILED_PRECONDITION;
}

static const crm_migration_def migrations[] = {
    {CRM_MIGRATION_DEF_SIZE, 1, "bookings",
     "CREATE TABLE tablebooking_bookings ("
     " id INTEGER PRIMARY KEY, guest_name TEXT NOT NULL, phone TEXT NOT NULL,"
     " party_size INTEGER NOT NULL, starts_at INTEGER NOT NULL, table_name TEXT NOT NULL);"
     "CREATE INDEX tablebooking_bookings_table_start ON tablebooking_bookings (table_name, starts_at)"},
};

static const crm_pbc_binding bindings[] = {
    {"CreateBooking", create_booking, NULL, 0}, /* writes, and publishes, as the .proto declares */
    {"GetBooking", get_booking, NULL, 0},
    {"ListBookings", list_bookings, NULL, 0},
};
static crm_plugin_def definition = {
    .struct_size = CRM_PLUGIN_DEF_SIZE,
    .abi_version = CRM_PLUGIN_ABI_VERSION,
    .name = "tablebooking",
    .version = "1.0.0",
    .description = "Restaurant table bookings (example C plugin)",
    .migrations = migrations,
    .migration_count = 1,
    .init = init,
};

/* Binds the service into `definition` and exports crm_plugin_entry. */
CRM_PBC_DECLARE_PLUGIN(definition, crm__example__tablebooking__v1__table_booking__descriptor, bindings,
                       tablebooking_descriptor_set, tablebooking_descriptor_set_len)
