import B2BContract
import CRMPluginKit
import Foundation
import SalesContract
import Synchronization

/// Renewal opportunities. crmd runs RunRenewals every second; it reads the
/// active contracts without a renewal opportunity whose end is within the
/// lead time (an index range, never a scan of contracts) and calls
/// CreateRenewal for each, one transaction per contract. CreateRenewal
/// makes the opportunity through sales in-process and records it on the
/// contract in the same transaction, and does nothing for a contract that
/// has one: so each contract gets exactly one, whatever restarts between.
/// The renewal's outcome follows sales' events: won renews the contract,
/// lost churns it.
enum Renewals {
    static let running = Atomic<Bool>(false)
    static let batch = 100

    static func register(on def: PluginDefinition) {
        def.unary(B2B.service + "RunRenewals", run)
        def.unary(B2B.service + "CreateRenewal", create)
    }

    static func run(_ ctx: CallContext, _ req: Crm_B2b_V1_RunRenewalsRequest) throws -> Crm_B2b_V1_RunRenewalsResponse {
        // A "run now" call beside the scheduled run does nothing.
        guard running.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return .init() }
        defer { running.store(false, ordering: .releasing) }
        let horizon = UTCClock.nowMicros() &+ B2BConfig.renewalLeadMicros(ctx.host)  // both bounded: no wrap
        let due = try ctx.database.query("""
            SELECT id FROM b2b_contracts WHERE status = 1 AND renewal_opportunity_id = 0 AND end_us <= ?
            ORDER BY end_us, id LIMIT ?
            """, [.integer(horizon), .integer(Int64(batch))]).map { $0.int(0) }
        var response = Crm_B2b_V1_RunRenewalsResponse()
        for id in try AutoRenewals.due(ctx.database, now: UTCClock.nowMicros(), limit: batch) {
            do {
                let bytes = try ctx.host.invoke(B2B.service + "AutoRenewContract",
                                                request: try Crm_B2b_V1_AutoRenewContractRequest.with { $0.contractID = id }.serializedBytes(),
                                                parent: ctx)
                if try Crm_B2b_V1_AutoRenewContractResponse(serializedBytes: bytes).renewed { response.autoRenewed += 1 }
            } catch let error as PluginError {
                ctx.host.log(.warning, "auto-renewal of contract \(id) failed: \(error.message)")
                response.failed += 1
            }
        }
        for id in due {
            do {
                let bytes = try ctx.host.invoke(B2B.service + "CreateRenewal",
                                                request: try Crm_B2b_V1_CreateRenewalRequest.with { $0.contractID = id }.serializedBytes(),
                                                parent: ctx)
                if try Crm_B2b_V1_CreateRenewalResponse(serializedBytes: bytes).created { response.created += 1 }
            } catch let error as PluginError {
                // Logged and tried again next run; the other contracts go on.
                ctx.host.log(.warning, "renewal of contract \(id) failed: \(error.message)")
                response.failed += 1
            }
        }
        return response
    }

    static func create(_ ctx: CallContext, _ req: Crm_B2b_V1_CreateRenewalRequest) throws -> Crm_B2b_V1_CreateRenewalResponse {
        guard ctx.scope.reach == .all else {
            throw PluginError(.permissionDenied, "creating renewals needs b2b.renewal.run at scope all")
        }
        try Validate.positiveID(req.contractID, "contract_id")
        let db = try ctx.database
        guard var row = try ContractStore.load(db, req.contractID) else {
            throw PluginError.notFound("contract_id: contract \(req.contractID) does not exist")
        }
        let now = UTCClock.nowMicros()
        let dueAt = row.contract.terms.endUnixUs - B2BConfig.renewalLeadMicros(ctx.host)  // both bounded: no wrap
        guard row.contract.status == .active, row.contract.renewalOpportunityID == 0, dueAt <= now else {
            return .with { $0.contract = row.contract; $0.created = false }
        }
        let c = row.contract
        let amount = try ContractTermsCheck.uplifted(c.terms.value.amountMinor, bp: c.terms.upliftBp)
        let name = "Renewal: " + c.name
        let opportunity: Crm_Sales_V1_Opportunity = try Links.call(ctx, DealSales.service + "CreateOpportunity",
                                                                   Crm_Sales_V1_CreateOpportunityRequest.with {
            $0.opportunity.name = String(name.prefix(200))
            $0.opportunity.pipelineID = row.salesPipelineID
            $0.opportunity.amount = .with { m in m.amountMinor = amount; m.currency = c.terms.value.currency }
            $0.opportunity.expectedCloseDate = date(c.terms.endUnixUs)
            $0.opportunity.owner = c.owner
            $0.opportunity.personID = c.personID
            $0.opportunity.organizationID = c.organizationID
            // Belt and braces: the contract's row already makes it once per
            // term (an auto-renewed term gets a renewal of its own).
            $0.idempotencyKey = "b2b-renewal-contract-\(c.id)" + (c.autoRenewals == 0 ? "" : "-term-\(c.autoRenewals + 1)")
        })
        let before = row.contract
        row.contract.renewalOpportunityID = opportunity.id
        row.contract.renewalAmount = .with { $0.amountMinor = amount; $0.currency = c.terms.value.currency }
        row.contract.renewalCreatedUnixUs = now
        row.contract.version += 1
        row.contract.updatedUnixUs = now
        try ContractStore.save(db, row)
        try ContractStore.audit(ctx, "renewal", old: before, new: row.contract)
        try ContractEvents.contract(ctx, "renewal_created", row.contract, "Contract \(c.id): renewal opportunity "
            + "\(opportunity.id) opened for \(ContractEvents.money(row.contract.renewalAmount))")
        return .with { $0.contract = row.contract; $0.created = true }
    }

    /// "YYYY-MM-DD" of a UTC time.
    static func date(_ micros: Int64) -> String {
        let days = micros >= 0 ? micros / 86_400_000_000 : (micros - 86_399_999_999) / 86_400_000_000
        // Civil from days (Howard Hinnant's algorithm): no calendar, no locale.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(y)-\(two(m))-\(two(d))"
    }

    /// A sales event: the opportunity won or lost is some contract's
    /// renewal, which is then renewed or churned. A repeat finds it decided.
    static func followOutcome(_ ctx: CallContext, _ o: Crm_Sales_V1_Opportunity) throws {
        guard o.status == .won || o.status == .lost else { return }
        let db = try ctx.database
        guard var row = try ContractStore.byRenewalOpportunity(db, o.id), row.contract.status == .active else { return }
        let before = row.contract
        row.contract.status = o.status == .won ? .renewed : .churned
        if o.status == .lost { row.contract.churnReason = String(o.lostReason.prefix(500)) }
        let now = UTCClock.nowMicros()
        row.contract.outcomeUnixUs = now
        row.contract.version += 1
        row.contract.updatedUnixUs = now
        try ContractStore.save(db, row)
        let action = o.status == .won ? "renewed" : "churned"
        try ContractStore.audit(ctx, action, old: before, new: row.contract)
        try ContractEvents.contract(ctx, action, row.contract, "Contract \(row.contract.id) \(action)"
            + (o.status == .lost && !o.lostReason.isEmpty ? ": \(o.lostReason.prefix(200))" : ""))
    }
}
