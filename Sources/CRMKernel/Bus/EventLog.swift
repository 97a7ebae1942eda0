import CRMPluginABI
import CSQLite
import Foundation

/// One stored event, as read back from the outbox.
struct StoredEvent {
    var sequence: UInt64
    var topic: String
    var typeName: String
    var payload: [UInt8]
    var publishedMicros: Int64
    var publisher: String
}

/// The outbox (`kernel_outbox`): events are inserted in the publishing
/// call's transaction, numbered by AUTOINCREMENT, which a rollback undoes
/// too, so sequences are gap-free. Readers learn of new commits through
/// `waitForCommit`.
final class EventLog: @unchecked Sendable {
    static let schema = """
        CREATE TABLE IF NOT EXISTS kernel_outbox (
            sequence INTEGER PRIMARY KEY AUTOINCREMENT,
            topic TEXT NOT NULL, type_name TEXT NOT NULL, payload BLOB NOT NULL,
            publisher TEXT NOT NULL, published_us INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS kernel_bus_positions (
            plugin TEXT PRIMARY KEY, position INTEGER NOT NULL);
        """

    private let lock = NSCondition()
    /// The newest committed sequence.
    private var committedHead: UInt64

    init(head: UInt64) { committedHead = head }

    var head: UInt64 { lock.withLock { committedHead } }

    /// Inserts an event in the session's transaction; returns its sequence.
    func publish(in session: StorageSession, topic: String, typeName: String, payload: UnsafeRawBufferPointer) throws -> UInt64 {
        guard session.writable else {
            throw SessionError(status: CRM_STATUS_FAILED_PRECONDITION,
                               message: "publish needs a writing call (CRM_METHOD_FLAG_WRITES)")
        }
        guard TopicPattern.isValidTopic(topic, publisher: session.plugin) else {
            throw SessionError(status: CRM_STATUS_INVALID_ARGUMENT,
                               message: "topic \"\(topic)\" must be \(session.plugin).<segment>[.<segment>...] in lowercase letters, digits and _")
        }
        let db = session.connection.sqlite
        return try db.authorizer.asKernel {
            let sql = "INSERT INTO kernel_outbox (topic, type_name, payload, publisher, published_us) VALUES (?, ?, ?, ?, ?)"
            guard let statement = session.connection.cache.take(plugin: "", sql: sql, compile: {
                var s: OpaquePointer?
                sqlite3_prepare_v3(db.handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &s, nil)
                return s
            }) else { throw session.error(sqlite3_extended_errcode(db.handle)) }
            defer { session.connection.cache.give(back: statement, plugin: "", sql: sql) }
            sqlite3_bind_text(statement, 1, topic, -1, crm_sqlite_transient())
            sqlite3_bind_text(statement, 2, typeName, -1, crm_sqlite_transient())
            sqlite3_bind_blob(statement, 3, payload.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(payload.count), crm_sqlite_transient())
            sqlite3_bind_text(statement, 4, session.plugin, -1, crm_sqlite_transient())
            sqlite3_bind_int64(statement, 5, Int64(Clock.unixMicros()))
            let rc = sqlite3_step(statement)
            guard rc == SQLITE_DONE else { throw session.error(rc) }
            return UInt64(sqlite3_last_insert_rowid(db.handle))
        }
    }

    /// Called by the writer after each commit: wakes whoever waits for events.
    func committed(through sequence: UInt64) {
        lock.lock()
        if sequence > committedHead {
            committedHead = sequence
            lock.broadcast()
        }
        lock.unlock()
    }

    /// Waits until an event after `sequence` has committed, or `timeout`.
    func waitForCommit(after sequence: UInt64, timeout: TimeInterval) {
        lock.lock()
        if committedHead <= sequence { _ = lock.wait(until: Date().addingTimeInterval(timeout)) }
        lock.unlock()
    }

    /// Up to `limit` events after `sequence`, read on `connection` (kernel scope).
    static func read(_ connection: SQLiteConnection, after sequence: UInt64, limit: Int) throws -> [StoredEvent] {
        let rows = try connection.authorizer.asKernel {
            try connection.query("""
                SELECT sequence, topic, type_name, payload, published_us, publisher FROM kernel_outbox
                WHERE sequence > ? ORDER BY sequence LIMIT ?
                """, [.integer(Int64(bitPattern: sequence)), .integer(Int64(limit))])
        }
        return rows.map { row in
            func text(_ i: Int) -> String { if case .text(let t) = row[i] { return t } else { return "" } }
            func int(_ i: Int) -> Int64 { if case .integer(let v) = row[i] { return v } else { return 0 } }
            let payload: [UInt8]
            if case .blob(let b) = row[3] { payload = b } else { payload = [] }
            return StoredEvent(sequence: UInt64(int(0)), topic: text(1), typeName: text(2), payload: payload,
                               publishedMicros: int(4), publisher: text(5))
        }
    }

    /// The newest sequence ever assigned (survives compaction of the table).
    static func lastAssigned(_ connection: SQLiteConnection) throws -> UInt64 {
        let rows = try connection.authorizer.asKernel {
            try connection.query("SELECT seq FROM sqlite_sequence WHERE name = 'kernel_outbox'")
        }
        if case .integer(let v)? = rows.first?.first { return UInt64(v) }
        return 0
    }
}
