import CRMPluginABI
import Foundation

/// crm_access_api.audit and .redact: checks what the plugin hands over
/// (nothing from it reaches a trapping conversion) and writes it with
/// AuditWriter in the call's write transaction. Failures become the call's
/// status and `last_error`.
enum AuditAPI {
    static let audit: @convention(c) (OpaquePointer?, UnsafePointer<crm_audit_entry>?) -> Int32 = { handle, entry in
        AuditAPI.withWritingCall(handle, "audit") { call, session in
            guard let entry else { throw invalid("audit was given no entry") }
            let record = try AuditEntryReader.read(entry, plugin: call.method.plugin.name)
            try AuditWriter.insert(record, who: AuditWho(call), in: session)
        }
    }

    static let redact: @convention(c) (OpaquePointer?, UnsafePointer<CChar>?, UnsafePointer<CChar>?) -> Int32 = { handle, entity, recordID in
        AuditAPI.withWritingCall(handle, "redact") { call, session in
            let plugin = call.method.plugin.name
            let entityName = try AuditEntryReader.string(entity, "entity", limit: AuditLog.Limits.maxNameBytes) ?? ""
            try AuditEntryReader.checkEntity(entityName, plugin: plugin)
            guard let record = try AuditEntryReader.string(recordID, "record_id", limit: AuditLog.Limits.maxNameBytes),
                  !record.isEmpty else { throw invalid("redact needs a record_id") }
            try AuditWriter.redact(entity: entityName, recordID: record, in: session)
        }
    }

    /// Runs `body` with the call's writing session; FAILED_PRECONDITION
    /// outside one (a reading method, or no call).
    private static func withWritingCall(_ handle: OpaquePointer?, _ what: String,
                                        _ body: (PluginCall, StorageSession) throws -> Void) -> Int32 {
        guard let call = PluginCall.from(handle: handle) else { return Int32(CRM_STATUS_INVALID_ARGUMENT.rawValue) }
        do {
            guard let session = call.session, session.writable else {
                throw SessionError(status: CRM_STATUS_FAILED_PRECONDITION,
                                   message: "\(what) needs a writing call (CRM_METHOD_FLAG_WRITES)")
            }
            try body(call, session)
            return 0
        } catch let error as SessionError {
            return call.storageFailed(error)
        } catch {
            return call.storageFailed(SessionError(status: CRM_STATUS_INTERNAL, message: "\(error)"))
        }
    }
}

private func invalid(_ message: String) -> SessionError { SessionError(status: CRM_STATUS_INVALID_ARGUMENT, message: message) }

/// Reads a plugin's crm_audit_entry into an AuditRecord, refusing what the
/// trail must not hold: another plugin's entity, missing names, repeated
/// or empty fields, oversized values, invalid UTF-8.
enum AuditEntryReader {
    static func read(_ entry: UnsafePointer<crm_audit_entry>, plugin: String) throws -> AuditRecord {
        let size = Int(UnsafeRawPointer(entry).loadUnaligned(as: UInt32.self))
        // A smaller stamp is a corrupt (or foreign) struct: its last fields would be read past its end.
        guard size >= MemoryLayout<crm_audit_entry>.size else {
            throw invalid("crm_audit_entry.struct_size is \(size), need at least \(MemoryLayout<crm_audit_entry>.size)")
        }
        let raw = entry.pointee
        let limit = AuditLog.Limits.maxNameBytes
        let entity = try string(raw.entity, "entity", limit: limit) ?? ""
        try checkEntity(entity, plugin: plugin)
        guard let recordID = try string(raw.record_id, "record_id", limit: limit), !recordID.isEmpty else {
            throw invalid("an audit entry needs a record_id")
        }
        guard let action = try string(raw.action, "action", limit: limit), !action.isEmpty else {
            throw invalid("an audit entry needs an action (create, update, delete, ...)")
        }
        let owner = try string(raw.owner, "owner", limit: limit)
        // size_t arrives as Int: a count past Int.max reads as negative.
        guard (0...AuditLog.Limits.maxChanges).contains(raw.change_count) else {
            throw SessionError(status: CRM_STATUS_RESOURCE_EXHAUSTED,
                               message: "an audit entry has at most \(AuditLog.Limits.maxChanges) changes, not \(UInt(bitPattern: raw.change_count))")
        }
        let elements: [crm_field_change]
        do {
            elements = try ABIArray.read(raw.changes.map { UnsafeRawPointer($0) }, count: raw.change_count,
                                         as: crm_field_change.self, minimumSize: MemoryLayout<crm_field_change>.size,
                                         what: "crm_audit_entry.changes")
        } catch let error as PluginLoadError {
            throw invalid(error.description)
        }
        var seen = Set<String>()
        var total = 0
        var changes: [(field: String, old: String?, new: String?)] = []
        changes.reserveCapacity(elements.count)
        for (index, element) in elements.enumerated() {
            guard let field = try string(element.field, "changes[\(index)].field", limit: limit), !field.isEmpty else {
                throw invalid("audit change \(index) names no field")
            }
            guard seen.insert(field).inserted else { throw invalid("audit field \"\(field)\" is repeated") }
            let valueLimit = AuditLog.Limits.maxValueBytes
            let old = try value(element.old_value, "old value of \(field)", limit: valueLimit)
            let new = try value(element.new_value, "new value of \(field)", limit: valueLimit)
            total += field.utf8.count + (old?.utf8.count ?? 0) + (new?.utf8.count ?? 0)
            guard total <= AuditLog.Limits.maxEntryBytes else {
                throw SessionError(status: CRM_STATUS_RESOURCE_EXHAUSTED,
                                   message: "an audit entry's changes are over the \(AuditLog.Limits.maxEntryBytes)-byte limit")
            }
            changes.append((field, old, new))
        }
        return AuditRecord(entity: entity, recordID: recordID, action: action, owner: owner, changes: changes)
    }

    /// "<plugin>.<entity>": the calling plugin's own, lowercase segments.
    static func checkEntity(_ entity: String, plugin: String) throws {
        let prefix = plugin + "."
        let rest = entity.hasPrefix(prefix) ? Array(entity.utf8.dropFirst(prefix.utf8.count)) : []
        let segments = rest.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard !rest.isEmpty, segments.allSatisfy({ segment in
            !segment.isEmpty && segment.allSatisfy { (0x61...0x7a).contains($0) || (0x30...0x39).contains($0) || $0 == 0x5f }
        }) else {
            throw invalid("an audit entity must be \(plugin).<entity> (lowercase letters, digits, _), not \"\(entity)\"")
        }
    }

    /// A C string of at most `limit` bytes, valid UTF-8; nil for NULL.
    static func string(_ pointer: UnsafePointer<CChar>?, _ what: String, limit: Int) throws -> String? {
        try text(pointer, what, limit: limit, tooLong: CRM_STATUS_INVALID_ARGUMENT)
    }

    private static func value(_ pointer: UnsafePointer<CChar>?, _ what: String, limit: Int) throws -> String? {
        try text(pointer, what, limit: limit, tooLong: CRM_STATUS_RESOURCE_EXHAUSTED)
    }

    private static func text(_ pointer: UnsafePointer<CChar>?, _ what: String, limit: Int, tooLong: crm_status) throws -> String? {
        guard let pointer else { return nil }
        // strnlen: an unterminated string is read no further than the limit.
        let length = strnlen(pointer, limit + 1)
        guard length <= limit else {
            throw SessionError(status: tooLong, message: "audit \(what) is over the \(limit)-byte limit")
        }
        let bytes = UnsafeRawBufferPointer(start: pointer, count: length)
        guard let string = String(validating: bytes, as: UTF8.self) else {
            throw invalid("audit \(what) is not valid UTF-8")
        }
        return string
    }
}
