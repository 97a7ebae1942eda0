import CRMProto
import Foundation
import SwiftProtobuf

/// The contracts crmctl was built with (the kernel's, the first-party plugins',
/// the probe's and the example's), from the descriptor sets proto/generate.sh
/// embeds in each contract target (CRMProto's contractDescriptorSet joins
/// them): what crmctl can map to JSON without asking crmd.
enum Contracts {
    typealias MessageDescriptor = Google_Protobuf_DescriptorProto
    typealias FieldDescriptor = Google_Protobuf_FieldDescriptorProto

    /// Message schemas by full name, nested ones (map entries too) included.
    static let messages: [String: MessageDescriptor] = index.messages
    /// Enum value names by the enum's full name, in declaration order.
    static let enums: [String: [String]] = index.enums
    /// Every method, "/package.Service/Method", as Reflection would list it.
    static let methods: [String: Crm_Kernel_V1_MethodInfo] = index.methods

    private static let index: (messages: [String: MessageDescriptor], enums: [String: [String]],
                               methods: [String: Crm_Kernel_V1_MethodInfo]) = {
        var messages: [String: MessageDescriptor] = [:]
        var enums: [String: [String]] = [:]
        var methods: [String: Crm_Kernel_V1_MethodInfo] = [:]
        // The contracts' sets are generated and checked in CI; if they were
        // unreadable, crmctl would still work from Reflection alone.
        guard let set = try? Google_Protobuf_FileDescriptorSet(serializedBytes: contractDescriptorSet)
        else { return ([:], [:], [:]) }
        func add(_ message: MessageDescriptor, in scope: String) {
            let name = "\(scope).\(message.name)"
            messages[name] = message
            for nested in message.nestedType { add(nested, in: name) }
            for type in message.enumType { enums["\(name).\(type.name)"] = type.value.map(\.name) }
        }
        for file in set.file {
            for message in file.messageType { add(message, in: file.package) }
            for type in file.enumType { enums["\(file.package).\(type.name)"] = type.value.map(\.name) }
            for service in file.service {
                for method in service.method {
                    let fullName = "/\(file.package).\(service.name)/\(method.name)"
                    methods[fullName] = Crm_Kernel_V1_MethodInfo.with {
                        $0.fullName = fullName
                        $0.name = method.name
                        $0.requestType = typeName(method.inputType)
                        $0.responseType = typeName(method.outputType)
                        $0.serverStreaming = method.serverStreaming
                    }
                }
            }
        }
        return (messages, enums, methods)
    }()

    /// "crm.contacts.v1.Person" from a descriptor's ".crm.contacts.v1.Person".
    static func typeName(_ reference: String) -> String {
        reference.hasPrefix(".") ? String(reference.dropFirst()) : reference
    }

    /// The entry message of a map field; nil for any other field.
    static func mapEntry(_ field: FieldDescriptor) -> MessageDescriptor? {
        guard field.type == .message, field.label == .repeated,
              let entry = messages[typeName(field.typeName)], entry.options.mapEntry else { return nil }
        return entry
    }
}
