import CRMPluginABI
import CSQLite

/// Writes the audit trail in a writing call's transaction: the plugin's
/// entries, the implicit one, and erasure's redaction. Writer thread only.
enum AuditWriter {
    /// Inserts one entry and its changes; returns the entry's id.
    @discardableResult
    static func insert(_ record: AuditRecord?, who: AuditWho, calls: Int = 1, in session: StorageSession) throws -> Int64 {
        try session.checkUsable()
        let id = try session.connection.auditClock.next(now: Int64(clamping: Clock.unixMicros())) {
            try session.kernelLastAuditID()
        }
        try session.kernelWrite(insertEntrySQL, pinnedSlot: 0, [.integer(id), text(who.user), .integer(who.uid), .integer(who.proxyUID), .text(who.method),
                  .text(who.plugin), text(record?.entity), text(record?.recordID), text(record?.action), text(record?.owner), .integer(Int64(calls))])
        for change in record?.changes ?? [] {
            try session.kernelWrite(
                "INSERT INTO kernel_audit_changes (audit_id, field, old_value, new_value) VALUES (?, ?, ?, ?)",
                [.integer(id), .text(change.field), text(change.old), text(change.new)])
        }
        session.audited = true
        return id
    }

    /// The entry a writing call gets when it changed rows and recorded none
    /// (called after its handler succeeded, before its savepoint is
    /// released, so it commits or rolls back with the call).
    /// A top-level call of a group commit only owes the entry here: the
    /// group writes one entry per method and principal for all of its
    /// calls that owed one (AuditSummary), before its COMMIT.
    static func implicitEntry(for call: PluginCall, in session: StorageSession) throws {
        guard session.writable, session.wroteRows, !session.audited else { return }
        if session.summarizesImplicitEntry {
            session.implicitEntryOwed = AuditWho(call)
            return
        }
        try insert(nil, who: AuditWho(call), in: session)
    }

    /// Erasure: every value of the record's entries becomes "[erased]" (a
    /// NULL stays NULL: "had no value" says nothing about the person), the
    /// entries are marked redacted, and every stored event about the record
    /// keeps its sequence but loses its payload.
    static func redact(entity: String, recordID: String, in session: StorageSession) throws {
        try session.checkUsable()
        let record: [SQLValue] = [.text(entity), .text(recordID)]
        let erased = SQLValue.text(AuditLog.erased)
        try session.kernelWrite("""
            UPDATE kernel_audit_changes
            SET old_value = CASE WHEN old_value IS NULL THEN NULL ELSE ? END,
                new_value = CASE WHEN new_value IS NULL THEN NULL ELSE ? END
            WHERE audit_id IN (SELECT id FROM kernel_audit WHERE entity = ? AND record_id = ?)
            """, [erased, erased] + record)
        try session.kernelWrite("UPDATE kernel_audit SET redacted = 1 WHERE entity = ? AND record_id = ?", record)
        try session.kernelWrite(
            "UPDATE kernel_outbox SET payload = X'', redacted = 1 WHERE entity = ? AND record_id = ?", record)
    }

    private static func text(_ value: String?) -> SQLValue { value.map { .text($0) } ?? .null }

    private static let insertEntrySQL = """
        INSERT INTO kernel_audit (id, user, uid, proxy_uid, method, plugin, entity, record_id, action, owner, calls)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """
}

/// Entry ids on the writer: the write's time in UTC µs, or 1 µs past the
/// last id when the clock has not moved beyond it (two entries in one
/// microsecond, a clock stepped back), so ids are unique, increase, and are
/// the entries' times. A rolled-back write may leave `last` ahead of the
/// table: later ids still increase.
struct AuditClock {
    private var last: Int64?

    mutating func next(now: Int64, lastInTable: () throws -> Int64) throws -> Int64 {
        let previous = try last ?? lastInTable()
        let (after, overflow) = previous.addingReportingOverflow(1)
        guard !overflow else { throw StorageError(code: SQLITE_FULL, message: "audit entry ids are exhausted") }
        let id = max(now, after)
        last = id
        return id
    }
}

extension StorageSession {
    /// The newest entry's id, or 0 for an empty trail.
    func kernelLastAuditID() throws -> Int64 {
        let db = connection.sqlite
        return try db.authorizer.asKernel {
            try db.query("SELECT coalesce(max(id), 0) FROM kernel_audit").first?.first?.integerValue ?? 0
        }
    }

    /// Runs one of the kernel's own statements in this session's
    /// transaction, compiled once per connection. What the plugin's SQL sees
    /// as last_insert_rowid() is left as it was.
    /// A failure dooms the call (it rolls back whatever the handler
    /// returns): half an entry, or a write without its entry, must not commit.
    /// `pinnedSlot`: a statement run on every write, kept by number.
    func kernelWrite(_ sql: String, pinnedSlot: Int? = nil, _ values: [SQLValue]) throws {
        do { try kernelStep(sql, pinnedSlot, values) } catch let error as SessionError { throw fail(error) }
    }

    private func kernelStep(_ sql: String, _ pinnedSlot: Int?, _ values: [SQLValue]) throws {
        let sqlite = connection.sqlite
        let db = sqlite.handle
        let previousRowID = sqlite3_last_insert_rowid(db)
        try sqlite.authorizer.asKernel {
            let compile = { () -> OpaquePointer? in
                var s: OpaquePointer?
                sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &s, nil)
                return s
            }
            guard let statement = pinnedSlot.map({ connection.cache.pinned($0, compile: compile) })
                    ?? connection.cache.take(plugin: "", sql: sql, compile: compile)
            else { throw error(sqlite3_extended_errcode(db)) }
            defer {
                if pinnedSlot != nil {
                    sqlite3_reset(statement)
                    sqlite3_clear_bindings(statement)
                } else {
                    connection.cache.give(back: statement, plugin: "", sql: sql)
                }
            }
            for (index, value) in values.enumerated() {
                let at = Int32(index + 1)
                switch value {
                case .null: sqlite3_bind_null(statement, at)
                case .integer(let v): sqlite3_bind_int64(statement, at, v)
                case .real(let v): sqlite3_bind_double(statement, at, v)
                case .text(let v): sqlite3_bind_text(statement, at, v, -1, crm_sqlite_transient())
                case .blob(let v): v.withUnsafeBytes {
                    _ = sqlite3_bind_blob(statement, at, $0.baseAddress ?? UnsafeRawPointer(bitPattern: 1),
                                          Int32(clamping: $0.count), crm_sqlite_transient())
                }
                }
            }
            let rc = sqlite3_step(statement)
            guard rc == SQLITE_DONE else { throw error(rc) }
        }
        sqlite3_set_last_insert_rowid(db, previousRowID)
    }
}
