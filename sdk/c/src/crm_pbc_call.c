/* The per-call context of crm/plugin_pbc.h: its allocations, messages and
 * answers. Nothing here is shared between calls. */
#include "crm/plugin_pbc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Each allocation is one malloc'd block behind this header, on a doubly
 * linked list headed by crm_pbc_call.arena, so one can be freed early. The
 * union keeps what follows aligned for any type. */
typedef union block {
    struct { union block *prev, *next; } link;
    long double align_ld;
    long long align_ll;
    void *align_p;
} block;

static const void *feature(const crm_host_api *host, crm_plugin *self, const char *name) {
    return host && CRM_HAS_MEMBER(host, get_feature) && host->get_feature ? host->get_feature(self, name) : NULL;
}

void crm_pbc_call_open(crm_pbc_call *c, crm_plugin *self, const crm_host_api *host, crm_call *call,
                       void *user_data) {
    c->call = call;
    c->self = self;
    c->host = host;
    c->storage = (const crm_storage_api *)feature(host, self, CRM_FEATURE_STORAGE_V1);
    c->bus = (const crm_bus_api *)feature(host, self, CRM_FEATURE_BUS_V1);
    c->user_data = user_data;
    c->arena = NULL;
}

void crm_pbc_call_close(crm_pbc_call *c) {
    block *b = c->arena;
    while (b) {
        block *next = b->link.next;
        free(b);
        b = next;
    }
    c->arena = NULL;
}

void *crm_pbc_alloc(crm_pbc_call *c, size_t size) {
    block *b = size <= SIZE_MAX - sizeof *b ? calloc(1, sizeof *b + size) : NULL;
    if (!b) {
        crm_pbc_fail(c, CRM_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return NULL;
    }
    b->link.next = c->arena;
    if (b->link.next) b->link.next->link.prev = b;
    c->arena = b;
    return b + 1;
}

void crm_pbc_release(crm_pbc_call *c, void *ptr) {
    if (!ptr) return;
    block *b = (block *)ptr - 1;
    if (b->link.prev) b->link.prev->link.next = b->link.next;
    else c->arena = b->link.next;
    if (b->link.next) b->link.next->link.prev = b->link.prev;
    free(b);
}

/* Formats a status message (`log` 0) or a log line at `level`; at most 511
 * bytes, copied by the host. */
static void say(crm_pbc_call *c, int log, crm_log_level level, const char *format, va_list args) {
    char text[512];
    vsnprintf(text, sizeof text, format, args);
    if (log) c->host->log(c->self, level, text);
    else c->host->call_set_message(c->call, text);
}

int32_t crm_pbc_fail(crm_pbc_call *c, int32_t status, const char *format, ...) {
    va_list args;
    va_start(args, format);
    say(c, 0, CRM_LOG_ERROR, format, args);
    va_end(args);
    return status;
}

void crm_pbc_log(crm_pbc_call *c, crm_log_level level, const char *format, ...) {
    va_list args;
    va_start(args, format);
    say(c, 1, level, format, args);
    va_end(args);
}

/* Packs `message` into `*out`: the stack buffer `small` when it fits, else a
 * call allocation. Returns the length, or sets the call's message and
 * returns SIZE_MAX. */
static size_t pack(crm_pbc_call *c, const ProtobufCMessage *message, uint8_t *small, size_t small_size,
                   uint8_t **out) {
    size_t len = protobuf_c_message_get_packed_size(message);
    *out = len <= small_size ? small : crm_pbc_alloc(c, len);
    if (!*out) return SIZE_MAX;
    if (protobuf_c_message_pack(message, *out) == len) return len;
    crm_pbc_fail(c, CRM_STATUS_INTERNAL, "%s packed to an unexpected size", message->descriptor->name);
    return SIZE_MAX;
}

/* Small messages are packed on the stack; the host copies the bytes, so the
 * buffer never outlives this call. */
static int32_t pack_and(crm_pbc_call *c, const ProtobufCMessage *message, int stream) {
    uint8_t small[1024], *bytes;
    size_t len = pack(c, message, small, sizeof small, &bytes);
    if (len == SIZE_MAX) return bytes ? CRM_STATUS_INTERNAL : CRM_STATUS_RESOURCE_EXHAUSTED;
    int32_t status = CRM_STATUS_OK;
    if (stream) status = c->host->call_send(c->call, bytes, len);
    else c->host->call_respond(c->call, bytes, len);
    if (bytes != small) crm_pbc_release(c, bytes);
    return status;
}

int32_t crm_pbc_respond(crm_pbc_call *c, const ProtobufCMessage *message) { return pack_and(c, message, 0); }
int32_t crm_pbc_send(crm_pbc_call *c, const ProtobufCMessage *message) { return pack_and(c, message, 1); }

int32_t crm_pbc_publish(crm_pbc_call *c, const char *topic, const ProtobufCMessage *message,
                        uint64_t *sequence) {
    if (!c->bus) return crm_pbc_fail(c, CRM_STATUS_FAILED_PRECONDITION, "this crmd offers no %s", CRM_FEATURE_BUS_V1);
    uint8_t small[1024], *bytes;
    size_t len = pack(c, message, small, sizeof small, &bytes);
    if (len == SIZE_MAX) return bytes ? CRM_STATUS_INTERNAL : CRM_STATUS_RESOURCE_EXHAUSTED;
    int32_t status = c->bus->publish(c->call, topic, message->descriptor->name, bytes, len, sequence);
    if (bytes != small) crm_pbc_release(c, bytes);
    /* The bus records its reason where storage does. */
    if (status != CRM_STATUS_OK && c->storage) crm_pbc_fail(c, status, "%s", c->storage->last_error(c->call));
    return status;
}
