import CRMPluginKit
import MarketingContract

/// QueueTransactionalEmail: another module's one email to a person (a
/// service survey invitation), queued in the outbox like any other row so
/// the delivery worker sends it with its pacing, retries and no-double-send
/// rule. It requires consent, so the claim's send-time check skips it
/// (recorded as SKIPPED) unless the person's email status allows sending.
enum DeliveryTransactional {
    /// Purposes marketing's own rows carry; another module may not pose as them.
    static let reservedPurposes: Set<String> = ["campaign", "journey", "confirmation", "test"]
    static let maxBody = 256 * 1024

    static func queue(_ ctx: CallContext, _ req: Crm_Marketing_V1_QueueTransactionalEmailRequest) throws -> Crm_Marketing_V1_Delivery {
        try Validate.positiveID(req.personID, "person_id")
        let subject = req.subject.trimmedSpaces
        try Validate.required(subject, "subject")
        try Validate.maxLength(subject, "subject", 300)
        // A header value: a line break would inject headers.
        if DeliveryMIME.unsafe(subject) { throw PluginError.invalidArgument("subject holds a control character") }
        guard !req.htmlBody.isEmpty || !req.textBody.isEmpty else {
            throw PluginError.invalidArgument("html_body and text_body are both empty")
        }
        guard req.htmlBody.utf8.count <= maxBody else { throw PluginError.invalidArgument("html_body is over 256 KiB") }
        guard req.textBody.utf8.count <= maxBody else { throw PluginError.invalidArgument("text_body is over 256 KiB") }
        try checkPurpose(req.purpose)
        try Validate.required(req.idempotencyKey, "idempotency_key")
        let db = try ctx.database
        let (previous, claim) = try Marketing.idempotency.check(db, method: "QueueTransactionalEmail", req, key: \.idempotencyKey)
        if let previous { return try DeliveryMethods.load(ctx, db, previous) }
        let person = try TemplateRendering.requirePerson(ctx, req.personID)
        guard let to = ConsentMethods.primaryAddress(person, .email), !to.isEmpty else {
            throw PluginError.failedPrecondition("person_id: person \(person.id) has no email address")
        }
        let key = "transactional:\(req.purpose):\(req.idempotencyKey)"
        guard let id = try Outbox.enqueueOrFind(db, OutgoingEmail(
            dedupeKey: key, personID: person.id, to: to, subject: subject, html: req.htmlBody, text: req.textBody,
            purpose: req.purpose, requiresConsent: true)) else {
            throw PluginError(.internal, "outbox has no message under \(key) after queueing it")
        }
        try ctx.audit(AuditEntry(entity: "marketing.delivery", recordID: String(id), action: "transactional", changes: [
            FieldChange("person_id", old: nil, new: String(person.id)),
            FieldChange("purpose", old: nil, new: req.purpose),
            FieldChange("subject", old: nil, new: subject)]))
        try Marketing.idempotency.record(db, claim, resultID: id)
        return try DeliveryMethods.load(ctx, db, id)
    }

    static func checkPurpose(_ purpose: String) throws {
        let bytes = Array(purpose.utf8)
        func allowed(_ c: UInt8) -> Bool { (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c == 46 || c == 95 || c == 45 }
        guard (1...64).contains(bytes.count), bytes.allSatisfy(allowed) else {
            throw PluginError.invalidArgument("purpose \"\(purpose.prefix(80))\" is not 1-64 of a-z 0-9 . _ -")
        }
        guard !reservedPurposes.contains(purpose) else {
            throw PluginError.invalidArgument("purpose \"\(purpose)\" is marketing's own")
        }
    }
}
