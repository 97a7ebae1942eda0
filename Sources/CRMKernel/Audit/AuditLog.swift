/// The audit trail (`kernel_audit`, `kernel_audit_changes`): one entry per
/// record a write touched, in that write's transaction, with who, when and
/// which method; one row per changed field. Plugins never write these
/// tables (TableAuthorizer confines them to `<plugin>_*`); crmd writes them
/// for the plugin through crm_access_api.audit (AuditAPI, AuditWriter).
enum AuditLog {
    static let schema = """
        CREATE TABLE IF NOT EXISTS kernel_audit (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at_us INTEGER NOT NULL,
            user TEXT,
            uid INTEGER NOT NULL,
            proxy_uid INTEGER NOT NULL DEFAULT -1,
            method TEXT NOT NULL,
            plugin TEXT NOT NULL,
            entity TEXT, record_id TEXT, action TEXT, owner TEXT,
            redacted INTEGER NOT NULL DEFAULT 0);
        CREATE INDEX IF NOT EXISTS kernel_audit_record ON kernel_audit (entity, record_id, id) WHERE entity IS NOT NULL;
        CREATE INDEX IF NOT EXISTS kernel_audit_user ON kernel_audit (user, id) WHERE user IS NOT NULL;
        CREATE INDEX IF NOT EXISTS kernel_audit_time ON kernel_audit (at_us);
        CREATE TABLE IF NOT EXISTS kernel_audit_changes (
            audit_id INTEGER NOT NULL REFERENCES kernel_audit (id) ON DELETE CASCADE,
            field TEXT NOT NULL, old_value TEXT, new_value TEXT,
            PRIMARY KEY (audit_id, field)) WITHOUT ROWID;
        """

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
struct AuditWho {
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
