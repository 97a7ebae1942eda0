/// The audit trail (`kernel_audit`, `kernel_audit_changes`): one entry per
/// record a write touched, in that write's transaction, with who, when and
/// which method; one row per changed field. Plugins never write these
/// tables (TableAuthorizer confines them to `<plugin>_*`); crmd writes them
/// for the plugin through crm_access_api.audit.
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
        CREATE INDEX IF NOT EXISTS kernel_audit_record ON kernel_audit (entity, record_id, id);
        CREATE INDEX IF NOT EXISTS kernel_audit_user ON kernel_audit (user, id);
        CREATE INDEX IF NOT EXISTS kernel_audit_time ON kernel_audit (at_us);
        CREATE TABLE IF NOT EXISTS kernel_audit_changes (
            audit_id INTEGER NOT NULL REFERENCES kernel_audit (id) ON DELETE CASCADE,
            field TEXT NOT NULL, old_value TEXT, new_value TEXT,
            PRIMARY KEY (audit_id, field)) WITHOUT ROWID;
        """
}
