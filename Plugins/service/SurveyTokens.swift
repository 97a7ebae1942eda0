import CRMPluginKit
import Crypto
import Foundation

/// The token in a survey link: a version byte and the invitation id in the
/// clear, then HMAC-SHA256 over both under this database's survey secret
/// (service_survey_keys), base64url without padding. It needs no row of its
/// own, so the link can be shown again at any time, and it cannot be
/// guessed or altered. Expiry and erasure are the invitation's, checked by
/// the caller.
enum SurveyTokens {
    static let version: UInt8 = 1
    static let length = 1 + 8 + 32

    static func secret(_ db: Database) throws -> SymmetricKey {
        guard let row = try db.query("SELECT secret FROM service_survey_keys WHERE id = 1").first,
              case .blob(let bytes) = row[0], bytes.count >= 32 else {
            throw PluginError(.internal, "service_survey_keys has no usable key")
        }
        return SymmetricKey(data: bytes)
    }

    static func make(_ key: SymmetricKey, invitation id: Int64) -> String {
        var bytes: [UInt8] = [version]
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: id >> Int64(shift))) }
        bytes += Array(Crypto.HMAC<Crypto.SHA256>.authenticationCode(for: bytes, using: key))
        return base64URL(bytes)
    }

    static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// The invitation id a token names, or nil for anything `make` did not
    /// produce with this key (wrong length, alphabet, version or MAC).
    static func decode(_ key: SymmetricKey, _ token: String) -> Int64? {
        guard token.utf8.count <= 64, token.utf8.allSatisfy(isBase64URL) else { return nil }
        var text = token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while text.utf8.count % 4 != 0 { text += "=" }
        guard let data = Data(base64Encoded: text) else { return nil }
        let bytes = [UInt8](data)
        // One spelling per token: the last character's unused bits must be zero.
        guard bytes.count == length, bytes[0] == version, base64URL(bytes) == token else { return nil }
        let signed = Array(bytes[0..<9])
        // Constant time, by swift-crypto.
        guard Crypto.HMAC<Crypto.SHA256>.isValidAuthenticationCode(Array(bytes[9...]), authenticating: signed, using: key) else {
            return nil
        }
        var value: UInt64 = 0
        for i in 1...8 { value = value << 8 | UInt64(bytes[i]) }
        let id = Int64(bitPattern: value)
        return id > 0 ? id : nil
    }

    private static func isBase64URL(_ c: UInt8) -> Bool {
        (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == 0x2D || c == 0x5F
    }
}
