import CSQLite

/// The audit trail (`kernel_audit`, `kernel_audit_changes`): one entry per
/// record a write touched, in that write's transaction, with who, when and
/// which method; one row per changed field. Plugins never write these
/// tables (TableAuthorizer confines them to `<plugin>_*`); crmd writes them
/// for the plugin through crm_access_api.audit (AuditAPI, AuditWriter).
///
/// An entry's id is its time (UTC µs, see AuditClock): one B-tree serves
/// the order, the pages and the time filters, so an entry costs one row
/// append and no index of its own unless it names a record or a user.
enum AuditLog {
    static let schema = """
        CREATE TABLE IF NOT EXISTS kernel_audit (
            id INTEGER PRIMARY KEY,
            user TEXT,
            uid INTEGER NOT NULL,
            proxy_uid INTEGER NOT NULL DEFAULT -1,
            method TEXT NOT NULL,
            plugin TEXT NOT NULL,
            entity TEXT, record_id TEXT, action TEXT, owner TEXT,
            redacted INTEGER NOT NULL DEFAULT 0,
            calls INTEGER NOT NULL DEFAULT 1);
        CREATE INDEX IF NOT EXISTS kernel_audit_record ON kernel_audit (entity, record_id, id) WHERE entity IS NOT NULL;
        CREATE INDEX IF NOT EXISTS kernel_audit_user ON kernel_audit (user, id) WHERE user IS NOT NULL;
        CREATE TABLE IF NOT EXISTS kernel_audit_changes (
            audit_id INTEGER NOT NULL REFERENCES kernel_audit (id) ON DELETE CASCADE,
            field TEXT NOT NULL, old_value TEXT, new_value TEXT,
            PRIMARY KEY (audit_id, field)) WITHOUT ROWID;
        """

    /// Rewrites a trail of the first layout (ids from AUTOINCREMENT, the
    /// time in an indexed at_us column) into this one, keeping every entry,
    /// its order and its changes: each id becomes the entry's time, pushed
    /// 1 µs past the previous id where two share a microsecond (AuditClock's
    /// rule, as one window function). SQLite's documented table rebuild,
    /// in one transaction; main thread, at start-up.
    static func upgradeLayout(_ connection: SQLiteConnection) throws {
        guard try !connection.query("SELECT 1 FROM pragma_table_info('kernel_audit') WHERE name = 'at_us'").isEmpty else { return }
        try connection.execute("PRAGMA foreign_keys = OFF")
        defer { try? connection.execute("PRAGMA foreign_keys = ON") }
        try connection.execute("BEGIN IMMEDIATE")
        do {
            try connection.execute("""
            CREATE TEMP TABLE audit_ids AS
                SELECT id AS old_id, n + MAX(at_us - n) OVER (ORDER BY id ROWS UNBOUNDED PRECEDING) AS new_id
                FROM (SELECT id, at_us, ROW_NUMBER() OVER (ORDER BY id) AS n FROM kernel_audit);
            CREATE TABLE kernel_audit_upgraded (
                id INTEGER PRIMARY KEY, user TEXT, uid INTEGER NOT NULL, proxy_uid INTEGER NOT NULL DEFAULT -1,
                method TEXT NOT NULL, plugin TEXT NOT NULL,
                entity TEXT, record_id TEXT, action TEXT, owner TEXT, redacted INTEGER NOT NULL DEFAULT 0);
            INSERT INTO kernel_audit_upgraded
                SELECT m.new_id, a.user, a.uid, a.proxy_uid, a.method, a.plugin, a.entity, a.record_id, a.action, a.owner, a.redacted
                FROM kernel_audit a JOIN audit_ids m ON m.old_id = a.id;
            CREATE TEMP TABLE audit_changes_upgraded AS
                SELECT m.new_id AS audit_id, c.field, c.old_value, c.new_value
                FROM kernel_audit_changes c JOIN audit_ids m ON m.old_id = c.audit_id;
            DELETE FROM kernel_audit_changes;
            DROP TABLE kernel_audit;
            ALTER TABLE kernel_audit_upgraded RENAME TO kernel_audit;
            INSERT INTO kernel_audit_changes SELECT * FROM audit_changes_upgraded;
            DROP TABLE audit_ids;
            DROP TABLE audit_changes_upgraded;
            """ + schema)
            guard try connection.query("PRAGMA foreign_key_check(kernel_audit_changes)").isEmpty else {
                throw StorageError(code: SQLITE_CONSTRAINT, message: "the upgraded audit trail lost an entry a change belongs to")
            }
            try connection.execute("COMMIT")
        } catch {
            try? connection.execute("ROLLBACK")
            throw error
        }
    }

    /// Added after the first two layouts (KernelDatabase adds it to an older trail).
    static let addedColumns: [(name: String, definition: String)] = [("calls", "INTEGER NOT NULL DEFAULT 1")]

    /// What an erased value reads as.
    static let erased = "[erased]"

    /// Bounds on what one entry may carry: an entry is a record's change,
    /// not a place for bulk data, and List must be able to page it.
    enum Limits {
        static let maxChanges = 1000
        static let maxValueBytes = 64 * 1024
        /// All of an entry's values together, so one entry always fits a List page.
        static let maxEntryBytes = 1024 * 1024
        /// entity, record_id, action, owner and field names.
        static let maxNameBytes = 1024
    }
}

/// Who wrote and through what, as one audit row records it.
struct AuditWho: Hashable {
    var user: String?
    var uid: Int64
    var proxyUID: Int64
    var method: String
    var plugin: String

    /// The call's: an in-process call has no socket of its own, so its uid
    /// is the one of the socket call it runs for.
    init(_ call: PluginCall) {
        var origin = call
        while origin.callerUID < 0, let parent = origin.parent { origin = parent }
        user = call.principal?.user
        uid = origin.callerUID
        proxyUID = call.principal?.proxyUID ?? -1
        method = call.method.fullName
        plugin = call.method.plugin.name
    }
}

/// One entry as the plugin handed it over, validated (AuditAPI).
struct AuditRecord {
    var entity: String
    var recordID: String
    var action: String
    var owner: String?
    var changes: [(field: String, old: String?, new: String?)]
}

/// The implicit entries of one group commit: calls that wrote rows and
/// recorded no entry name no record, so one entry per method and principal
/// with the number of calls says all they would, for one row per group
/// instead of one per call (the cost of an extra row on every small write).
/// Writer thread only.
final class AuditSummary {
    private(set) var entries: [(who: AuditWho, calls: Int)] = []
    private var index: [AuditWho: Int] = [:]

    var isEmpty: Bool { entries.isEmpty }

    func add(_ who: AuditWho) {
        if let at = index[who] {
            entries[at].calls += 1
        } else {
            index[who] = entries.count
            entries.append((who, 1))
        }
    }
}
