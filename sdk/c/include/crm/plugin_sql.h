/*
 * crm/plugin_sql.h - one-call SQL for C plugins, over the host's storage
 * feature ("crm.storage.v1", see crm/plugin.h for its transactions,
 * isolation and limits).
 *
 * Each function prepares `sql` (one statement), binds its `?` parameters
 * from the format string `params` and the arguments after it, runs it and
 * finalizes it. The format alphabet, one letter per `?` in order:
 *
 *     i  int64_t                          (cast narrower integers: (int64_t)x)
 *     u  unsigned int / uint32_t          (protobuf-c's uint32 fields as they are)
 *     d  double
 *     t  const char *, NUL-terminated     (NULL binds SQL NULL)
 *     T  const char *, size_t length      (text that is not NUL-terminated)
 *     b  const void *, size_t length      (a blob)
 *     n  nothing: binds SQL NULL
 *
 * `params` may be NULL or "" for no parameters. A letter outside the
 * alphabet fails the call with INTERNAL before anything runs; a parameter
 * with no letter stays NULL, as SQLite leaves it.
 *
 * Rows come back in memory owned by the call (crm_pbc_call): no string needs
 * a free. They live until the handler returns (the trampoline's
 * crm_pbc_call_close) or until crm_sql_rows_release.
 *
 * Errors: the host's status is returned and the call's status message is
 * SQLite's, so `if (status != CRM_STATUS_OK) return status;` is all a handler
 * needs. With no storage feature: FAILED_PRECONDITION.
 *
 * Thread-safe as the call is: nothing is shared between calls.
 */
#ifndef CRM_PLUGIN_SQL_H
#define CRM_PLUGIN_SQL_H

#include "crm/plugin_pbc.h"

#ifdef __cplusplus
extern "C" {
#endif

/** One column of a row. */
typedef struct crm_sql_value {
    int type;          /**< crm_value_type */
    int64_t integer;   /**< INTEGER (REAL truncated); 0 for other types */
    double real;       /**< REAL or INTEGER; 0 for other types */
    const char *text;  /**< TEXT or BLOB bytes with a NUL after them; "" for other types */
    size_t len;        /**< bytes of `text`, without the NUL */
} crm_sql_value;

typedef struct crm_sql_row {
    const crm_sql_value *columns;
    int column_count;
} crm_sql_row;

typedef struct crm_sql_rows {
    const crm_sql_row *rows;
    size_t count;
} crm_sql_rows;

/** Runs a statement that returns no rows (any it returns are skipped). */
int32_t crm_sql_exec(crm_pbc_call *c, const char *sql, const char *params, ...);

/** Runs a query; `*out` receives every row (count 0 when none), owned by the
 *  call. `*out` is NULL on an error. */
int32_t crm_sql_query(crm_pbc_call *c, crm_sql_rows **out, const char *sql, const char *params, ...);

/** Runs a query for its first row: `*out` is that row (owned by the call,
 *  valid until the handler returns) or NULL when there is none (still OK). */
int32_t crm_sql_query_one(crm_pbc_call *c, const crm_sql_row **out, const char *sql, const char *params, ...);

/** Frees the rows of crm_sql_query now rather than when the call ends. */
void crm_sql_rows_release(crm_pbc_call *c, crm_sql_rows *rows);

/** Column `column` of `row` as an integer, a double or text. A NULL value or
 *  a column out of range reads as 0, 0.0 or "" (never NULL). */
int64_t crm_sql_int(const crm_sql_row *row, int column);
double crm_sql_double(const crm_sql_row *row, int column);
const char *crm_sql_text(const crm_sql_row *row, int column);

#ifdef __cplusplus
}
#endif

#endif /* CRM_PLUGIN_SQL_H */
