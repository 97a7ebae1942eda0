import CRMKernelCore
import CRMPluginABI
import CRMWire
import CSQLite
import NIOCore
import Foundation

/// One stored event, as read back from the outbox.
struct StoredEvent {
    var sequence: UInt64
    var topic: String
    var typeName: String
    var payload: [UInt8]
    var publishedMicros: Int64
    var publisher: String
    /// The record the event is about (publish_about), if the publisher said.
    var subject: EventSubject? = nil
    /// The record was erased since: the payload is empty.
    var redacted = false
}

/// The record an event is about, and its owner when published.
struct EventSubject: Sendable, Equatable {
    var entity: String
    var recordID: String
    var owner: String?
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

    /// Columns added with record scope and erasure: which record an event
    /// is about (entity, record_id), its owner, and whether it was redacted.
    /// Added to an older database at start (KernelDatabase).
    static let subjectColumns: [(name: String, definition: String)] = [
        ("entity", "TEXT"), ("record_id", "TEXT"), ("owner", "TEXT"), ("redacted", "INTEGER NOT NULL DEFAULT 0")]
    static let subjectIndex =
        "CREATE INDEX IF NOT EXISTS kernel_outbox_subject ON kernel_outbox (entity, record_id) WHERE entity IS NOT NULL"


    private let lock = NSCondition()
    /// The newest committed sequence.
    private var committedHead: UInt64

    init(head: UInt64) { committedHead = head }

    var head: UInt64 { lock.withLock { committedHead } }

    /// Inserts an event in the session's transaction; returns its sequence.
    func publish(in session: StorageSession, topic: String, typeName: String, payload: UnsafeRawBufferPointer,
                 subject: EventSubject? = nil) throws -> UInt64 {
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
            let sql = "INSERT INTO kernel_outbox (topic, type_name, payload, publisher, published_us, entity, record_id, owner) "
                + "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
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
            for (index, value) in [subject?.entity, subject?.recordID, subject?.owner].enumerated() {
                if let value { sqlite3_bind_text(statement, Int32(index + 6), value, -1, crm_sqlite_transient()) }
                else { sqlite3_bind_null(statement, Int32(index + 6)) }
            }
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
                SELECT sequence, topic, type_name, payload, published_us, publisher,
                       entity, record_id, owner, redacted FROM kernel_outbox
                WHERE sequence > ? ORDER BY sequence LIMIT ?
                """, [.integer(Int64(bitPattern: sequence)), .integer(Int64(limit))])
        }
        return rows.map { row in
            func text(_ i: Int) -> String { if case .text(let t) = row[i] { return t } else { return "" } }
            func int(_ i: Int) -> Int64 { if case .integer(let v) = row[i] { return v } else { return 0 } }
            let payload: [UInt8]
            if case .blob(let b) = row[3] { payload = b } else { payload = [] }
            var subject: EventSubject?
            if case .text(let entity) = row[6] {
                subject = EventSubject(entity: entity, recordID: text(7), owner: row[8].textValue)
            }
            return StoredEvent(sequence: UInt64(int(0)), topic: text(1), typeName: text(2), payload: payload,
                               publishedMicros: int(4), publisher: text(5), subject: subject, redacted: int(9) != 0)
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

extension EventLog {
    /// Encodes up to `limit` stored events after `sequence` straight from
    /// SQLite's column memory into MESSAGE frames of call `callID` (a
    /// crm.kernel.v1.Event each, written by hand: fields in number order,
    /// defaults omitted, as swift-protobuf would), leaving out what `filter`
    /// does not let through. No per-event allocation: this is the replay hot
    /// path (a topic's decision is cached by the filter). Returns the last
    /// sequence read (sent or not) and how many rows were read; stops early,
    /// before the row it would send next, once `filter` says the stream ends.
    static func encodeFrames(_ connection: SQLiteConnection, after sequence: UInt64, limit: Int,
                             filter: EventFilter, callID: UInt64,
                             into out: inout ByteBuffer) throws -> (last: UInt64, rows: Int) {
        let sql = "SELECT sequence, topic, type_name, payload, published_us, publisher, entity, record_id, owner, redacted "
            + "FROM kernel_outbox WHERE sequence > ? ORDER BY sequence LIMIT ?"
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(connection.handle, sql, -1, &statement, nil) == SQLITE_OK, let statement else {
            throw connection.lastError()
        }
        defer { sqlite3_finalize(statement) }
        sqlite3_bind_int64(statement, 1, Int64(bitPattern: sequence))
        sqlite3_bind_int64(statement, 2, Int64(limit))
        var last = sequence
        var rows = 0
        while true {
            let rc = sqlite3_step(statement)
            if rc == SQLITE_DONE { break }
            guard rc == SQLITE_ROW else { throw connection.lastError() }
            // An Access change applies from this event on.
            guard filter.isCurrent() else { break }
            rows += 1
            let seq = UInt64(bitPattern: sqlite3_column_int64(statement, 0))
            last = seq
            func bytes(_ column: Int32) -> UnsafeRawBufferPointer {
                let pointer = sqlite3_column_blob(statement, column)
                return UnsafeRawBufferPointer(start: pointer, count: Int(sqlite3_column_bytes(statement, column)))
            }
            let topic = bytes(1), owner = bytes(8)
            if !filter.passesAll {
                let about = sqlite3_column_type(statement, 6) != SQLITE_NULL
                guard filter.visibility(topic: topic).admits(subject: about, owner: owner) else { continue }
            }
            let redacted = sqlite3_column_int64(statement, 9) != 0
            let frame = EventFrame(
                sequence: seq, topic: topic, typeName: bytes(2),
                // A redacted event goes out with no payload, whatever the row holds.
                payload: redacted ? UnsafeRawBufferPointer(start: nil, count: 0) : bytes(3),
                publishedMicros: sqlite3_column_int64(statement, 4), publisher: bytes(5),
                entity: bytes(6), recordID: bytes(7), owner: owner, redacted: redacted)
            guard frame.write(callID: callID, into: &out) else {
                throw RPCError(.internal, "event \(seq) is too large for a frame")
            }
        }
        return (last, rows)
    }
}
