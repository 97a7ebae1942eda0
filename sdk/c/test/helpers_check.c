/* Run by `make c-sdk-check`: a host faked over SQLite (one in-memory
 * database, no transactions or isolation) that loads the table-booking
 * example (argv[1]) and calls its methods through plugin_handler, then the
 * crm_sql helpers directly, then four threads listing bookings at once. Built
 * with ASan and UBSan, so a leak, an overrun or a race on freed memory fails. */
#include <dlfcn.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "crm/plugin_sql.h"
#include "tablebooking/tablebooking.pb-c.h"

struct crm_call { sqlite3 *db; char message[1024]; uint8_t resp[65536]; size_t resp_len; int published; };
static sqlite3 *shared;
static __thread struct crm_call *cur;
#define S(stmt) ((sqlite3_stmt *)(void *)(stmt))
static int32_t map(int rc) {
    if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW) return 0;
    if (cur) snprintf(cur->message, sizeof cur->message, "%s", sqlite3_errmsg(cur->db));
    return rc == SQLITE_CONSTRAINT ? 9 : 13;
}
static int32_t s_exec(crm_call *c, const char *sql) { cur = c; return map(sqlite3_exec(c->db, sql, 0, 0, 0)); }
static int32_t s_prepare(crm_call *c, const char *sql, crm_stmt **out) {
    cur = c; sqlite3_stmt *st = NULL; int rc = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL);
    *out = (crm_stmt *)(void *)st; return map(rc);
}
static int32_t b_null(crm_stmt *s, int i) { return map(sqlite3_bind_null(S(s), i)); }
static int32_t b_int(crm_stmt *s, int i, int64_t v) { return map(sqlite3_bind_int64(S(s), i, v)); }
static int32_t b_dbl(crm_stmt *s, int i, double v) { return map(sqlite3_bind_double(S(s), i, v)); }
static int32_t b_text(crm_stmt *s, int i, const char *t, size_t n) { return map(sqlite3_bind_text(S(s), i, t, (int)n, SQLITE_TRANSIENT)); }
static int32_t b_blob(crm_stmt *s, int i, const void *t, size_t n) { return map(sqlite3_bind_blob(S(s), i, t, (int)n, SQLITE_TRANSIENT)); }
static int32_t step(crm_stmt *s, int *has) { int rc = sqlite3_step(S(s)); *has = rc == SQLITE_ROW; return map(rc); }
static int ccount(crm_stmt *s) { return sqlite3_column_count(S(s)); }
static int ctype(crm_stmt *s, int c) { int t = sqlite3_column_type(S(s), c); return t == SQLITE_NULL ? 0 : t == SQLITE_INTEGER ? 1 : t == SQLITE_FLOAT ? 2 : t == SQLITE_TEXT ? 3 : 4; }
static int64_t cint(crm_stmt *s, int c) { return sqlite3_column_int64(S(s), c); }
static double cdbl(crm_stmt *s, int c) { return sqlite3_column_double(S(s), c); }
static const uint8_t *cbytes(crm_stmt *s, int c, size_t *len) { const void *p = sqlite3_column_blob(S(s), c); *len = (size_t)sqlite3_column_bytes(S(s), c); return p; }
static int32_t sreset(crm_stmt *s) { return map(sqlite3_reset(S(s))); }
static void sfin(crm_stmt *s) { sqlite3_finalize(S(s)); }
static int64_t lastid(crm_call *c) { return sqlite3_last_insert_rowid(c->db); }
static int64_t changes(crm_call *c) { return sqlite3_changes(c->db); }
static const char *lasterr(crm_call *c) { return c->message; }
static const crm_storage_api storage = {sizeof storage, s_exec, s_prepare, b_null, b_int, b_dbl, b_text, b_blob, step,
    ccount, ctype, cint, cdbl, cbytes, sreset, sfin, lastid, changes, lasterr};
static int32_t pub(crm_call *c, const char *topic, const char *type, const uint8_t *p, size_t n, uint64_t *seq) {
    (void)p; (void)n; (void)seq; c->published++;
    if (strcmp(type, "crm.example.tablebooking.v1.Booking") || strcmp(topic, "tablebooking.booking.created")) return 13;
    return 0;
}
static const crm_bus_api bus = {sizeof bus, pub, NULL};
static void h_log(crm_plugin *p, crm_log_level l, const char *m) { (void)p; (void)l; (void)m; }
static const crm_call_context *h_ctx(crm_call *c) { (void)c; return NULL; }
static void h_respond(crm_call *c, const uint8_t *d, size_t n) { memcpy(c->resp, d, n); c->resp_len = n; }
static void h_msg(crm_call *c, const char *m) { snprintf(c->message, sizeof c->message, "%s", m); }
static const void *h_feat(crm_plugin *p, const char *name) { (void)p; return !strcmp(name, CRM_FEATURE_STORAGE_V1) ? (const void *)&storage : !strcmp(name, CRM_FEATURE_BUS_V1) ? (const void *)&bus : NULL; }
static const crm_host_api host = {sizeof host, 1, h_log, NULL, h_ctx, h_respond, h_msg, NULL, NULL, NULL, h_feat};

static int failures;
#define CHECK(cond) do { if (!(cond)) { failures++; fprintf(stderr, "FAIL %s:%d %s\n", __FILE__, __LINE__, #cond); } } while (0)

static const crm_plugin_def *def;
static const crm_method_def *method(const char *name) {
    for (size_t i = 0; i < def->method_count; i++) if (strstr(def->methods[i].full_name, name)) return &def->methods[i];
    return NULL;
}
static int32_t call(const char *name, const ProtobufCMessage *req, struct crm_call *c) {
    uint8_t buf[4096]; size_t n = protobuf_c_message_pack(req, buf);
    const crm_method_def *m = method(name);
    memset(c, 0, sizeof *c); c->db = shared;
    return m->plugin_handler(NULL, &host, m->method_data, c, buf, n);
}
static void *hammer(void *arg) {
    (void)arg;
    for (int i = 0; i < 2000; i++) {
        struct crm_call c; Crm__Example__Tablebooking__V1__ListBookingsRequest l = CRM__EXAMPLE__TABLEBOOKING__V1__LIST_BOOKINGS_REQUEST__INIT;
        l.page_size = 3;
        if (call("ListBookings", &l.base, &c) != 0) { failures++; break; }
    }
    return NULL;
}

int main(int argc, char **argv) {
    (void)argc;
    sqlite3_open_v2(":memory:", &shared, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
    void *so = dlopen(argv[1], RTLD_NOW);
    CHECK(so);
    crm_plugin_entry_fn entry = (crm_plugin_entry_fn)dlsym(so, "crm_plugin_entry");
    def = entry(CRM_PLUGIN_ABI_VERSION, &host);
    CHECK(def && def->method_count == 3 && def->descriptor_set_len > 0 && def->methods[0].handler == NULL);
    CHECK(entry(999, &host) == NULL);
    CHECK(sqlite3_exec(shared, def->migrations[0].sql, 0, 0, 0) == SQLITE_OK);
    const char *err = NULL;
    CHECK(def->init(NULL, &host, &err) == 0);

    struct crm_call c;
    Crm__Example__Tablebooking__V1__CreateBookingRequest cr = CRM__EXAMPLE__TABLEBOOKING__V1__CREATE_BOOKING_REQUEST__INIT;
    cr.guest_name = "Ada"; cr.party_size = 4; cr.starts_at = 1798740000; cr.phone = "555";
    CHECK(call("CreateBooking", &cr.base, &c) == 0 && c.published == 1);
    Crm__Example__Tablebooking__V1__Booking *b = crm__example__tablebooking__v1__booking__unpack(NULL, c.resp_len, c.resp);
    CHECK(b && b->id == 1 && !strcmp(b->table, "T3") && !strcmp(b->phone, "555"));
    crm__example__tablebooking__v1__booking__free_unpacked(b, NULL);
    for (int i = 0; i < 6; i++) { cr.party_size = 2; call("CreateBooking", &cr.base, &c); }
    CHECK(!strcmp(c.message, "no table for 2 at that time"));
    cr.guest_name = ""; CHECK(call("CreateBooking", &cr.base, &c) == 3 && !strcmp(c.message, "guest_name is required"));
    cr.guest_name = "Ada"; cr.party_size = 40; CHECK(call("CreateBooking", &cr.base, &c) == 3 && strstr(c.message, "party_size must be 1 to 8, got 40"));

    static const uint8_t not_utf8[] = {0x0a, 0x02, 0xc3, 0x28, 0x10, 0x02, 0x18, 0x01}, truncated[] = {0x0a, 0x7f, 0x01};
    memset(&c, 0, sizeof c);
    const crm_method_def *create = method("CreateBooking");
    CHECK(create->plugin_handler(NULL, &host, create->method_data, &c, not_utf8, sizeof not_utf8) == 3 &&
          strstr(c.message, "UTF-8"));
    CHECK(create->plugin_handler(NULL, &host, create->method_data, &c, truncated, sizeof truncated) == 3);

    Crm__Example__Tablebooking__V1__GetBookingRequest g = CRM__EXAMPLE__TABLEBOOKING__V1__GET_BOOKING_REQUEST__INIT;
    g.id = 1; CHECK(call("GetBooking", &g.base, &c) == 0);
    b = crm__example__tablebooking__v1__booking__unpack(NULL, c.resp_len, c.resp);
    CHECK(b && !strcmp(b->guest_name, "Ada") && b->party_size == 4 && b->starts_at == 1798740000);
    crm__example__tablebooking__v1__booking__free_unpacked(b, NULL);
    g.id = 999; CHECK(call("GetBooking", &g.base, &c) == 5 && !strcmp(c.message, "booking 999 not found"));
    g.id = UINT64_MAX; CHECK(call("GetBooking", &g.base, &c) == 5);

    Crm__Example__Tablebooking__V1__ListBookingsRequest l = CRM__EXAMPLE__TABLEBOOKING__V1__LIST_BOOKINGS_REQUEST__INIT;
    l.page_size = 4; size_t total = 0; char token[32] = "";
    do {
        l.page_token = token; CHECK(call("ListBookings", &l.base, &c) == 0);
        Crm__Example__Tablebooking__V1__ListBookingsResponse *r = crm__example__tablebooking__v1__list_bookings_response__unpack(NULL, c.resp_len, c.resp);
        total += r->n_bookings; snprintf(token, sizeof token, "%s", r->next_page_token);
        crm__example__tablebooking__v1__list_bookings_response__free_unpacked(r, NULL);
    } while (token[0]);
    CHECK(total == 6);
    l.page_token = "1x"; CHECK(call("ListBookings", &l.base, &c) == 3);
    l.page_token = "";

    /* The helpers directly. */
    crm_pbc_call pc; memset(&c, 0, sizeof c); c.db = shared;
    crm_pbc_call_open(&pc, NULL, &host, &c, NULL);
    CHECK(crm_sql_exec(&pc, "CREATE TABLE t (a, b, c, d, e)", NULL) == 0);
    CHECK(crm_sql_exec(&pc, "INSERT INTO t VALUES (?, ?, ?, ?, ?)", "idTbn", (int64_t)-5, 2.5, "xyz", (size_t)2, "\0\1", (size_t)2) == 0);
    CHECK(crm_sql_exec(&pc, "INSERT INTO t VALUES (?, ?, ?, ?, ?)", "utttt", 4000000000u, "a", NULL, "b", "c") == 0);
    crm_sql_rows *rows = NULL;
    CHECK(crm_sql_query(&pc, &rows, "SELECT a, b, c, d, e FROM t ORDER BY rowid", "") == 0 && rows->count == 2);
    const crm_sql_row *r0 = &rows->rows[0], *r1 = &rows->rows[1];
    CHECK(crm_sql_int(r0, 0) == -5 && crm_sql_double(r0, 1) == 2.5 && !strcmp(crm_sql_text(r0, 2), "xy"));
    CHECK(r0->columns[3].type == CRM_VALUE_BLOB && r0->columns[3].len == 2 && r0->columns[3].text[1] == 1);
    CHECK(r0->columns[4].type == CRM_VALUE_NULL && !strcmp(crm_sql_text(r0, 4), "") && crm_sql_int(r0, 99) == 0);
    CHECK(crm_sql_int(r1, 0) == 4000000000LL && r1->columns[2].type == CRM_VALUE_NULL && !strcmp(crm_sql_text(r1, 4), "c"));
    crm_sql_rows_release(&pc, rows);
    const crm_sql_row *one = (const crm_sql_row *)1;
    CHECK(crm_sql_query_one(&pc, &one, "SELECT a FROM t WHERE a = ?", "i", (int64_t)12345) == 0 && one == NULL);
    CHECK(crm_sql_query(&pc, &rows, "SELECT ?", "q", 1) == 13 && rows == NULL && strstr(c.message, "unknown letter at 0"));
    CHECK(crm_sql_exec(&pc, "SELECT nope FROM nowhere", "") == 13 && strstr(c.message, "no such table"));
    CHECK(crm_sql_exec(&pc, "SELECT ?", "ii", (int64_t)1, (int64_t)2) == 13 && strstr(c.message, "range"));
    CHECK(crm_sql_exec(&pc, NULL, "") == 13);
    CHECK(crm_pbc_alloc(&pc, SIZE_MAX) == NULL && !strcmp(c.message, "out of memory"));
    crm_pbc_call_close(&pc);

    pthread_t th[4];
    for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, hammer, NULL);
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    printf(failures ? "%d failures\n" : "all passed\n", failures);
    return failures != 0;
}
