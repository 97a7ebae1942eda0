/*
 * A google.protobuf.FileDescriptorSet encoded by hand for the C test
 * fixtures: one file, one service, its rpcs with or without
 * (crm.options.v1.method), and with FIXTURE_EVENT = topic, read_permission
 * a message "Event" declaring them in (crm.options.v1.event); with
 * FIXTURE_JOB_EVERY_MS, the first rpc's options carry job_every_ms and the
 * set declares its request message Empty. crmd refuses a
 * plugin whose methods its descriptor set does not declare; these fixtures
 * are built with cc alone, without protoc.
 */
#ifndef FIXTURE_DESCRIPTOR_H
#define FIXTURE_DESCRIPTOR_H

#include <stdint.h>
#include <string.h>

typedef struct fixture_buf {
    uint8_t bytes[2048];
    size_t len;
} fixture_buf;

typedef struct fixture_rpc {
    const char *name;          /* "Ping" */
    const char *input_type;    /* ".crm.testing.v1.Empty" */
    const char *output_type;
    int server_streaming;
    /* (crm.options.v1.method), encoded only when has_options is set. */
    int has_options, writes, idempotent;
    const char *permission;
} fixture_rpc;

/* Appends; the fixtures' sets are far below the buffer's size. */
static void fixture_varint(fixture_buf *b, uint64_t v) {
    while (v >= 0x80 && b->len < sizeof b->bytes) { b->bytes[b->len++] = (uint8_t)(v | 0x80); v >>= 7; }
    if (b->len < sizeof b->bytes) b->bytes[b->len++] = (uint8_t)v;
}

static void fixture_field(fixture_buf *b, uint32_t field, const void *data, size_t len) {
    fixture_varint(b, (uint64_t)field << 3 | 2);
    fixture_varint(b, len);
    if (b->len + len <= sizeof b->bytes) { memcpy(b->bytes + b->len, data, len); b->len += len; }
}

static void fixture_string(fixture_buf *b, uint32_t field, const char *s) { fixture_field(b, field, s, strlen(s)); }

/* FileDescriptorSet{file: {name, package, service: {name, method: rpcs}}} into `out`. */
static void fixture_descriptor_set(fixture_buf *out, const char *file, const char *package, const char *service,
                                   const fixture_rpc *rpcs, size_t rpc_count) {
    fixture_buf svc = {{0}, 0}, fd = {{0}, 0};
    fixture_string(&svc, 1, service);
    for (size_t i = 0; i < rpc_count; i++) {
        fixture_buf m = {{0}, 0};
        fixture_string(&m, 1, rpcs[i].name);
        fixture_string(&m, 2, rpcs[i].input_type);
        fixture_string(&m, 3, rpcs[i].output_type);
        if (rpcs[i].has_options) {
            fixture_buf semantics = {{0}, 0}, options = {{0}, 0};
            if (rpcs[i].writes) { fixture_varint(&semantics, 1 << 3 | 0); fixture_varint(&semantics, 1); }
            if (rpcs[i].idempotent) { fixture_varint(&semantics, 2 << 3 | 0); fixture_varint(&semantics, 1); }
            if (rpcs[i].permission) fixture_string(&semantics, 3, rpcs[i].permission);
#ifdef FIXTURE_JOB_EVERY_MS
            if (i == 0) { fixture_varint(&semantics, 4 << 3 | 0); fixture_varint(&semantics, FIXTURE_JOB_EVERY_MS); }
#endif
            fixture_field(&options, 51700, semantics.bytes, semantics.len); /* the method extension */
            fixture_field(&m, 4, options.bytes, options.len);              /* MethodOptions */
        }
        if (rpcs[i].server_streaming) { fixture_varint(&m, 6 << 3 | 0); fixture_varint(&m, 1); }
        fixture_field(&svc, 2, m.bytes, m.len);
    }
    fixture_string(&fd, 1, file);
    fixture_string(&fd, 2, package);
#ifdef FIXTURE_EVENT
    {
        const char *event[] = {FIXTURE_EVENT};
        fixture_buf semantics = {{0}, 0}, options = {{0}, 0}, message = {{0}, 0};
        fixture_string(&semantics, 1, event[0]);                            /* topics */
        fixture_string(&semantics, 2, event[1]);                            /* read_permission */
        fixture_field(&options, 51701, semantics.bytes, semantics.len);     /* the event extension */
        fixture_string(&message, 1, "Event");
        fixture_field(&message, 7, options.bytes, options.len);             /* MessageOptions */
        fixture_field(&fd, 4, message.bytes, message.len);                  /* message_type */
    }
#endif
#ifdef FIXTURE_JOB_EVERY_MS
    {
        /* A job's request must be declared and empty: Empty, with one field under FIXTURE_JOB_REQUEST_FIELD. */
        fixture_buf message = {{0}, 0};
        fixture_string(&message, 1, "Empty");
#ifdef FIXTURE_JOB_REQUEST_FIELD
        fixture_buf field = {{0}, 0};
        fixture_string(&field, 1, "limit");
        fixture_varint(&field, 3 << 3 | 0); fixture_varint(&field, 1);  /* number */
        fixture_varint(&field, 4 << 3 | 0); fixture_varint(&field, 1);  /* LABEL_OPTIONAL */
        fixture_varint(&field, 5 << 3 | 0); fixture_varint(&field, 5);  /* TYPE_INT32 */
        fixture_field(&message, 2, field.bytes, field.len);
#endif
        fixture_field(&fd, 4, message.bytes, message.len);
    }
#endif
    fixture_field(&fd, 6, svc.bytes, svc.len);
    fixture_string(&fd, 12, "proto3");
    out->len = 0;
    fixture_field(out, 1, fd.bytes, fd.len);
}

#endif
