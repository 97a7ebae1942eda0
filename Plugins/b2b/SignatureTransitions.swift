import B2BContract
import CRMPluginKit
import SalesContract

/// What a provider event does to its envelope. Statuses only move forward:
///   CREATED → SENT → (VIEWED, again and again) → SIGNED | DECLINED
///   CREATED | SENT | VIEWED → EXPIRED
/// Anything else is out of order and refused, so a late "viewed" can never
/// reopen a signed envelope. A signature is refused on a revision a newer
/// one supersedes; otherwise it wins the opportunity through sales, moves
/// its deal to signed and makes the contract, in the event's transaction.
enum SignatureTransitions {
    static func allowedFrom(_ target: Crm_B2b_V1_EnvelopeStatus) -> [Crm_B2b_V1_EnvelopeStatus] {
        switch target {
        case .sent: return [.created]
        case .viewed, .signed, .declined: return [.sent, .viewed]
        case .expired: return [.created, .sent, .viewed]
        default: return []
        }
    }

    static func apply(_ ctx: CallContext, _ db: Database, _ ev: SignatureWebhook.Incoming) throws -> Crm_B2b_V1_SignatureEventResult {
        guard var e = try EnvelopeStore.load(db, ev.envelopeID) else {
            throw PluginError.notFound("body: envelope_id: envelope \(ev.envelopeID) does not exist")
        }
        if let hash = ev.contentHash, hash != e.contentHash {
            throw PluginError.failedPrecondition("body: content_hash \(hash.prefix(80)) is not envelope \(e.id)'s, \(e.contentHash)")
        }
        guard allowedFrom(ev.type).contains(e.status) else {
            throw PluginError.failedPrecondition("envelope \(e.id) is \(EnvelopeStore.statusName(e.status)); a \(ev.typeName) "
                + "event cannot follow (event \(ev.eventID))")
        }
        let record = try QuoteStore.load(db, e.quoteID)
        let before = e
        let now = UTCClock.nowMicros()
        let at = ev.occurredUs ?? now
        var result = Crm_B2b_V1_SignatureEventResult()
        result.eventID = ev.eventID
        switch ev.type {
        case .sent: e.sentUnixUs = at
        case .viewed: if e.viewedUnixUs == 0 { e.viewedUnixUs = at }  // the first view
        case .declined:
            e.declinedUnixUs = at
            e.declineReason = ev.reason
        case .expired: e.expiredUnixUs = at
        case .signed:
            guard let record else { throw PluginError.notFound("envelope \(e.id): quote \(e.quoteID) does not exist") }
            guard record.currentRevision == e.revision else {
                throw PluginError.failedPrecondition("envelope \(e.id) is for quote \(record.id) revision \(e.revision), "
                    + "superseded by revision \(record.currentRevision): the signature is refused")
            }
            e.signedUnixUs = at
            let contract = try sign(ctx, db, &e, record, now: now)
            result.contract = contract
        default: break
        }
        e.status = ev.type
        e.lastEventID = ev.eventID
        e.version += 1
        e.updatedUnixUs = now
        try EnvelopeStore.save(db, e)
        try EnvelopeStore.audit(ctx, ev.typeName, old: before, new: e)
        try ContractEvents.envelope(ctx, ev.typeName, e, quote: record, eventID: ev.eventID,
                                    "Envelope \(e.id) for quote \(e.quoteID) revision \(e.revision) \(ev.typeName)"
                                        + (ev.type == .declined && !ev.reason.isEmpty ? ": \(ev.reason)" : ""))
        result.envelope = e
        return result
    }

    /// The signature's effects: the opportunity won (one won already stays
    /// so; a lost one refuses the signature), its deal signed, the contract made.
    static func sign(_ ctx: CallContext, _ db: Database, _ e: inout Envelope, _ record: QuoteStore.Record, now: Int64) throws -> Contract {
        let opportunity = try Links.opportunity(ctx, e.opportunityID, field: "envelope \(e.id)")
        let won: Crm_Sales_V1_Opportunity
        switch opportunity.status {
        case .lost:
            throw PluginError.failedPrecondition("envelope \(e.id): opportunity \(opportunity.id) is lost; the signature is refused")
        case .won: won = opportunity
        default: won = try DealSales.win(ctx, opportunity.id)
        }
        try followDeal(ctx, db, won)
        let renewed = try ContractStore.byRenewalOpportunity(db, won.id)
        var row = ContractStore.Row(salesPipelineID: won.pipelineID)
        row.contract = .with {
            $0.opportunityID = won.id
            $0.quoteID = record.id
            $0.quoteRevision = e.revision
            $0.contentHash = e.contentHash
            $0.envelopeID = e.id
            $0.organizationID = record.organizationID
            $0.personID = record.personID
            $0.owner = won.owner
            $0.name = won.name
            $0.termsVersion = 1
            $0.terms = e.terms
            $0.status = .active
            $0.renewalOfContractID = renewed?.contract.id ?? 0
            $0.version = 1
            $0.createdUnixUs = now
            $0.updatedUnixUs = now
        }
        try ContractStore.insert(db, &row)
        try ContractStore.insertVersion(db, row.contract, reason: "signed", by: ctx.user ?? "", at: now)
        try ContractStore.audit(ctx, "create", old: nil, new: row.contract)
        try ContractEvents.contract(ctx, "created", row.contract, "Contract \(row.contract.id) signed: "
            + ContractEvents.money(row.contract.terms.value) + " (quote \(record.id) revision \(e.revision))")
        e.contractID = row.contract.id
        return row.contract
    }

    /// The opportunity's deal, if it has one, is signed with it now rather
    /// than when sales' event comes (which then finds its version seen).
    static func followDeal(_ ctx: CallContext, _ db: Database, _ won: Crm_Sales_V1_Opportunity) throws {
        guard var deal = try DealStore.byOpportunity(db, won.id), deal.status == .open,
              let pipeline = try DealPipelines.load(db, deal.pipelineID) else { return }
        let before = deal
        DealSales.copy(won, to: &deal, pipeline)
        deal.version += 1
        deal.updatedUnixUs = UTCClock.nowMicros()
        try DealStore.save(db, deal)
        try DealStore.seen(db, deal.id, opportunityVersion: won.version)
        try DealStore.audit(ctx, "sign", old: before, new: deal)
        try DealEvents.publish(ctx, "signed", deal, previousStage: before.stage,
                               "Deal \(deal.id) '\(deal.name)' signed (envelope)")
    }
}
