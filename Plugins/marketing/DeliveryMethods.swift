import CRMPluginKit
import MarketingContract
import ContactsLinkKit

/// The delivery rpcs: reads of the outbox, an operator's retry, the status,
/// and a test send.
enum DeliveryMethods {
    static let columns = """
        id, person_id, campaign_id, variant_id, purpose, to_address, subject, state, attempts, next_attempt_us,
        last_error, message_id, queued_us, sent_us, tracked
        """

    static func decode(_ r: [SQLValue]) -> Crm_Marketing_V1_Delivery {
        .with {
            $0.id = r[0].int ?? 0
            $0.personID = r[1].int ?? 0
            $0.campaignID = r[2].int ?? 0
            $0.variantID = r[3].int ?? 0
            $0.purpose = r[4].string ?? ""
            $0.toAddress = r[5].string ?? ""
            $0.subject = r[6].string ?? ""
            $0.state = DeliveryStore.state(r[7].int ?? -1)
            $0.attempts = Int32(clamping: r[8].int ?? 0)
            $0.nextAttemptUnixUs = r[9].int ?? 0
            $0.lastError = r[10].string ?? ""
            $0.messageID = r[11].string ?? ""
            $0.queuedUnixUs = r[12].int ?? 0
            $0.sentUnixUs = r[13].int ?? 0
            $0.tracked = r[14].int == 1
        }
    }

    /// Whether contacts shows the row's person to the caller (rows about nobody are shown).
    static func visible(_ ctx: CallContext, _ personID: Int64) throws -> Bool {
        if personID <= 0 { return true }
        return try ContactsLink.person(ctx, personID) != nil
    }

    static func load(_ ctx: CallContext, _ db: Database, _ id: Int64) throws -> Crm_Marketing_V1_Delivery {
        guard let row = try db.query("SELECT \(columns) FROM marketing_outbox WHERE id = ?", [.integer(id)]).first,
              try visible(ctx, row[1].int ?? 0) else {
            throw PluginError.notFound("id: delivery \(id) not found")
        }
        var d = decode(row)
        for a in try db.query("SELECT attempt, at_us, smtp_code, reply FROM marketing_delivery_attempts WHERE outbox_id = ? ORDER BY attempt",
                              [.integer(id)]) {
            d.attemptLog.append(.with {
                $0.attempt = Int32(clamping: a[0].int ?? 0)
                $0.atUnixUs = a[1].int ?? 0
                $0.smtpCode = Int32(clamping: a[2].int ?? 0)
                $0.reply = a[3].string ?? ""
            })
        }
        return d
    }

    static func get(_ ctx: CallContext, _ req: Crm_Marketing_V1_GetDeliveryRequest) throws -> Crm_Marketing_V1_Delivery {
        try Validate.positiveID(req.id, "id")
        return try load(ctx, try ctx.database, req.id)
    }

    static func list(_ ctx: CallContext, _ req: Crm_Marketing_V1_ListDeliveriesRequest) throws -> Crm_Marketing_V1_ListDeliveriesResponse {
        try Validate.optionalID(req.personID, "person_id")
        try Validate.optionalID(req.campaignID, "campaign_id")
        switch req.state {
        case .UNRECOGNIZED(let v): throw PluginError.invalidArgument("state \(v) is not a DeliveryState")
        default: break
        }
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 1)
        if req.personID > 0 {
            guard try ContactsLink.person(ctx, req.personID) != nil else {
                throw PluginError.notFound("person_id: person \(req.personID) not found")
            }
        }
        var filter = SQLFilter()
        if req.personID > 0 { filter.add("person_id = ?", .integer(req.personID)) }
        if req.campaignID > 0 { filter.add("campaign_id = ?", .integer(req.campaignID)) }
        if req.state != .unspecified { filter.add("state = ?", .integer(DeliveryStore.raw(req.state))) }
        if let after = paging.after { filter.add("id < ?", after[0]) }
        let rows = try ctx.database.query("SELECT \(columns) FROM marketing_outbox \(filter.clause) ORDER BY id DESC LIMIT ?",
                                          filter.parameters + [.integer(Int64(paging.limit + 1))])
        let page = paging.page(rows) { [$0[0]] }
        var seen: [Int64: Bool] = [:]
        var response = Crm_Marketing_V1_ListDeliveriesResponse()
        for row in page.rows {
            let person = row[1].int ?? 0
            let shown = try seen[person] ?? visible(ctx, person)
            seen[person] = shown
            if shown { response.deliveries.append(decode(row)) }
        }
        response.nextPageToken = page.nextToken
        return response
    }

    static func retry(_ ctx: CallContext, _ req: Crm_Marketing_V1_RetryDeliveryRequest) throws -> Crm_Marketing_V1_Delivery {
        try Validate.positiveID(req.id, "id")
        let db = try ctx.database
        let (previous, claim) = try Marketing.idempotency.check(db, method: "RetryDelivery", req, key: \.idempotencyKey)
        let current = try load(ctx, db, req.id)
        if previous != nil { return current }
        guard current.state == .interrupted || current.state == .failed else {
            throw PluginError.failedPrecondition("id: delivery \(req.id) is \(String(describing: current.state).uppercased()), only INTERRUPTED or FAILED rows are retried")
        }
        try db.execute("UPDATE marketing_outbox SET state = ?, next_attempt_us = ?, last_error = '' WHERE id = ?",
                       [.integer(Outbox.State.queued.rawValue), .integer(UTCClock.nowMicros()), .integer(req.id)])
        try ctx.audit(AuditEntry(entity: "marketing.delivery", recordID: String(req.id), action: "retry", changes: [
            FieldChange("state", old: String(describing: current.state).uppercased(), new: "QUEUED")]))
        try Marketing.idempotency.record(db, claim, resultID: req.id)
        return try load(ctx, db, req.id)
    }

    static func status(_ ctx: CallContext, _ req: Crm_Marketing_V1_GetDeliveryStatusRequest) throws -> Crm_Marketing_V1_DeliveryStatus {
        let config = DeliveryConfig.read(ctx.host)
        var s = Crm_Marketing_V1_DeliveryStatus()
        s.configured = config.notConfiguredReason.isEmpty
        s.reason = config.notConfiguredReason
        s.ratePerSecond = config.ratePerSecond
        var counts: [Int64: Int64] = [:]
        for row in try ctx.database.query("SELECT state, COUNT(*) FROM marketing_outbox GROUP BY state") {
            counts[row[0].int ?? -1] = row[1].int ?? 0
        }
        for state in [Outbox.State.queued, .sending, .sent, .failed, .interrupted, .skipped] {
            s.queue.append(.with {
                $0.state = DeliveryStore.state(state.rawValue)
                $0.count = counts[state.rawValue] ?? 0
            })
        }
        (s.lastError, s.lastErrorUnixUs) = DeliveryStore.lastError.withLock { $0 }
        return s
    }

    static func sendTest(_ ctx: CallContext, _ req: Crm_Marketing_V1_SendTestEmailRequest) throws -> Crm_Marketing_V1_Delivery {
        try Validate.positiveID(req.templateID, "template_id")
        try Validate.positiveID(req.personID, "person_id")
        let to = req.toAddress.trimmedSpaces
        try Validate.required(to, "to_address")
        try Validate.maxLength(to, "to_address", 254)
        try Validate.email(to, "to_address")
        if DeliveryMIME.unsafe(to) || to.contains(where: { "<>, ".contains($0) }) {
            throw PluginError.invalidArgument("to_address holds a control character, <, >, a comma or a space")
        }
        let db = try ctx.database
        let (previous, claim) = try Marketing.idempotency.check(db, method: "SendTestEmail", req, key: \.idempotencyKey)
        if let previous { return try load(ctx, db, previous) }
        let person = try TemplateRendering.requirePerson(ctx, req.personID)
        let url = try Tracking.unsubscribeURL(ctx, db, personID: person.id, campaignID: 0)
        let rendered = try Templates.render(ctx, db, templateID: req.templateID, person: person,
                                            organization: try TemplateRendering.organization(ctx, of: person), unsubscribeURL: url)
        guard let id = try Outbox.enqueue(db, OutgoingEmail(
            dedupeKey: "test:\(ConsentTokens.newToken())", personID: person.id, to: to, subject: rendered.subject,
            html: rendered.html, text: rendered.text, purpose: "test", requiresConsent: false)) else {
            throw PluginError(.internal, "a fresh dedupe key was already queued")
        }
        try ctx.audit(AuditEntry(entity: "marketing.delivery", recordID: String(id), action: "test", changes: [
            FieldChange("template_id", old: nil, new: String(req.templateID)),
            FieldChange("person_id", old: nil, new: String(person.id)),
            FieldChange("to_address", old: nil, new: to)]))
        try Marketing.idempotency.record(db, claim, resultID: id)
        return try load(ctx, db, id)
    }
}
