/* One-call SQL for C plugins; see crm/plugin_sql.h. Rows are copied out of
 * the host's statement into one block owned by the call. */
#include "crm/plugin_sql.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PARAM_LETTERS "iudtTbn"
#define BLOCK_ALIGN 16

/* The call's message becomes SQLite's, as the host recorded it. */
static int32_t storage_failed(crm_pbc_call *c, int32_t status) {
    const char *why = c->storage->last_error(c->call);
    return why && *why ? crm_pbc_fail(c, status, "%s", why) : status;
}

static int32_t bind_one(const crm_storage_api *db, crm_stmt *stmt, int index, char letter, va_list *args) {
    const char *text;
    const void *data;
    size_t len;
    switch (letter) {
    case 'i': return db->bind_int64(stmt, index, va_arg(*args, int64_t));
    case 'u': return db->bind_int64(stmt, index, (int64_t)va_arg(*args, unsigned));
    case 'd': return db->bind_double(stmt, index, va_arg(*args, double));
    case 't':
        text = va_arg(*args, const char *);
        return text ? db->bind_text(stmt, index, text, strlen(text)) : db->bind_null(stmt, index);
    case 'T':
        text = va_arg(*args, const char *);
        len = va_arg(*args, size_t);
        return db->bind_text(stmt, index, text, len);
    case 'b':
        data = va_arg(*args, const void *);
        len = va_arg(*args, size_t);
        return db->bind_blob(stmt, index, data, len);
    default: return db->bind_null(stmt, index); /* 'n'; the letters were checked before */
    }
}

/* Rows as they are read: values in one growing array, text and blob bytes
 * in another, each value's offset into the bytes kept in `integer`. */
typedef struct collected {
    crm_sql_value *values;
    size_t value_count, value_cap;
    char *bytes;
    size_t byte_count, byte_cap;
    size_t row_count;
    int column_count;
} collected;

static int grow(void **buffer, size_t *cap, size_t need, size_t unit) {
    if (need <= *cap) return 1;
    size_t cap2 = *cap ? *cap : 16;
    while (cap2 < need) {
        if (cap2 > SIZE_MAX / 2 / unit) return 0;
        cap2 *= 2;
    }
    void *bigger = realloc(*buffer, cap2 * unit);
    if (!bigger) return 0;
    *buffer = bigger;
    *cap = cap2;
    return 1;
}

static int read_row(const crm_storage_api *db, crm_stmt *stmt, collected *k) {
    int n = db->column_count(stmt);
    if (k->row_count == 0) k->column_count = n > 0 ? n : 0;
    n = k->column_count; /* one statement, one shape */
    if (!grow((void **)&k->values, &k->value_cap, k->value_count + (size_t)n, sizeof *k->values)) return 0;
    for (int col = 0; col < n; col++) {
        crm_sql_value *v = &k->values[k->value_count++];
        memset(v, 0, sizeof *v);
        v->type = db->column_type(stmt, col);
        if (v->type == CRM_VALUE_INTEGER || v->type == CRM_VALUE_REAL) {
            v->integer = db->column_int64(stmt, col);
            v->real = db->column_double(stmt, col);
        } else if (v->type == CRM_VALUE_TEXT || v->type == CRM_VALUE_BLOB) {
            const uint8_t *bytes = db->column_bytes(stmt, col, &v->len);
            if (v->len >= SIZE_MAX - k->byte_count ||
                !grow((void **)&k->bytes, &k->byte_cap, k->byte_count + v->len + 1, 1))
                return 0;
            if (v->len) memcpy(k->bytes + k->byte_count, bytes, v->len);
            k->bytes[k->byte_count + v->len] = '\0';
            v->integer = (int64_t)k->byte_count;
            k->byte_count += v->len + 1;
        }
    }
    k->row_count++;
    return 1;
}

static size_t round_up(size_t n) { return (n + BLOCK_ALIGN - 1) / BLOCK_ALIGN * BLOCK_ALIGN; }

/* One call allocation: the crm_sql_rows, its rows, their values, the bytes. */
static crm_sql_rows *lay_out(crm_pbc_call *c, const collected *k) {
    size_t rows_at = round_up(sizeof(crm_sql_rows));
    size_t values_at = rows_at + round_up(k->row_count * sizeof(crm_sql_row));
    size_t bytes_at = values_at + round_up(k->value_count * sizeof(crm_sql_value));
    char *base = crm_pbc_alloc(c, bytes_at + k->byte_count);
    if (!base) return NULL;
    crm_sql_rows *out = (crm_sql_rows *)(void *)base;
    crm_sql_row *rows = (crm_sql_row *)(void *)(base + rows_at);
    crm_sql_value *values = (crm_sql_value *)(void *)(base + values_at);
    if (k->byte_count) memcpy(base + bytes_at, k->bytes, k->byte_count);
    for (size_t i = 0; i < k->value_count; i++) {
        values[i] = k->values[i];
        if (values[i].type == CRM_VALUE_TEXT || values[i].type == CRM_VALUE_BLOB) {
            values[i].text = base + bytes_at + (size_t)values[i].integer;
            values[i].integer = 0;
        } else {
            values[i].text = "";
        }
    }
    for (size_t r = 0; r < k->row_count; r++)
        rows[r] = (crm_sql_row){values + r * (size_t)k->column_count, k->column_count};
    out->rows = rows;
    out->count = k->row_count;
    return out;
}

/* Prepares, binds, steps and finalizes. With `out`, keeps up to `max_rows`
 * rows there; without, runs the statement to its end. */
static int32_t run(crm_pbc_call *c, crm_sql_rows **out, size_t max_rows, const char *sql, const char *params,
                   va_list *args) {
    if (out) *out = NULL;
    if (!c->storage) return crm_pbc_fail(c, CRM_STATUS_FAILED_PRECONDITION, "this crmd offers no %s", CRM_FEATURE_STORAGE_V1);
    if (!sql) return crm_pbc_fail(c, CRM_STATUS_INTERNAL, "crm_sql: no SQL given");
    if (!params) params = "";
    size_t bad = strspn(params, PARAM_LETTERS);
    if (params[bad])
        return crm_pbc_fail(c, CRM_STATUS_INTERNAL, "crm_sql: parameter format \"%s\" has an unknown letter at %zu (known: %s)",
                            params, bad, PARAM_LETTERS);
    const crm_storage_api *db = c->storage;
    crm_stmt *stmt = NULL;
    int32_t status = db->prepare(c->call, sql, &stmt);
    if (status != CRM_STATUS_OK) return storage_failed(c, status);
    for (int i = 0; params[i] && status == CRM_STATUS_OK; i++) status = bind_one(db, stmt, i + 1, params[i], args);
    if (status != CRM_STATUS_OK) storage_failed(c, status);
    collected k;
    memset(&k, 0, sizeof k);
    int has_row = 0;
    while (status == CRM_STATUS_OK && (!out || k.row_count < max_rows)) {
        if ((status = db->step(stmt, &has_row)) != CRM_STATUS_OK) storage_failed(c, status);
        else if (!has_row) break;
        else if (out && !read_row(db, stmt, &k)) status = crm_pbc_fail(c, CRM_STATUS_RESOURCE_EXHAUSTED, "out of memory reading rows");
    }
    db->finalize(stmt);
    if (status == CRM_STATUS_OK && out && !(*out = lay_out(c, &k))) status = CRM_STATUS_RESOURCE_EXHAUSTED;
    free(k.values);
    free(k.bytes);
    return status;
}

int32_t crm_sql_exec(crm_pbc_call *c, const char *sql, const char *params, ...) {
    va_list args;
    va_start(args, params);
    int32_t status = run(c, NULL, 0, sql, params, &args);
    va_end(args);
    return status;
}

int32_t crm_sql_query(crm_pbc_call *c, crm_sql_rows **out, const char *sql, const char *params, ...) {
    va_list args;
    va_start(args, params);
    int32_t status = run(c, out, SIZE_MAX, sql, params, &args);
    va_end(args);
    return status;
}

int32_t crm_sql_query_one(crm_pbc_call *c, const crm_sql_row **out, const char *sql, const char *params, ...) {
    crm_sql_rows *rows = NULL;
    va_list args;
    va_start(args, params);
    int32_t status = run(c, &rows, 1, sql, params, &args);
    va_end(args);
    *out = rows && rows->count ? &rows->rows[0] : NULL;
    if (rows && !rows->count) crm_sql_rows_release(c, rows);
    return status;
}

void crm_sql_rows_release(crm_pbc_call *c, crm_sql_rows *rows) { crm_pbc_release(c, rows); }

static const crm_sql_value *value_at(const crm_sql_row *row, int column) {
    return row && column >= 0 && column < row->column_count ? &row->columns[column] : NULL;
}

int64_t crm_sql_int(const crm_sql_row *row, int column) {
    const crm_sql_value *v = value_at(row, column);
    return v ? v->integer : 0;
}

double crm_sql_double(const crm_sql_row *row, int column) {
    const crm_sql_value *v = value_at(row, column);
    return v ? v->real : 0.0;
}

const char *crm_sql_text(const crm_sql_row *row, int column) {
    const crm_sql_value *v = value_at(row, column);
    return v ? v->text : "";
}
