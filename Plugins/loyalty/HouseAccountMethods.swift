import CRMPluginKit
import LoyaltyContract

/// Money on a house account: charges by the holder or a member (within the
/// member's monthly limit and the account's credit limit), pay-ins, and
/// the credit limit itself.
enum HouseAccountMethods {
    static func register(on def: PluginDefinition) {
        def.unary(HouseAccounts.service + "ChargeHouseAccount", charge)
        def.unary(HouseAccounts.service + "PayIntoHouseAccount", payIn)
        def.unary(HouseAccounts.service + "SetCreditLimit", setCreditLimit)
    }

    static func charge(_ ctx: CallContext, _ req: Crm_Loyalty_V1_ChargeHouseAccountRequest) throws -> PostingResult {
        try Check.id(req.accountID, "account_id")
        try Validate.optionalID(req.personID, "person_id")
        try Check.amount(req.amount, "amount")
        let orderRef = try Check.text(req.orderRef, "order_ref", max: 100)
        let memo = try Check.text(req.memo, "memo")
        return try Replay.run(ctx, ctx.method, req, key: \.idempotencyKey) { db in
            let account = try HouseAccounts.require(ctx, db, req.accountID, write: true)
            return try charge(ctx, db, account, by: req.personID, amount: req.amount, orderRef: orderRef, memo: memo)
        }
    }

    /// A charge by `person` (0: the holder) within the member's monthly
    /// limit and the account's credit limit (ChargeHouseAccount, an order's tender).
    static func charge(_ ctx: CallContext, _ db: Database, _ account: Account, by person: Int64, amount: Int64, orderRef: String,
                       memo: String) throws -> PostingResult {
        guard account.status == .active else { throw PluginError.failedPrecondition("house account \(account.id) is not active") }
        let by = person != 0 ? person : account.personID
        guard by != 0 else {
            throw PluginError.invalidArgument(
                "person_id is required: name the member charging the account of \(HouseAccounts.holderName(account))")
        }
        var member: HouseMember?
        var spentAfter: Int64 = 0
        if by != account.personID {
            guard let m = try HouseAccounts.loadMember(db, account: account.id, person: by), m.active else {
                throw PluginError.failedPrecondition("person \(by) is not an authorised member of house account \(account.id)")
            }
            let (total, overflow) = m.spentThisMonth.addingReportingOverflow(amount)
            spentAfter = overflow ? .max : total
            if m.monthlyLimit > 0 {
                if overflow || total > m.monthlyLimit {
                    let left = max(0, m.monthlyLimit - m.spentThisMonth)
                    throw PluginError.failedPrecondition("""
                        monthly limit: person \(by) has \(LoyaltyEvents.amount(left, account.unit)) left of \
                        \(LoyaltyEvents.amount(m.monthlyLimit, account.unit)) this month on house account \(account.id), \
                        \(LoyaltyEvents.amount(amount, account.unit)) needed
                        """)
                }
            }
            member = m
        }
        guard amount <= account.available else {
            throw PluginError.failedPrecondition("""
                credit limit: house account \(account.id) has \(LoyaltyEvents.amount(account.available, account.unit)) \
                available (credit limit \(LoyaltyEvents.amount(account.creditLimit, account.unit))), \
                \(LoyaltyEvents.amount(amount, account.unit)) needed
                """)
        }
        let result = try Ledger.move(ctx, db, .charge, account: account, amount: -amount, system: .charges, reason: memo)
        try db.execute("""
            INSERT INTO loyalty_house_charges (posting_id, account_id, person_id, amount, order_ref, created_us) VALUES (?, ?, ?, ?, ?, ?)
            """, [.integer(result.posting.id), .integer(account.id), .integer(by), .integer(amount), .text(orderRef),
                  .integer(result.posting.createdUnixUs)])
        // The month's spending with this charge (the one just checked).
        member?.spentThisMonth = spentAfter
        let what = LoyaltyEvents.amount(amount, account.unit)
        try HouseEvents.publish(ctx, "loyalty.house_account.charged", account: result.account, posting: result.posting,
                                member: member, summary: orderRef.isEmpty ? "\(what) charged to the house account"
                                    : "\(what) charged to the house account (order \(orderRef))")
        return result
    }

    static func payIn(_ ctx: CallContext, _ req: Crm_Loyalty_V1_PayIntoHouseAccountRequest) throws -> PostingResult {
        try Check.id(req.accountID, "account_id")
        try Check.amount(req.amount, "amount")
        let tender = try Check.text(req.tender, "tender", max: 50)
        let reference = try Check.text(req.reference, "reference", max: 100)
        return try Replay.run(ctx, ctx.method, req, key: \.idempotencyKey) { db in
            let account = try HouseAccounts.require(ctx, db, req.accountID, write: true)
            guard account.status != .closed else { throw PluginError.failedPrecondition("house account \(account.id) is closed") }
            let result = try Ledger.move(ctx, db, .payIn, account: account, amount: req.amount, system: .payments, reason: "")
            try db.execute("""
                INSERT INTO loyalty_house_payments (posting_id, account_id, tender, reference, created_us) VALUES (?, ?, ?, ?, ?)
                """, [.integer(result.posting.id), .integer(account.id), .text(tender), .text(reference),
                      .integer(result.posting.createdUnixUs)])
            try HouseEvents.publish(ctx, "loyalty.house_account.paid", account: result.account, posting: result.posting,
                                    summary: "\(LoyaltyEvents.amount(req.amount, account.unit)) paid into the house account")
            return result
        }
    }

    static func setCreditLimit(_ ctx: CallContext, _ req: Crm_Loyalty_V1_SetCreditLimitRequest) throws -> Account {
        try Check.id(req.accountID, "account_id")
        guard req.creditLimit >= 0, req.creditLimit <= Check.maxAmount else {
            throw PluginError.invalidArgument("credit_limit must be 0 to \(Check.maxAmount), got \(req.creditLimit)")
        }
        let reason = try Check.text(req.reason, "reason", required: true)
        let db = try ctx.database
        let account = try HouseAccounts.require(ctx, db, req.accountID, write: true)
        if account.creditLimit == req.creditLimit { return account }
        // balance - held >= -credit_limit, the CHECK's words; both far inside Int64.
        let (free, overflow) = account.balance.subtractingReportingOverflow(account.held)
        if overflow || free < -req.creditLimit {
            throw PluginError.failedPrecondition("""
                house account \(account.id) owes \(LoyaltyEvents.amount(overflow ? .max : -free, account.unit)); \
                a credit limit of \(LoyaltyEvents.amount(req.creditLimit, account.unit)) is below it
                """)
        }
        try db.execute("UPDATE loyalty_accounts SET credit_limit = ?, updated_us = ? WHERE id = ?",
                       [.integer(req.creditLimit), .integer(UTCClock.nowMicros()), .integer(account.id)])
        let after = try LedgerStore.loadAccount(db, account.id) ?? account
        try ctx.audit(AuditEntry(entity: "loyalty.account", recordID: String(account.id), action: "set_credit_limit",
                                 owner: ownerOrNil(account.owner), changes: [
            FieldChange("credit_limit", old: String(account.creditLimit), new: String(req.creditLimit)),
            FieldChange("reason", old: nil, new: reason),
        ]))
        try HouseEvents.publish(ctx, "loyalty.house_account.credit_limit_set", account: after,
                                summary: "Credit limit set to \(LoyaltyEvents.amount(req.creditLimit, account.unit))")
        return after
    }
}
