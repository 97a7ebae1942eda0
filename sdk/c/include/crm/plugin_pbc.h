/*
 * crm/plugin_pbc.h - helpers for C plugins whose messages are protobuf-c.
 *
 * Bind a protoc-c generated service descriptor to typed handlers: the SDK
 * fills the crm_method_def array, checks every request before unpacking it
 * (nesting depth, since protobuf-c 1.4 unpacks recursively without a
 * limit), unpacks it, validates UTF-8 in every string field (protobuf-c does
 * not) and calls your handler with the message and a per-call context
 * (crm_pbc_call) that holds the host, the plugin and its storage and bus
 * tables, so a plugin needs no globals. Compile src/crm_pbc.c and
 * src/crm_pbc_call.c into your plugin (src/crm_sql.c too for
 * crm/plugin_sql.h) and link -lprotobuf-c.
 *
 * The SDK keeps no mutable global state. Handlers run on crmd's worker
 * threads, several at once; a crm_pbc_call belongs to one call and one
 * thread.
 *
 * A handler:
 *
 *     static int32_t hello(crm_pbc_call *c, const void *request) {
 *         const Acme__HelloRequest *req = request;
 *         if (!req->name[0]) return crm_pbc_fail(c, CRM_STATUS_INVALID_ARGUMENT, "name is required");
 *         Acme__HelloReply reply = ACME__HELLO_REPLY__INIT;
 *         reply.greeting = req->name;
 *         return crm_pbc_respond(c, &reply.base);
 *     }
 *     static const crm_pbc_binding bindings[] = {{"Hello", hello, NULL, 0}};
 *     static crm_plugin_def def = {.struct_size = CRM_PLUGIN_DEF_SIZE, ...};
 *     CRM_PBC_DECLARE_PLUGIN(def, acme__hello__descriptor, bindings,
 *                            hello_descriptor_set, hello_descriptor_set_len)
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
 * One call as the helpers see it. The trampoline fills one on its stack for
 * every call and closes it after the handler returns; the pointers are the
 * host's (valid until exit) except `call` (valid until the handler returns).
 * Read the fields; do not change them.
 */
typedef struct crm_pbc_call {
    crm_call *call;
    crm_plugin *self;
    const crm_host_api *host;
    const crm_storage_api *storage; /**< "crm.storage.v1", or NULL when the host lacks it */
    const crm_bus_api *bus;         /**< "crm.bus.v1", or NULL when the host lacks it */
    void *user_data;                /**< the binding's user_data */
    void *arena;                    /**< SDK-private: this call's allocations */
} crm_pbc_call;

/**
 * A typed handler. `request` points at the generated request struct (assign
 * it to a `const Pkg__Request *`); it is SDK-owned, already UTF-8 checked,
 * and freed after the handler returns: copy what you keep. Answer with
 * crm_pbc_respond (unary) or crm_pbc_send (streaming) and return a
 * crm_status; crm_pbc_fail sets a message and returns a status.
 */
typedef int32_t (*crm_pbc_handler)(crm_pbc_call *c, const void *request);

typedef struct crm_pbc_binding {
    const char *method;        /**< short name as in the .proto: "CreateBooking" */
    crm_pbc_handler handler;
    void *user_data;           /**< crm_pbc_call.user_data of its calls */
    uint32_t flags;            /**< CRM_PBC_SERVER_STREAMING; usually nothing else, as
                                    the .proto's options declare what a method does */
} crm_pbc_binding;

/**
 * Fills `out[0..binding_count)` with one method definition per binding:
 * full_name "/<service->name>/<method>", the protobuf-c type names, and one
 * shared trampoline as plugin_handler (so this needs a crmd that calls
 * plugin_handler). Methods are looked up by name (never by index).
 * `service` and `bindings` are caller-owned and only read here; `out` is
 * caller-owned (usually a static array the crm_plugin_def points at). The
 * names and per-method records written into `out` are allocated here and
 * live until exit, as the plugin does. Returns CRM_STATUS_OK, or
 * CRM_STATUS_INVALID_ARGUMENT with `*error` (if non-NULL) pointing at a
 * static string when a name is unknown or bound twice, a handler is
 * missing, or `out_capacity` is too small; CRM_STATUS_RESOURCE_EXHAUSTED
 * when out of memory.
 */
int32_t crm_pbc_bind_service(const ProtobufCServiceDescriptor *service,
                             const crm_pbc_binding *bindings, size_t binding_count,
                             crm_method_def *out, size_t out_capacity, const char **error);

/**
 * The body of an entry point: refuses another ABI version, binds `service`
 * into `methods` (binding_count slots) and points `def` at them and at the
 * descriptor set. Returns `def`, or NULL (with the reason on stderr) when the
 * binding fails. For CRM_PBC_DECLARE_PLUGIN; all arguments live until exit.
 */
const crm_plugin_def *crm_pbc_plugin_entry(uint32_t host_abi_version, crm_plugin_def *def,
                                           const ProtobufCServiceDescriptor *service,
                                           const crm_pbc_binding *bindings, size_t binding_count,
                                           crm_method_def *methods, const uint8_t *descriptor_set,
                                           size_t descriptor_set_len);

/** Exports the entry point for `def` (a non-const crm_plugin_def object whose
 *  methods the SDK fills) serving `service` (a ProtobufCServiceDescriptor
 *  object) with the array `bindings`. */
#define CRM_PBC_DECLARE_PLUGIN(def, service, bindings, descriptor_set, descriptor_set_len)       \
    CRM_PLUGIN_EXPORT const crm_plugin_def *crm_plugin_entry(                                  \
        uint32_t host_abi_version, const crm_host_api *host) {                                 \
        static crm_method_def crm_pbc_methods_[sizeof(bindings) / sizeof((bindings)[0])];      \
        (void)host;                                                                            \
        return crm_pbc_plugin_entry(host_abi_version, &(def), &(service), (bindings),          \
                                    sizeof(bindings) / sizeof((bindings)[0]), crm_pbc_methods_, \
                                    (descriptor_set), (descriptor_set_len));                   \
    }

/**
 * Fills `c` for one call outside a bound handler (an on_event callback, a
 * handler written against plugin.h alone) so the helpers work there too;
 * looks up the storage and bus features. Pair it with crm_pbc_call_close.
 */
void crm_pbc_call_open(crm_pbc_call *c, crm_plugin *self, const crm_host_api *host, crm_call *call,
                       void *user_data);

/** Frees everything allocated on `c` (crm_pbc_alloc, the crm_sql rows). */
void crm_pbc_call_close(crm_pbc_call *c);

/**
 * `size` zeroed bytes owned by the call: freed by crm_pbc_call_close (the
 * trampoline's, after the handler returns) or earlier by crm_pbc_release.
 * NULL when out of memory, with the call's message set to "out of memory",
 * so `return CRM_STATUS_RESOURCE_EXHAUSTED` is the usual answer.
 */
void *crm_pbc_alloc(crm_pbc_call *c, size_t size);

/** Frees one crm_pbc_alloc result now (NULL is ignored). */
void crm_pbc_release(crm_pbc_call *c, void *ptr);

/** Packs `message` (caller-owned, only read) and sets it as the unary
 *  response; the host copies the bytes, so `message` may be freed after.
 *  Returns CRM_STATUS_OK, so `return crm_pbc_respond(c, &reply.base)` ends
 *  a handler; a packing failure is INTERNAL or RESOURCE_EXHAUSTED. */
int32_t crm_pbc_respond(crm_pbc_call *c, const ProtobufCMessage *message);

/** Packs `message` (caller-owned, only read) and sends it on a server
 *  stream; the host copies the bytes. Returns the host's status:
 *  CRM_STATUS_CANCELLED means the client has gone, so stop and return. */
int32_t crm_pbc_send(crm_pbc_call *c, const ProtobufCMessage *message);

/**
 * Packs `message` (caller-owned, only read) and publishes it on `topic`
 * with its descriptor's full type name, in the call's write transaction
 * (see crm_bus_api.publish). `*sequence` (optional) receives the event's
 * sequence number. On failure the call's message is the host's reason;
 * FAILED_PRECONDITION when the host has no bus.
 */
int32_t crm_pbc_publish(crm_pbc_call *c, const char *topic, const ProtobufCMessage *message,
                        uint64_t *sequence);

/** Sets the call's status message (printf-style, at most 511 bytes, copied
 *  by the host) and returns `status`, so `return crm_pbc_fail(...)` reads well. */
int32_t crm_pbc_fail(crm_pbc_call *c, int32_t status, const char *format, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/** Logs a printf-style line (at most 511 bytes) under the plugin's label. */
void crm_pbc_log(crm_pbc_call *c, crm_log_level level, const char *format, ...)
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
