/// The tokens of SQL text that matter for spotting a function call or a
/// second statement: names (bare or quoted, lowercased), "(", ";" and
/// everything else; whitespace and comments are skipped.
public struct SQLTokens: Sequence, IteratorProtocol {
    public enum Token: Equatable { case name(String), open, semicolon, other }
    private let bytes: [UInt8]
    private var i = 0

    public init(_ sql: String) { bytes = Array(sql.utf8) }

    public mutating func next() -> Token? {
        while i < bytes.count {
            let c = bytes[i]
            switch c {
            case 0x20, 0x09, 0x0A, 0x0C, 0x0D: i += 1
            case 0x2D where at(i + 1) == 0x2D:  // -- comment
                while i < bytes.count && bytes[i] != 0x0A { i += 1 }
            case 0x2F where at(i + 1) == 0x2A:  // /* comment */
                i += 2
                while i < bytes.count && !(bytes[i] == 0x2A && at(i + 1) == 0x2F) { i += 1 }
                i += 2
            case 0x27:  // 'string', '' escapes a quote
                _ = quoted(until: 0x27)
                return .other
            case 0x22: return .name(quoted(until: 0x22))  // "name"
            case 0x60: return .name(quoted(until: 0x60))  // `name`
            case 0x5B: return .name(quoted(until: 0x5D))  // [name]
            case 0x28: i += 1; return .open
            case 0x3B: i += 1; return .semicolon
            default:
                guard Self.isNameByte(c) else { i += 1; return .other }
                let start = i
                while i < bytes.count && Self.isNameByte(bytes[i]) { i += 1 }
                return .name(String(decoding: bytes[start..<i], as: UTF8.self).lowercased())
            }
        }
        return nil
    }

    private func at(_ index: Int) -> UInt8? { index < bytes.count ? bytes[index] : nil }

    /// Reads a quoted run from the opening byte at `i`; a doubled closing byte stands for itself.
    private mutating func quoted(until close: UInt8) -> String {
        var out: [UInt8] = []
        i += 1
        while i < bytes.count {
            if bytes[i] == close {
                if close != 0x5D && at(i + 1) == close { out.append(close); i += 2; continue }
                i += 1
                break
            }
            out.append(bytes[i])
            i += 1
        }
        return String(decoding: out, as: UTF8.self).lowercased()
    }

    private static func isNameByte(_ c: UInt8) -> Bool {
        c == 0x5F || c == 0x24 || (0x30...0x39).contains(c) || (0x41...0x5A).contains(c) || (0x61...0x7A).contains(c) || c >= 0x80
    }
}
