import CSQLite
import Foundation
import Logging

/// The one SQLite database crmd owns, `<data-dir>/crm.db`: WAL mode, foreign
/// keys on, a busy timeout, checked for corruption before anything runs.
/// Plugin migrations are recorded in `kernel_migrations`.
///
/// Used from the main thread during start-up.
final class KernelDatabase {
    static let fileName = "crm.db"
    let connection: SQLiteConnection
    let path: String
    private let logger = Logger(label: "crm.kernel.storage")

    /// Opens (or creates) the database and refuses a corrupt one.
    init(dataDirectory: String, synchronousFull: Bool = false) throws {
        let path = (dataDirectory as NSString).appendingPathComponent(Self.fileName)
        self.path = path
        connection = try SQLiteConnection(path: path)
        do {
            try connection.execute("PRAGMA busy_timeout = 5000")
            let check = try connection.query("PRAGMA quick_check")
            guard check.first == [.text("ok")] else {
                let problems = check.prefix(3).compactMap { row -> String? in
                    if case .text(let t) = row.first { return t } else { return nil }
                }
                throw StorageError(code: SQLITE_CORRUPT, message: problems.joined(separator: "; "))
            }
            try connection.execute("""
                PRAGMA journal_mode = WAL;
                PRAGMA synchronous = \(synchronousFull ? "FULL" : "NORMAL");
                PRAGMA foreign_keys = ON;
                CREATE TABLE IF NOT EXISTS kernel_migrations (
                    plugin TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL,
                    applied_at TEXT NOT NULL, PRIMARY KEY (plugin, version));
                """ + EventLog.schema)
        } catch let error as StorageError {
            throw StorageError(code: error.code,
                               message: "database \(path) is damaged or not an SQLite database (\(error.message)); refusing to start")
        }
        logger.info("database open", metadata: ["path": "\(path)"])
    }
}
