import B2BContract
import CRMPluginKit

/// The customer's notice that a contract ends at its end. It is due by the
/// end less `notice_days`; once given, an auto-renewing contract does not
/// renew by itself (AutoRenewals).
enum ContractNotice {
    static func register(on def: PluginDefinition) {
        def.unary(B2B.service + "GiveNotice", give)
    }

    static func give(_ ctx: CallContext, _ req: Crm_B2b_V1_GiveNoticeRequest) throws -> Contract {
        let db = try ctx.database
        let scope = ctx.scope
        let (replayed, claim) = try ContractStore.replay(db, "GiveNotice", req, key: \.idempotencyKey, scope: scope)
        if let replayed { return replayed }
        try Validate.positiveID(req.id, "id")
        var reason = req.reason
        try Check.text(&reason, "reason", max: 500, required: true)
        var row = try ContractStore.require(db, req.id, writableIn: scope)
        if req.expectedVersion != 0 {
            try Validate.expectedVersion(req.expectedVersion, row.contract.version, noun: "contract \(row.contract.id)")
        }
        let c = row.contract
        guard c.status == .active else {
            throw PluginError.failedPrecondition("contract \(c.id) is \(ContractStore.statusName(c.status)); notice ends an active contract")
        }
        guard c.noticeGivenUnixUs == 0 else {
            throw PluginError.failedPrecondition("notice for contract \(c.id) was already given on \(Renewals.date(c.noticeGivenUnixUs))")
        }
        let now = UTCClock.nowMicros()
        // notice_days is 0-3650 and the end at most year 9999: no wrap.
        let due = c.terms.endUnixUs - Int64(c.terms.noticeDays) * B2BConfig.day
        guard now <= due else {
            throw PluginError.failedPrecondition("notice for contract \(c.id) was due by \(Renewals.date(due)) "
                + "(\(c.terms.noticeDays) days before its end, \(Renewals.date(c.terms.endUnixUs)))")
        }
        row.contract.noticeGivenUnixUs = now
        row.contract.noticeReason = reason
        row.contract.version += 1
        row.contract.updatedUnixUs = now
        try ContractStore.save(db, row)
        try ContractStore.audit(ctx, "notice", old: c, new: row.contract)
        try ContractEvents.contract(ctx, "notice_given", row.contract, "Contract \(c.id): notice given, it ends on "
            + "\(Renewals.date(c.terms.endUnixUs)): \(reason)")
        try B2B.idempotency.record(db, claim, resultID: c.id)
        return row.contract
    }
}
