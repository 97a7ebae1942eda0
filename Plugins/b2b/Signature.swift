import B2BContract
import CRMPluginKit

/// Sending a sent quote revision for signature: an envelope bound to the
/// revision's (quote_id, revision, content_hash), holding the terms the
/// signature will make a contract of. The provider's status changes arrive
/// through SignatureWebhook.
enum Signature {
    static func register(on def: PluginDefinition) {
        def.unary(B2B.service + "SendForSignature", send)
        def.unary(B2B.service + "GetEnvelope", get)
        def.unary(B2B.service + "ListEnvelopes", list)
        def.unaryBytes(B2B.service + "RecordSignatureEvent", responds: Crm_B2b_V1_SignatureEventResult.self,
                       SignatureWebhook.record)
    }

    static func send(_ ctx: CallContext, _ req: Crm_B2b_V1_SendForSignatureRequest) throws -> Envelope {
        let db = try ctx.database
        let scope = ctx.scope
        let (previous, claim) = try B2B.idempotency.check(db, method: "SendForSignature", req, key: \.idempotencyKey)
        if let id = previous {
            guard let e = try EnvelopeStore.load(db, id), scope.includes(owner: ownerOrNil(e.owner)) else {
                throw IdempotencyKeys.mismatch(method: "SendForSignature", key: req.idempotencyKey)
            }
            return e
        }
        try Validate.positiveID(req.quoteID, "quote_id")
        guard req.revision >= 0 else { throw PluginError.invalidArgument("revision must not be negative") }
        try Validate.optionalID(req.signerPersonID, "signer_person_id")
        let hash = req.contentHash.trimmedSpaces
        if !hash.isEmpty {
            guard hash.utf8.count == 64, hash.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else {
                throw PluginError.invalidArgument("content_hash \"\(hash.prefix(80))\" is not 64 lowercase hex digits (SHA-256)")
            }
        }
        try ContractTermsCheck.validate(req.terms, prefix: "terms.")
        let record = try QuoteStore.require(db, req.quoteID, field: "quote_id", writableIn: scope)
        let revision = try QuoteStore.requireRevision(db, record, req.revision)
        guard revision.status == .sent else {
            throw PluginError.failedPrecondition("quote \(record.id) revision \(revision.revision) is a draft: send it "
                + "(SendQuote, with the approvals it needs) before sending it for signature")
        }
        guard revision.revision == record.currentRevision else {
            throw PluginError.failedPrecondition("quote \(record.id) revision \(revision.revision) is superseded by revision "
                + "\(record.currentRevision): only the current revision can be signed")
        }
        if !hash.isEmpty && hash != revision.contentHash {
            throw PluginError.failedPrecondition("content_hash \(hash) is not the hash of quote \(record.id) revision "
                + "\(revision.revision), \(revision.contentHash)")
        }
        if let open = try EnvelopeStore.inProgress(db, quote: record.id, revision: revision.revision) {
            throw PluginError.alreadyExists("quote \(record.id) revision \(revision.revision) already has envelope \(open.id) "
                + "in progress (\(EnvelopeStore.statusName(open.status)))")
        }
        let opportunity = try Links.opportunity(ctx, record.opportunityID, field: "quote_id")
        guard opportunity.status == .open else {
            throw PluginError.failedPrecondition("quote \(record.id): its opportunity \(opportunity.id) is "
                + (opportunity.status == .won ? "won" : "lost"))
        }
        if req.signerPersonID != 0 { _ = try Links.requireLivePerson(ctx, req.signerPersonID, field: "signer_person_id") }
        var terms = req.terms
        // The value is the net: tax is not the seller's revenue, and renewals are forecast on it.
        terms.value = .with { $0.amountMinor = revision.priced.totals.netMinor; $0.currency = record.currency }
        _ = try ContractTermsCheck.uplifted(terms.value.amountMinor, bp: terms.upliftBp)
        let now = UTCClock.nowMicros()
        var e = Envelope.with {
            $0.quoteID = record.id
            $0.revision = revision.revision
            $0.contentHash = revision.contentHash
            $0.opportunityID = record.opportunityID
            $0.signerPersonID = req.signerPersonID
            $0.owner = record.owner
            $0.status = .created
            $0.terms = terms
            $0.createdBy = ctx.user ?? ""
            $0.version = 1
            $0.createdUnixUs = now
            $0.updatedUnixUs = now
        }
        try EnvelopeStore.insert(db, &e)
        try EnvelopeStore.audit(ctx, "create", old: nil, new: e)
        try ContractEvents.envelope(ctx, "created", e, quote: record, "Quote \(record.id) revision \(revision.revision) "
            + "sent for signature: \(ContractEvents.money(terms.value))")
        try B2B.idempotency.record(db, claim, resultID: e.id)
        return e
    }

    static func get(_ ctx: CallContext, _ req: Crm_B2b_V1_GetEnvelopeRequest) throws -> Envelope {
        try EnvelopeStore.require(try ctx.database, req.id, readableIn: ctx.scope)
    }

    static func list(_ ctx: CallContext, _ req: Crm_B2b_V1_ListEnvelopesRequest) throws -> Crm_B2b_V1_ListEnvelopesResponse {
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 1)
        try Validate.optionalID(req.quoteID, "quote_id")
        var filter = SQLFilter()
        if req.quoteID != 0 { filter.add("quote_id = ?", .integer(req.quoteID)) }
        ctx.scope.apply(to: &filter, ownerColumn: "owner")
        if let after = paging.after { filter.add("id > ?", after[0]) }
        let page = try fetchPage(try ctx.database,
                                 "SELECT \(EnvelopeStore.columns) FROM b2b_envelopes \(filter.clause) ORDER BY id LIMIT ?",
                                 filter.parameters, paging, decode: EnvelopeStore.decode, key: { [$0[0]] })
        return .with {
            $0.envelopes = page.rows
            $0.nextPageToken = page.nextToken
        }
    }
}
