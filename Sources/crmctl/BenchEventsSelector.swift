import CRMClient
import CRMProto
import CRMWire
import Foundation
import SwiftProtobuf

/// A field of a bus event, as bench-events reads it: the envelope's or one
/// in the payload decoded as protobuf JSON.
enum EventField: Sendable {
    case topic, recordID, entity, owner
    case payload([String])

    init?(_ text: String) {
        switch text {
        case "topic": self = .topic
        case "record_id": self = .recordID
        case "entity": self = .entity
        case "owner": self = .owner
        default:
            let parts = text.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard parts.count >= 2, parts[0] == "payload", !parts.dropFirst().contains(where: \.isEmpty) else { return nil }
            self = .payload(Array(parts.dropFirst()))
        }
    }

    var readsPayload: Bool {
        if case .payload = self { return true }
        return false
    }

    /// The field as text; nil for a payload path that names a message or a list.
    func value(_ event: Crm_Kernel_V1_Event, payload: [String: Any]?) -> String? {
        switch self {
        case .topic: return event.topic
        case .recordID: return event.recordID
        case .entity: return event.entity
        case .owner: return event.owner
        case .payload(let path):
            var object: Any? = payload
            for name in path {
                // JSON leaves out a field at its default: a missing leaf is "".
                guard let dictionary = object as? [String: Any] else { return nil }
                object = dictionary[name]
                if object == nil { return "" }
            }
            switch object {
            case let text as String: return text
            case let number as NSNumber:
                // JSONSerialization's booleans are NSNumbers of type "c" (char).
                if String(cString: number.objCType) == "c" { return number.boolValue ? "true" : "false" }
                return number.stringValue
            default: return nil
            }
        }
    }
}

struct EventFilter: Sendable {
    var field: EventField
    var value: String

    init?(_ text: String) {
        guard let equals = text.firstIndex(of: "="), let field = EventField(String(text[..<equals])) else { return nil }
        self.field = field
        value = String(text[text.index(after: equals)...])
    }

    func accepts(_ event: Crm_Kernel_V1_Event, payload: [String: Any]?) -> Bool {
        guard let found = field.value(event, payload: payload) else { return false }
        // A default value is absent from the JSON, so "" stands for 0 and false too.
        return found == value || (found.isEmpty && (value == "0" || value == "false"))
    }
}

/// Which events count and which key each names.
struct EventSelector: Sendable {
    var key: EventField
    var filters: [EventFilter]

    /// The event's key, or nil if it does not count (a filter refuses it).
    /// Throws when the payload is needed and crmctl cannot decode its type.
    func key(of event: Crm_Kernel_V1_Event) throws -> String? {
        var payload: [String: Any]?
        if key.readsPayload || filters.contains(where: { $0.field.readsPayload }) {
            payload = try Self.decode(event)
        }
        guard filters.allSatisfy({ $0.accepts(event, payload: payload) }) else { return nil }
        return key.value(event, payload: payload)
    }

    private static func decode(_ event: Crm_Kernel_V1_Event) throws -> [String: Any] {
        guard let type = MessageRegistry.type(named: event.typeName) else {
            throw RPCError(.invalidArgument, "crmctl cannot decode \(event.typeName) (topic \(event.topic)); use an envelope field such as record_id")
        }
        let json = try type.init(serializedBytes: event.payload).jsonUTF8Data()
        return try JSONSerialization.jsonObject(with: json) as? [String: Any] ?? [:]
    }

    /// The newest committed sequence: from a bus subscriber's position plus
    /// lag (cheap), else the last stored event matching `topics` (a replay).
    static func newestSequence(_ client: Connection, topics: [String]) async throws -> UInt64 {
        var newest: UInt64?
        var token = ""
        repeat {
            let page = try await client.call("/crm.kernel.v1.Plugins/List",
                                             Crm_Kernel_V1_ListPluginsRequest.with { $0.pageToken = token },
                                             as: Crm_Kernel_V1_ListPluginsResponse.self)
            for plugin in page.plugins where !plugin.subscribes.isEmpty && plugin.state == .loaded {
                let (sum, overflow) = plugin.eventPosition.addingReportingOverflow(plugin.eventLag)
                newest = max(newest ?? 0, overflow ? UInt64.max : sum)
            }
            token = page.nextPageToken
        } while !token.isEmpty
        if let newest { return newest }
        let request = Crm_Kernel_V1_SubscribeRequest.with { $0.topicPatterns = topics; $0.replayOnly = true }
        var last: UInt64 = 0
        for try await event in try client.stream("/crm.kernel.v1.Events/Subscribe", request, as: Crm_Kernel_V1_Event.self) {
            last = event.sequence
        }
        return last
    }
}
