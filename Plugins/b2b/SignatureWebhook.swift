import B2BContract
import CRMPluginKit
import Crypto
import Foundation

/// The e-signature provider's webhook as the web edge hands it on: the raw
/// body and the provider's signature header. The HMAC-SHA256 is checked
/// (swift-crypto, constant time) before a byte of the body is parsed; each
/// provider event id is processed once, and a replay answers the stored
/// bytes of the first answer.
enum SignatureWebhook {
    static let maxBodyBytes = 65_536

    /// The body's JSON (docs/B2B.md "Signature").
    struct Body: Decodable {
        var event_id: String?
        var envelope_id: Int64?
        var type: String?
        var occurred_unix_us: Int64?
        var content_hash: String?
        var reason: String?
    }

    struct Incoming {
        var eventID: String
        var envelopeID: Int64
        var type: Crm_B2b_V1_EnvelopeStatus
        var typeName: String
        var occurredUs: Int64?
        var contentHash: String?
        var reason: String
    }

    static let types: [String: Crm_B2b_V1_EnvelopeStatus] = [
        "sent": .sent, "viewed": .viewed, "signed": .signed, "declined": .declined, "expired": .expired,
    ]

    static func record(_ ctx: CallContext, _ req: Crm_B2b_V1_RecordSignatureEventRequest) throws -> [UInt8] {
        guard ctx.scope.reach == .all else {
            throw PluginError(.permissionDenied, "recording signature events needs b2b.signature.record at scope all")
        }
        let body = [UInt8](req.body)
        guard !body.isEmpty else { throw PluginError.invalidArgument("body is required: the provider's raw request body") }
        guard body.count <= maxBodyBytes else {
            throw PluginError.invalidArgument("body is \(body.count) bytes; at most \(maxBodyBytes)")
        }
        let key = try B2BConfig.webhookKey(ctx.host)
        try verify(body, signature: req.signature, key: key)
        let incoming = try parse(body)
        let db = try ctx.database
        let bodyHash = CRMPluginKit.SHA256.hash(body)
        if let seen = try db.query("SELECT body_hash, response FROM b2b_signature_events WHERE event_id = ?",
                                   [.text(incoming.eventID)]).first {
            guard seen.blob(0) == bodyHash else {
                throw PluginError.failedPrecondition("event_id \"\(incoming.eventID)\" was already recorded with another body")
            }
            return seen.blob(1)  // a replay: the same answer, nothing written
        }
        let result = try SignatureTransitions.apply(ctx, db, incoming)
        let bytes: [UInt8] = try result.serializedBytes()
        try db.execute("""
            INSERT INTO b2b_signature_events (event_id, envelope_id, body_hash, response, received_us) VALUES (?, ?, ?, ?, ?)
            """, [.text(incoming.eventID), .integer(incoming.envelopeID), .blob(bodyHash), .blob(bytes),
                  .integer(UTCClock.nowMicros())])
        return bytes
    }

    /// UNAUTHENTICATED unless `signature` (hex, optionally "sha256=") is the
    /// body's HMAC-SHA256 under `key`; the comparison takes the same time
    /// wherever the digests differ.
    static func verify(_ body: [UInt8], signature raw: String, key: [UInt8]) throws {
        var text = Substring(raw.trimmedSpaces)
        if text.lowercased().hasPrefix("sha256=") { text = text.dropFirst(7) }
        guard let mac = hexBytes(text), mac.count == 32 else {
            throw PluginError(.unauthenticated, "signature is missing or not an HMAC-SHA256 in hex (64 digits, \"sha256=\" optional)")
        }
        guard HMAC<Crypto.SHA256>.isValidAuthenticationCode(mac, authenticating: body, using: SymmetricKey(data: key)) else {
            throw PluginError(.unauthenticated, "signature does not match the body: the event is not the provider's")
        }
    }

    static func hexBytes(_ text: Substring) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: return c - 0x30
            case 0x61...0x66: return c - 0x61 + 10
            case 0x41...0x46: return c - 0x41 + 10
            default: return nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(digits.count / 2)
        for i in stride(from: 0, to: digits.count, by: 2) {
            guard let hi = nibble(digits[i]), let lo = nibble(digits[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
        }
        return out
    }

    /// INVALID_ARGUMENT naming what is wrong with an authenticated body.
    static func parse(_ bytes: [UInt8]) throws -> Incoming {
        let body: Body
        do {
            body = try JSONDecoder().decode(Body.self, from: Data(bytes))
        } catch let DecodingError.typeMismatch(_, context) {
            throw PluginError.invalidArgument("body: \(context.codingPath.map(\.stringValue).joined(separator: ".")) has the wrong type")
        } catch {
            throw PluginError.invalidArgument("body is not a JSON object with event_id, envelope_id and type")
        }
        let eventID = (body.event_id ?? "").trimmedSpaces
        guard !eventID.isEmpty else { throw PluginError.invalidArgument("body: event_id is required") }
        guard eventID.utf8.count <= 200 else { throw PluginError.invalidArgument("body: event_id is longer than 200 bytes") }
        guard let envelope = body.envelope_id, envelope > 0 else {
            throw PluginError.invalidArgument("body: envelope_id is required, a positive integer")
        }
        let typeName = (body.type ?? "").trimmedSpaces
        guard let type = types[typeName] else {
            throw PluginError.invalidArgument("body: type \"\(typeName.prefix(40))\" is not one of sent, viewed, signed, declined, expired")
        }
        if let at = body.occurred_unix_us, !(1...ContractTermsCheck.maxTimeMicros).contains(at) {
            throw PluginError.invalidArgument("body: occurred_unix_us \(at) is not a time (UTC microseconds)")
        }
        let reason = (body.reason ?? "").trimmedSpacesAndNewlines
        try Validate.maxLength(reason, "body: reason", 500)
        let hash = body.content_hash?.trimmedSpaces
        return Incoming(eventID: eventID, envelopeID: envelope, type: type, typeName: typeName, occurredUs: body.occurred_unix_us,
                        contentHash: (hash?.isEmpty ?? true) ? nil : hash, reason: reason)
    }
}
