import CRMPluginKit
import Foundation

/// HMAC-SHA256 (RFC 2104) over the kit's SHA-256.
enum HMAC {
    static func sha256(key: [UInt8], _ message: [UInt8]) -> [UInt8] {
        var k = key.count > 64 ? SHA256.hash(key) : key
        k += [UInt8](repeating: 0, count: 64 - k.count)
        let inner = SHA256.hash(k.map { $0 ^ 0x36 } + message)
        return SHA256.hash(k.map { $0 ^ 0x5c } + inner)
    }
}

/// The gift-card key: from the `code_key` setting (64 hex digits, kept out
/// of the database), else 32 bytes from the system's CSPRNG stored in
/// loyalty_secrets on first use. Code hashes and sealed answers depend on
/// it: changing it makes every issued code unknown.
enum Secrets {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var cached: [UInt8]?

    /// The key, made if missing (writing calls only).
    static func key(_ ctx: CallContext, _ db: Database) throws -> [UInt8] {
        if let key = try existing(ctx, db, cache: false) { return key }
        if let hex = ctx.host.config("code_key"), !hex.trimmedSpaces.isEmpty {
            throw PluginError(.failedPrecondition, "the code_key setting must be 64 hex digits")
        }
        var generator = SystemRandomNumberGenerator()
        let key = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        try db.execute("INSERT INTO loyalty_secrets (name, value) VALUES ('code_key', ?)", [.blob(key)])
        // Not cached here: the call may still roll back.
        return key
    }

    /// The key if there is one (reading calls: none means no card exists).
    /// Only a reading call caches it: it sees committed rows alone, where a
    /// writer may see a key of its group commit that is then rolled back.
    static func existing(_ ctx: CallContext, _ db: Database, cache: Bool = true) throws -> [UInt8]? {
        if let key = lock.withLock({ cached }) { return key }
        let key: [UInt8]?
        if let hex = ctx.host.config("code_key"), !hex.trimmedSpaces.isEmpty {
            key = decodeHex(hex.trimmedSpaces)
            if key == nil { throw PluginError(.failedPrecondition, "the code_key setting must be 64 hex digits") }
        } else {
            key = try db.query("SELECT value FROM loyalty_secrets WHERE name = 'code_key'").first?[0].bytes
        }
        if cache, let key { lock.withLock { cached = key } }
        return key
    }

    static func decodeHex(_ hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count == 64 else { return nil }
        var out: [UInt8] = []
        for i in stride(from: 0, to: 64, by: 2) {
            guard let hi = nibble(digits[i]), let lo = nibble(digits[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
        }
        return out
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x61...0x66: return c - 0x61 + 10
        case 0x41...0x46: return c - 0x41 + 10
        default: return nil
        }
    }
}

/// A stored answer that holds gift-card codes is kept encrypted, so the
/// idempotency table does not undo the hashing of codes: XOR with an
/// HMAC-SHA256 keystream (counter mode) under the gift-card key and a
/// random 16-byte nonce, with an HMAC tag over nonce and ciphertext.
enum Sealing {
    static func seal(_ plain: [UInt8], key: [UInt8]) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        let nonce = (0..<16).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let cipher = xor(plain, key: key, nonce: nonce)
        return nonce + cipher + HMAC.sha256(key: key, Array("tag".utf8) + nonce + cipher)
    }

    static func open(_ sealed: [UInt8], key: [UInt8]) throws -> [UInt8] {
        guard sealed.count >= 48 else { throw PluginError(.internal, "loyalty: a sealed answer is truncated") }
        let nonce = Array(sealed.prefix(16)), cipher = Array(sealed[16..<(sealed.count - 32)]), tag = Array(sealed.suffix(32))
        guard HMAC.sha256(key: key, Array("tag".utf8) + nonce + cipher) == tag else {
            throw PluginError(.internal, "loyalty: a sealed answer does not match the gift-card key")
        }
        return xor(cipher, key: key, nonce: nonce)
    }

    private static func xor(_ data: [UInt8], key: [UInt8], nonce: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: data.count)
        var counter: UInt64 = 0
        var offset = 0
        while offset < data.count {
            let block = HMAC.sha256(key: key, Array("stream".utf8) + nonce + withUnsafeBytes(of: counter.bigEndian, Array.init))
            for i in 0..<min(32, data.count - offset) { out[offset + i] = data[offset + i] ^ block[i] }
            offset += 32
            counter += 1
        }
        return out
    }
}
