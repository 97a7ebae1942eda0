import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import Foundation
import Testing

let hostileService = "/crm.testing.v1.Hostile/"

/// Runs `text` as the hostile test plugin (Tests/Fixtures/c/hostile.c):
/// `Exec` writes, `Query` reads, `Script` runs several statements,
/// `Stubborn` answers OK whatever storage said, `Counters` answers
/// [last_insert_id, changes].
@discardableResult
func hostile(_ client: Connection, _ text: String, _ method: String = "Exec",
             timeout: Duration? = nil) async throws -> SqlResponse {
    try await client.call(hostileService + method, SqlRequest.with { $0.sql = text }, as: SqlResponse.self, timeout: timeout)
}

func expectDenied(_ client: Connection, _ text: String, _ method: String = "Exec", mentioning: String = "denied",
                  sourceLocation: SourceLocation = #_sourceLocation) async {
    await expectRPCError(.permissionDenied, mentioning: mentioning, sourceLocation: sourceLocation) {
        try await hostile(client, text, method)
    }
}

/// The hostile plugin against SQLite's own tables and the smaller side doors.
@Suite struct StorageIsolationTests {
    @Test func sqliteOwnTablesAreClosedToPlugins() async throws {
        // A first run makes the database; ANALYZE by hand leaves sqlite_stat1
        // rows in it, as a kernel-run ANALYZE would.
        let dataDir = try CrmdProcess.makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        try CrmdProcess(plugins: ["probe"], dataDir: dataDir).stop()
        let file = DatabaseFile(dataDir: dataDir)
        try file.execute("INSERT INTO probe_items (key, value, size, created_us) VALUES ('a', 'v', 1, 0); ANALYZE")
        let stats = try file.rows("SELECT tbl, idx, stat FROM sqlite_stat1 ORDER BY tbl, idx")
        #expect(!stats.isEmpty)

        let crmd = try CrmdProcess(plugins: ["probe", "hostile"], dataDir: dataDir)
        let client = try crmd.connect()
        for text in ["SELECT sql FROM sqlite_schema", "SELECT sql FROM sqlite_master", "SELECT name FROM sqlite_temp_master",
                     "SELECT seq FROM sqlite_sequence", "SELECT count(*) FROM sqlite_sequence", "SELECT stat FROM sqlite_stat1",
                     "SELECT count(*) FROM sqlite_stat1"] {
            await expectDenied(client, text, "Query", mentioning: "sqlite_")
        }
        for text in ["INSERT INTO sqlite_stat1 VALUES ('probe_items', NULL, '1000000')", "UPDATE sqlite_stat1 SET stat = '1'",
                     "DELETE FROM sqlite_stat1", "DROP TABLE sqlite_stat1", "UPDATE sqlite_sequence SET seq = 0",
                     "DELETE FROM sqlite_sequence", "CREATE TABLE hostile_copy AS SELECT sql FROM sqlite_schema"] {
            await expectDenied(client, text, mentioning: "sqlite_")
        }
        // ANALYZE is the kernel's: SQLite may refuse its stat-table bookkeeping first.
        await expectDenied(client, "ANALYZE")
        await expectDenied(client, "ANALYZE probe_items")
        // Through a view or a trigger of its own, the plugin's reads are still its own.
        try await hostile(client, """
            CREATE TABLE hostile_t (x INTEGER PRIMARY KEY AUTOINCREMENT);
            CREATE VIEW hostile_v AS SELECT sql FROM sqlite_schema;
            CREATE TRIGGER hostile_tr AFTER INSERT ON hostile_t BEGIN DELETE FROM sqlite_stat1; END
            """, "Script")
        await expectDenied(client, "SELECT * FROM hostile_v", "Query", mentioning: "sqlite_")
        await expectDenied(client, "INSERT INTO hostile_t DEFAULT VALUES", mentioning: "sqlite_stat1")
        // Its own AUTOINCREMENT table still works, counters and all, and drops cleanly.
        try await hostile(client, "DROP TRIGGER hostile_tr")
        try await hostile(client, "INSERT INTO hostile_t DEFAULT VALUES")
        #expect(try await hostile(client, "SELECT x FROM hostile_t", "Query").rows == ["1"])
        try await hostile(client, "DROP TABLE hostile_t")
        try await hostile(client, "DROP VIEW hostile_v")
        _ = try await put(client, key: "still-works")
        try crmd.stop()
        #expect(try file.rows("SELECT tbl, idx, stat FROM sqlite_stat1 ORDER BY tbl, idx") == stats)
        #expect(try file.rows("SELECT name FROM sqlite_schema WHERE name LIKE 'hostile%'").isEmpty)
    }

    @Test func pluginsEvolveTheirOwnSchemaButNeverIntoAnotherPrefix() async throws {
        let crmd = try CrmdProcess(plugins: ["hostile"])
        let client = try crmd.connect()
        try await hostile(client, """
            CREATE TABLE hostile_items (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE, extra TEXT);
            CREATE INDEX hostile_items_extra ON hostile_items (extra);
            INSERT INTO hostile_items (name, extra) VALUES ('a', 'b')
            """, "Script")
        for text in ["ALTER TABLE hostile_items RENAME TO hostile_things", "ALTER TABLE hostile_things RENAME COLUMN name TO title",
                     "DROP INDEX hostile_items_extra", "ALTER TABLE hostile_things DROP COLUMN extra",
                     "ALTER TABLE hostile_things ADD COLUMN n INTEGER CHECK (n IS NULL OR n > 0)"] {
            try await hostile(client, text)
        }
        #expect(try await hostile(client, "SELECT title FROM hostile_things", "Query").rows == ["a"])
        // ADD COLUMN's expressions are not shown to the authorizer; they are read before and after.
        await expectDenied(client, "ALTER TABLE hostile_things ADD COLUMN g AS (printf('%.*c', 2147483647, 'x')) VIRTUAL",
                           mentioning: "printf")
        await expectDenied(client, "ALTER TABLE hostile_things ADD COLUMN c INTEGER CHECK (length(fts3_tokenizer ('simple')) > 0)",
                           mentioning: "fts3_tokenizer")
        // SQLite takes a quoted name, or one with a comment before "(", as the function too.
        for call in ["\"printf\"('%.*c', 2000000000, 'x')", "[PRINTF]('%.*c', 2000000000, 'x')", "`format`('%d', 1)",
                     "printf/**/('%.*c', 2000000000, 'x')", "total_changes -- no\n ()"] {
            await expectDenied(client, "ALTER TABLE hostile_things ADD COLUMN q INTEGER CHECK (\(call) IS NOT NULL)",
                               mentioning: call.contains("format") ? "format" : call.contains("total") ? "total_changes" : "printf")
        }
        // A name in a string literal is not a call.
        try await hostile(client, "ALTER TABLE hostile_things ADD COLUMN note TEXT CHECK (note IS NULL OR note != 'printf(')")
        await expectDenied(client, "ALTER TABLE hostile_things RENAME TO other_things", mentioning: "other_things")
        // A handler that ignores the refusal is rolled back all the same.
        await expectDenied(client, "ALTER TABLE hostile_things RENAME TO kernel_things", "Stubborn", mentioning: "kernel_things")
        await expectDenied(client, "ALTER TABLE hostile_things RENAME COLUMN title TO name; ALTER TABLE hostile_things RENAME TO x",
                           "Script", mentioning: "x")
        #expect(try await hostile(client, "SELECT title FROM hostile_things", "Query").rows == ["a"])
        try await hostile(client, "DROP TABLE hostile_things")
    }

    @Test func prepareRefusesASecondStatement() async throws {
        let crmd = try CrmdProcess(plugins: ["hostile"])
        let client = try crmd.connect()
        try await hostile(client, "CREATE TABLE hostile_t (x); INSERT INTO hostile_t VALUES (1)", "Script")
        await expectRPCError(.invalidArgument, mentioning: "one statement") {
            try await hostile(client, "SELECT 1; DELETE FROM hostile_t")
        }
        #expect(try await hostile(client, "SELECT count(*) FROM hostile_t; -- a comment\n /* and another */ ;", "Query").rows == ["1"])
    }

    @Test func cteNamesNeedNoPrefixButTablesDo() async throws {
        let crmd = try CrmdProcess(plugins: ["probe", "hostile"])
        let client = try crmd.connect()
        try await hostile(client, "CREATE TABLE hostile_t (x); INSERT INTO hostile_t VALUES (1), (2)", "Script")
        #expect(try await hostile(client, "WITH c AS (SELECT 1 AS x) SELECT x FROM c", "Query").rows == ["1"])
        #expect(try await hostile(client, "WITH c(x) AS (SELECT 1) SELECT count(*) FROM c", "Query").rows == ["1"])
        #expect(try await hostile(client, """
            WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r WHERE x < 5) SELECT count(*) FROM r
            """, "Query").rows == ["5"])
        #expect(try await hostile(client, "WITH mine AS (SELECT x FROM hostile_t) SELECT count(*) FROM mine", "Query").rows == ["2"])
        // A CTE is no way to another plugin's table, not even to count its rows.
        await expectDenied(client, "SELECT count(*) FROM probe_items", "Query", mentioning: "probe_items")
        await expectDenied(client, "WITH c AS (SELECT key FROM probe_items) SELECT * FROM c", "Query", mentioning: "probe_items")
        await expectDenied(client, "WITH probe_items AS (SELECT 1) SELECT count(*) FROM probe_items", "Query", mentioning: "probe_items")
    }

    @Test func reindexAndLeakyFunctionsAreDenied() async throws {
        let crmd = try CrmdProcess(plugins: ["probe", "hostile"])
        let client = try crmd.connect()
        try await hostile(client, "CREATE TABLE hostile_t (x UNIQUE); CREATE INDEX hostile_t_x ON hostile_t (x)", "Script")
        try await hostile(client, "REINDEX hostile_t_x")
        try await hostile(client, "REINDEX hostile_t")
        for text in ["REINDEX probe_items", "REINDEX sqlite_autoindex_probe_items_1", "REINDEX"] {
            await expectDenied(client, text, mentioning: "REINDEX")
        }
        for function in ["fts3_tokenizer('simple')", "changes()", "total_changes()", "load_extension('/tmp/none.so')"] {
            await expectDenied(client, "SELECT \(function)", "Query", mentioning: String(function.prefix { $0 != "(" }))
        }
    }

    @Test func fts5TablesInThePrefixAndNoOtherVirtualTable() async throws {
        let crmd = try CrmdProcess(plugins: ["probe", "hostile"])
        let client = try crmd.connect()
        try await hostile(client, """
            CREATE VIRTUAL TABLE hostile_fts USING fts5(title, body);
            INSERT INTO hostile_fts (rowid, title, body) VALUES (1, 'Reset a password', 'Open settings'), (2, 'Billing', 'password')
            """, "Script")
        #expect(try await hostile(client, "SELECT rowid FROM hostile_fts WHERE hostile_fts MATCH 'password' ORDER BY rowid",
                                  "Query").rows == ["1", "2"])
        await expectDenied(client, "CREATE VIRTUAL TABLE probe_fts USING fts5(a)", mentioning: "probe_fts")
        await expectDenied(client, "CREATE VIRTUAL TABLE hostile_vocab USING fts5vocab(hostile_fts, row)", mentioning: "hostile_vocab")
        await expectDenied(client, "CREATE VIRTUAL TABLE hostile_rt USING rtree(id, x0, x1)", mentioning: "hostile_rt")
        // An external content table elsewhere is read as the plugin's own SQL: denied.
        try await hostile(client, "CREATE VIRTUAL TABLE hostile_leak USING fts5(key, content='probe_items', content_rowid='id')")
        await expectRPCError(.permissionDenied, mentioning: "probe_items") {
            try await hostile(client, "SELECT key FROM hostile_leak", "Query")
        }
        // The data_version pragma FTS5 reads is harmless; the others stay closed.
        await expectDenied(client, "PRAGMA journal_mode", "Query")
    }

    @Test func lastInsertIDAndChangesArePerCall() async throws {
        let crmd = try CrmdProcess(plugins: ["probe", "hostile"])
        let client = try crmd.connect()
        try await hostile(client, "CREATE TABLE hostile_t (x)")
        let other = try await put(client, key: "other", value: "v")
        #expect(other.id > 0)
        // The probe's insert on the shared writer is not this call's.
        #expect(try await hostile(client, "SELECT 1", "Counters").rows == ["0", "0"])
        #expect(try await hostile(client, "SELECT last_insert_rowid()", "Query").rows == ["0"])
        #expect(try await hostile(client, "INSERT INTO hostile_t VALUES (7)", "Counters").rows == ["1", "1"])
        _ = try await put(client, key: "other2", value: "v")
        #expect(try await hostile(client, "UPDATE hostile_t SET x = 8", "Counters").rows == ["0", "1"])
        #expect(try await hostile(client, "UPDATE hostile_t SET x = 9 WHERE x = 0", "Counters").rows == ["0", "0"])
    }
}
