import ArgumentParser
import CRMClient
import CRMWire
import Foundation
import SwiftProtobuf

/// What the load commands (bench, bench-events) share about their requests:
/// the "$RANDOM" range, the JSON type of a method's request, and the field
/// --unique-field gives a new value on every call.
enum BenchRequests {
    /// The number of `name`, a singular string field of `type`, found by
    /// encoding `{"name": "x"}`: exactly a length-delimited tag, length 1, "x".
    /// nil when `name` is no such field (unknown, repeated, bytes, a message).
    static func stringFieldNumber(_ name: String, of type: any Message.Type) -> Int? {
        guard name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }),
              let bytes: [UInt8] = try? type.init(jsonString: "{\"\(name)\":\"x\"}").serializedBytes() else { return nil }
        var tag = 0
        var index = 0
        var shift = 0
        while index < bytes.count, shift <= 28 {
            let byte = bytes[index]
            tag |= Int(byte & 0x7f) << shift
            index += 1
            if byte < 0x80 { break }
            shift += 7
        }
        guard tag & 7 == 2, bytes.count == index + 2, bytes[index] == 1, bytes[index + 1] == UInt8(ascii: "x") else { return nil }
        return tag >> 3
    }

    /// Field `number` with `value`, to append to an encoded request: for a
    /// singular field the last occurrence wins, so this replaces any earlier one.
    static func stringField(_ number: Int, _ value: String) -> [UInt8] {
        var out: [UInt8] = []
        appendVarint(UInt64(number) << 3 | 2, to: &out)
        let bytes = Array(value.utf8)
        appendVarint(UInt64(bytes.count), to: &out)
        return out + bytes
    }

    private static func appendVarint(_ value: UInt64, to out: inout [UInt8]) {
        var rest = value
        while rest >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        out.append(UInt8(rest))
    }

    /// MIN:MAX with MIN <= MAX; nil for anything else.
    static func randomRange(_ text: String?) -> ClosedRange<Int64>? {
        guard let parts = text?.split(separator: ":", omittingEmptySubsequences: false), parts.count == 2,
              let low = Int64(parts[0]), let high = Int64(parts[1]), low <= high else { return nil }
        return low...high
    }

    /// The request type crmd lists for `method`, if crmctl can map it to JSON;
    /// `otherwise` ends the error message (what the user can do instead).
    static func requestType(_ client: Connection, method: String, otherwise: String = "") async throws -> any Message.Type {
        let services = try await listServices(client)
        guard let info = services.lazy.flatMap(\.methods).first(where: { $0.fullName == method }),
              let type = MessageRegistry.type(named: info.requestType) else {
            throw RPCError(.invalidArgument, "no JSON mapping for \(method)'s request" + otherwise)
        }
        return type
    }
}
