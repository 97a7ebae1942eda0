import B2BContract
import CRMPluginKit

/// Churned and renewed: the contracts ending in a period, by end time, with
/// the period's totals per status and currency. Both read the end-time
/// index; the totals add up with overflow checks (SQLite's SUM would fail
/// as an internal error, not OUT_OF_RANGE).
enum RenewalReport {
    static func register(on def: PluginDefinition) {
        def.unary(B2B.service + "RenewalReport", report)
    }

    static func report(_ ctx: CallContext, _ req: Crm_B2b_V1_RenewalReportRequest) throws -> Crm_B2b_V1_RenewalReportResponse {
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 2)
        guard req.endFromUnixUs > 0, req.endToUnixUs > req.endFromUnixUs else {
            throw PluginError.invalidArgument("end_from_unix_us and end_to_unix_us are required, from before to "
                + "(got \(req.endFromUnixUs) and \(req.endToUnixUs))")
        }
        let db = try ctx.database
        var filter = SQLFilter()
        filter.add("end_us >= ?", .integer(req.endFromUnixUs))
        filter.add("end_us < ?", .integer(req.endToUnixUs))
        if req.status != .unspecified { filter.add("status = ?", .integer(Int64(req.status.rawValue))) }
        ctx.scope.apply(to: &filter, ownerColumn: "owner")
        var totals: [String: Crm_B2b_V1_RenewalTotal] = [:]
        for r in try db.query("SELECT status, currency, value_minor, renewal_amount_minor FROM b2b_contracts \(filter.clause)",
                              filter.parameters) {
            let key = "\(r.int(0))|\(r.text(1))"
            var t = totals[key] ?? .with {
                $0.status = Crm_B2b_V1_ContractStatus(rawValue: Int(truncatingIfNeeded: r.int(0))) ?? .unspecified
                $0.currency = r.text(1)
            }
            t.count += 1
            t.valueMinor = try add(t.valueMinor, r.int(2), "value")
            t.renewalAmountMinor = try add(t.renewalAmountMinor, r.int(3), "renewal amount")
            totals[key] = t
        }
        var page = filter
        if let after = paging.after { page.add("(end_us > ? OR (end_us = ? AND id > ?))", after[0], after[0], after[1]) }
        let rows = try fetchPage(db, "SELECT \(ContractStore.columns) FROM b2b_contracts \(page.clause) ORDER BY end_us, id LIMIT ?",
                                 page.parameters, paging, decode: { ContractStore.decode($0).contract }, key: { [$0[13], $0[0]] })
        return .with {
            $0.contracts = rows.rows
            $0.totals = totals.values.sorted { ($0.status.rawValue, $0.currency) < ($1.status.rawValue, $1.currency) }
            $0.nextPageToken = rows.nextToken
        }
    }

    static func add(_ a: Int64, _ b: Int64, _ what: String) throws -> Int64 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        guard !overflow else { throw PluginError(.outOfRange, "the period's \(what) total is beyond int64") }
        return sum
    }
}
