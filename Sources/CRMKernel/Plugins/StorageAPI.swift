import CRMKernelCore
import CRMPluginABI
import CSQLite
import Foundation

/// The C tables behind the "crm.storage.v1" and "crm.bus.v1" features.
/// Every function finds its call (or statement) from the handle, runs on the
/// handler's thread, and reports failures as a status plus SQLite's message.
enum StorageAPI {
    static let storageTable: UnsafePointer<crm_storage_api> = {
        let table = UnsafeMutablePointer<crm_storage_api>.allocate(capacity: 1)
        table.initialize(to: crm_storage_api(
            struct_size: UInt32(MemoryLayout<crm_storage_api>.size),
            exec: storageExec, prepare: storagePrepare,
            bind_null: bindNull, bind_int64: bindInt64, bind_double: bindDouble,
            bind_text: bindText, bind_blob: bindBlob, step: stepStatement,
            column_count: columnCount, column_type: columnType, column_int64: columnInt64,
            column_double: columnDouble, column_bytes: columnBytes,
            reset: resetStatement, finalize: finalizeStatement,
            last_insert_id: lastInsertID, changes: changes, last_error: lastError))
        return UnsafePointer(table)
    }()

    static let busTable: UnsafePointer<crm_bus_api> = {
        let table = UnsafeMutablePointer<crm_bus_api>.allocate(capacity: 1)
        table.initialize(to: crm_bus_api(struct_size: UInt32(MemoryLayout<crm_bus_api>.size),
                                         publish: busPublish, publish_about: busPublishAbout))
        return UnsafePointer(table)
    }()

    /// Runs `body` with the call's session; errors become the call's status.
    static func withSession(_ handle: OpaquePointer?, _ body: (PluginCall, StorageSession) throws -> Int32) -> Int32 {
        guard let call = PluginCall.from(handle: handle) else { return Int32(CRM_STATUS_INVALID_ARGUMENT.rawValue) }
        do {
            let session = try call.storageSession()
            session.owner = call
            return try body(call, session)
        } catch let error as SessionError {
            return call.storageFailed(error)
        } catch {
            return call.storageFailed(SessionError(status: CRM_STATUS_INTERNAL, message: "\(error)"))
        }
    }

    /// Runs `body` on a statement; a failing SQLite result code becomes an error.
    static func onStatement(_ handle: OpaquePointer?, _ body: (PreparedStatement) -> Int32) -> Int32 {
        guard let statement = PreparedStatement.from(handle) else { return Int32(CRM_STATUS_INVALID_ARGUMENT.rawValue) }
        let rc = statement.session.confined { body(statement) }
        if rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE { return 0 }
        let error = statement.session.error(rc)
        return statement.session.owner?.storageFailed(error) ?? Int32(error.status.rawValue)
    }
}

private let storageExec: @convention(c) (OpaquePointer?, UnsafePointer<CChar>?) -> Int32 = { call, sql in
    StorageAPI.withSession(call) { _, session in
        guard let sql else { throw SessionError(status: CRM_STATUS_INVALID_ARGUMENT, message: "exec without SQL") }
        try session.exec(String(cString: sql))
        return 0
    }
}

private let storagePrepare: @convention(c) (OpaquePointer?, UnsafePointer<CChar>?, UnsafeMutablePointer<OpaquePointer?>?) -> Int32 = { call, sql, out in
    StorageAPI.withSession(call) { call, session in
        guard let sql, let out else { throw SessionError(status: CRM_STATUS_INVALID_ARGUMENT, message: "prepare needs SQL and an out pointer") }
        out.pointee = try session.prepare(String(cString: sql)).opaque
        return 0
    }
}

private let bindNull: @convention(c) (OpaquePointer?, Int32) -> Int32 = { stmt, index in
    StorageAPI.onStatement(stmt) { sqlite3_bind_null($0.handle, index) }
}

private let bindInt64: @convention(c) (OpaquePointer?, Int32, Int64) -> Int32 = { stmt, index, value in
    StorageAPI.onStatement(stmt) { sqlite3_bind_int64($0.handle, index, value) }
}

private let bindDouble: @convention(c) (OpaquePointer?, Int32, Double) -> Int32 = { stmt, index, value in
    StorageAPI.onStatement(stmt) { sqlite3_bind_double($0.handle, index, value) }
}

private let bindText: @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, Int) -> Int32 = { stmt, index, text, length in
    StorageAPI.onStatement(stmt) {
        // size_t arrives as Int: one past Int.max reads as negative.
        guard (0...Int(Int32.max)).contains(length) else { return SQLITE_TOOBIG }
        guard let text else { return sqlite3_bind_text($0.handle, index, "", 0, crm_sqlite_transient()) }
        return sqlite3_bind_text($0.handle, index, text, Int32(length), crm_sqlite_transient())
    }
}

private let bindBlob: @convention(c) (OpaquePointer?, Int32, UnsafeRawPointer?, Int) -> Int32 = { stmt, index, data, length in
    StorageAPI.onStatement(stmt) {
        guard (0...Int(Int32.max)).contains(length) else { return SQLITE_TOOBIG }
        // A zero-length blob needs a non-NULL pointer, or SQLite stores NULL.
        return sqlite3_bind_blob($0.handle, index, data ?? UnsafeRawPointer(bitPattern: 1), Int32(data == nil ? 0 : length),
                                 crm_sqlite_transient())
    }
}

private let stepStatement: @convention(c) (OpaquePointer?, UnsafeMutablePointer<Int32>?) -> Int32 = { stmt, hasRow in
    hasRow?.pointee = 0
    guard let statement = PreparedStatement.from(stmt) else { return Int32(CRM_STATUS_INVALID_ARGUMENT.rawValue) }
    let session = statement.session
    let failure: SessionError
    do {
        hasRow?.pointee = try session.step(statement) ? 1 : 0
        return 0
    } catch let error as SessionError {
        failure = error
    } catch {
        failure = SessionError(status: CRM_STATUS_INTERNAL, message: "\(error)")
    }
    return session.owner?.storageFailed(failure) ?? Int32(failure.status.rawValue)
}

private let columnCount: @convention(c) (OpaquePointer?) -> Int32 = { stmt in
    PreparedStatement.from(stmt).map { sqlite3_column_count($0.handle) } ?? 0
}

private let columnType: @convention(c) (OpaquePointer?, Int32) -> Int32 = { stmt, column in
    guard let statement = PreparedStatement.from(stmt) else { return Int32(CRM_VALUE_NULL.rawValue) }
    switch sqlite3_column_type(statement.handle, column) {
    case SQLITE_INTEGER: return Int32(CRM_VALUE_INTEGER.rawValue)
    case SQLITE_FLOAT: return Int32(CRM_VALUE_REAL.rawValue)
    case SQLITE_TEXT: return Int32(CRM_VALUE_TEXT.rawValue)
    case SQLITE_BLOB: return Int32(CRM_VALUE_BLOB.rawValue)
    default: return Int32(CRM_VALUE_NULL.rawValue)
    }
}

private let columnInt64: @convention(c) (OpaquePointer?, Int32) -> Int64 = { stmt, column in
    PreparedStatement.from(stmt).map { sqlite3_column_int64($0.handle, column) } ?? 0
}

private let columnDouble: @convention(c) (OpaquePointer?, Int32) -> Double = { stmt, column in
    PreparedStatement.from(stmt).map { sqlite3_column_double($0.handle, column) } ?? 0
}

private let columnBytes: @convention(c) (OpaquePointer?, Int32, UnsafeMutablePointer<Int>?) -> UnsafePointer<UInt8>? = { stmt, column, length in
    guard let statement = PreparedStatement.from(stmt) else { length?.pointee = 0; return nil }
    let handle = statement.handle
    // Text is asked for first when the column is text, so the bytes are its UTF-8 (NUL-terminated).
    let bytes: UnsafeRawPointer? = sqlite3_column_type(handle, column) == SQLITE_TEXT
        ? sqlite3_column_text(handle, column).map { UnsafeRawPointer($0) }
        : sqlite3_column_blob(handle, column)
    length?.pointee = Int(sqlite3_column_bytes(handle, column))
    return bytes?.assumingMemoryBound(to: UInt8.self)
}

private let resetStatement: @convention(c) (OpaquePointer?) -> Int32 = { stmt in
    StorageAPI.onStatement(stmt) { statement in
        sqlite3_reset(statement.handle)
        return sqlite3_clear_bindings(statement.handle)
    }
}

private let finalizeStatement: @convention(c) (OpaquePointer?) -> Void = { stmt in
    guard let statement = PreparedStatement.from(stmt) else { return }
    statement.session.release(statement)
}

private let lastInsertID: @convention(c) (OpaquePointer?) -> Int64 = { call in
    PluginCall.from(handle: call)?.session?.lastInsertID ?? 0
}

private let changes: @convention(c) (OpaquePointer?) -> Int64 = { call in
    PluginCall.from(handle: call)?.session?.changes ?? 0
}

private let lastError: @convention(c) (OpaquePointer?) -> UnsafePointer<CChar>? = { call in
    PluginCall.from(handle: call)?.lastStorageError ?? UnsafePointer(emptyCString)
}

private let emptyCString: UnsafeMutablePointer<CChar> = strdup("")!

private let busPublish: @convention(c) (
    OpaquePointer?, UnsafePointer<CChar>?, UnsafePointer<CChar>?, UnsafePointer<UInt8>?, Int, UnsafeMutablePointer<UInt64>?
) -> Int32 = { call, topic, typeName, payload, length, sequenceOut in
    publish(call, topic, typeName, payload, length, subject: nil, sequenceOut)
}

private let busPublishAbout: @convention(c) (
    OpaquePointer?, UnsafePointer<CChar>?, UnsafePointer<CChar>?, UnsafePointer<UInt8>?, Int,
    UnsafePointer<CChar>?, UnsafePointer<CChar>?, UnsafePointer<CChar>?, UnsafeMutablePointer<UInt64>?
) -> Int32 = { call, topic, typeName, payload, length, entity, recordID, owner, sequenceOut in
    var subject: EventSubject?
    if let entity {
        subject = EventSubject(entity: String(cString: entity), recordID: recordID.map { String(cString: $0) } ?? "",
                               owner: owner.map { String(cString: $0) })
    } else if recordID != nil || owner != nil {
        return PluginCall.from(handle: call)?.storageFailed(SessionError(
            status: CRM_STATUS_INVALID_ARGUMENT, message: "publish_about names a record_id or owner without an entity"))
            ?? Int32(CRM_STATUS_INVALID_ARGUMENT.rawValue)
    }
    return publish(call, topic, typeName, payload, length, subject: subject, sequenceOut)
}

private func publish(_ call: OpaquePointer?, _ topic: UnsafePointer<CChar>?, _ typeName: UnsafePointer<CChar>?,
                     _ payload: UnsafePointer<UInt8>?, _ length: Int, subject: EventSubject?,
                     _ sequenceOut: UnsafeMutablePointer<UInt64>?) -> Int32 {
    StorageAPI.withSession(call) { _, session in
        guard let topic, let storage = HostAPI.storage else {
            throw SessionError(status: CRM_STATUS_INVALID_ARGUMENT, message: "publish needs a topic")
        }
        guard payload == nil || (0...Int(Int32.max)).contains(length) else {
            throw SessionError(status: CRM_STATUS_RESOURCE_EXHAUSTED, message: "event payload of \(UInt(bitPattern: length)) bytes is over 2 GiB")
        }
        // The outbox insert must never run outside the call's transaction.
        try session.checkUsable()
        let topicName = String(cString: topic), type = typeName.map { String(cString: $0) } ?? ""
        if let plugin = PluginCall.from(handle: call)?.method.plugin,
           TopicPattern.isValidTopic(topicName, publisher: plugin.name) {
            try checkDeclared(topicName, type, by: plugin)
        }
        if let subject {
            guard subject.entity.hasPrefix(session.plugin + "."), !subject.recordID.isEmpty else {
                throw SessionError(status: CRM_STATUS_INVALID_ARGUMENT,
                                   message: "an event's entity must be \(session.plugin).<entity> and name a record_id, not \"\(subject.entity)\"")
            }
        }
        let sequence = try storage.publish(in: session, topic: topicName, typeName: type,
                                           payload: UnsafeRawBufferPointer(start: payload, count: payload == nil ? 0 : length),
                                           subject: subject)
        sequenceOut?.pointee = sequence
        return 0
    }
}

/// A plugin publishes only the topics it declared, each with the message
/// type its .proto names (subscribers decode by it).
private func checkDeclared(_ topic: String, _ type: String, by plugin: PluginRecord) throws {
    guard plugin.checksTopics else { return }
    guard let declared = plugin.topics[topic] else {
        throw SessionError(status: CRM_STATUS_FAILED_PRECONDITION,
                           message: "topic \"\(topic)\" is not declared by plugin \(plugin.name) (declare it with (crm.options.v1.event) on its message)")
    }
    if let declared, declared != type {
        throw SessionError(status: CRM_STATUS_FAILED_PRECONDITION,
                           message: "topic \"\(topic)\" carries \(declared), not \(type)")
    }
}
