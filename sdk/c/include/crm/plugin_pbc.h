/*
 * crm/plugin_pbc.h - helpers for C plugins whose messages are protobuf-c.
 *
 * Bind a protoc-c generated service descriptor to typed handlers: the SDK
 * fills the crm_method_def array, checks every request before unpacking it
 * (nesting depth, since protobuf-c 1.4 unpacks recursively without a
 * limit), unpacks it, validates UTF-8 in every string field (protobuf-c does
 * not) and calls your handler with the message. Compile src/crm_pbc.c into
 * your plugin and link -lprotobuf-c.
 *
 * Threading: handlers run on crmd's worker threads, several at once.
 */
#ifndef CRM_PLUGIN_PBC_H
#define CRM_PLUGIN_PBC_H

#include <protobuf-c/protobuf-c.h>

#include "crm/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Binding flag: the method is server-streaming (answer with crm_pbc_send).
 *  The SDK consumes this bit; every other flag is passed to the host as is. */
#define CRM_PBC_SERVER_STREAMING 0x100u

/** Deepest message nesting accepted in a request. */
#define CRM_PBC_MAX_DEPTH 64

/**
 * A typed handler. `request` is SDK-owned, already UTF-8 checked, and freed
 * after the handler returns: copy what you keep. Cast it to the generated
 * request type. Answer with crm_pbc_respond (unary) or crm_pbc_send (streaming)
 * and return a crm_status; crm_pbc_fail sets a message and returns a status.
 */
typedef int32_t (*crm_pbc_handler)(crm_call *call, const ProtobufCMessage *request, void *user_data);

typedef struct crm_pbc_binding {
    const char *method;        /**< short name as in the .proto: "CreateBooking" */
    crm_pbc_handler handler;
    void *user_data;           /**< passed back to the handler */
    uint32_t flags;            /**< CRM_PBC_SERVER_STREAMING, CRM_METHOD_FLAG_WRITES */
} crm_pbc_binding;

/** Keeps the host table (host-owned, valid until exit) for the helpers below.
 *  Call it from your entry point, before any handler can run. */
void crm_pbc_set_host(const crm_host_api *host);

/** The host table given to crm_pbc_set_host, or NULL. Host-owned. */
const crm_host_api *crm_pbc_host(void);

/**
 * Fills `out[0..binding_count)` with one method definition per binding:
 * full_name "/<service->name>/<method>", the protobuf-c type names, and one
 * shared trampoline as handler. Methods are looked up by name (never by
 * index). `service` and `bindings` are caller-owned and only read here;
 * `out` is caller-owned (usually a static array the crm_plugin_def points
 * at). The names and per-method records written into `out` are allocated
 * here and live until exit, as the plugin does. Returns CRM_STATUS_OK, or
 * CRM_STATUS_INVALID_ARGUMENT with `*error` (if non-NULL) pointing at a
 * static string when a name is unknown or bound twice, a handler is
 * missing, or `out_capacity` is too small; CRM_STATUS_RESOURCE_EXHAUSTED
 * when out of memory.
 */
int32_t crm_pbc_bind_service(const ProtobufCServiceDescriptor *service,
                             const crm_pbc_binding *bindings, size_t binding_count,
                             crm_method_def *out, size_t out_capacity, const char **error);

/** Packs `message` (caller-owned, only read) and sets it as the unary
 *  response; the host copies the bytes, so `message` may be freed after. */
int32_t crm_pbc_respond(crm_call *call, const ProtobufCMessage *message);

/** Packs `message` (caller-owned, only read) and sends it on a server
 *  stream; the host copies the bytes. Returns the host's status:
 *  CRM_STATUS_CANCELLED means the client has gone, so stop and return. */
int32_t crm_pbc_send(crm_call *call, const ProtobufCMessage *message);

/** Sets the call's status message (printf-style, at most 511 bytes, copied
 *  by the host) and returns `status`, so `return crm_pbc_fail(...)` reads well. */
int32_t crm_pbc_fail(crm_call *call, int32_t status, const char *format, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/**
 * Non-zero when every string field of `message` is valid UTF-8, recursing
 * through sub-messages, repeated fields and set oneof members; otherwise 0
 * and `*bad_field` (if non-NULL) names the first bad field (the descriptor's
 * field name: static storage). `message` is caller-owned and only read.
 */
int crm_pbc_utf8_valid(const ProtobufCMessage *message, const char **bad_field);

/**
 * Non-zero when `data` (caller-owned, only read) parses as `descriptor` at
 * the wire level with message nesting no deeper than CRM_PBC_MAX_DEPTH; the
 * trampoline runs it before protobuf-c unpacks (which recurses unbounded).
 */
int crm_pbc_depth_ok(const ProtobufCMessageDescriptor *descriptor, const uint8_t *data, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* CRM_PLUGIN_PBC_H */
