import SwiftProtobuf

/// Which fields an update replaces, following AIP-134:
/// - a missing (empty) mask means the writable fields set in the request's
///   record. In proto3 a scalar is "set" when it is not its default (0, "",
///   false, the first enum value) and a list or map when it is not empty, so
///   clearing a field takes naming it in the mask;
/// - `*` alone replaces every writable field (unset ones are cleared);
/// - otherwise each path names a field, in snake_case or lowerCamelCase
///   (proto3's JSON mapping of a FieldMask uses the latter).
/// Output-only fields set in the record (id, version, times) are ignored.
public struct UpdateMask {
    /// The record's writable fields: snake_case name → field number.
    public let fields: [String: Int]
    /// Fields that another method changes: name → that method, for the error.
    public let elsewhere: [String: String]
    private let byCamelCase: [String: String]

    public init(fields: [String: Int], elsewhere: [String: String] = [:]) {
        self.fields = fields
        self.elsewhere = elsewhere
        var camel: [String: String] = [:]
        for name in Array(fields.keys) + Array(elsewhere.keys) { camel[Self.lowerCamelCase(name)] = name }
        byCamelCase = camel
    }

    /// The fields to replace, by snake_case name.
    public struct Selection {
        public let names: Set<String>
        /// True for `*`: a whole-record replacement.
        public let replacesAll: Bool

        public func contains(_ name: String) -> Bool { names.contains(name) }
    }

    /// Resolves `mask` against the record the request carries; INVALID_ARGUMENT
    /// naming `field` for an unknown path.
    public func resolve<M: Message>(_ mask: [String], _ record: M, field: String = "update_mask") throws -> Selection {
        if mask.isEmpty {
            let present = Self.fieldNumbers(try record.serializedBytes())
            return Selection(names: Set(fields.filter { present.contains($0.value) }.keys), replacesAll: false)
        }
        if mask.contains("*") {
            guard mask.allSatisfy({ $0 == "*" }) else {
                throw PluginError.invalidArgument("\(field): \"*\" replaces every field and must be the only path")
            }
            return Selection(names: Set(fields.keys), replacesAll: true)
        }
        var names = Set<String>()
        for path in mask {
            let name = fields[path] != nil || elsewhere[path] != nil ? path : byCamelCase[path] ?? path
            if let method = elsewhere[name] {
                throw PluginError.invalidArgument("\(field): \"\(path)\" cannot be updated here; use \(method)")
            }
            guard fields[name] != nil else {
                throw PluginError.invalidArgument("\(field) names unknown field \"\(path)\"; it takes "
                    + fields.keys.sorted().joined(separator: ", ") + " (or lowerCamelCase, or \"*\")")
            }
            names.insert(name)
        }
        return Selection(names: names, replacesAll: false)
    }

    /// "job_title" → "jobTitle"
    public static func lowerCamelCase(_ snake: String) -> String {
        var out = ""
        var upper = false
        for c in snake {
            if c == "_" { upper = true; continue }
            out += upper ? c.uppercased() : String(c)
            upper = false
        }
        return out
    }

    /// The top-level field numbers in protobuf binary: proto3 writes only
    /// the fields that are set. Stops at anything malformed.
    public static func fieldNumbers(_ bytes: [UInt8]) -> Set<Int> {
        var numbers = Set<Int>()
        var i = 0
        func varint() -> UInt64? {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while i < bytes.count, shift < 64 {
                let byte = bytes[i]
                i += 1
                value |= UInt64(byte & 0x7F) << shift
                if byte < 0x80 { return value }
                shift += 7
            }
            return nil
        }
        while i < bytes.count, let tag = varint() {
            numbers.insert(Int(truncatingIfNeeded: tag >> 3))
            let skip: UInt64
            switch tag & 7 {
            case 0: guard varint() != nil else { return numbers }; skip = 0
            case 1: skip = 8
            case 2: guard let length = varint() else { return numbers }; skip = length
            case 5: skip = 4
            default: return numbers
            }
            guard skip <= UInt64(bytes.count - i) else { return numbers }
            i += Int(skip)
        }
        return numbers
    }
}
