import Foundation
import SwiftProtobuf

/// The words a JSON error uses for what a field takes and what it got.
extension JSONRequestCheck {
    /// What the whole field takes: a map, an array or one value.
    static func expectation(_ field: Field) -> String {
        if let entry = Contracts.mapEntry(field), entry.field.count == 2 {
            return "a JSON object (map of \(word(entry.field[0])) to \(word(entry.field[1])))"
        }
        if field.label == .repeated { return "a JSON array of \(word(field)) values" }
        return singleExpectation(field)
    }

    /// What one value of the field takes.
    static func singleExpectation(_ field: Field) -> String {
        switch field.type {
        case .int32, .sint32, .sfixed32: return "an integer (int32 as a JSON number or decimal string)"
        case .int64, .sint64, .sfixed64: return "an integer (int64 as a JSON number or decimal string)"
        case .uint32, .fixed32: return "a non-negative integer (uint32 as a JSON number or decimal string)"
        case .uint64, .fixed64: return "a non-negative integer (uint64 as a JSON number or decimal string)"
        case .float, .double:
            return #"a number (\#(word(field)) as a JSON number or decimal string, "NaN", "Infinity" or "-Infinity")"#
        case .bool: return "true or false"
        case .string: return "a string"
        case .bytes: return "base64 bytes in a JSON string"
        case .enum:
            let names = Contracts.enums[Contracts.typeName(field.typeName)] ?? []
            return "one of \(names.joined(separator: ", ")) (or its number)"
        default: return "a JSON object (\(Contracts.typeName(field.typeName)))"
        }
    }

    /// The field's type as the .proto file spells it.
    static func word(_ field: Field) -> String {
        switch field.type {
        case .message, .enum, .group: return Contracts.typeName(field.typeName)
        case .double: return "double"
        case .float: return "float"
        case .int64: return "int64"
        case .uint64: return "uint64"
        case .int32: return "int32"
        case .fixed64: return "fixed64"
        case .fixed32: return "fixed32"
        case .bool: return "bool"
        case .string: return "string"
        case .bytes: return "bytes"
        case .uint32: return "uint32"
        case .sfixed32: return "sfixed32"
        case .sfixed64: return "sfixed64"
        case .sint32: return "sint32"
        case .sint64: return "sint64"
        default: return "value"
        }
    }

    /// A valid JSON value for a map's values, to tell a bad key from a bad value.
    static func zeroValue(_ field: Field) -> Any {
        switch field.type {
        case .message, .group: return [String: Any]()
        case .string, .bytes: return ""
        case .bool: return false
        default: return 0
        }
    }

    /// A JSON value as the user would write it, cut short when long.
    static func render(_ value: Any) -> String {
        guard let data = try? JSONSerialization.data(
            withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys, .withoutEscapingSlashes]) else {
            return "\(value)"
        }
        let text = String(decoding: data, as: UTF8.self)
        return text.count > 60 ? String(text.prefix(57)) + "..." : text
    }
}
