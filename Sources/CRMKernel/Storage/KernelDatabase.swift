import CSQLite
import Foundation
import Logging

/// The one SQLite database crmd owns, `<data-dir>/crm.db`: WAL mode, foreign
/// keys on, a busy timeout, checked for corruption before anything runs.
/// Plugin migrations are recorded in `kernel_migrations`; the kernel's own
/// tables (event log, access) are created here if missing.
///
/// Used from the main thread during start-up.
final class KernelDatabase {
    static let fileName = "crm.db"
    let connection: SQLiteConnection
    let path: String
    private let logger = Logger(label: "crm.kernel.storage")

    /// Left by a clean stop; its absence at start means the last run ended
    /// otherwise (a crash, kill -9, power loss) or never ran.
    static let cleanStopFileName = "clean-stop"

    /// Opens (or creates) the database and refuses a corrupt one. After a
    /// clean stop only the schema is read (a damaged header or schema still
    /// stops crmd); after anything else, or with `fullCheck`, every page is
    /// checked (`PRAGMA quick_check`), which reads the whole file: seconds
    /// per gigabyte.
    init(dataDirectory: String, synchronousFull: Bool = false, fullCheck: Bool = false) throws {
        let path = (dataDirectory as NSString).appendingPathComponent(Self.fileName)
        self.path = path
        let marker = (dataDirectory as NSString).appendingPathComponent(Self.cleanStopFileName)
        let stoppedCleanly = FileManager.default.fileExists(atPath: marker)
        // From here a crash must lead to a full check next time, also after
        // a power loss: the removal is made durable before anything else.
        if stoppedCleanly {
            unlink(marker)
            Self.syncDirectory(dataDirectory)
        }
        connection = try SQLiteConnection(path: path)
        let started = Date()
        let checkEveryPage = fullCheck || !stoppedCleanly
        do {
            try connection.execute("PRAGMA busy_timeout = 5000")
            if checkEveryPage {
                let problems = try connection.query("PRAGMA quick_check")
                guard problems.first == [.text("ok")] else {
                    let found = problems.prefix(3).compactMap { row -> String? in
                        if case .text(let t) = row.first { return t } else { return nil }
                    }
                    throw StorageError(code: SQLITE_CORRUPT, message: found.joined(separator: "; "))
                }
            } else {
                try connection.query("SELECT count(*) FROM sqlite_master")
            }
            try connection.execute("""
                PRAGMA journal_mode = WAL;
                PRAGMA synchronous = \(synchronousFull ? "FULL" : "NORMAL");
                PRAGMA foreign_keys = ON;
                -- The writer's temporary files in memory: each call's savepoint
                -- keeps a statement journal, which past 64 KiB was a temp file
                -- written per call (probe Put +40% at 1 in flight, ledger +23..39%).
                PRAGMA temp_store = MEMORY;
                CREATE TABLE IF NOT EXISTS kernel_migrations (
                    plugin TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL,
                    applied_at TEXT NOT NULL, PRIMARY KEY (plugin, version));
                """ + EventLog.schema + AccessStore.schema + AuditLog.schema)
            try Self.addMissingColumns(connection, table: "kernel_outbox", EventLog.subjectColumns)
            try connection.execute(EventLog.subjectIndex)
            try Self.addMissingColumns(connection, table: "kernel_access_users", AccessStore.userColumns)
            try AuditLog.upgradeLayout(connection)
            try Self.addMissingColumns(connection, table: "kernel_audit", AuditLog.addedColumns)
        } catch let error as StorageError {
            throw StorageError(code: error.code,
                               message: "database \(path) is damaged or not an SQLite database (\(error.message)); refusing to start")
        }
        logger.info("database open", metadata: [
            "path": "\(path)", "check": "\(checkEveryPage ? "full" : "schema")", "check_ms": "\(Int(Date().timeIntervalSince(started) * 1000))"])
    }

    /// Upgrades a kernel table of an older database by adding the columns
    /// it lacks (SQLite's ADD COLUMN is cheap: existing rows are not rewritten).
    private static func addMissingColumns(_ connection: SQLiteConnection, table: String,
                                          _ columns: [(name: String, definition: String)]) throws {
        let present = Set(try connection.query("SELECT name FROM pragma_table_info('\(table)')").compactMap { $0.first?.textValue })
        for column in columns where !present.contains(column.name) {
            try connection.execute("ALTER TABLE \(table) ADD COLUMN \(column.name) \(column.definition)")
        }
    }

    /// Records that crmd stopped cleanly: every write is in the file and
    /// nothing was cut off, so the next start may skip the full check.
    /// Called after the last connection's work is done.
    static func markCleanStop(dataDirectory: String) {
        let marker = (dataDirectory as NSString).appendingPathComponent(cleanStopFileName)
        let fd = open(marker, O_CREAT | O_WRONLY | O_TRUNC, 0o600)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
        syncDirectory(dataDirectory)
    }

    private static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }
}
