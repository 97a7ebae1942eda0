/* protobuf-c helpers for crm plugins; see crm/plugin_pbc.h. */
#include "crm/plugin_pbc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the shared trampoline needs to know about one bound method. */
typedef struct pbc_method {
    const ProtobufCMessageDescriptor *input;
    crm_pbc_handler handler;
    void *user_data;
} pbc_method;

/* ---- UTF-8 ---------------------------------------------------------------- */

static int utf8_ok(const unsigned char *s) {
    while (*s) {
        unsigned c = *s;
        int extra;
        unsigned min;
        if (c < 0x80) { s++; continue; }
        if ((c & 0xe0) == 0xc0) { extra = 1; min = 0x80; c &= 0x1f; }
        else if ((c & 0xf0) == 0xe0) { extra = 2; min = 0x800; c &= 0x0f; }
        else if ((c & 0xf8) == 0xf0) { extra = 3; min = 0x10000; c &= 0x07; }
        else return 0;
        s++;
        for (int i = 0; i < extra; i++, s++) {
            if ((*s & 0xc0) != 0x80) return 0;
            c = (c << 6) | (*s & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return 0;
    }
    return 1;
}

static int field_present_in_oneof(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f) {
    if (!(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)) return 1;
    return *(const uint32_t *)((const char *)m + f->quantifier_offset) == f->id;
}

int crm_pbc_utf8_valid(const ProtobufCMessage *m, const char **bad_field) {
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE) continue;
        if (!field_present_in_oneof(m, f)) continue;
        const char *slot = (const char *)m + f->offset;
        size_t count = 1;
        const void *const *items = (const void *const *)slot;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            count = *(const size_t *)((const char *)m + f->quantifier_offset);
            items = *(const void *const *const *)slot;
        }
        for (size_t k = 0; k < count; k++) {
            const void *item = items[k];
            if (!item) continue;
            if (f->type == PROTOBUF_C_TYPE_STRING) {
                if (!utf8_ok(item)) {
                    if (bad_field) *bad_field = f->name;
                    return 0;
                }
            } else if (!crm_pbc_utf8_valid(item, bad_field)) {
                return 0;
            }
        }
    }
    return 1;
}

/* ---- nesting depth, checked on the wire bytes before unpacking ------------ */

static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (b < 0x80) { *out = v; return 1; }
    }
    return 0;
}

/* 1 when well-formed and shallow enough, 0 when malformed, -1 when too deep. */
static int depth_scan(const ProtobufCMessageDescriptor *d, const uint8_t *p, const uint8_t *end, int depth) {
    if (depth > CRM_PBC_MAX_DEPTH) return -1;
    while (p < end) {
        uint64_t key, value;
        if (!read_varint(&p, end, &key)) return 0;
        switch (key & 7) {
        case 0: if (!read_varint(&p, end, &value)) return 0; break;
        case 1: if (end - p < 8) return 0; p += 8; break;
        case 5: if (end - p < 4) return 0; p += 4; break;
        case 2: {
            if (!read_varint(&p, end, &value) || value > (uint64_t)(end - p)) return 0;
            const ProtobufCFieldDescriptor *f =
                key >> 35 ? NULL : protobuf_c_message_descriptor_get_field(d, (unsigned)(key >> 3));
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
                int inner = depth_scan(f->descriptor, p, p + value, depth + 1);
                if (inner != 1) return inner;
            }
            p += value;
            break;
        }
        default: return 0; /* groups and invalid wire types; protobuf-c refuses them too */
        }
    }
    return 1;
}

int crm_pbc_depth_ok(const ProtobufCMessageDescriptor *d, const uint8_t *data, size_t len) {
    return depth_scan(d, data, data + len, 1) == 1;
}

/* ---- binding --------------------------------------------------------------- */

static int32_t decode_and_handle(crm_pbc_call *c, const pbc_method *m, const uint8_t *request, size_t len) {
    static const uint8_t empty[1];
    if (!request) request = empty; /* an empty request may come as NULL */
    int scan = depth_scan(m->input, request, request + len, 1);
    if (scan < 0)
        return crm_pbc_fail(c, CRM_STATUS_INVALID_ARGUMENT, "request does not decode as %s (nested deeper than %d)",
                            m->input->name, CRM_PBC_MAX_DEPTH);
    ProtobufCMessage *message = scan ? protobuf_c_message_unpack(m->input, NULL, len, request) : NULL;
    if (!message)
        return crm_pbc_fail(c, CRM_STATUS_INVALID_ARGUMENT, "request does not decode as %s", m->input->name);
    const char *bad = NULL;
    int32_t status;
    if (!crm_pbc_utf8_valid(message, &bad)) {
        status = crm_pbc_fail(c, CRM_STATUS_INVALID_ARGUMENT, "field %s is not valid UTF-8", bad);
    } else {
        status = m->handler(c, message);
    }
    protobuf_c_message_free_unpacked(message, NULL);
    return status;
}

/* Every bound method's plugin_handler: the call's context lives on this
 * stack frame and its allocations end with it. */
static int32_t trampoline(crm_plugin *self, const crm_host_api *host, void *method_data, crm_call *call,
                          const uint8_t *request, size_t len) {
    const pbc_method *m = method_data;
    crm_pbc_call c;
    crm_pbc_call_open(&c, self, host, call, m->user_data);
    int32_t status = decode_and_handle(&c, m, request, len);
    crm_pbc_call_close(&c);
    return status;
}

static int32_t bind_error(const char **error, const char *message) {
    if (error) *error = message;
    return CRM_STATUS_INVALID_ARGUMENT;
}

/* Checks every binding before allocating anything, so a refusal leaks nothing. */
static int32_t check_bindings(const ProtobufCServiceDescriptor *service, const crm_pbc_binding *bindings,
                              size_t binding_count, const char **error) {
    for (size_t i = 0; i < binding_count; i++) {
        if (!bindings[i].method || !bindings[i].handler)
            return bind_error(error, "a binding has no method name or no handler");
        /* A method bound twice would reach the host as a duplicate method. */
        for (size_t j = 0; j < i; j++)
            if (strcmp(bindings[j].method, bindings[i].method) == 0)
                return bind_error(error, "a method is bound twice");
        if (!protobuf_c_service_descriptor_get_method_by_name(service, bindings[i].method))
            return bind_error(error, "a binding names a method the service does not have");
    }
    return CRM_STATUS_OK;
}

int32_t crm_pbc_bind_service(const ProtobufCServiceDescriptor *service, const crm_pbc_binding *bindings,
                             size_t binding_count, crm_method_def *out, size_t out_capacity,
                             const char **error) {
    if (!service || service->magic != PROTOBUF_C__SERVICE_DESCRIPTOR_MAGIC)
        return bind_error(error, "not a protobuf-c service descriptor");
    if ((binding_count && (!bindings || !out)) || binding_count > out_capacity)
        return bind_error(error, "more bindings than method slots");
    if (binding_count > service->n_methods)
        return bind_error(error, "more bindings than the service has methods");
    int32_t status = check_bindings(service, bindings, binding_count, error);
    if (status != CRM_STATUS_OK) return status;
    for (size_t i = 0; i < binding_count; i++) {
        const ProtobufCMethodDescriptor *md =
            protobuf_c_service_descriptor_get_method_by_name(service, bindings[i].method);
        pbc_method *record = malloc(sizeof *record);
        size_t name_len = strlen(service->name) + strlen(md->name) + 3;
        char *full_name = malloc(name_len);
        if (!record || !full_name) {
            free(record);
            free(full_name);
            for (size_t j = 0; j < i; j++) {
                free((char *)out[j].full_name);
                free(out[j].method_data);
            }
            if (error) *error = "out of memory";
            return CRM_STATUS_RESOURCE_EXHAUSTED;
        }
        snprintf(full_name, name_len, "/%s/%s", service->name, md->name);
        *record = (pbc_method){md->input, bindings[i].handler, bindings[i].user_data};
        out[i] = (crm_method_def){
            .struct_size = CRM_METHOD_DEF_SIZE,
            .full_name = full_name,
            .kind = (bindings[i].flags & CRM_PBC_SERVER_STREAMING) ? CRM_METHOD_SERVER_STREAMING : CRM_METHOD_UNARY,
            .handler = NULL, /* a crmd too old for plugin_handler refuses the plugin */
            .method_data = record,
            .request_type = md->input->name,
            .response_type = md->output->name,
            .flags = bindings[i].flags & ~CRM_PBC_SERVER_STREAMING, /* host flags pass through */
            .plugin_handler = trampoline,
        };
    }
    return CRM_STATUS_OK;
}

const crm_plugin_def *crm_pbc_plugin_entry(uint32_t host_abi_version, crm_plugin_def *def,
                                           const ProtobufCServiceDescriptor *service,
                                           const crm_pbc_binding *bindings, size_t binding_count,
                                           crm_method_def *methods, const uint8_t *descriptor_set,
                                           size_t descriptor_set_len) {
    if (host_abi_version != CRM_PLUGIN_ABI_VERSION) return NULL;
    const char *error = NULL;
    if (crm_pbc_bind_service(service, bindings, binding_count, methods, binding_count, &error) != CRM_STATUS_OK) {
        fprintf(stderr, "%s: %s\n", def->name ? def->name : "plugin", error);
        return NULL;
    }
    def->methods = methods;
    def->method_count = binding_count;
    def->descriptor_set = descriptor_set;
    def->descriptor_set_len = descriptor_set_len;
    return def;
}
