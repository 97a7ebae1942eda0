import CRMKernelCore
import CRMPluginABI
import CSQLite
import Foundation

/// Applies a plugin's numbered migrations at load: the new ones, in order, in
/// one transaction, confined to the plugin's tables. A failure rolls all of
/// them back and keeps the plugin out; a database whose recorded version is
/// newer than the plugin knows is refused (no silent downgrade).
struct Migrator {
    let database: KernelDatabase

    struct Migration {
        var version: Int64
        var name: String
        var sql: String
    }

    /// The migrations a plugin definition declares, checked to be 1, 2, 3...
    static func declared(in def: crm_plugin_def) throws -> [Migration] {
        let entries = try ABIArray.read(def.migrations, count: def.migration_count, as: crm_migration_def.self,
                                        minimumSize: ABIFirstRelease.migrationDefSize, what: "migrations")
        var migrations: [Migration] = []
        for (i, entry) in entries.enumerated() {
            guard entry.version == i + 1 else {
                throw PluginLoadError("migrations must be numbered 1, 2, 3...; entry \(i + 1) is numbered \(entry.version)")
            }
            guard let sql = entry.sql else { throw PluginLoadError("migration \(entry.version) has no SQL") }
            migrations.append(Migration(version: Int64(entry.version),
                                        name: entry.name.map { String(cString: $0) } ?? "",
                                        sql: String(cString: sql)))
        }
        return migrations
    }

    /// Brings `plugin`'s schema up to date; returns how many migrations ran.
    @discardableResult
    func apply(_ migrations: [Migration], for plugin: String) throws -> Int {
        let db = database.connection
        let recorded: Int64
        do {
            let row = try db.query("SELECT COALESCE(MAX(version), 0) FROM kernel_migrations WHERE plugin = ?", [.text(plugin)])
            guard case .integer(let v)? = row.first?.first else { throw PluginLoadError("cannot read migration state") }
            recorded = v
        } catch let error as StorageError {
            throw PluginLoadError("cannot read migration state: \(error.message)")
        }
        let known = Int64(migrations.count)
        guard recorded <= known else {
            throw PluginLoadError("database holds schema version \(recorded) of \(plugin), newer than the \(known) this build knows; refusing to downgrade")
        }
        let pending = migrations.filter { $0.version > recorded }
        guard !pending.isEmpty else { return 0 }
        let authorizer = db.authorizer
        var failed: Migration?
        do {
            try db.transaction {
                for migration in pending {
                    failed = migration
                    try Self.run(migration.sql, on: db, plugin: plugin)
                    try db.query("INSERT INTO kernel_migrations (plugin, version, name, applied_at) VALUES (?, ?, ?, ?)",
                                 [.text(plugin), .integer(migration.version), .text(migration.name), .text(Self.utcNow())])
                }
            }
        } catch let error as StorageError {
            let reason = authorizer.denial ?? error.message
            let which = failed.map { "migration \($0.version) (\($0.name))" } ?? "a migration"
            throw PluginLoadError("\(which) failed, none applied: \(reason)")
        }
        return pending.count
    }

    /// Runs a migration's statements one by one, each checked like a
    /// handler's: confined while it compiles and runs, and its DDL checked
    /// once it ran (SchemaGuard). A failure throws; the caller rolls back.
    static func run(_ sql: String, on db: SQLiteConnection, plugin: String) throws {
        let authorizer = db.authorizer
        let prefix = plugin + "_"
        try sql.withCString { base in
            var next: UnsafePointer<CChar>? = base
            while let start = next, start.pointee != 0 {
                var statement: OpaquePointer?
                let rc = authorizer.confine(to: plugin) { () -> Int32 in
                    authorizer.beginStatement()
                    return sqlite3_prepare_v2(db.handle, start, -1, &statement, &next)
                }
                guard rc == SQLITE_OK else {
                    sqlite3_finalize(statement)
                    throw db.lastError()
                }
                guard let statement else { continue }
                defer { sqlite3_finalize(statement) }
                let kind = authorizer.statementKind
                if let table = try SchemaGuard.realTable(among: authorizer.unknownNames, db) {
                    authorizer.deny("plugin may only use tables named \(prefix)…; denied reading \(table)")
                    throw StorageError(code: SQLITE_AUTH, message: "denied reading \(table)")
                }
                if kind == SQLITE_ALTER_TABLE, let function = SQLChecks.deniedCall(in: String(cString: sqlite3_sql(statement))) {
                    authorizer.deny("plugin SQL may not call \(function)()")
                    throw StorageError(code: SQLITE_AUTH, message: "plugin SQL may not call \(function)()")
                }
                let before = kind != 0 ? try SchemaGuard.snapshot(db) : nil
                var step = SQLITE_ROW
                while step == SQLITE_ROW {
                    step = authorizer.confine(to: plugin) { () -> Int32 in
                        authorizer.beginStatement(running: kind)
                        return sqlite3_step(statement)
                    }
                }
                guard step == SQLITE_DONE else { throw db.lastError() }
                if let before, let problem = try SchemaGuard.violation(db, prefix: prefix, since: before) {
                    authorizer.deny(problem)
                    throw StorageError(code: SQLITE_AUTH, message: problem)
                }
            }
        }
    }

    static func utcNow() -> String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date())
    }
}
