/*
 * An example industry plugin in C: table bookings for a restaurant.
 *
 * Shows the whole C path: plugin.h for the ABI, plugin_pbc.h to bind a
 * protoc-c service to typed handlers, a FileDescriptorSet for Reflection.
 * Bookings live in memory behind a mutex and vanish on restart: durable
 * storage arrives in a later issue, with the kernel's storage feature
 * ("crm.storage.v1").
 */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm/plugin_pbc.h"
#include "tablebooking/tablebooking.pb-c.h"

#define SLOT_SECONDS 7200 /* a booking holds its table for two hours */
#define MAX_NAME 200
#define DEFAULT_PAGE 50
#define MAX_PAGE 500

extern const uint8_t tablebooking_descriptor_set[];
extern const size_t tablebooking_descriptor_set_len;

typedef struct table { const char *name; uint32_t seats; } table;
/* Smallest first, so the first free table that fits is the best fit. */
static const table tables[] = {{"T1", 2}, {"T2", 2}, {"T3", 4}, {"T4", 4}, {"T5", 6}, {"T6", 8}};
#define TABLE_COUNT (sizeof tables / sizeof tables[0])

typedef struct booking {
    uint64_t id;
    char *guest_name;
    char *phone;
    uint32_t party_size;
    int64_t starts_at;
    size_t table_index;
} booking;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static booking *bookings;
static size_t booking_count, booking_capacity;
static crm_plugin *self_plugin;

static void to_message(const booking *b, Crm__Example__Tablebooking__V1__Booking *out) {
    crm__example__tablebooking__v1__booking__init(out);
    out->id = b->id;
    out->guest_name = b->guest_name;
    out->party_size = b->party_size;
    out->starts_at = b->starts_at;
    out->table = (char *)tables[b->table_index].name;
    out->phone = b->phone;
}

/* Two slots overlap when their starts are less than a slot apart. Both are
 * > 0, so the difference cannot overflow (starts_at + SLOT_SECONDS could). */
static int table_free(size_t t, int64_t starts_at) {
    for (size_t i = 0; i < booking_count; i++) {
        const booking *b = &bookings[i];
        int64_t apart = b->starts_at > starts_at ? b->starts_at - starts_at : starts_at - b->starts_at;
        if (b->table_index == t && apart < SLOT_SECONDS) return 0;
    }
    return 1;
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
    if (req->starts_at <= 0)
        return crm_pbc_fail(call, CRM_STATUS_INVALID_ARGUMENT, "starts_at must be seconds since the Unix epoch (UTC)");

    pthread_mutex_lock(&lock);
    size_t t = 0;
    while (t < TABLE_COUNT && !(tables[t].seats >= req->party_size && table_free(t, req->starts_at))) t++;
    if (t == TABLE_COUNT) {
        pthread_mutex_unlock(&lock);
        return crm_pbc_fail(call, CRM_STATUS_RESOURCE_EXHAUSTED, "no table for %u at that time", req->party_size);
    }
    if (booking_count == booking_capacity) {
        size_t capacity = booking_capacity ? booking_capacity * 2 : 16;
        booking *grown = realloc(bookings, capacity * sizeof *grown);
        if (!grown) {
            pthread_mutex_unlock(&lock);
            return crm_pbc_fail(call, CRM_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        }
        bookings = grown;
        booking_capacity = capacity;
    }
    booking *b = &bookings[booking_count];
    *b = (booking){.id = booking_count + 1, .guest_name = strdup(req->guest_name), .phone = strdup(req->phone),
                   .party_size = req->party_size, .starts_at = req->starts_at, .table_index = t};
    if (!b->guest_name || !b->phone) {
        pthread_mutex_unlock(&lock);
        free(b->guest_name);
        free(b->phone);
        return crm_pbc_fail(call, CRM_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    }
    booking_count++;
    uint64_t id = b->id;
    Crm__Example__Tablebooking__V1__Booking reply;
    to_message(b, &reply);
    int32_t status = crm_pbc_respond(call, &reply.base);
    pthread_mutex_unlock(&lock);

    char line[128];
    snprintf(line, sizeof line, "booking %llu: %s for %u at %lld", (unsigned long long)id, tables[t].name,
             req->party_size, (long long)req->starts_at);
    crm_pbc_host()->log(self_plugin, CRM_LOG_INFO, line);
    return status;
}

static int32_t get_booking(crm_call *call, const ProtobufCMessage *message, void *user_data) {
    (void)user_data;
    const Crm__Example__Tablebooking__V1__GetBookingRequest *req = (const void *)message;
    pthread_mutex_lock(&lock);
    if (req->id == 0 || req->id > booking_count) {
        pthread_mutex_unlock(&lock);
        return crm_pbc_fail(call, CRM_STATUS_NOT_FOUND, "booking %llu not found", (unsigned long long)req->id);
    }
    Crm__Example__Tablebooking__V1__Booking reply;
    to_message(&bookings[req->id - 1], &reply);
    int32_t status = crm_pbc_respond(call, &reply.base);
    pthread_mutex_unlock(&lock);
    return status;
}

static int32_t list_bookings(crm_call *call, const ProtobufCMessage *message, void *user_data) {
    (void)user_data;
    const Crm__Example__Tablebooking__V1__ListBookingsRequest *req = (const void *)message;
    size_t page = req->page_size == 0 ? DEFAULT_PAGE : (req->page_size > MAX_PAGE ? MAX_PAGE : req->page_size);
    uint64_t after = 0;
    if (req->page_token[0] && !parse_token(req->page_token, &after))
        return crm_pbc_fail(call, CRM_STATUS_INVALID_ARGUMENT, "page_token is not valid");
    pthread_mutex_lock(&lock);
    size_t start = after < booking_count ? (size_t)after : booking_count; /* ids are 1-based positions */
    size_t n = booking_count - start < page ? booking_count - start : page;
    Crm__Example__Tablebooking__V1__Booking *items = calloc(n ? n : 1, sizeof *items);
    Crm__Example__Tablebooking__V1__Booking **pointers = calloc(n ? n : 1, sizeof *pointers);
    if (!items || !pointers) {
        pthread_mutex_unlock(&lock);
        free(items);
        free(pointers);
        return crm_pbc_fail(call, CRM_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        to_message(&bookings[start + i], &items[i]);
        pointers[i] = &items[i];
    }
    char next[24] = "";
    if (start + n < booking_count) snprintf(next, sizeof next, "%llu", (unsigned long long)(start + n));
    Crm__Example__Tablebooking__V1__ListBookingsResponse reply;
    crm__example__tablebooking__v1__list_bookings_response__init(&reply);
    reply.n_bookings = n;
    reply.bookings = pointers;
    reply.next_page_token = next;
    int32_t status = crm_pbc_respond(call, &reply.base);
    pthread_mutex_unlock(&lock);
    free(items);
    free(pointers);
    return status;
}

static int32_t init(crm_plugin *self, const crm_host_api *host, const char **error) {
    (void)host;
    (void)error;
    self_plugin = self;
    return CRM_STATUS_OK;
}

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
