import CRMPluginABI
import Foundation
import SwiftProtobuf

/// One event delivered to a subscriber (see `PluginDefinition.onEvent`).
public struct Event: Sendable {
    public let sequence: UInt64
    public let topic: String
    public let typeName: String
    public let payload: [UInt8]
    public let publishedUnixMicros: Int64
    public let publisher: String
    /// The record the event is about, if its publisher named one.
    public var subject: EventSubject? = nil
    /// The record was erased since: the payload is empty, skip the event.
    public var redacted = false

    /// The payload decoded as `type`.
    public func decode<M: Message>(_ type: M.Type) throws -> M {
        try M(serializedBytes: payload)
    }
}

extension CallContext {
    /// The database (feature "crm.storage.v1"); UNAVAILABLE if the host has none.
    public var database: Database {
        get throws {
            guard let api = KitState.storage else { throw PluginError(.unavailable, "this host offers no storage") }
            return Database(api: api, call: call)
        }
    }

    /// Publishes `message` on `topic` in this call's transaction (feature
    /// "crm.bus.v1"): it is delivered only if the call commits. The topic
    /// must start with the plugin's name. Returns the event's sequence.
    @discardableResult
    public func publish<M: Message>(_ topic: String, _ message: M) throws -> UInt64 {
        try publish(topic, typeName: M.protoMessageName, bytes: try message.serializedBytes())
    }

    /// Publishes already serialized bytes of the message type `typeName`
    /// (for a plugin that also keeps the bytes itself). Returns the sequence.
    @discardableResult
    public func publish(_ topic: String, typeName: String, bytes: [UInt8]) throws -> UInt64 {
        guard let bus = KitState.bus else { throw PluginError(.unavailable, "this host offers no bus") }
        var sequence: UInt64 = 0
        let status = bytes.withUnsafeBufferPointer {
            bus.pointee.publish!(call, topic, typeName, $0.baseAddress, $0.count, &sequence)
        }
        if status != 0 {
            let message = KitState.storage?.pointee.last_error?(call).map { String(cString: $0) } ?? "publish failed"
            throw PluginError(StatusCode(rawValue: status) ?? .internal, message)
        }
        return sequence
    }
}

/// Whether the host's crm_event reaches the subject and redacted members.
private func hasSubject(_ event: UnsafePointer<crm_event>) -> Bool {
    Int(event.pointee.struct_size) >= MemoryLayout<crm_event>.size
}

let eventTrampoline: crm_event_fn = { _, call, event in
    guard let call, let event, let host = KitState.host, let handler = KitState.definition?.onEvent else {
        return StatusCode.failedPrecondition.rawValue
    }
    let raw = event.pointee
    let delivered = Event(
        sequence: raw.sequence, topic: String(cString: raw.topic), typeName: String(cString: raw.type_name),
        payload: raw.payload.map { Array(UnsafeBufferPointer(start: $0, count: raw.payload_len)) } ?? [],
        publishedUnixMicros: raw.published_unix_us, publisher: String(cString: raw.publisher),
        subject: hasSubject(event) ? raw.entity.map { entity in
            EventSubject(entity: String(cString: entity), recordID: raw.record_id.map { String(cString: $0) } ?? "",
                         owner: raw.owner.map { String(cString: $0) })
        } : nil,
        redacted: hasSubject(event) && raw.redacted != 0)
    let context = CallContext(call: call, host: host)
    do {
        try handler(context, delivered)
        return StatusCode.ok.rawValue
    } catch let error as PluginError {
        host.table.pointee.call_set_message!(call, error.message)
        return error.status.rawValue
    } catch {
        host.table.pointee.call_set_message!(call, "\(error)")
        return StatusCode.internal.rawValue
    }
}
