import B2BContract
import CRMPluginKit
import SalesContract

/// Auto-renewal: an active auto-renewing contract without notice whose end
/// has passed renews by itself, one term at a time. Its renewal
/// opportunity decides first, so a renewal lost (or won) in sales is never
/// overridden by a late event; an open one is won in sales and the
/// contract gets a new terms version from its old end, for the same
/// length, at the renewal amount. The renewal fields are cleared so the
/// next term gets its own renewal opportunity.
enum AutoRenewals {
    static func register(on def: PluginDefinition) {
        def.unary(B2B.service + "AutoRenewContract", renew)
    }

    /// The ids the job renews this run: an index range.
    static func due(_ db: Database, now: Int64, limit: Int) throws -> [Int64] {
        try db.query("""
            SELECT id FROM b2b_contracts WHERE status = 1 AND auto_renew = 1 AND notice_given_us = 0 AND end_us <= ?
              AND end_us < ? ORDER BY end_us, id LIMIT ?
            """, [.integer(now), .integer(ContractTermsCheck.maxTimeMicros), .integer(Int64(limit))]).map { $0.int(0) }
    }

    static func renew(_ ctx: CallContext, _ req: Crm_B2b_V1_AutoRenewContractRequest) throws -> Crm_B2b_V1_AutoRenewContractResponse {
        guard ctx.scope.reach == .all else {
            throw PluginError(.permissionDenied, "renewing contracts needs b2b.renewal.run at scope all")
        }
        try Validate.positiveID(req.contractID, "contract_id")
        let db = try ctx.database
        guard var row = try ContractStore.load(db, req.contractID) else {
            throw PluginError.notFound("contract_id: contract \(req.contractID) does not exist")
        }
        let now = UTCClock.nowMicros()
        let c = row.contract
        guard c.status == .active, c.terms.autoRenew, c.noticeGivenUnixUs == 0, c.terms.endUnixUs <= now,
              c.terms.endUnixUs < ContractTermsCheck.maxTimeMicros else {
            return .with { $0.contract = c; $0.renewed = false }
        }
        var won = ""
        var negotiated: Int64?
        if c.renewalOpportunityID != 0 {
            let o = try Links.opportunity(ctx, c.renewalOpportunityID, field: "renewal_opportunity_id")
            if o.status == .won || o.status == .lost {
                try Renewals.followOutcome(ctx, o)
                let decided = try ContractStore.load(db, c.id)?.contract ?? c
                return .with { $0.contract = decided; $0.renewed = false }
            }
            // A renewal quote out for signature decides when it is signed
            // or declined: renewing now would make two contracts of one term.
            if try db.query("SELECT 1 FROM b2b_envelopes WHERE opportunity_id = ? AND status IN (1, 2, 3) LIMIT 1",
                            [.integer(o.id)]).first != nil {
                return .with { $0.contract = c; $0.renewed = false }
            }
            let _: Crm_Sales_V1_Opportunity = try Links.call(ctx, DealSales.service + "WinOpportunity",
                                                             Crm_Sales_V1_WinOpportunityRequest.with { $0.id = o.id })
            won = " (renewal opportunity \(o.id) won)"
            // What sales agreed on is the new value (the uplifted one unless changed there).
            if o.amount.currency == c.terms.value.currency, o.amount.amountMinor >= 0,
               o.amount.amountMinor <= Check.maxAmountMinor { negotiated = o.amount.amountMinor }
        }
        // The same length again, from the old end, or the term holding now
        // if ends have passed meanwhile (one version, never a term a second).
        let length = c.terms.endUnixUs - c.terms.startUnixUs  // both within 0...year 9999: no wrap
        let behind = (now - c.terms.endUnixUs) / length       // >= 0: the end has passed
        let (skipped, o1) = behind.multipliedReportingOverflow(by: length)
        let (start, o2) = c.terms.endUnixUs.addingReportingOverflow(skipped)
        let (end, o3) = start.addingReportingOverflow(length)
        var terms = c.terms
        terms.startUnixUs = o1 || o2 ? c.terms.endUnixUs : min(start, ContractTermsCheck.maxTimeMicros - 1)
        terms.endUnixUs = o1 || o2 || o3 ? ContractTermsCheck.maxTimeMicros : min(end, ContractTermsCheck.maxTimeMicros)
        var reason = "auto-renewed" + won
        if behind > 0 { reason += "; \(behind) term(s) had passed, renewed for the current one" }
        if let negotiated {
            terms.value.amountMinor = negotiated
        } else if let amount = try? ContractTermsCheck.uplifted(c.terms.value.amountMinor, bp: c.terms.upliftBp) {
            terms.value.amountMinor = amount
        } else {
            reason += "; the uplift would pass 10^15 minor units, so the value is unchanged"
        }
        let before = row.contract
        row.contract.terms = terms
        // Bounded by the contract's own writes, one per term: never from the wire.
        row.contract.termsVersion += 1
        row.contract.autoRenewals += 1
        row.contract.renewalOpportunityID = 0
        row.contract.renewalAmount = .init()
        row.contract.renewalCreatedUnixUs = 0
        row.contract.version += 1
        row.contract.updatedUnixUs = now
        try ContractStore.save(db, row)
        try ContractStore.insertVersion(db, row.contract, reason: reason, by: "", at: now)
        try ContractStore.audit(ctx, "auto_renew", old: before, new: row.contract)
        try ContractEvents.contract(ctx, "auto_renewed", row.contract, "Contract \(c.id) auto-renewed until "
            + "\(Renewals.date(terms.endUnixUs)) for \(ContractEvents.money(terms.value))")
        return .with { $0.contract = row.contract; $0.renewed = true }
    }
}
