import CRMPluginKit
import ContactsContract
import MarketingContract
import ContactsLinkKit

/// The consent rpcs: double opt-in (request, confirm), unsubscribe, a
/// status recorded from elsewhere, and the reads.
enum ConsentMethods {
    static func register(on def: PluginDefinition) {
        def.unary(Marketing.service + "RequestSubscription", requestSubscription)
        def.unary(Marketing.service + "ConfirmSubscription", confirmSubscription)
        def.unary(Marketing.service + "Unsubscribe", unsubscribe)
        def.unary(Marketing.service + "SetConsent", setConsent)
        def.unary(Marketing.service + "GetConsent", getConsent)
        def.unary(Marketing.service + "ListConsentHistory", listHistory)
        def.unary(Marketing.service + "CheckSending", checkSending)
    }

    static func requestSubscription(_ ctx: CallContext, _ req: Crm_Marketing_V1_RequestSubscriptionRequest) throws -> ConsentState {
        try Validate.positiveID(req.personID, "person_id")
        let channel = try channel(req.channel)
        let source = try text(req.source, "source", max: 200)
        let db = try ctx.database
        let (previous, claim) = try Marketing.idempotency.check(db, method: "RequestSubscription", req, key: \.idempotencyKey)
        // A retry answers the status now and queues nothing more.
        if previous != nil { return try ConsentStore.state(db, req.personID, channel) }
        let person = try requirePerson(ctx, req.personID)
        guard channel == .email else {
            throw PluginError.failedPrecondition("channel SMS has no double opt-in yet (nothing sends SMS); record SMS consent with SetConsent")
        }
        guard let address = primaryAddress(person, channel) else {
            throw PluginError.failedPrecondition("person \(person.id) has no primary email to confirm the subscription at")
        }
        if try ConsentSuppressions.find(db, channel, address) != nil {
            throw PluginError.failedPrecondition("the address of person \(person.id) is suppressed for EMAIL; remove it from the suppression list first")
        }
        let current = try ConsentStore.state(db, person.id, channel)
        if current.status == .subscribed {
            try Marketing.idempotency.record(db, claim, resultID: 0)
            return current
        }
        // A repeated request while pending sends a fresh link (the old one stops working).
        var result = current
        var ledgerID: Int64 = 0
        if current.status != .pendingConfirmation {
            (result, ledgerID) = try ConsentStore.change(ctx, db, ConsentChange(
                personID: person.id, channel: channel, status: .pendingConfirmation, source: source, address: address,
                owner: ownerOrNil(person.owner)))
        }
        let token = try ConsentTokens.create(ctx, db, person: person.id, channel: channel, address: address, source: source)
        try ConsentTokens.queueEmail(ctx, db, person: person, address: address, token: token.token, tokenID: token.id)
        try Marketing.idempotency.record(db, claim, resultID: ledgerID)
        return result
    }

    static func confirmSubscription(_ ctx: CallContext, _ req: Crm_Marketing_V1_ConfirmSubscriptionRequest) throws -> ConsentState {
        let token = req.token.trimmedSpaces
        try Validate.required(token, "token")
        guard token.utf8.count <= 100 else { throw PluginError.invalidArgument("token is longer than 100 characters") }
        let db = try ctx.database
        guard let stored = try ConsentTokens.find(db, token: token) else {
            throw PluginError.notFound("token is not a confirmation token")
        }
        if stored.usedUs != 0 { throw PluginError.failedPrecondition("token was already used") }
        if stored.revokedUs != 0 {
            throw PluginError.failedPrecondition("token was replaced by a newer request or revoked by a later change of consent")
        }
        if stored.expiresUs <= UTCClock.nowMicros() { throw PluginError.failedPrecondition("token expired; ask for a new confirmation") }
        if try ConsentSuppressions.find(db, stored.channel, stored.address) != nil {
            throw PluginError.failedPrecondition("the address is suppressed since the request")
        }
        try ConsentTokens.markUsed(db, stored.id)
        let source = stored.source.isEmpty ? "double opt-in" : "double opt-in; \(stored.source)"
        let evidence = "confirmation link sent to \(stored.address) at \(stored.createdUs) µs, followed at \(UTCClock.nowMicros()) µs"
        return try ConsentStore.change(ctx, db, ConsentChange(personID: stored.personID, channel: stored.channel, status: .subscribed,
                                                              source: source, evidence: evidence, address: stored.address)).state
    }

    static func unsubscribe(_ ctx: CallContext, _ req: Crm_Marketing_V1_UnsubscribeRequest) throws -> ConsentState {
        try Validate.positiveID(req.personID, "person_id")
        let channel = try channel(req.channel)
        let source = try text(req.source, "source", max: 200)
        let person = try requirePerson(ctx, req.personID)
        let db = try ctx.database
        let current = try ConsentStore.state(db, person.id, channel)
        if [.unsubscribed, .bounced, .complained].contains(current.status) { return current }
        return try ConsentStore.change(ctx, db, ConsentChange(
            personID: person.id, channel: channel, status: .unsubscribed, source: source,
            address: primaryAddress(person, channel) ?? "", owner: ownerOrNil(person.owner))).state
    }

    static func setConsent(_ ctx: CallContext, _ req: Crm_Marketing_V1_SetConsentRequest) throws -> ConsentState {
        try Validate.positiveID(req.personID, "person_id")
        let channel = try channel(req.channel)
        switch req.status {
        case .subscribed, .unsubscribed, .bounced, .complained: break
        case .unspecified: throw PluginError.invalidArgument("status is required")
        case .pendingConfirmation:
            throw PluginError.invalidArgument("status PENDING_CONFIRMATION is set by RequestSubscription, not SetConsent")
        case .UNRECOGNIZED(let v): throw PluginError.invalidArgument("status \(v) is not a ConsentStatus")
        }
        let source = try text(req.source, "source", max: 200)
        let evidence = try text(req.evidence, "evidence", max: 2000)
        if req.status == .subscribed && evidence.isEmpty {
            throw PluginError.invalidArgument("evidence is required for SUBSCRIBED: say what proves the consent")
        }
        let db = try ctx.database
        let (previous, claim) = try Marketing.idempotency.check(db, method: "SetConsent", req, key: \.idempotencyKey)
        if previous != nil { return try ConsentStore.state(db, req.personID, channel) }
        let person = try requirePerson(ctx, req.personID)
        let address = primaryAddress(person, channel)
        switch req.status {
        case .subscribed:
            if let address, try ConsentSuppressions.find(db, channel, address) != nil {
                throw PluginError.failedPrecondition("the address of person \(person.id) is suppressed for \(ConsentStore.name(channel))")
            }
        case .bounced, .complained:
            guard let address else {
                throw PluginError.failedPrecondition("person \(person.id) has no \(channel == .sms ? "phone" : "email") to suppress")
            }
            try ConsentSuppressions.suppress(ctx, db, channel, address, reason: req.status == .bounced ? .bounced : .complained,
                                             detail: evidence, personID: person.id)
        default: break
        }
        let result = try ConsentStore.change(ctx, db, ConsentChange(
            personID: person.id, channel: channel, status: req.status, source: source, evidence: evidence,
            address: address ?? "", owner: ownerOrNil(person.owner)))
        try Marketing.idempotency.record(db, claim, resultID: result.ledgerID)
        return result.state
    }

    static func getConsent(_ ctx: CallContext, _ req: Crm_Marketing_V1_GetConsentRequest) throws -> Crm_Marketing_V1_GetConsentResponse {
        try Validate.positiveID(req.personID, "person_id")
        let person = try requirePerson(ctx, req.personID)
        let db = try ctx.database
        var response = Crm_Marketing_V1_GetConsentResponse()
        for channel in Consent.channels { response.channels.append(try ConsentStore.state(db, person.id, channel)) }
        return response
    }

    static func listHistory(_ ctx: CallContext, _ req: Crm_Marketing_V1_ListConsentHistoryRequest) throws -> Crm_Marketing_V1_ListConsentHistoryResponse {
        try Validate.positiveID(req.personID, "person_id")
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 1)
        let person = try requirePerson(ctx, req.personID)
        var filter = SQLFilter()
        filter.add("person_id = ?", .integer(person.id))
        if let after = paging.after { filter.add("id < ?", after[0]) }
        let rows = try ctx.database.query("""
            SELECT \(ConsentStore.ledgerColumns) FROM marketing_consent_ledger \(filter.clause) ORDER BY id DESC LIMIT ?
            """, filter.parameters + [.integer(Int64(paging.limit + 1))])
        let page = paging.page(rows) { [$0[0]] }
        return .with {
            $0.entries = page.rows.map(ConsentStore.ledgerEntry)
            $0.nextPageToken = page.nextToken
        }
    }

    // MARK: checks

    /// EMAIL or SMS; INVALID_ARGUMENT naming `channel` otherwise.
    static func channel(_ channel: Channel) throws -> Channel {
        switch channel {
        case .email, .sms: return channel
        case .unspecified: throw PluginError.invalidArgument("channel is required (CHANNEL_EMAIL or CHANNEL_SMS)")
        case .UNRECOGNIZED(let v): throw PluginError.invalidArgument("channel \(v) is not a Channel")
        }
    }

    static func text(_ value: String, _ field: String, max: Int) throws -> String {
        let trimmed = value.trimmedSpacesAndNewlines
        try Validate.maxLength(trimmed, field, max)
        return trimmed
    }

    /// The person for the caller: NOT_FOUND when contacts has none in their
    /// scope, or only a deleted, merged or erased one.
    static func requirePerson(_ ctx: CallContext, _ id: Int64) throws -> Person {
        guard let person = try ContactsLink.person(ctx, id), person.deletedUnixUs == 0, person.mergedIntoID == 0,
              person.erasedUnixUs == 0 else {
            throw PluginError.notFound("person \(id) not found")
        }
        return person
    }

    /// The first email (EMAIL) or phone (SMS), if any.
    static func primaryAddress(_ person: Person, _ channel: Channel) -> String? {
        let value = channel == .sms ? person.phones.first?.number : person.emails.first?.address
        return value.map(\.trimmedSpaces).flatMap { $0.isEmpty ? nil : $0 }
    }
}

extension ConsentMethods {
    static func checkSending(_ ctx: CallContext, _ req: Crm_Marketing_V1_CheckSendingRequest) throws -> Crm_Marketing_V1_CheckSendingResponse {
        try Validate.positiveID(req.personID, "person_id")
        let channel = try channel(req.channel)
        let given = req.address.trimmedSpaces
        if !given.isEmpty { _ = try ConsentSuppressions.checkedAddress(channel, given) }
        let person = try requirePerson(ctx, req.personID)
        let db = try ctx.database
        var response = Crm_Marketing_V1_CheckSendingResponse()
        response.status = try ConsentStore.state(db, person.id, channel).status
        guard let address = given.isEmpty ? primaryAddress(person, channel) : given else { return response }
        response.address = address
        if let suppression = try ConsentSuppressions.find(db, channel, address) { response.suppression = suppression }
        response.allowed = try Consent.allowsSending(db, personID: person.id, channel: channel, address: address)
        return response
    }
}
