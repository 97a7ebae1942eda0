import CRMPluginKit
import LoyaltyContract
import Synchronization

/// Expiry of point lots as ledger postings, the job that runs it, and the
/// list of an account's lots (its upcoming expiries). Lots due are found
/// by an index on their expiry, never by a scan of accounts.
enum PointExpiry {
    static let running = Atomic<Bool>(false)
    static let batch = 100
    /// One call's share of an account's due lots: a bounded transaction.
    static let lotsPerCall = 1000

    static func register(on def: PluginDefinition) {
        def.unary(Programs.service + "ListPointLots", list)
        def.unary(Programs.service + "ExpirePoints", expire)
        def.unary(Programs.service + "RunPointExpiry", run)
    }

    static func pointsAccount(_ ctx: CallContext, _ db: Database, _ id: Int64, write: Bool) throws -> Account {
        let account = try Ledger.customerAccount(ctx, db, id, write: write)
        guard account.kind == .points else { throw PluginError.failedPrecondition("account \(id) is not a POINTS account") }
        return account
    }

    static func list(_ ctx: CallContext, _ req: Crm_Loyalty_V1_ListPointLotsRequest) throws -> Crm_Loyalty_V1_ListPointLotsResponse {
        try Check.id(req.accountID, "account_id")
        guard req.expiringBeforeUnixUs >= 0 else { throw PluginError.invalidArgument("expiring_before_unix_us must not be negative") }
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 2)
        let db = try ctx.database
        _ = try pointsAccount(ctx, db, req.accountID, write: false)
        var filter = SQLFilter()
        filter.add("account_id = ? AND remaining > 0", [.integer(req.accountID)])
        if req.expiringBeforeUnixUs != 0 { filter.add("expires_us < ?", [.integer(req.expiringBeforeUnixUs)]) }
        if let after = paging.after { filter.add("(expires_us, id) > (?, ?)", after) }
        let now = UTCClock.nowMicros()
        let page = try fetchPage(db, "SELECT \(PointLots.lotColumns) FROM loyalty_point_lots \(filter.clause) ORDER BY expires_us, id LIMIT ?",
                                 filter.parameters, paging, decode: { PointLots.lot($0, now: now) }, key: { [$0[7], $0[0]] })
        return .with { $0.lots = page.rows; $0.nextPageToken = page.nextToken }
    }

    static func expire(_ ctx: CallContext, _ req: Crm_Loyalty_V1_ExpirePointsRequest) throws -> PostingResult {
        try Check.id(req.accountID, "account_id")
        let db = try ctx.database
        let account = try pointsAccount(ctx, db, req.accountID, write: true)
        let now = UTCClock.nowMicros()
        let due = try db.query("""
            SELECT id, remaining FROM loyalty_point_lots INDEXED BY loyalty_point_lots_spend
            WHERE account_id = ? AND remaining > 0 AND expires_us <= ? ORDER BY expires_us, id LIMIT ?
            """, [.integer(account.id), .integer(now), .integer(Int64(lotsPerCall))])
        guard !due.isEmpty else { return .with { $0.account = (try? LedgerStore.withLiveHolds(db, account, now: now)) ?? account } }
        var total: Int64 = 0
        var takes: [PointLots.Take] = []
        for row in due {
            total = total.addingReportingOverflow(row.int(1)).partialValue  // lots sum to at most the balance
            takes.append(.init(lot: row.int(0), points: row.int(1)))
            try db.execute("UPDATE loyalty_point_lots SET remaining = 0 WHERE id = ?", [.integer(row.int(0))])
        }
        let result = try Ledger.move(ctx, db, .expiry, account: account, amount: -total, system: .breakage,
                                     reason: "\(due.count) lot\(due.count == 1 ? "" : "s") expired") { posting in
            try PointLots.record(db, takes, posting: posting.id)
        }
        try LoyaltyEvents.publish(ctx, "loyalty.points.expired", account: result.account, posting: result.posting,
                                  summary: "\(total) points expired")
        return result
    }

    static func run(_ ctx: CallContext, _ req: Crm_Loyalty_V1_RunPointExpiryRequest) throws -> Crm_Loyalty_V1_RunPointExpiryResponse {
        guard running.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return .init() }
        defer { running.store(false, ordering: .releasing) }
        let due = try ctx.database.query("""
            SELECT DISTINCT account_id FROM (SELECT account_id FROM loyalty_point_lots WHERE remaining > 0 AND expires_us <= ?
                                             ORDER BY expires_us LIMIT ?)
            """, [.integer(UTCClock.nowMicros()), .integer(Int64(batch * 10))]).prefix(batch).map { $0.int(0) }
        var response = Crm_Loyalty_V1_RunPointExpiryResponse()
        for id in due {
            do {
                _ = try ctx.host.invoke(Programs.service + "ExpirePoints",
                                        request: try Crm_Loyalty_V1_ExpirePointsRequest.with { $0.accountID = id }.serializedBytes(),
                                        parent: ctx)
                response.accountsExpired += 1
            } catch let error as PluginError {
                ctx.host.log(.warning, "expiry of points account \(id) failed: \(error.message)")
                response.failed += 1
            }
        }
        return response
    }
}
