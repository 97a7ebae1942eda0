import CRMClient
import CRMProto
import CRMTestSupport
import Foundation
import Testing

/// The kernel's SQLite file and plugin migrations, checked on the real file.
@Suite struct StorageTests {
    @Test func failingMigrationLeavesTheDatabaseExactlyAsItWas() async throws {
        let dataDir = try CrmdProcess.makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        let database = DatabaseFile(dataDir: dataDir)

        let first = try CrmdProcess(plugins: ["goodmig"], dataDir: dataDir)
        try first.stop()
        let before = try database.snapshot()
        #expect(before.contains(["table", "goodmig_items", "CREATE TABLE goodmig_items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)"]))
        #expect(before.contains(["index", "goodmig_items_name", "CREATE INDEX goodmig_items_name ON goodmig_items(name)"]))

        let second = try CrmdProcess(plugins: ["goodmig", "badmig"], dataDir: dataDir)
        let plugins = try await allPlugins(try second.connect())
        let bad = try #require(plugins.first { $0.name == "badmig" })
        #expect(bad.state == .failed)
        #expect(bad.reason.contains("migration 2 (second) failed, none applied"))
        #expect(bad.reason.contains("DELETE FROM kernel_migrations"))
        #expect(plugins.first { $0.name == "goodmig" }?.state == .loaded)
        try second.stop()
        #expect(try database.snapshot() == before)  // not even badmig_items from its first migration
    }

    @Test func migrationsRunOnceAndAreRecorded() throws {
        let dataDir = try CrmdProcess.makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        let first = try CrmdProcess(plugins: ["goodmig"], dataDir: dataDir)
        try first.stop()
        #expect(first.log.contains("migrations applied"))
        let second = try CrmdProcess(plugins: ["goodmig"], dataDir: dataDir)
        try second.stop()
        #expect(!second.log.contains("migrations applied"))
        let records = try DatabaseFile(dataDir: dataDir).rows("SELECT plugin, version, name FROM kernel_migrations")
        #expect(records == [["goodmig", "1", "create_items"], ["goodmig", "2", "second"]])
    }

    @Test func newerSchemaThanThePluginKnowsIsRefused() async throws {
        let dataDir = try CrmdProcess.makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        try CrmdProcess(plugins: [], dataDir: dataDir).stop()  // creates the database
        try DatabaseFile(dataDir: dataDir).execute(
            "INSERT INTO kernel_migrations VALUES ('goodmig', 3, 'from the future', '2030-01-01T00:00:00Z')")
        let crmd = try CrmdProcess(plugins: ["goodmig"], dataDir: dataDir)
        let goodmig = try #require(try await allPlugins(try crmd.connect()).first { $0.name == "goodmig" })
        #expect(goodmig.state == .failed)
        #expect(goodmig.reason.contains("schema version 3"))
        #expect(goodmig.reason.contains("refusing to downgrade"))
    }

    @Test func corruptDatabaseStopsStartWithAClearMessage() throws {
        let dataDir = try CrmdProcess.makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        let garbage = Data((0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
        try garbage.write(to: URL(fileURLWithPath: dataDir + "/crm.db"))
        let crmd = try CrmdProcess(plugins: [], dataDir: dataDir, waitForSocket: false)
        #expect(crmd.waitForExit() == 1)
        #expect(crmd.log.contains("is damaged or not an SQLite database"))
    }
    /// The full page check reads the whole file, so it runs after a start
    /// that follows an unclean stop (or when asked); after a clean stop the
    /// schema is still read, and a damaged file is still refused.
    @Test func fullCheckRunsAfterAnUncleanStopOrWhenAsked() throws {
        let dataDir = try CrmdProcess.makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        let marker = dataDir + "/clean-stop"
        func start(_ arguments: [String] = []) throws -> CrmdProcess {
            try CrmdProcess(plugins: ["probe"], arguments: arguments, dataDir: dataDir)
        }

        let first = try start()
        #expect(first.log.contains("check=full"))  // never stopped before
        #expect(try first.stop() == 0)
        #expect(FileManager.default.fileExists(atPath: marker))

        let second = try start()
        #expect(second.log.contains("check=schema"))
        #expect(!FileManager.default.fileExists(atPath: marker))  // a crash from now on is noticed
        try second.stop(signal: SIGKILL)

        let third = try start()
        #expect(third.log.contains("check=full"))
        try third.stop()
        let forced = try start(["--check-database"])
        #expect(forced.log.contains("check=full"))
        try forced.stop()

        // Damage after a clean stop: the schema read still refuses the file.
        let handle = try #require(FileHandle(forWritingAtPath: dataDir + "/crm.db"))
        try handle.write(contentsOf: Data(repeating: 0x5A, count: 4096))
        try handle.close()
        try? FileManager.default.removeItem(atPath: dataDir + "/crm.db-wal")
        let damaged = try CrmdProcess(plugins: ["probe"], dataDir: dataDir, waitForSocket: false)
        #expect(damaged.waitForExit() == 1)
        #expect(damaged.log.contains("is damaged or not an SQLite database"))
    }
}
