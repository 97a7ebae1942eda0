/*
 * crm/plugin.h - the crmd plugin ABI.
 *
 * One plain-C header. A plugin is a shared library that exports one symbol,
 * CRM_PLUGIN_ENTRY_SYMBOL ("crm_plugin_entry"), usually through
 * CRM_DECLARE_PLUGIN. crmd calls it once, after dlopen, with the host's
 * function table; it returns the plugin's definition (manifest, methods,
 * hooks). crmd never dlcloses a plugin.
 *
 * Stability rules
 *   - Every struct crossing the boundary starts with `uint32_t struct_size`.
 *     A reader never reads a field that lies past the size the writer
 *     stamped, so either side may be built against an older header.
 *   - Structs only ever grow at the end. Removing or reordering a field, or
 *     changing a signature, bumps CRM_PLUGIN_ABI_VERSION, and crmd refuses
 *     plugins built for another version.
 *   - Optional host features (storage, bus, ...) are asked for by name with
 *     crm_host_api.get_feature and come back NULL when the host lacks them.
 *
 * Memory rules
 *   - No allocator crosses the boundary: neither side frees what the other
 *     allocated. Ownership is written next to every function below.
 *   - Strings are NUL-terminated UTF-8.
 *
 * Threading
 *   - init and shutdown run on crmd's main thread, one plugin at a time.
 *   - Handlers run on crmd's worker threads, several at once: a handler must
 *     be thread-safe with respect to the plugin's own state.
 *   - Host functions may be called from any thread the host called the plugin on.
 *
 * Status codes are gRPC's, with the same numbers everywhere: the value a
 * handler returns is the status the client receives in its RESPONSE frame.
 *
 * A minimal plugin:
 *
 *     static const crm_host_api *crm_host;   // used by the crm_call_* macros
 *     static int32_t init(crm_plugin *self, const crm_host_api *host,
 *                         const char **error) {
 *         crm_host = host;
 *         return CRM_STATUS_OK;
 *     }
 *     static int32_t hello(void *data, crm_call *call,
 *                          const uint8_t *req, size_t len) {
 *         crm_call_respond(call, req, len);   // echo the request back
 *         return CRM_STATUS_OK;
 *     }
 *     static const crm_method_def methods[] = {
 *         { .struct_size = CRM_METHOD_DEF_SIZE, .full_name = "/acme.hello.v1.Hello/Echo",
 *           .kind = CRM_METHOD_UNARY, .handler = hello,
 *           .request_type = "acme.hello.v1.EchoRequest",
 *           .response_type = "acme.hello.v1.EchoReply" },
 *     };
 *     static const crm_plugin_def def = {
 *         .struct_size = CRM_PLUGIN_DEF_SIZE, .abi_version = CRM_PLUGIN_ABI_VERSION,
 *         .name = "hello", .version = "1.0.0",
 *         .methods = methods, .method_count = 1, .init = init,
 *         // hello.proto's FileDescriptorSet (protoc --include_imports):
 *         .descriptor_set = hello_descriptor, .descriptor_set_len = sizeof hello_descriptor,
 *     };
 *
 * Fill structs with designated initializers, as above: a positional list
 * misses the fields a later header appends (and -Wextra says so).
 *     CRM_DECLARE_PLUGIN(def)
 */
#ifndef CRM_PLUGIN_H
#define CRM_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The ABI this header describes. crmd loads only plugins built for it. */
#define CRM_PLUGIN_ABI_VERSION 1u

/** The one symbol a plugin exports. */
#define CRM_PLUGIN_ENTRY_SYMBOL "crm_plugin_entry"

/* Exports the entry point with C linkage: a C++ plugin's entry would
 * otherwise be name-mangled and dlsym would not find it. */
#ifdef __cplusplus
#define CRM_EXTERN_C extern "C"
#else
#define CRM_EXTERN_C
#endif
#if defined(_WIN32)
#define CRM_PLUGIN_EXPORT CRM_EXTERN_C __declspec(dllexport)
#else
#define CRM_PLUGIN_EXPORT CRM_EXTERN_C __attribute__((visibility("default")))
#endif

/* ------------------------------------------------------------------------ */
/* Status codes (gRPC's)                                                    */
/* ------------------------------------------------------------------------ */

typedef enum crm_status {
    CRM_STATUS_OK = 0,
    CRM_STATUS_CANCELLED = 1,
    CRM_STATUS_UNKNOWN = 2,
    CRM_STATUS_INVALID_ARGUMENT = 3,
    CRM_STATUS_DEADLINE_EXCEEDED = 4,
    CRM_STATUS_NOT_FOUND = 5,
    CRM_STATUS_ALREADY_EXISTS = 6,
    CRM_STATUS_PERMISSION_DENIED = 7,
    CRM_STATUS_RESOURCE_EXHAUSTED = 8,
    CRM_STATUS_FAILED_PRECONDITION = 9,
    CRM_STATUS_ABORTED = 10,
    CRM_STATUS_OUT_OF_RANGE = 11,
    CRM_STATUS_UNIMPLEMENTED = 12,
    CRM_STATUS_INTERNAL = 13,
    CRM_STATUS_UNAVAILABLE = 14,
    CRM_STATUS_DATA_LOSS = 15,
    CRM_STATUS_UNAUTHENTICATED = 16
} crm_status;

typedef enum crm_log_level {
    CRM_LOG_TRACE = 0,
    CRM_LOG_DEBUG = 1,
    CRM_LOG_INFO = 2,
    CRM_LOG_WARNING = 3,
    CRM_LOG_ERROR = 4
} crm_log_level;

/* ------------------------------------------------------------------------ */
/* Opaque host objects                                                      */
/* ------------------------------------------------------------------------ */

/** The host's record of one loaded plugin. Host-owned, valid until exit. */
typedef struct crm_plugin crm_plugin;

/** One call in progress. Host-owned; valid only until the handler returns. */
typedef struct crm_call crm_call;

/* ------------------------------------------------------------------------ */
/* Call context                                                             */
/* ------------------------------------------------------------------------ */

typedef struct crm_metadata_entry {
    const char *key;
    const char *value;
} crm_metadata_entry;

/**
 * What a handler knows about its call. Host-owned, read-only, valid until
 * the handler returns. Obtain it with crm_host_api.call_context.
 */
typedef struct crm_call_context {
    uint32_t struct_size;
    /** "/package.Service/Method" */
    const char *method;
    /** The caller's identity, from the socket's peer credentials; -1 when
     *  the call did not come from a socket (an in-process call). */
    int64_t caller_uid;
    int64_t caller_gid;
    int64_t caller_pid;
    /** Absolute deadline in microseconds since the Unix epoch (UTC); 0 = none. */
    uint64_t deadline_unix_us;
    const crm_metadata_entry *metadata;
    size_t metadata_count;
    /** The name of the plugin that made this call in-process, or NULL. */
    const char *calling_plugin;
    /* Added in ABI 1 after the first release (with users and roles): read
     * them only when struct_size covers them; an older host stops above. */
    /** The CRM user the call acts for (for an in-process call: the original
     *  caller's), or NULL when the caller is crmd's own uid or root acting
     *  for no user, or the call has no client (an event delivery). */
    const char *user;
    /** The uid of the trusted proxy that asserted `user` in `crm-user`
     *  metadata; -1 when no proxy did. */
    int64_t proxy_uid;
} crm_call_context;

/* ------------------------------------------------------------------------ */
/* Host function table                                                      */
/* ------------------------------------------------------------------------ */

/**
 * Receives bytes the host owns. `data` is valid only during the callback:
 * copy what you keep.
 */
typedef void (*crm_bytes_sink)(void *sink_context, const uint8_t *data, size_t len);

/**
 * The host's functions. Host-owned; valid until the process exits. Append-only:
 * check `struct_size` (offsetof the member + its size) before using a member
 * newer than your header's oldest supported host.
 */
typedef struct crm_host_api {
    uint32_t struct_size;
    uint32_t abi_version;

    /** Log `message` (copied) under the plugin's label, "crm.plugin.<name>". */
    void (*log)(crm_plugin *plugin, crm_log_level level, const char *message);

    /**
     * The value of configuration key `key` for this plugin (the `[plugins.<name>]`
     * table of crmd's config file, or the environment CRM_PLUGIN_<NAME>_<KEY>),
     * or NULL. Host-owned, valid until exit.
     */
    const char *(*config_get)(crm_plugin *plugin, const char *key);

    /** The call's context. Host-owned; valid until the handler returns. */
    const crm_call_context *(*call_context)(crm_call *call);

    /**
     * Set the response message of a unary call (the bytes are copied). The
     * last call wins. Ignored unless the handler returns CRM_STATUS_OK.
     */
    void (*call_respond)(crm_call *call, const uint8_t *data, size_t len);

    /** Set the status message the client sees with a non-OK status (copied). */
    void (*call_set_message)(crm_call *call, const char *message);

    /**
     * Send one message of a server-streaming call (the bytes are copied).
     * Returns CRM_STATUS_OK, or CRM_STATUS_CANCELLED once the client has gone
     * or cancelled: the handler should then return promptly. Blocks while the
     * client is slow to read, so a stream never buffers without bound.
     */
    int32_t (*call_send)(crm_call *call, const uint8_t *data, size_t len);

    /** Non-zero once the call is cancelled or past its deadline. */
    int (*call_is_cancelled)(crm_call *call);

    /**
     * Call another plugin's unary method in-process, on the calling thread.
     * `parent` is the call being handled (its deadline and cancellation
     * carry over) or NULL outside a handler. crmd checks the method's
     * permission against the original client caller (the parent's, or with
     * NULL the caller of the handler running on this thread): a denial is
     * CRM_STATUS_PERMISSION_DENIED naming the permission. On CRM_STATUS_OK
     * the response bytes are passed to `sink` before this returns; on an
     * error, the status message is passed to `error_sink` instead (as UTF-8
     * bytes) if `error_sink` is non-NULL. Both callbacks' bytes are host-owned.
     */
    int32_t (*invoke)(crm_plugin *plugin, crm_call *parent, const char *method,
                      const uint8_t *request, size_t request_len,
                      crm_bytes_sink sink, crm_bytes_sink error_sink,
                      void *sink_context);

    /**
     * An optional host feature by name and version, e.g. "crm.storage.v1",
     * or NULL when this host lacks it. The returned table is host-owned and
     * valid until exit; its layout is described by that feature's header.
     */
    const void *(*get_feature)(crm_plugin *plugin, const char *name);
} crm_host_api;

/* ------------------------------------------------------------------------ */
/* Plugin definition                                                        */
/* ------------------------------------------------------------------------ */

typedef enum crm_method_kind {
    CRM_METHOD_UNARY = 0,
    CRM_METHOD_SERVER_STREAMING = 1
} crm_method_kind;

/**
 * A method handler. Runs on a worker thread. `request` is host-owned and
 * valid until the handler returns. Return a crm_status; on OK, set the
 * response with call_respond (unary) or send messages with call_send
 * (streaming). Never block indefinitely: check call_is_cancelled in loops.
 */
typedef int32_t (*crm_handler_fn)(void *method_data, crm_call *call,
                                  const uint8_t *request, size_t request_len);

/**
 * A method handler that is also given its plugin and the host's table, so a
 * C plugin needs no globals: `self` and `host` are the ones init received.
 * Otherwise as crm_handler_fn.
 */
typedef int32_t (*crm_plugin_handler_fn)(crm_plugin *self, const crm_host_api *host,
                                         void *method_data, crm_call *call,
                                         const uint8_t *request, size_t request_len);

/**
 * Flags for crm_method_def.flags. What a method does is declared in its
 * .proto (crm/options/v1/options.proto) and read by crmd from the plugin's
 * descriptor set; a flag, when set, must agree with that declaration. Only a
 * method whose .proto declares no options takes its semantics from the flags.
 */
#define CRM_METHOD_FLAG_WRITES 0x1u /**< the method writes storage */

typedef struct crm_method_def {
    uint32_t struct_size;             /**< CRM_METHOD_DEF_SIZE */
    const char *full_name;            /**< "/package.Service/Method" */
    uint32_t kind;                    /**< crm_method_kind */
    crm_handler_fn handler;           /**< this, or plugin_handler */
    void *method_data;                /**< passed back to the handler */
    const char *request_type;         /**< full protobuf type name */
    const char *response_type;
    uint32_t flags;

    /* Added in ABI 1 after the first release: the host reads it only when
     * struct_size covers it. When set, it is called instead of `handler`. */
    crm_plugin_handler_fn plugin_handler;
} crm_method_def;

typedef struct crm_dependency_def {
    uint32_t struct_size;             /**< CRM_DEPENDENCY_DEF_SIZE */
    const char *name;
    /** Space-separated comparators: ">=1.2.0 <2.0.0"; NULL or "" = any. */
    const char *version_range;
} crm_dependency_def;

typedef struct crm_migration_def {
    uint32_t struct_size;             /**< CRM_MIGRATION_DEF_SIZE */
    uint32_t version;                 /**< 1, 2, 3... applied in order */
    const char *name;
    const char *sql;
} crm_migration_def;

/**
 * Called once after the plugin's dependencies are initialised. Store what
 * you need of `host` and `self`; both are valid until exit. Return
 * CRM_STATUS_OK, or an error status to be kept out of service; then
 * `*error_message` may point at a plugin-owned string with static storage
 * duration that the host shows as the reason.
 */
typedef int32_t (*crm_init_fn)(crm_plugin *self, const crm_host_api *host,
                               const char **error_message);

/** Called once at shutdown, in reverse load order, after the last call. */
typedef void (*crm_shutdown_fn)(crm_plugin *self);

/** One event from the bus. Host-owned, valid until the callback returns. */
typedef struct crm_event {
    uint32_t struct_size;
    /** Global, gap-free, increasing; the event's position in the outbox. */
    uint64_t sequence;
    const char *topic;                /**< "contacts.contact.created" */
    const char *type_name;            /**< protobuf type of the payload */
    const uint8_t *payload;
    size_t payload_len;
    int64_t published_unix_us;        /**< UTC, when its transaction committed */
    const char *publisher;            /**< the publishing plugin's name */
    /* Added in ABI 1 after the first release (with record scope): read them
     * only when struct_size covers them (CRM_HAS_MEMBER). */
    /** The record the event is about (crm_bus_api.publish_about), or NULL. */
    const char *entity;
    const char *record_id;
    /** The record's owner when published, or NULL. */
    const char *owner;
    /** Non-zero when the record was erased since: `payload` is empty. */
    uint32_t redacted;
} crm_event;

/**
 * Delivers one event a plugin subscribed to (crm_plugin_def.subscribes),
 * after the publishing transaction committed, in sequence order, at least
 * once. It runs on a host thread inside a write transaction of its own,
 * like a handler of a CRM_METHOD_FLAG_WRITES method: `call` works with the
 * storage and bus features. Return CRM_STATUS_OK to acknowledge (the
 * plugin's writes and its new position commit together, so an effect is
 * stored exactly once); any other status rolls back and the event is
 * delivered again after a back-off. Other subscribers are not held up.
 */
typedef int32_t (*crm_event_fn)(crm_plugin *self, crm_call *call, const crm_event *event);

/**
 * A plugin's definition. Plugin-owned and must stay valid and unchanged for
 * the life of the process (a static const object is the usual choice).
 * Arrays hold elements of one struct_size each (the first element's): the
 * host steps through them by that size and reads of each element only what
 * it covers, so arrays built against an older (smaller) or newer (larger)
 * header both load.
 */
typedef struct crm_plugin_def {
    uint32_t struct_size;             /**< CRM_PLUGIN_DEF_SIZE */
    uint32_t abi_version;             /**< CRM_PLUGIN_ABI_VERSION */
    const char *name;                 /**< [a-z][a-z0-9]{0,31}; its table prefix is name + "_" */
    const char *version;              /**< semantic version "1.4.2" */
    const char *description;

    const crm_dependency_def *dependencies;
    size_t dependency_count;
    const crm_method_def *methods;
    size_t method_count;

    /** Topics published ("sales.lead.created"), for plugins whose .proto does
     *  not declare them with (crm.options.v1.event); and patterns subscribed to. */
    const char *const *publishes;
    size_t publish_count;
    const char *const *subscribes;
    size_t subscribe_count;

    const crm_migration_def *migrations;
    size_t migration_count;

    /** Serialized google.protobuf.FileDescriptorSet of its services, with the
     *  files they import. Required when the plugin serves methods: crmd
     *  refuses a plugin whose methods differ from the rpcs its own services
     *  declare here, and reads each method's (crm.options.v1.method)
     *  semantics and each event message's topics from it. */
    const uint8_t *descriptor_set;
    size_t descriptor_set_len;

    crm_init_fn init;                 /**< optional */
    crm_shutdown_fn shutdown;         /**< optional */

    /* Added in ABI 1 after the first release: the host reads it only when
     * struct_size covers it. */
    crm_event_fn on_event;            /**< needed when subscribes is not empty */
} crm_plugin_def;

/**
 * Non-zero when `ptr` (a pointer to any struct of this header, which starts
 * with `uint32_t struct_size`) covers `member`: the side that filled it in
 * was built against a header that has the member. Use it before reading a
 * member of a host struct newer than the oldest host you support:
 *     if (CRM_HAS_MEMBER(host, get_feature)) ...
 * It reads only `ptr->struct_size`.
 */
#define CRM_HAS_MEMBER(ptr, member)                                             \
    ((size_t)((const char *)&(ptr)->member - (const char *)(ptr)) +             \
         sizeof((ptr)->member) <= (size_t)(ptr)->struct_size)

#define CRM_EVENT_SIZE ((uint32_t)sizeof(crm_event))
#define CRM_METHOD_DEF_SIZE ((uint32_t)sizeof(crm_method_def))
#define CRM_DEPENDENCY_DEF_SIZE ((uint32_t)sizeof(crm_dependency_def))
#define CRM_MIGRATION_DEF_SIZE ((uint32_t)sizeof(crm_migration_def))
#define CRM_PLUGIN_DEF_SIZE ((uint32_t)sizeof(crm_plugin_def))

/**
 * The entry point. `host_abi_version` is the host's CRM_PLUGIN_ABI_VERSION;
 * `host` is valid until exit. Return the plugin's definition (plugin-owned,
 * valid until exit) or NULL to refuse loading.
 */
typedef const crm_plugin_def *(*crm_plugin_entry_fn)(uint32_t host_abi_version,
                                                      const crm_host_api *host);

/** Exports the entry symbol returning `def` (a crm_plugin_def object). */
#define CRM_DECLARE_PLUGIN(def)                                                 \
    CRM_PLUGIN_EXPORT const crm_plugin_def *crm_plugin_entry(                   \
        uint32_t host_abi_version, const crm_host_api *host) {                  \
        (void)host_abi_version;                                                 \
        (void)host;                                                             \
        return &(def);                                                          \
    }

/* Convenience wrappers, so plugin code reads like ordinary calls. They need a
 * `const crm_host_api *` named by CRM_HOST (define it before including, or
 * keep a global called crm_host). */
#ifndef CRM_HOST
#define CRM_HOST crm_host
#endif
#define crm_call_respond(call, data, len) (CRM_HOST)->call_respond((call), (data), (len))
#define crm_call_set_message(call, msg) (CRM_HOST)->call_set_message((call), (msg))
#define crm_call_send(call, data, len) (CRM_HOST)->call_send((call), (data), (len))
#define crm_call_is_cancelled(call) (CRM_HOST)->call_is_cancelled((call))
#define crm_call_get_context(call) (CRM_HOST)->call_context((call))

/* ------------------------------------------------------------------------ */
/* Storage: feature "crm.storage.v1"                                        */
/* ------------------------------------------------------------------------ */
/*
 * SQL against crmd's one SQLite database, from inside a handler (or an
 * on_event callback). Every function takes the call being handled.
 *
 * Transactions are the host's: a method declared CRM_METHOD_FLAG_WRITES runs
 * in one write transaction, committed when the handler returns
 * CRM_STATUS_OK (the client is answered only after the commit) and rolled
 * back on any other status. Other methods read a consistent snapshot on a
 * reader connection; their writes fail with FAILED_PRECONDITION. BEGIN,
 * COMMIT and SAVEPOINT are the host's alone.
 *
 * Isolation (a promise about SQL; the plugin itself is trusted code in
 * crmd's process): a plugin may create, read, write and alter only tables,
 * indexes, triggers and views named "<plugin>_...", with foreign keys among
 * them only. Anything else (other plugins' tables, the kernel's, SQLite's
 * own sqlite_* tables, a REFERENCES outside the prefix, ANALYZE, ATTACH,
 * PRAGMA, load_extension, fts3_tokenizer, changes, total_changes, printf,
 * format) fails
 * with PERMISSION_DENIED; DDL that breaks the rule fails the whole call.
 * docs/PLUGINS.md lists exactly what plugin SQL may and may not do.
 *
 * Limits: a statement stops at the call's deadline (DEADLINE_EXCEEDED), on
 * cancellation (CANCELLED) or past crmd's per-call budget, --sql-timeout-ms
 * (DEADLINE_EXCEEDED); one string or blob is at most 8 MiB by default
 * (RESOURCE_EXHAUSTED).
 *
 * Errors: each function returns a crm_status (SQLite's result mapped:
 * constraint UNIQUE/PRIMARY KEY -> ALREADY_EXISTS, other constraints ->
 * FAILED_PRECONDITION, denied -> PERMISSION_DENIED, busy -> UNAVAILABLE,
 * anything else -> INTERNAL) and SQLite's message becomes the call's status
 * message, so a handler may simply return the status it got.
 */

#define CRM_FEATURE_STORAGE_V1 "crm.storage.v1"

/** A prepared statement. Host-owned; valid until finalize or until the
 *  handler returns (the host finalizes what is left). */
typedef struct crm_stmt crm_stmt;

typedef enum crm_value_type {
    CRM_VALUE_NULL = 0,
    CRM_VALUE_INTEGER = 1,
    CRM_VALUE_REAL = 2,
    CRM_VALUE_TEXT = 3,
    CRM_VALUE_BLOB = 4
} crm_value_type;

typedef struct crm_storage_api {
    uint32_t struct_size;

    /** Run one or more statements that take no parameters and return no rows. */
    int32_t (*exec)(crm_call *call, const char *sql);

    /**
     * Prepare one statement (SQL after it other than whitespace or comments
     * is INVALID_ARGUMENT). The host keeps compiled statements per plugin
     * and SQL text, so preparing the same SQL in every call costs a lookup.
     * `*out` is host-owned (see crm_stmt).
     */
    int32_t (*prepare)(crm_call *call, const char *sql, crm_stmt **out);

    /** Bind `?` parameter `index` (from 1). Text and blobs are copied. */
    int32_t (*bind_null)(crm_stmt *stmt, int index);
    int32_t (*bind_int64)(crm_stmt *stmt, int index, int64_t value);
    int32_t (*bind_double)(crm_stmt *stmt, int index, double value);
    int32_t (*bind_text)(crm_stmt *stmt, int index, const char *utf8, size_t len);
    int32_t (*bind_blob)(crm_stmt *stmt, int index, const void *data, size_t len);

    /** Advance; `*has_row` is 1 when a row is ready, 0 when done. */
    int32_t (*step)(crm_stmt *stmt, int *has_row);

    /** Columns of the current row, from 0. */
    int (*column_count)(crm_stmt *stmt);
    int (*column_type)(crm_stmt *stmt, int column); /**< crm_value_type */
    int64_t (*column_int64)(crm_stmt *stmt, int column);
    double (*column_double)(crm_stmt *stmt, int column);
    /**
     * Text (UTF-8, NUL-terminated) or blob bytes, `*len` without the NUL.
     * Host-owned; valid until the next step, reset or finalize of `stmt`.
     */
    const uint8_t *(*column_bytes)(crm_stmt *stmt, int column, size_t *len);

    /** Back to the start with bindings cleared, for another run. */
    int32_t (*reset)(crm_stmt *stmt);
    /** Release the statement early (optional). */
    void (*finalize)(crm_stmt *stmt);

    /** The rowid of this call's last INSERT, and the rows changed by its last
     *  statement (0 until the call inserted or changed something). */
    int64_t (*last_insert_id)(crm_call *call);
    int64_t (*changes)(crm_call *call);

    /** The message of the last failed storage function on this call, or "".
     *  Host-owned; valid until the next storage function on this call. */
    const char *(*last_error)(crm_call *call);
} crm_storage_api;

/* ------------------------------------------------------------------------ */
/* Bus: feature "crm.bus.v1"                                                */
/* ------------------------------------------------------------------------ */

#define CRM_FEATURE_BUS_V1 "crm.bus.v1"

typedef struct crm_bus_api {
    uint32_t struct_size;
    /**
     * Publish an event in the call's write transaction: it is stored in the
     * outbox with the handler's writes and delivered only if they commit.
     * `topic` must start with "<plugin>." (a plugin speaks only for itself).
     * All arguments are copied. `*sequence` (optional) receives the event's
     * sequence number. Fails with FAILED_PRECONDITION outside a writing call.
     */
    int32_t (*publish)(crm_call *call, const char *topic, const char *type_name,
                       const uint8_t *payload, size_t payload_len, uint64_t *sequence);

    /* Added in ABI 1 after the first release (with record scope): check
     * struct_size (CRM_HAS_MEMBER) before use. */
    /**
     * `publish`, naming the record the event is about: `entity`
     * ("<plugin>.<entity>", e.g. "contacts.person") and `record_id`, and
     * the record's `owner` (a CRM user name) after the write, or NULL.
     * crmd uses them to deliver the event on `Events/Subscribe` only to
     * callers whose record scope reaches the record, and to redact it when
     * the record is erased (crm_access_api.redact). All three may be NULL
     * (then it is `publish`); `entity` must start with the plugin's name.
     */
    int32_t (*publish_about)(crm_call *call, const char *topic, const char *type_name,
                             const uint8_t *payload, size_t payload_len,
                             const char *entity, const char *record_id, const char *owner,
                             uint64_t *sequence);
} crm_bus_api;

/* ------------------------------------------------------------------------ */
/* Access: feature "crm.access.v1" (record scope, audit trail, erasure)     */
/* ------------------------------------------------------------------------ */

#define CRM_FEATURE_ACCESS_V1 "crm.access.v1"

/** How far a caller reaches among an entity's records. */
typedef enum crm_record_reach {
    /** The caller holds no such permission: no record is in scope. */
    CRM_REACH_NONE = 0,
    /** Records whose owner is the caller. */
    CRM_REACH_OWN = 1,
    /** Records whose owner is the caller or shares one of their teams. */
    CRM_REACH_TEAM = 2,
    /** Every record (also crmd's own uid, root, and event deliveries). */
    CRM_REACH_ALL = 3
} crm_record_reach;

/** A caller's scope for one permission. Filled by crm_access_api.scope. */
typedef struct crm_record_scope {
    uint32_t struct_size;             /**< set by the caller to sizeof */
    int32_t reach;                    /**< crm_record_reach */
    /** With CRM_REACH_OWN or CRM_REACH_TEAM: the owners (CRM user names)
     *  whose records are in scope, the caller first. Empty otherwise.
     *  Host-owned; valid until the handler returns. */
    const char *const *owners;
    size_t owner_count;
} crm_record_scope;

/** One changed field of an audited record; NULL means "had no value". */
typedef struct crm_field_change {
    uint32_t struct_size;             /**< sizeof(crm_field_change) */
    const char *field;
    const char *old_value;
    const char *new_value;
} crm_field_change;

/** What a write did to one record, for the audit trail. */
typedef struct crm_audit_entry {
    uint32_t struct_size;             /**< sizeof(crm_audit_entry) */
    /** "<plugin>.<entity>", e.g. "contacts.person": the plugin's own. */
    const char *entity;
    const char *record_id;
    /** "create", "update", "delete", "merge", "erase", or another verb. */
    const char *action;
    /** The record's owner after the write, or NULL. */
    const char *owner;
    /** Elements of one struct_size each (the first's). */
    const crm_field_change *changes;
    size_t change_count;
} crm_audit_entry;

typedef struct crm_access_api {
    uint32_t struct_size;
    /**
     * The caller's scope for `permission` (NULL: the running method's own
     * permission): the widest scope among the caller's roles' grants that
     * match it. Set `out->struct_size` first. A read of a record out of
     * scope should answer NOT_FOUND, a write PERMISSION_DENIED.
     */
    int32_t (*scope)(crm_call *call, const char *permission, crm_record_scope *out);
    /**
     * Records an audit entry in the call's write transaction, with who
     * (user, uid, proxy uid), when and which method: it commits or rolls
     * back with the call's writes. FAILED_PRECONDITION outside a writing
     * call; INVALID_ARGUMENT for an entity not "<plugin>." or a missing
     * record_id or action. A writing call that records none still leaves
     * one entry naming only the method.
     */
    int32_t (*audit)(crm_call *call, const crm_audit_entry *entry);
    /**
     * Erasure: in the call's write transaction, replaces every old and new
     * value of the record's audit entries with "[erased]" and empties the
     * payload of every stored event published about it (publish_about),
     * keeping their sequences. `entity` must be the plugin's own.
     */
    int32_t (*redact)(crm_call *call, const char *entity, const char *record_id);
} crm_access_api;

/* The sizes of every struct crossing the boundary, on the 64-bit platforms
 * crmd runs on. A struct only ever grows at the end: a failing check here
 * means a field was inserted, removed or resized, which breaks every plugin
 * built before (bump CRM_PLUGIN_ABI_VERSION instead, or append). Written as
 * array sizes so the check is plain C99 and C++. */
#if defined(__LP64__) || defined(_WIN64)
#define CRM_ABI_SIZE_CHECK(type, size) \
    typedef char crm_abi_size_check_##type[(sizeof(type) == (size)) ? 1 : -1]
CRM_ABI_SIZE_CHECK(crm_metadata_entry, 16);
CRM_ABI_SIZE_CHECK(crm_call_context, 88);
CRM_ABI_SIZE_CHECK(crm_host_api, 80);
CRM_ABI_SIZE_CHECK(crm_method_def, 72);
CRM_ABI_SIZE_CHECK(crm_dependency_def, 24);
CRM_ABI_SIZE_CHECK(crm_migration_def, 24);
CRM_ABI_SIZE_CHECK(crm_event, 96);
CRM_ABI_SIZE_CHECK(crm_plugin_def, 152);
CRM_ABI_SIZE_CHECK(crm_storage_api, 152);
CRM_ABI_SIZE_CHECK(crm_bus_api, 24);
CRM_ABI_SIZE_CHECK(crm_record_scope, 24);
CRM_ABI_SIZE_CHECK(crm_field_change, 32);
CRM_ABI_SIZE_CHECK(crm_audit_entry, 56);
CRM_ABI_SIZE_CHECK(crm_access_api, 32);
#undef CRM_ABI_SIZE_CHECK
#endif

/** The canonical name of a status ("NOT_FOUND"); static storage. */
static inline const char *crm_status_name(int32_t status) {
    static const char *const names[] = {
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
        "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
        "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"};
    return (status >= 0 && status <= 16) ? names[status] : "UNKNOWN";
}

#ifdef __cplusplus
}
#endif

#endif /* CRM_PLUGIN_H */
