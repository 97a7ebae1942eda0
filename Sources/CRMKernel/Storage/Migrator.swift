import CRMPluginABI
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
        guard def.migration_count > 0, let base = def.migrations else { return [] }
        let stride = Int(UnsafeRawPointer(base).load(as: UInt32.self))
        guard stride >= MemoryLayout<crm_migration_def>.size else {
            throw PluginLoadError("migration entries are \(stride) bytes, need \(MemoryLayout<crm_migration_def>.size)")
        }
        var migrations: [Migration] = []
        for i in 0..<def.migration_count {
            let entry = UnsafeRawPointer(base).loadUnaligned(fromByteOffset: i * stride, as: crm_migration_def.self)
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
                    try authorizer.confine(to: plugin) { try db.execute(migration.sql) }
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

    static func utcNow() -> String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date())
    }
}
