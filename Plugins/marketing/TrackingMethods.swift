import CRMPluginKit
import MarketingContract

/// The rpcs the web edge calls for the links in emails: the open pixel,
/// click redirects, the unsubscribe page (GET: read only) and its POST,
/// and delivery reports found by Message-ID.
enum TrackingMethods {
    static func register(on def: PluginDefinition) {
        def.unary(Marketing.service + "TrackOpen", trackOpen)
        def.unary(Marketing.service + "TrackClick", trackClick)
        def.unary(Marketing.service + "GetUnsubscribePage", unsubscribePage)
        def.unary(Marketing.service + "UnsubscribeByToken", unsubscribe)
        def.unary(Marketing.service + "ReportDelivery", TrackingReports.reportDelivery)
    }

    /// An outbox message as tracking needs it.
    struct SentMessage {
        var id: Int64
        var personID: Int64
        var campaignID: Int64
        var variantID: Int64
        var html: String
        var sentUs: Int64
        var address: String
    }

    static func message(_ db: Database, _ id: Int64) throws -> SentMessage? {
        guard let row = try db.query("""
            SELECT id, person_id, campaign_id, variant_id, html_body, sent_us, to_address FROM marketing_outbox WHERE id = ?
            """, [.integer(id)]).first else { return nil }
        return SentMessage(id: row[0].int ?? 0, personID: row[1].int ?? 0, campaignID: row[2].int ?? 0,
                       variantID: row[3].int ?? 0, html: row[4].string ?? "", sentUs: row[5].int ?? 0,
                       address: row[6].string ?? "")
    }

    /// The verified token of a hit, of `kinds`; NOT_FOUND for any token this
    /// database did not sign (a uniform answer, so tokens cannot be probed).
    static func verify(_ db: Database, _ req: Crm_Marketing_V1_TrackHitRequest,
                       _ kinds: Set<TrackingTokens.Kind>) throws -> TrackingTokens.Decoded {
        guard !req.token.isEmpty else { throw PluginError.invalidArgument("token is required") }
        try Validate.maxLength(req.userAgent, "user_agent", 1024)
        guard let decoded = try TrackingTokens.decode(req.token, { try TrackingTokens.secret(db, id: $0) }),
              kinds.contains(decoded.kind) else {
            throw PluginError.notFound("no such tracking token")
        }
        return decoded
    }

    static func trackOpen(_ ctx: CallContext, _ req: Crm_Marketing_V1_TrackHitRequest) throws -> Crm_Marketing_V1_TrackHitResponse {
        let db = try ctx.database
        let token = try verify(db, req, [.open])
        guard let message = try message(db, token.first) else { throw PluginError.notFound("no such tracking token") }
        return try record(ctx, db, message, kind: .opened, userAgent: req.userAgent, detail: "")
    }

    static func trackClick(_ ctx: CallContext, _ req: Crm_Marketing_V1_TrackHitRequest) throws -> Crm_Marketing_V1_TrackHitResponse {
        let db = try ctx.database
        let token = try verify(db, req, [.click])
        guard let message = try message(db, token.first) else { throw PluginError.notFound("no such tracking token") }
        let links = TrackingLinks.trackable(message.html, excludedPrefixes: Tracking.untrackedPrefixes(ctx.host))
        guard let index = Int(exactly: token.second), index < links.count else { throw PluginError.notFound("no such tracking token") }
        let url = links[index].url
        var response = try record(ctx, db, message, kind: .clicked, userAgent: req.userAgent, detail: url)
        if !response.machine, try !Engagement.happened(db, outboxID: message.id, kind: .opened) {
            _ = try record(ctx, db, message, kind: .opened, userAgent: req.userAgent, detail: "implied by a click")
        }
        response.url = url
        return response
    }

    static func record(_ ctx: CallContext, _ db: Database, _ message: SentMessage, kind: EngagementKind, userAgent: String,
                       detail: String) throws -> Crm_Marketing_V1_TrackHitResponse {
        let now = UTCClock.nowMicros()
        let reason = TrackingMachines.reason(userAgent: userAgent, sentUs: message.sentUs, nowUs: now, host: ctx.host)
        let entry = Engagement.Entry(outboxID: message.id, personID: message.personID, campaignID: message.campaignID,
                                     variantID: message.variantID, kind: kind, machine: reason != nil, atUs: now,
                                     detail: detail, machineReason: reason ?? "")
        let id = try Engagement.record(db, entry)
        if reason == nil {
            try Tracking.publish(ctx, db, entry, id: id)
            try Segments.personChanged(ctx, db, personID: message.personID)
        }
        return .with {
            $0.machine = reason != nil
            $0.machineReason = reason ?? ""
        }
    }

    static func unsubscribePage(_ ctx: CallContext, _ req: Crm_Marketing_V1_TrackHitRequest) throws -> Crm_Marketing_V1_UnsubscribePage {
        let db = try ctx.database
        let token = try verify(db, req, [.unsubscribe])
        return try page(db, token, alreadyUnsubscribed: false)
    }

    static func unsubscribe(_ ctx: CallContext, _ req: Crm_Marketing_V1_TrackHitRequest) throws -> Crm_Marketing_V1_UnsubscribePage {
        let db = try ctx.database
        let token = try verify(db, req, [.unsubscribe])
        let before = try page(db, token, alreadyUnsubscribed: false)
        if [.unsubscribed, .bounced, .complained].contains(before.status) {
            var page = before
            page.alreadyUnsubscribed = true
            return page
        }
        let campaign = token.second
        try Consent.unsubscribe(ctx, db, personID: token.first, channel: .email, source: "one-click unsubscribe",
                                address: try address(db, token.first))
        let outboxID = campaign > 0 ? try Outbox.id(forDedupeKey: "campaign:\(campaign):\(token.first)", db) ?? 0 : 0
        let entry = Engagement.Entry(outboxID: outboxID, personID: token.first, campaignID: campaign, kind: .unsubscribed)
        try Tracking.publish(ctx, db, entry, id: try Engagement.record(db, entry))
        return try page(db, token, alreadyUnsubscribed: false)
    }

    static func page(_ db: Database, _ token: TrackingTokens.Decoded, alreadyUnsubscribed: Bool) throws -> Crm_Marketing_V1_UnsubscribePage {
        guard let state = try SegmentPeople.state(db, token.first), state.live else {
            throw PluginError.notFound("no such tracking token")
        }
        let address = try address(db, token.first)
        let status = try ConsentStore.state(db, token.first, .email).status
        return .with {
            $0.personID = token.first
            $0.campaignID = token.second
            $0.maskedAddress = mask(address)
            $0.status = status
            $0.alreadyUnsubscribed = alreadyUnsubscribed
        }
    }

    static func address(_ db: Database, _ person: Int64) throws -> String {
        try db.query("SELECT email FROM marketing_people WHERE person_id = ?", [.integer(person)]).first?[0].string ?? ""
    }

    /// "j***@example.com": the first character of the local part.
    static func mask(_ address: String) -> String {
        guard let at = address.lastIndex(of: "@"), at > address.startIndex else { return address.isEmpty ? "" : "***" }
        return String(address[address.startIndex]) + "***" + address[at...]
    }
}
