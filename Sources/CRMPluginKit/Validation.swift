import Foundation

/// Wall-clock time for records: microseconds since the Unix epoch, UTC.
public enum UTCClock {
    public static func nowMicros() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1_000
    }
}

/// Input checks that answer INVALID_ARGUMENT naming the field, as handlers
/// must before they touch the database.
public enum Validate {
    // Field names are autoclosures: they are built only for an error, not
    // for every field of every row a CSV import checks.

    public static func required(_ value: String, _ field: @autoclosure () -> String) throws {
        if value.trimmedSpaces.isEmpty { throw PluginError.invalidArgument("\(field()) is required") }
    }

    public static func maxLength(_ value: String, _ field: @autoclosure () -> String, _ limit: Int) throws {
        // A character takes at least one UTF-8 byte: most values never need counting.
        if value.utf8.count > limit && value.count > limit {
            throw PluginError.invalidArgument("\(field()) is longer than \(limit) characters")
        }
    }

    /// A required id: 0 is a missing one, a negative one is no id at all.
    public static func positiveID(_ value: Int64, _ field: @autoclosure () -> String) throws {
        if value == 0 { throw PluginError.invalidArgument("\(field()) is required") }
        if value < 0 { throw PluginError.invalidArgument("\(field()) must be a positive id, not \(value)") }
    }

    /// An optional id (a reference or a filter): 0 means none.
    public static func optionalID(_ value: Int64, _ field: @autoclosure () -> String) throws {
        if value < 0 { throw PluginError.invalidArgument("\(field()) must be a positive id (or 0 for none), not \(value)") }
    }

    /// A pragmatic check (one "@", a dot in the domain, no spaces), not RFC 5322.
    public static func email(_ value: String, _ field: @autoclosure () -> String) throws {
        guard isEmail(value) else { throw PluginError.invalidArgument("\(field()) is not an email address: \"\(value)\"") }
    }

    static func isEmail(_ value: String) -> Bool {
        let bytes = value.utf8
        guard bytes.count <= 254 * 4, let at = bytes.firstIndex(of: UInt8(ascii: "@")), at != bytes.startIndex else { return false }
        let domain = bytes[bytes.index(after: at)...]
        guard !domain.contains(UInt8(ascii: "@")), domain.contains(UInt8(ascii: ".")),
              domain.first != UInt8(ascii: "."), domain.last != UInt8(ascii: ".") else { return false }
        if bytes.allSatisfy({ $0 < 0x80 }) {
            return bytes.count <= 254 && !bytes.contains { $0 == 0x20 || (0x09...0x0D).contains($0) }
        }
        return value.count <= 254 && !value.contains(where: \.isWhitespace)
    }

    /// A phone number: digits with optional spaces, dashes, dots, parentheses
    /// and a leading "+"; 5 to 20 digits.
    public static func phone(_ value: String, _ field: @autoclosure () -> String) throws {
        var digits = 0
        var valid = true
        for (offset, byte) in value.utf8.enumerated() {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digits += 1
            case UInt8(ascii: " "), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "("), UInt8(ascii: ")"),
                 UInt8(ascii: "/"): break
            case UInt8(ascii: "+") where offset == 0: break
            default: valid = false
            }
            if !valid { break }
        }
        guard valid, (5...20).contains(digits) else {
            throw PluginError.invalidArgument("\(field()) is not a phone number: \"\(value)\"")
        }
    }

    /// "YYYY-MM-DD", a real calendar date.
    public static func date(_ value: String, _ field: String) throws {
        guard isDate(value) else { throw PluginError.invalidArgument("\(field) is not a date (YYYY-MM-DD): \"\(value)\"") }
    }

    public static func isDate(_ value: String) -> Bool {
        let parts = value.split(separator: "-", omittingEmptySubsequences: false)
        guard value.count == 10, parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
              (1...12).contains(month), day >= 1 else { return false }
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        return day <= days
    }

    /// ISO 4217 shape: three upper-case letters.
    public static func currency(_ value: String, _ field: String) throws {
        guard value.count == 3, value.allSatisfy({ $0.isASCII && $0.isUppercase }) else {
            throw PluginError.invalidArgument("\(field) is not an ISO 4217 currency code: \"\(value)\"")
        }
    }

    /// ABORTED when the caller expected another version (optimistic locking);
    /// an expected version of 0 means "any".
    public static func expectedVersion(_ expected: Int64, _ actual: Int64, noun: String) throws {
        if expected != 0 && expected != actual {
            throw PluginError(.aborted, "\(noun) is at version \(actual), not the expected_version \(expected); read it again")
        }
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}

/// Normalized forms used for matching and indexes.
public enum Normalize {
    /// Lower-cased and trimmed.
    public static func email(_ value: String) -> String { value.trimmedSpaces.lowercased() }

    /// Digits only, keeping a leading "+" so international and local forms stay apart.
    public static func phone(_ value: String) -> String {
        let trimmed = value.trimmedSpaces
        return (trimmed.hasPrefix("+") ? "+" : "") + trimmed.filter(\.isASCIIDigit)
    }

    /// Lower-cased, diacritics folded, runs of spaces collapsed: "Zoë  Smith" → "zoe smith".
    public static func name(_ value: String) -> String {
        // ASCII (most names) without Foundation's folding, which costs microseconds a call.
        if value.utf8.allSatisfy({ $0 < 0x80 }) {
            var out: [UInt8] = []
            out.reserveCapacity(value.utf8.count)
            var space = false
            for byte in value.utf8 {
                if byte == 0x20 || (0x09...0x0D).contains(byte) {
                    space = !out.isEmpty
                    continue
                }
                if space { out.append(0x20); space = false }
                out.append((0x41...0x5A).contains(byte) ? byte + 0x20 : byte)
            }
            return String(decoding: out, as: UTF8.self)
        }
        return value.folding(options: [.caseInsensitive, .diacriticInsensitive], locale: nil)
            .split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }

    /// The smallest string greater than every string starting with `prefix`,
    /// for index range scans: `key >= prefix AND key < upperBound(prefix)`.
    public static func upperBound(_ prefix: String) -> String { prefix + "\u{10FFFF}" }
}
