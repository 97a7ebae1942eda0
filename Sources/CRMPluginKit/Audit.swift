import CRMPluginABI
import Foundation
import SwiftProtobuf

/// One changed field of an audited record; nil means "had no value".
public struct FieldChange: Sendable, Equatable {
    public var field: String
    public var old: String?
    public var new: String?

    public init(_ field: String, old: String?, new: String?) {
        self.field = field
        self.old = old
        self.new = new
    }

    /// The fields whose values differ between two flattened records (a
    /// field missing on one side had no value), in field-name order.
    public static func between(old: [String: String], new: [String: String]) -> [FieldChange] {
        Set(old.keys).union(new.keys).sorted().compactMap { field in
            old[field] == new[field] ? nil : FieldChange(field, old: old[field], new: new[field])
        }
    }
}

/// What a write did to one record, for the audit trail.
public struct AuditEntry: Sendable, Equatable {
    /// "<plugin>.<entity>", e.g. "contacts.person".
    public var entity: String
    public var recordID: String
    /// "create", "update", "delete", "merge", "erase", ...
    public var action: String
    /// The record's owner after the write.
    public var owner: String?
    public var changes: [FieldChange]

    public init(entity: String, recordID: String, action: String, owner: String? = nil, changes: [FieldChange] = []) {
        self.entity = entity
        self.recordID = recordID
        self.action = action
        self.owner = owner
        self.changes = changes
    }
}

/// The record an event is about (see `CallContext.publish(_:_:about:)`).
public struct EventSubject: Sendable, Equatable {
    public var entity: String
    public var recordID: String
    public var owner: String?

    public init(entity: String, recordID: String, owner: String? = nil) {
        self.entity = entity
        self.recordID = recordID
        self.owner = owner
    }
}

extension CallContext {
    /// Records `entry` in this call's write transaction (feature
    /// "crm.access.v1"): it commits or rolls back with the call's writes.
    public func audit(_ entry: AuditEntry) throws {
        guard let access = KitState.access else { throw PluginError(.unimplemented, "this host keeps no audit trail") }
        let strings = entry.changes.flatMap { [$0.field, $0.old, $0.new] }.map { $0.flatMap { strdup($0) } }
        defer { strings.forEach { free($0) } }
        var changes = (0..<entry.changes.count).map { i in
            crm_field_change(struct_size: UInt32(MemoryLayout<crm_field_change>.size),
                             field: strings[3 * i].map { UnsafePointer($0) },
                             old_value: strings[3 * i + 1].map { UnsafePointer($0) },
                             new_value: strings[3 * i + 2].map { UnsafePointer($0) })
        }
        let status = entry.entity.withCString { entity in
            entry.recordID.withCString { recordID in
                entry.action.withCString { action in
                    withOptionalCString(entry.owner) { owner in
                        changes.withUnsafeMutableBufferPointer { buffer in
                            var raw = crm_audit_entry(
                                struct_size: UInt32(MemoryLayout<crm_audit_entry>.size), entity: entity,
                                record_id: recordID, action: action, owner: owner,
                                changes: UnsafePointer(buffer.baseAddress), change_count: buffer.count)
                            return access.pointee.audit!(call, &raw)
                        }
                    }
                }
            }
        }
        try check(status, "audit")
    }

    /// Erasure: in this call's write transaction, replaces the old and new
    /// values of every audit entry of the record with "[erased]" and empties
    /// every stored event published about it.
    public func redact(entity: String, recordID: String) throws {
        guard let access = KitState.access else { throw PluginError(.unimplemented, "this host keeps no audit trail") }
        try check(access.pointee.redact!(call, entity, recordID), "redact")
    }

    /// Publishes `message` on `topic` about a record (feature "crm.bus.v1"):
    /// crmd streams it only to callers whose scope reaches the record's
    /// owner, and empties it when the record is erased.
    @discardableResult
    public func publish<M: Message>(_ topic: String, _ message: M, about subject: EventSubject) throws -> UInt64 {
        guard let bus = KitState.bus else { throw PluginError(.unavailable, "this host offers no bus") }
        guard Int(bus.pointee.struct_size) >= MemoryLayout<crm_bus_api>.size, let publishAbout = bus.pointee.publish_about else {
            return try publish(topic, message)
        }
        let bytes: [UInt8] = try message.serializedBytes()
        var sequence: UInt64 = 0
        let status = bytes.withUnsafeBufferPointer { payload in
            withOptionalCString(subject.owner) { owner in
                publishAbout(call, topic, M.protoMessageName, payload.baseAddress, payload.count,
                             subject.entity, subject.recordID, owner, &sequence)
            }
        }
        try check(status, "publish")
        return sequence
    }

    private func check(_ status: Int32, _ what: String) throws {
        guard status != 0 else { return }
        let message = KitState.storage?.pointee.last_error?(call).map { String(cString: $0) } ?? ""
        throw PluginError(StatusCode(rawValue: status) ?? .internal, message.isEmpty ? "\(what) failed" : message)
    }
}

func withOptionalCString<R>(_ string: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let string else { return body(nil) }
    return string.withCString { body($0) }
}
