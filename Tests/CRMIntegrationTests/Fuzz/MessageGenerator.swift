import CRMWire
import NIOCore
import SwiftProtobuf

/// Builds protobuf encodings of any message type from its descriptor, with
/// values chosen to break handlers: edge integers, odd strings (invalid
/// UTF-8 included), repeated and nested fields, unknown enum numbers.
struct MessageGenerator {
    typealias Field = Google_Protobuf_FieldDescriptorProto
    private var messages: [String: Google_Protobuf_DescriptorProto] = [:]

    init(_ sets: [Google_Protobuf_FileDescriptorSet]) {
        for file in sets.flatMap(\.file) {
            let prefix = file.package.isEmpty ? "" : file.package + "."
            for message in file.messageType { add(message, prefix + message.name) }
        }
    }

    private mutating func add(_ message: Google_Protobuf_DescriptorProto, _ fullName: String) {
        messages[fullName] = message
        for nested in message.nestedType { add(nested, fullName + "." + nested.name) }
    }

    func knows(_ typeName: String) -> Bool { messages[typeName] != nil }

    func encode(_ typeName: String, _ random: inout FuzzRandom, depth: Int = 0) -> [UInt8] {
        guard let message = messages[typeName], depth < 4 else { return [] }
        var out: [UInt8] = []
        for field in message.field where random.chance(depth == 0 ? 70 : 50) {
            let count = field.label == .repeated ? Int.random(in: 0...3, using: &random) : 1
            for _ in 0..<count { out += encode(field, &random, depth: depth) }
        }
        return out
    }

    private func encode(_ field: Field, _ random: inout FuzzRandom, depth: Int) -> [UInt8] {
        let number = UInt64(UInt32(bitPattern: field.number))
        func key(_ wireType: UInt64) -> [UInt8] { Self.varint(number << 3 | wireType) }
        func delimited(_ body: [UInt8]) -> [UInt8] { key(2) + Self.varint(UInt64(body.count)) + body }
        switch field.type {
        case .int32, .int64, .uint32, .uint64, .bool:
            return key(0) + Self.varint(random.edgeInteger())
        case .enum:
            return key(0) + Self.varint(random.chance(70) ? UInt64.random(in: 0...8, using: &random) : random.edgeInteger())
        case .sint32, .sint64:
            return key(0) + Self.varint(random.edgeInteger())
        case .fixed64, .sfixed64, .double:
            return key(1) + withUnsafeBytes(of: random.edgeInteger().littleEndian) { Array($0) }
        case .fixed32, .sfixed32, .float:
            return key(5) + withUnsafeBytes(of: UInt32(truncatingIfNeeded: random.edgeInteger()).littleEndian) { Array($0) }
        case .string:
            return delimited(Self.oddString(&random))
        case .bytes:
            return delimited(random.bytes(Int.random(in: 0...64, using: &random)))
        case .message, .group:
            let name = field.typeName.hasPrefix(".") ? String(field.typeName.dropFirst()) : field.typeName
            return delimited(encode(name, &random, depth: depth + 1))
        }
    }

    static func oddString(_ random: inout FuzzRandom) -> [UInt8] {
        switch Int.random(in: 0..<8, using: &random) {
        case 0: return []
        case 1: return Array(" ".utf8)
        case 2: return Array(String(repeating: "x", count: Int.random(in: 200...5000, using: &random)).utf8)
        case 3: return [0xff, 0xfe, 0x80]  // not UTF-8
        case 4: return Array("Zoë 名前 🙂 \u{0}".utf8)
        case 5: return Array(random.pick(["1", "-1", "abc", "2026-02-30", "a@b", "+1 (555) 010-0000", "*", "%", "'; DROP TABLE x; --",
                                          "person.id", "name desc", "9223372036854775808"]).utf8)
        case 6: return Array(String(UInt64.random(in: 0...UInt64.max, using: &random)).utf8)
        default:
            return (0..<Int.random(in: 1...24, using: &random)).map { _ in UInt8.random(in: 0x20...0x7e, using: &random) }
        }
    }

    static func varint(_ value: UInt64) -> [UInt8] {
        var out = ByteBuffer()
        HeaderCodec.writeVarint(value, &out)
        return Array(out.readableBytesView)
    }
}
