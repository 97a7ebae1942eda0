/*
 * The baseline for crmd's write benchmark: the same small insert done
 * directly against SQLite in C, one transaction per insert, WAL and
 * synchronous=NORMAL, into the same shape of table as the probe plugin's
 * probe_items (5 columns, a unique key). Also batches of 1,000 per
 * transaction, for scale.
 *
 *   sqlite_direct_insert <db-file> <seconds> [FULL]
 *
 * Prints one JSON object: {"single_tx_inserts_per_s": ..., "batched_rows_per_s": ...}
 */
#define _POSIX_C_SOURCE 200809L
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void check(int rc, sqlite3 *db, const char *what) {
    if (rc != SQLITE_OK && rc != SQLITE_DONE) {
        fprintf(stderr, "%s: %s\n", what, sqlite3_errmsg(db));
        exit(1);
    }
}

/* Inserts for `seconds`, `batch` rows per transaction; returns rows/s. */
static double run(sqlite3 *db, sqlite3_stmt *insert, double seconds, int batch, long *next_key) {
    long rows = 0;
    double start = now_s(), end = start + seconds;
    char key[64];
    while (now_s() < end) {
        check(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), db, "begin");
        for (int i = 0; i < batch; i++) {
            snprintf(key, sizeof key, "k-%ld", (*next_key)++);
            sqlite3_bind_text(insert, 1, key, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(insert, 2, "hello", -1, SQLITE_STATIC);
            sqlite3_bind_int64(insert, 3, 5);
            sqlite3_bind_int64(insert, 4, (sqlite3_int64)(now_s() * 1e6));
            check(sqlite3_step(insert), db, "insert");
            sqlite3_reset(insert);
        }
        check(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), db, "commit");
        rows += batch;
    }
    return (double)rows / (now_s() - start);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s <db-file> <seconds> [FULL]\n", argv[0]);
        return 2;
    }
    double seconds = atof(argv[2]);
    int full = argc > 3 && strcmp(argv[3], "FULL") == 0;
    sqlite3 *db;
    check(sqlite3_open(argv[1], &db), db, "open");
    check(sqlite3_exec(db, full ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL"
                                : "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
                       NULL, NULL, NULL), db, "pragma");
    check(sqlite3_exec(db,
                       "CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, "
                       "value TEXT NOT NULL, size INTEGER NOT NULL, created_us INTEGER NOT NULL)",
                       NULL, NULL, NULL), db, "create");
    sqlite3_stmt *insert;
    check(sqlite3_prepare_v2(db, "INSERT INTO items (key, value, size, created_us) VALUES (?, ?, ?, ?)",
                             -1, &insert, NULL), db, "prepare");
    long next_key = 0;
    double single = run(db, insert, seconds, 1, &next_key);
    double batched = run(db, insert, seconds, 1000, &next_key);
    printf("{\"single_tx_inserts_per_s\": %.0f, \"batched_rows_per_s\": %.0f}\n", single, batched);
    sqlite3_finalize(insert);
    sqlite3_close(db);
    return 0;
}
