import CRMPluginKit
import MarketingContract
import Synchronization

typealias DeliveryState = Crm_Marketing_V1_DeliveryState

/// The worker's two writes: claim due rows (QUEUED → SENDING, consent
/// checked now) and record what the server said. Each is one short
/// transaction on the writer; nothing is sent inside either.
enum DeliveryStore {
    /// How long a claim may stay SENDING before it counts as interrupted
    /// (the worker bounds a batch's I/O well below this).
    static let leaseMicros: Int64 = 300_000_000
    /// Set by this process's first claim: rows SENDING before it belong to
    /// a process that died.
    static let recovered = Atomic<Bool>(false)

    static func state(_ raw: Int64) -> DeliveryState { DeliveryState(rawValue: Int(truncatingIfNeeded: raw &+ 1)) ?? .unspecified }
    static func raw(_ state: DeliveryState) -> Int64 { Int64(state.rawValue - 1) }

    static func claim(_ ctx: CallContext, _ req: Crm_Marketing_V1_ClaimDeliveriesRequest) throws -> Crm_Marketing_V1_ClaimDeliveriesResponse {
        guard (1...500).contains(req.limit) else { throw PluginError.invalidArgument("limit must be in 1..500") }
        let db = try ctx.database
        let now = UTCClock.nowMicros()
        var response = Crm_Marketing_V1_ClaimDeliveriesResponse()
        let sending = Outbox.State.sending.rawValue
        // May or may not have reached the server: never resent automatically.
        let firstClaim = !recovered.exchange(true, ordering: .relaxed)
        let stale = try db.query(firstClaim ? "SELECT id, attempts FROM marketing_outbox WHERE state = ?"
                                            : "SELECT id, attempts FROM marketing_outbox WHERE state = ? AND next_attempt_us <= ?",
                                 firstClaim ? [.integer(sending)] : [.integer(sending), .integer(now)])
        for row in stale {
            guard let id = row[0].int, let attempt = row[1].int else { continue }
            let reason = "interrupted: crmd stopped or the lease expired during the send; it may have reached the server"
            try db.execute("UPDATE marketing_outbox SET state = ?, last_error = ? WHERE id = ?",
                           [.integer(Outbox.State.interrupted.rawValue), .text(reason), .integer(id)])
            try db.execute("UPDATE marketing_delivery_attempts SET reply = ? WHERE outbox_id = ? AND attempt = ?",
                           [.text(reason), .integer(id), .integer(attempt)])
            response.interrupted += 1
        }
        let config = DeliveryConfig.read(ctx.host)
        let secret = try messageIDSecret(db)
        let rows = try db.query("""
            SELECT id, person_id, to_address, subject, html_body, text_body, unsubscribe_url, requires_consent, attempts,
                message_id, tracked FROM marketing_outbox WHERE state = ? AND next_attempt_us <= ?
            ORDER BY next_attempt_us, id LIMIT ?
            """, [.integer(Outbox.State.queued.rawValue), .integer(now), .integer(Int64(req.limit))])
        for row in rows {
            guard let id = row[0].int, let person = row[1].int else { continue }
            let to = row[2].string ?? ""
            if let reason = try skipReason(db, person: person, to: to, requiresConsent: row[7].int == 1) {
                try db.execute("UPDATE marketing_outbox SET state = ?, last_error = ? WHERE id = ?",
                               [.integer(Outbox.State.skipped.rawValue), .text(reason), .integer(id)])
                response.skipped += 1
                continue
            }
            let attempt = (row[8].int ?? 0) + 1
            var messageID = row[9].string ?? ""
            if messageID.isEmpty { messageID = self.messageID(id, secret: secret, domain: config.messageIDDomain) }
            try db.execute("""
                UPDATE marketing_outbox SET state = ?, attempts = ?, next_attempt_us = ?, message_id = ? WHERE id = ?
                """, [.integer(sending), .integer(attempt), .integer(now + leaseMicros), .text(messageID), .integer(id)])
            try db.execute("""
                INSERT OR REPLACE INTO marketing_delivery_attempts (outbox_id, attempt, at_us, smtp_code, reply)
                VALUES (?, ?, ?, 0, 'sending')
                """, [.integer(id), .integer(attempt), .integer(now)])
            response.deliveries.append(.with {
                $0.id = id
                $0.attempt = Int32(clamping: attempt)
                $0.toAddress = to
                $0.subject = row[3].string ?? ""
                $0.htmlBody = row[4].string ?? ""
                $0.textBody = row[5].string ?? ""
                $0.unsubscribeURL = row[6].string ?? ""
                $0.messageID = messageID
                $0.tracked = row[10].int == 1
            })
        }
        return response
    }

    /// Why a row must not be sent now, or nil: the send-time consent check.
    static func skipReason(_ db: Database, person: Int64, to: String, requiresConsent: Bool) throws -> String? {
        if requiresConsent {
            return try Consent.allowsSending(db, personID: person, channel: .email, address: to)
                ? nil : "skipped: the person's email consent does not allow sending at send time"
        }
        return try ConsentSuppressions.find(db, .email, to) != nil ? "skipped: the address is suppressed" : nil
    }

    static func record(_ ctx: CallContext, _ req: Crm_Marketing_V1_RecordDeliveriesRequest) throws -> Crm_Marketing_V1_RecordDeliveriesResponse {
        guard req.outcomes.count <= 500 else { throw PluginError.invalidArgument("outcomes: at most 500 per call") }
        for (i, o) in req.outcomes.enumerated() {
            try Validate.positiveID(o.id, "outcomes[\(i)].id")
            guard o.attempt > 0 else { throw PluginError.invalidArgument("outcomes[\(i)].attempt must be positive") }
            switch o.result {
            case .sent, .temporary, .permanent: break
            default: throw PluginError.invalidArgument("outcomes[\(i)].result must be SENT, TEMPORARY or PERMANENT")
            }
        }
        let db = try ctx.database
        let config = DeliveryConfig.read(ctx.host)
        let now = UTCClock.nowMicros()
        var response = Crm_Marketing_V1_RecordDeliveriesResponse()
        for o in req.outcomes {
            // Only the claim this outcome answers (a crash may have interrupted it since: the truth still counts).
            guard let row = try db.query("""
                SELECT person_id, campaign_id, variant_id, to_address, purpose FROM marketing_outbox
                WHERE id = ? AND attempts = ? AND state IN (?, ?)
                """, [.integer(o.id), .integer(Int64(o.attempt)), .integer(Outbox.State.sending.rawValue),
                      .integer(Outbox.State.interrupted.rawValue)]).first else {
                response.ignored += 1
                continue
            }
            let person = row[0].int ?? 0, campaign = row[1].int ?? 0, variant = row[2].int ?? 0
            let to = row[3].string ?? "", purpose = row[4].string ?? ""
            let reply = String(o.reply.prefix(1000))
            try db.execute("UPDATE marketing_delivery_attempts SET smtp_code = ?, reply = ?, at_us = ? WHERE outbox_id = ? AND attempt = ?",
                           [.integer(Int64(o.smtpCode)), .text(reply), .integer(now), .integer(o.id), .integer(Int64(o.attempt))])
            let engagement = Engagement.Entry(outboxID: o.id, personID: person, campaignID: campaign, variantID: variant,
                                              kind: .sent, atUs: now, detail: reply)
            switch o.result {
            case .sent:
                try set(db, o.id, .sent, error: reply, sentUs: now)
                if purpose != "test" { try Engagement.record(db, engagement) }
            case .permanent:
                try set(db, o.id, .failed, error: reply)
                // A refusal of ours (code 0) or a test message is no bounce of the person's address.
                if purpose != "test" && o.smtpCode >= 500 {
                    var bounce = engagement
                    bounce.kind = .bounced
                    try Engagement.record(db, bounce)
                    try Consent.recordBounce(ctx, db, personID: person, address: to, complaint: false, detail: reply)
                }
                try noteError(reply)
            default:
                if Int(o.attempt) >= config.maxAttempts {
                    try set(db, o.id, .failed, error: "gave up after \(o.attempt) attempts: \(reply)")
                } else {
                    let shift = min(Int64(o.attempt) - 1, 20)
                    let delay = min(config.retryBaseMicros.multipliedReportingOverflow(by: 1 << shift).partialValue, 21_600_000_000)
                    try db.execute("UPDATE marketing_outbox SET state = ?, next_attempt_us = ?, last_error = ? WHERE id = ?",
                                   [.integer(Outbox.State.queued.rawValue), .integer(now + max(delay, 0)), .text(reply), .integer(o.id)])
                }
                try noteError(reply)
            }
            response.recorded += 1
        }
        return response
    }

    private static func set(_ db: Database, _ id: Int64, _ state: Outbox.State, error: String, sentUs: Int64 = 0) throws {
        try db.execute("UPDATE marketing_outbox SET state = ?, last_error = ?, sent_us = ? WHERE id = ?",
                       [.integer(state.rawValue), .text(error), .integer(sentUs), .integer(id)])
    }

    /// The status rpc's last error (this process's).
    static let lastError = Mutex<(String, Int64)>(("", 0))
    static func noteError(_ text: String) throws { lastError.withLock { $0 = (text, UTCClock.nowMicros()) } }

    /// The per-database random value Message-IDs are derived from, made once.
    static func messageIDSecret(_ db: Database) throws -> String {
        if let s = try db.query("SELECT secret FROM marketing_delivery_secret WHERE id = 1").first?[0].string { return s }
        let s = ConsentTokens.newToken()
        try db.execute("INSERT INTO marketing_delivery_secret (id, secret) VALUES (1, ?)", [.text(s)])
        return s
    }

    static func messageID(_ id: Int64, secret: String, domain: String) -> String {
        let digest = SHA256.hash(Array("\(secret):\(id)".utf8)).prefix(10)
        let hex = digest.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
        return "<\(id).\(hex)@\(domain)>"
    }
}
