import CRMOptionsContract
import Foundation
import SwiftProtobuf

/// What a plugin's descriptor set declares: every rpc of every service in
/// it with the semantics its .proto gives it (crm/options/v1/options.proto),
/// the request messages' fields, and the topics its event messages are
/// published under.
struct PluginContract {
    struct Rpc {
        let fullName: String
        let requestType: String
        let responseType: String
        let serverStreaming: Bool
        let clientStreaming: Bool
        /// Nil when the rpc declares no `(crm.options.v1.method)`.
        let semantics: Crm_Options_V1_MethodSemantics?
    }

    /// Service full name -> its rpcs in declaration order.
    private(set) var services: [String: [Rpc]] = [:]
    /// The services of files no other file of the set imports: the set's
    /// own, as opposed to those it carries because a file imports them.
    private(set) var rootServices: Set<String> = []
    /// Message full name -> its fields' names and types.
    private(set) var messages: [String: [Google_Protobuf_FieldDescriptorProto]] = [:]
    /// What an event message's `(crm.options.v1.event)` says about a topic.
    struct Topic: Equatable {
        /// The message full name published under it.
        let message: String
        /// Its `read_permission`; empty when undeclared.
        let readPermission: String
    }

    /// Topic -> the message declared for it.
    private(set) var topics: [String: Topic] = [:]

    init(descriptorSet: Data) throws {
        let set: Google_Protobuf_FileDescriptorSet
        do {
            set = try Google_Protobuf_FileDescriptorSet(serializedBytes: descriptorSet,
                                                        extensions: Crm_Options_V1_Options_Extensions)
        } catch {
            throw PluginLoadError("descriptor set does not decode as google.protobuf.FileDescriptorSet: \(error)")
        }
        let imported = Set(set.file.flatMap(\.dependency))
        for file in set.file {
            let package = file.package.isEmpty ? "" : file.package + "."
            if !imported.contains(file.name) { rootServices.formUnion(file.service.map { package + $0.name }) }
            for service in file.service {
                services[package + service.name] = service.method.map { method in
                    Rpc(fullName: "/\(package)\(service.name)/\(method.name)",
                        requestType: Self.typeName(method.inputType), responseType: Self.typeName(method.outputType),
                        serverStreaming: method.serverStreaming, clientStreaming: method.clientStreaming,
                        semantics: method.options.hasCrm_Options_V1_method ? method.options.Crm_Options_V1_method : nil)
                }
            }
            for message in file.messageType { try collect(message, prefix: package) }
        }
    }

    /// Records a message and its nested ones, and the topics they declare.
    private mutating func collect(_ message: Google_Protobuf_DescriptorProto, prefix: String) throws {
        let name = prefix + message.name
        messages[name] = message.field
        if message.options.hasCrm_Options_V1_event {
            let event = message.options.Crm_Options_V1_event
            for topic in event.topics {
                if let other = topics[topic], other.message != name {
                    throw PluginLoadError("topic \"\(topic)\" is declared by both \(other.message) and \(name)")
                }
                topics[topic] = Topic(message: name, readPermission: event.readPermission)
            }
        }
        for nested in message.nestedType { try collect(nested, prefix: name + ".") }
    }

    /// ".crm.sales.v1.Lead" -> "crm.sales.v1.Lead"
    private static func typeName(_ reference: String) -> String {
        reference.hasPrefix(".") ? String(reference.dropFirst()) : reference
    }

    /// True when `message` has a singular string field called `idempotency_key`.
    func hasIdempotencyKey(_ message: String) -> Bool {
        messages[message]?.contains { $0.name == "idempotency_key" && $0.type == .string && $0.label != .repeated } ?? false
    }

    /// True when any rpc of `services` declares `(crm.options.v1.method)`.
    func declaresSemantics(in services: some Sequence<String>) -> Bool {
        services.contains { self.services[$0]?.contains { $0.semantics != nil } ?? false }
    }
}
