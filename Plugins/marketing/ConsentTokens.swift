import CRMPluginKit
import Foundation
import MarketingContract

/// Double opt-in tokens: 32 random bytes from the system generator
/// (getrandom), sent as base64url in the confirmation link; only their
/// SHA-256 is stored, so a copy of the database confirms nobody.
enum ConsentTokens {
    static let defaultTTLHours = 48.0

    struct Stored {
        var id: Int64
        var personID: Int64
        var channel: Channel
        var address: String
        var source: String
        var createdUs: Int64
        var expiresUs: Int64
        var usedUs: Int64
        var revokedUs: Int64
    }

    static func newToken() -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes: [UInt8] = []
        for _ in 0..<4 {
            let word = generator.next()
            for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: word >> UInt64(shift))) }
        }
        return Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func hash(_ token: String) -> [UInt8] { SHA256.hash(Array(token.utf8)) }

    /// `confirmation_ttl_hours` (a positive number, fractions allowed, at
    /// most a year); a bad value is logged and the default used.
    static func ttlMicros(_ host: CRMPluginKit.Host) -> Int64 {
        var hours = defaultTTLHours
        if let text = host.config("confirmation_ttl_hours")?.trimmedSpaces, !text.isEmpty {
            if let value = Double(text), value > 0, value <= 8_760 {
                hours = value
            } else {
                host.log(.warning, "confirmation_ttl_hours \"\(text)\" is not a number of hours in (0, 8760]; using \(defaultTTLHours)")
            }
        }
        return Int64(hours * 3_600_000_000)
    }

    /// Replaces the person's pending tokens for the channel with a new one;
    /// returns the token (for the email only) and its row id.
    static func create(_ ctx: CallContext, _ db: Database, person: Int64, channel: Channel, address: String,
                       source: String) throws -> (token: String, id: Int64) {
        try revoke(db, person, channel)
        let token = newToken()
        let now = UTCClock.nowMicros()
        let id = try db.execute("""
            INSERT INTO marketing_consent_tokens (token_hash, person_id, channel, address, source, created_us, expires_us,
                used_us, revoked_us) VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0)
            """, [.blob(hash(token)), .integer(person), .integer(Int64(channel.rawValue)), .text(address), .text(source),
                  .integer(now), .integer(now &+ ttlMicros(ctx.host))]).lastInsertID
        return (token, id)
    }

    /// Ends the person's unused tokens for the channel (a newer request, an
    /// unsubscribe, any status but pending).
    static func revoke(_ db: Database, _ person: Int64, _ channel: Channel) throws {
        try db.execute("""
            UPDATE marketing_consent_tokens SET revoked_us = ?
            WHERE person_id = ? AND channel = ? AND used_us = 0 AND revoked_us = 0
            """, [.integer(UTCClock.nowMicros()), .integer(person), .integer(Int64(channel.rawValue))])
    }

    static func find(_ db: Database, token: String) throws -> Stored? {
        guard let row = try db.query("""
            SELECT id, person_id, channel, address, source, created_us, expires_us, used_us, revoked_us
            FROM marketing_consent_tokens WHERE token_hash = ?
            """, [.blob(hash(token))]).first else { return nil }
        return Stored(id: row[0].int ?? 0, personID: row[1].int ?? 0, channel: ConsentStore.channel(row[2].int ?? 0),
                      address: row[3].string ?? "", source: row[4].string ?? "", createdUs: row[5].int ?? 0,
                      expiresUs: row[6].int ?? 0, usedUs: row[7].int ?? 0, revokedUs: row[8].int ?? 0)
    }

    static func markUsed(_ db: Database, _ id: Int64) throws {
        try db.execute("UPDATE marketing_consent_tokens SET used_us = ? WHERE id = ?", [.integer(UTCClock.nowMicros()), .integer(id)])
    }

    /// Queues the confirmation email in the caller's transaction: it goes
    /// out only if the request commits, once per token.
    static func queueEmail(_ ctx: CallContext, _ db: Database, person: Person, address: String, token: String, tokenID: Int64) throws {
        let link = "\(MarketingConfig.publicURL(ctx.host))/marketing/confirm?token=\(token)"
        let name = person.firstName.trimmedSpaces
        let greeting = name.isEmpty ? "Hello," : "Hello \(name),"
        let text = """
            \(greeting)

            please confirm that you want to receive our emails at \(address) by opening this link:

            \(link)

            If you did not ask for this, ignore this message: without confirmation nothing more is sent to you.
            """
        let html = """
            <p>\(escape(greeting))</p>
            <p>please confirm that you want to receive our emails at \(escape(address)):</p>
            <p><a href="\(escape(link))">Confirm my subscription</a></p>
            <p>If you did not ask for this, ignore this message: without confirmation nothing more is sent to you.</p>
            """
        try Outbox.enqueue(db, OutgoingEmail(dedupeKey: "confirm:\(person.id):\(tokenID)", personID: person.id, to: address,
                                             subject: "Please confirm your subscription", html: html, text: text,
                                             purpose: "confirmation", requiresConsent: false))
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
