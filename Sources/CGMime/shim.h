#include <gmime/gmime.h>
#include <stdint.h>

/* GMime's type checks and casts are macros Swift cannot call: one function
 * per question the service plugin's mail reader asks. Objects are returned
 * borrowed unless the comment says the caller frees them. */

/* A message parsed from bytes, or NULL; the caller g_object_unref's it. */
static inline GMimeMessage *crm_mime_parse(const unsigned char *data, size_t len) {
    GMimeStream *stream = g_mime_stream_mem_new_with_buffer((const char *)data, len);
    GMimeParser *parser = g_mime_parser_new_with_stream(stream);
    g_object_unref(stream);
    GMimeMessage *message = g_mime_parser_construct_message(parser, NULL);
    g_object_unref(parser);
    return message;
}

static inline void crm_mime_unref(void *object) { if (object) g_object_unref(object); }

static inline GMimeObject *crm_mime_body(GMimeMessage *m) { return g_mime_message_get_mime_part(m); }

/* The first value of a header of the message, or NULL. */
static inline const char *crm_mime_header(GMimeMessage *m, const char *name) {
    return g_mime_object_get_header((GMimeObject *)m, name);
}

static inline const char *crm_mime_message_id(GMimeMessage *m) { return g_mime_message_get_message_id(m); }
static inline const char *crm_mime_subject(GMimeMessage *m) { return g_mime_message_get_subject(m); }

/* Seconds since 1970 of the Date header, or 0 without one. */
static inline int64_t crm_mime_date(GMimeMessage *m) {
    GDateTime *date = g_mime_message_get_date(m);
    return date ? (int64_t)g_date_time_to_unix(date) : 0;
}

/* type: 0 from, 1 reply-to, 2 to, 3 cc, 4 sender. */
static inline InternetAddressList *crm_mime_addresses(GMimeMessage *m, int type) {
    switch (type) {
    case 0: return g_mime_message_get_from(m);
    case 1: return g_mime_message_get_reply_to(m);
    case 2: return g_mime_message_get_to(m);
    case 3: return g_mime_message_get_cc(m);
    default: return g_mime_message_get_sender(m);
    }
}
static inline int crm_mime_address_count(InternetAddressList *list) { return list ? internet_address_list_length(list) : 0; }
/* The address of mailbox i (NULL for a group). */
static inline const char *crm_mime_mailbox(InternetAddressList *list, int i) {
    InternetAddress *a = internet_address_list_get_address(list, i);
    return INTERNET_ADDRESS_IS_MAILBOX(a) ? internet_address_mailbox_get_addr((InternetAddressMailbox *)a) : NULL;
}
static inline const char *crm_mime_address_name(InternetAddressList *list, int i) {
    return internet_address_get_name(internet_address_list_get_address(list, i));
}

/* Message-ids of an In-Reply-To or References value; the caller frees the
 * list with g_mime_references_free. */
static inline GMimeReferences *crm_mime_references(const char *text) { return g_mime_references_parse(NULL, text); }
static inline int crm_mime_references_count(GMimeReferences *refs) { return refs ? g_mime_references_length(refs) : 0; }
static inline const char *crm_mime_reference(GMimeReferences *refs, int i) { return g_mime_references_get_message_id(refs, i); }

/* 1 multipart, 2 an embedded message (message/rfc822), 3 a text part, 4 another leaf part, 0 else. */
static inline int crm_mime_kind(GMimeObject *o) {
    if (GMIME_IS_MULTIPART(o)) return 1;
    if (GMIME_IS_MESSAGE_PART(o)) return 2;
    if (GMIME_IS_TEXT_PART(o)) return 3;
    if (GMIME_IS_PART(o)) return 4;
    return 0;
}
static inline int crm_mime_child_count(GMimeObject *o) { return g_mime_multipart_get_count((GMimeMultipart *)o); }
static inline GMimeObject *crm_mime_child(GMimeObject *o, int i) { return g_mime_multipart_get_part((GMimeMultipart *)o, i); }
static inline GMimeMessage *crm_mime_embedded(GMimeObject *o) { return g_mime_message_part_get_message((GMimeMessagePart *)o); }

static inline const char *crm_mime_media_type(GMimeObject *o) {
    GMimeContentType *t = g_mime_object_get_content_type(o);
    return t ? g_mime_content_type_get_media_type(t) : NULL;
}
static inline const char *crm_mime_media_subtype(GMimeObject *o) {
    GMimeContentType *t = g_mime_object_get_content_type(o);
    return t ? g_mime_content_type_get_media_subtype(t) : NULL;
}
static inline const char *crm_mime_type_parameter(GMimeObject *o, const char *name) {
    return g_mime_object_get_content_type_parameter(o, name);
}

static inline int crm_mime_is_attachment(GMimeObject *o) { return GMIME_IS_PART(o) && g_mime_part_is_attachment((GMimePart *)o); }
static inline const char *crm_mime_filename(GMimeObject *o) { return GMIME_IS_PART(o) ? g_mime_part_get_filename((GMimePart *)o) : NULL; }

/* A text part's text in UTF-8 (its charset converted); the caller g_free's it. */
static inline char *crm_mime_text(GMimeObject *o) { return g_mime_text_part_get_text((GMimeTextPart *)o); }
static inline void crm_mime_free(void *p) { g_free(p); }

/* A leaf part's content with its transfer encoding undone; the caller
 * crm_mime_bytes_free's it. NULL without content. */
static inline GByteArray *crm_mime_content(GMimeObject *o) {
    GMimeDataWrapper *content = g_mime_part_get_content((GMimePart *)o);
    if (!content) return NULL;
    GMimeStream *stream = g_mime_stream_mem_new();
    g_mime_data_wrapper_write_to_stream(content, stream);
    GByteArray *bytes = g_mime_stream_mem_get_byte_array((GMimeStreamMem *)stream);
    g_mime_stream_mem_set_owner((GMimeStreamMem *)stream, FALSE); /* the bytes outlive the stream */
    g_object_unref(stream);
    return bytes;
}
static inline const unsigned char *crm_mime_bytes(GByteArray *a) { return a->data; }
static inline size_t crm_mime_bytes_count(GByteArray *a) { return a->len; }
static inline void crm_mime_bytes_free(GByteArray *a) { g_byte_array_free(a, TRUE); }
