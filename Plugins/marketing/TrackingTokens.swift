import CRMPluginKit
import Foundation

/// The tokens in an email's links: what they name (the message and link,
/// or the person and campaign) in the clear, and an HMAC-SHA256 over it
/// with a per-database secret, so a token cannot be guessed or altered and
/// needs no row of its own. Layout: kind (1 byte), key id (1 byte), the
/// payload (big-endian int64s, a uint16 link index), 16 bytes of MAC;
/// base64url without padding.
enum TrackingTokens {
    enum Kind: UInt8 { case open = 1, click = 2, unsubscribe = 3 }

    struct Decoded: Equatable {
        var kind: Kind
        /// open, click: the outbox message; unsubscribe: the person.
        var first: Int64
        /// click: the link's index; unsubscribe: the campaign (0: none).
        var second: Int64
    }

    static let macBytes = 16

    static func make(_ secret: Secret, _ kind: Kind, _ first: Int64, _ second: Int64 = 0) -> String {
        var bytes: [UInt8] = [kind.rawValue, secret.id]
        append(&bytes, first)
        switch kind {
        case .open: break
        case .click: bytes += [UInt8(truncatingIfNeeded: second >> 8), UInt8(truncatingIfNeeded: second)]
        case .unsubscribe: append(&bytes, second)
        }
        bytes += hmac(secret.bytes, bytes).prefix(macBytes)
        return base64URL(bytes)
    }

    static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// The token's content, or nil for anything not made by `make` with a
    /// key of this database (wrong length, kind, key or MAC).
    static func decode(_ token: String, _ secrets: (UInt8) throws -> Secret?) rethrows -> Decoded? {
        guard token.utf8.count <= 64, token.utf8.allSatisfy(isBase64URL) else { return nil }
        var text = token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while text.utf8.count % 4 != 0 { text += "=" }
        guard let data = Data(base64Encoded: text) else { return nil }
        let bytes = [UInt8](data)
        // One spelling per token: the last character's unused bits must be zero.
        guard base64URL(bytes) == token, bytes.count > 2, let kind = Kind(rawValue: bytes[0]) else { return nil }
        let payload = kind == .open ? 8 : kind == .click ? 10 : 16
        guard bytes.count == 2 + payload + macBytes, let secret = try secrets(bytes[1]) else { return nil }
        let signed = Array(bytes[0..<(2 + payload)])
        guard constantTimeEqual(Array(hmac(secret.bytes, signed).prefix(macBytes)), Array(bytes[(2 + payload)...])) else { return nil }
        let first = int64(signed, at: 2)
        let second: Int64 = kind == .click ? Int64(signed[10]) << 8 | Int64(signed[11])
            : kind == .unsubscribe ? int64(signed, at: 10) : 0
        guard first > 0, second >= 0 else { return nil }
        return Decoded(kind: kind, first: first, second: second)
    }

    // MARK: secrets

    struct Secret {
        var id: UInt8
        var bytes: [UInt8]
    }

    /// The key new tokens are made with: the newest (the migration creates
    /// the first; older keys stay valid for tokens already sent).
    static func current(_ db: Database) throws -> Secret {
        guard let row = try db.query("SELECT id, secret FROM marketing_tracking_keys ORDER BY id DESC LIMIT 1").first,
              let id = row[0].int.flatMap(UInt8.init(exactly:)), case .blob(let bytes) = row[1], bytes.count >= 32 else {
            throw PluginError(.internal, "marketing_tracking_keys has no usable key")
        }
        return Secret(id: id, bytes: bytes)
    }

    static func secret(_ db: Database, id: UInt8) throws -> Secret? {
        guard let row = try db.query("SELECT secret FROM marketing_tracking_keys WHERE id = ?", [.integer(Int64(id))]).first,
              case .blob(let bytes) = row[0], bytes.count >= 32 else { return nil }
        return Secret(id: id, bytes: bytes)
    }

    // MARK: bytes

    /// HMAC (RFC 2104) over the kit's SHA-256.
    static func hmac(_ key: [UInt8], _ message: [UInt8]) -> [UInt8] {
        var k = key.count > 64 ? SHA256.hash(key) : key
        k += [UInt8](repeating: 0, count: 64 - k.count)
        let inner = SHA256.hash(k.map { $0 ^ 0x36 } + message)
        return SHA256.hash(k.map { $0 ^ 0x5c } + inner)
    }

    private static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in a.indices { difference |= a[i] ^ b[i] }
        return difference == 0
    }

    private static func append(_ bytes: inout [UInt8], _ value: Int64) {
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> Int64(shift))) }
    }

    private static func int64(_ bytes: [UInt8], at offset: Int) -> Int64 {
        var value: UInt64 = 0
        for i in 0..<8 { value = value << 8 | UInt64(bytes[offset + i]) }
        return Int64(bitPattern: value)
    }

    private static func isBase64URL(_ c: UInt8) -> Bool {
        (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == 0x2D || c == 0x5F
    }
}
